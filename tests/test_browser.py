"""The notebooks work in the browser: JupyterLab + headless Chromium run nbs/01_pathway.ipynb's first cells.

A real user's path, end to end: a JupyterLab server on a loopback port (token, no browser, its own
settings), a copy of nbs/ as its root (running cells never touches the repository's notebooks),
headless Chromium driven by Playwright (the system's Chromium, Playwright downloads no browser),
the kernel chosen in JupyterLab's dialog ("picnn" when that kernel spec is installed, else the
default), cells run with Shift+Enter, and the rendered outputs checked. A screenshot is saved to
tests/artifacts/ (or $PICNN_ARTIFACTS) whether the test passes or fails.

Needs: `apt-get install -y chromium` (or $PICNN_CHROMIUM pointing at a Chromium/Chrome binary) and
`pip install playwright`; skips with the reason when either is missing.
"""

import json, os, re, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_pathway.ipynb"
KERNEL = "picnn"  # preferred kernel; JupyterLab's default kernel otherwise
ARTIFACTS = Path(os.environ.get("PICNN_ARTIFACTS", ROOT / "tests" / "artifacts"))
# This machine's closed network refuses Chromium's background connections: switch them all off.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
# every wait is bounded (a failing run stops at its first timeout): the test ends well within 2 minutes
SERVER_START_S, STEP_S, RUN_S = 45, 20, 45


def chromium_path() -> str | None:
    "The Chromium to drive: $PICNN_CHROMIUM, else the system's chromium / chromium-browser."
    candidates = (
        [os.environ["PICNN_CHROMIUM"]]
        if os.environ.get("PICNN_CHROMIUM")
        else [shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"]
    )
    return next((p for p in candidates if p and os.path.isfile(p) and os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_json(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def lab_settings(settings_dir: Path):
    "User settings for this server only: every cell in the DOM, no news or update checks (closed network)."
    write_json(settings_dir / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"})
    write_json(
        settings_dir / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float):
    "Poll the server's /api/status until it answers, it dies, or `timeout` passes."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop_group(proc: subprocess.Popen, grace: float = 10):
    "Stop the server and its kernels (its own process group): SIGTERM, then SIGKILL after `grace` s."
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # kernels left behind in the group, if any
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(5)


@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on 127.0.0.1 serving a copy of nbs/; yields (base_url, token, root_dir)."
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed (pip install -e '.[dev]')")
    root_dir = tmp_path / "nbs"
    shutil.copytree(ROOT / "nbs", root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp_path / "jupyter"
    lab_settings(home / "settings")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PICNN_TESTING": "1",
        "PICNN_OUTPUT": str(tmp_path / "output"),
    }
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyter-lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/api/status?token={token}", proc, log, SERVER_START_S)
        yield base, token, root_dir
    finally:
        stop_group(proc)


@pytest.fixture
def page(tmp_path):
    "A page in headless Chromium (fresh profile); closed, with the Playwright driver, at teardown."
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium, or set PICNN_CHROMIUM to its binary)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pw = sync_api.sync_playwright().start()
    try:
        # executable_path: the system Chromium, so Playwright never downloads a browser of its own
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=exe,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=STEP_S * 1000,
            viewport={"width": 1280, "height": 1400},
        )
        try:
            p = ctx.pages[0] if ctx.pages else ctx.new_page()
            p.set_default_timeout(STEP_S * 1000)
            yield p
        finally:
            ctx.close()
    finally:
        pw.stop()


def cells_to_run(nb_path: Path) -> tuple[int, int]:
    "(index of the `P, P.sum(0)` cell, index of the last cell to run): up to the first `print` after it."
    src = ["".join(c["source"]) for c in json.loads(nb_path.read_text())["cells"]]
    target = next((i for i, s in enumerate(src) if s.rstrip().endswith("P, P.sum(0)")), None)
    assert target is not None, f"{NOTEBOOK} has no cell ending in `P, P.sum(0)`: update tests/test_browser.py"
    last = next((i for i, s in enumerate(src) if i > target and "print(" in s), target)
    return target, last


def choose_kernel(page) -> str:
    "Answer JupyterLab's 'Select Kernel' dialog (the notebooks carry no kernelspec): picnn if offered."
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(state="visible")
    select = dialog.locator("select")
    if select.count():
        values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        name = next((v for v in values if KERNEL in v), None)
        if name:
            select.select_option(value=name)
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="detached")
    page.wait_for_function(
        "() => { const k = document.querySelector('.jp-NotebookPanel-toolbar .jp-KernelName, "
        ".jp-KernelName'); return k && !/No Kernel|Select Kernel/i.test(k.textContent) }"
    )
    return page.locator(".jp-KernelName").first.inner_text()


# JavaScript run in the page: `n` = how many cells (from the top) to look at.
CELLS_JS = "[...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')].slice(0, n)"
# error outputs, and stderr outputs holding a traceback
ERRORS_JS = (
    CELLS_JS
    + """.flatMap(c => [...c.querySelectorAll('.jp-OutputArea-output')].filter(o => {
    const is = m => o.getAttribute('data-mime-type') === m || o.querySelector(`[data-mime-type="${m}"]`);
    return is('application/vnd.jupyter.error') || (is('application/vnd.jupyter.stderr') && /Traceback|Error/.test(o.textContent));
  }).map(o => o.textContent.slice(0, 2000)))"""
)
# a code cell has run when its prompt reads [n]: (not [ ]: or [*]:)
ALL_RUN_JS = (
    CELLS_JS
    + """.filter(c => c.classList.contains('jp-CodeCell'))
  .every(c => /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent))"""
)


def error_outputs(page, n: int) -> list[str]:
    "Texts of the error (or traceback) outputs among the first `n` cells."
    return page.evaluate(f"n => {ERRORS_JS}", n)


def kernel_spec_installed(name: str) -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return name in KernelSpecManager().find_kernel_specs()


def test_pathway_notebook_runs_in_jupyterlab(page, lab):  # page first: no server when Chromium is missing
    base, token, root_dir = lab
    target, last = cells_to_run(root_dir / NOTEBOOK)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "browser_01_pathway.png"
    t0 = time.monotonic()
    try:
        page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", wait_until="domcontentloaded")
        kernel = choose_kernel(page)
        assert KERNEL in kernel.lower() or not kernel_spec_installed(KERNEL), (
            f"kernel is {kernel!r}, expected {KERNEL!r}"
        )
        cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
        cells.nth(last).wait_for(state="attached")
        cells.nth(0).click()  # select the first cell (command mode) ...
        for _ in range(last + 1):  # ... and run it and the next ones, one Shift+Enter each
            page.keyboard.press("Shift+Enter")
        # done when every code cell has run, or as soon as one shows an error (the kernel skips the rest)
        page.wait_for_function(
            f"n => ({ALL_RUN_JS}) || ({ERRORS_JS}).length > 0", arg=last + 1, polling=250, timeout=RUN_S * 1000
        )
        errors = error_outputs(page, last + 1)
        assert errors == [], "cells show errors:\n" + "\n\n".join(errors)
        cells.nth(target).evaluate("c => c.scrollIntoView({block: 'start'})")  # the screenshot shows the outputs
        output = cells.nth(target).locator(".jp-OutputArea-output").first.inner_text()
        assert re.search(r"tensor\(\[\[", output) and output.count("tensor(") == 2, (
            f"the `P, P.sum(0)` cell should show two tensors (P and its column sums), got:\n{output}"
        )
        sums = [float(v) for v in re.findall(r"-?\d+\.\d*(?:e[-+]?\d+)?", output.rsplit("tensor(", 1)[1].split("]")[0])]
        assert sums and all(abs(v - 1) < 1e-4 for v in sums), f"P's columns should sum to 1, got:\n{output}"
        printed = cells.nth(last).locator(".jp-OutputArea-output").first.inner_text()
        assert printed.strip(), f"cell {last} printed nothing"
    finally:
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot} ({time.monotonic() - t0:.1f} s in the browser)")
