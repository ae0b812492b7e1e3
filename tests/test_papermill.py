"""The paper notebooks under plain papermill, as a new user runs them (issues #13 and #14): no `-k` or `--language`,
any working directory, `--help-notebook`, JSON list parameters, everything under `output_dir` and never in results/
by default, bad parameters named before any STATUS, STATUS's cause line, and no kernel transport warning."""

import json, os, re, shlex, subprocess, sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pm = pytest.importorskip("papermill")
from nbformat.v4 import new_code_cell, new_notebook

from picnn.config import load_scale
from picnn.record import Record, read_csv, read_status
from picnn.paper import ParameterError, figure_setup
from picnn.reproduce import find_notebooks, notebook_parameters, reproduce

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "nbs" / "paper"
PAPERMILL = str(Path(sys.executable).parent / "papermill")
NOTEBOOKS = find_notebooks(PAPER)


def parameters_cell(nb: Path) -> str:
    cells = json.loads(nb.read_text())["cells"]
    return "".join(next(c for c in cells if "parameters" in c["metadata"].get("tags", []))["source"])


def first_cell_command(nb: Path) -> list[str]:
    "The papermill command shown in the notebook's first cell, as argv."
    first = "".join(json.loads(nb.read_text())["cells"][0]["source"])
    lines = [l.strip() for l in first.splitlines() if l.strip().startswith("papermill nbs/paper/")]
    assert len(lines) == 1, f"{nb.name}: its first cell must show one papermill command:\n{first}"
    return shlex.split(lines[0])


def papermill_cli(args: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("PICNN_OUTPUT", None)
    env.pop("PICNN_RUNS", None)  # a new user's shell sets neither
    return subprocess.run([PAPERMILL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def results_snapshot() -> dict:
    return {p: p.stat().st_mtime_ns for p in (ROOT / "results").rglob("*") if p.is_file()}


def settings_elsewhere(tmp_path: Path) -> Path:
    "A copy of settings.ini in a folder of its own: a notebook left to its defaults writes under that folder's scratch/."
    d = tmp_path / "checkout"
    d.mkdir()
    (d / "settings.ini").write_text((ROOT / "settings.ini").read_text())
    return d / "settings.ini"


# --- the notebooks as files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_notebook_names_its_kernel_and_every_parameter_has_a_meaning(name):
    from papermill.utils import nb_kernel_name, nb_language

    nb = nbformat.read(str(NOTEBOOKS[name]), as_version=4)
    assert nb_kernel_name(nb) == "python3" and nb_language(nb) == "python", nb.metadata  # plain papermill needs no -k
    # papermill drops a parameter whose line holds a second '=' (`# at least 1`, never `# >= 1`), and its help is the comment
    lines = [l for l in parameters_cell(NOTEBOOKS[name]).splitlines() if l.strip() and not l.startswith("#")]
    assert all(l.count("=") == 1 and "#" in l for l in lines), [l for l in lines if l.count("=") != 1 or "#" not in l]
    inspected = pm.inspect_notebook(str(NOTEBOOKS[name]))
    assert list(inspected) == [l.split("=")[0].strip() for l in lines] == list(notebook_parameters(NOTEBOOKS[name]))
    assert all(p["help"] for p in inspected.values()), {k: p for k, p in inspected.items() if not p["help"]}


def test_help_notebook_lists_every_parameter_with_its_meaning(tmp_path):
    for name, nb in NOTEBOOKS.items():
        r = papermill_cli(["--help-notebook", str(nb)], cwd=tmp_path, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        for p in pm.inspect_notebook(str(nb)).values():
            assert re.search(rf"^  {p['name']}: .*\n\s+{re.escape(p['help'])}$", r.stdout, re.M), (
                name,
                p["name"],
                r.stdout,
            )


def test_first_cell_shows_the_exact_command():
    for name, nb in NOTEBOOKS.items():
        argv = first_cell_command(nb)
        assert argv[:3] == ["papermill", f"nbs/paper/{name}.ipynb", f"{name}-out.ipynb"], argv
        given = [argv[i + 1] for i, a in enumerate(argv) if a == "-p"]
        assert set(given) <= set(notebook_parameters(nb)), (name, given)
        first = "".join(json.loads(nb.read_text())["cells"][0]["source"])
        assert (
            f"picnn reproduce --only {name}" in first and f"papermill --help-notebook nbs/paper/{name}.ipynb" in first
        )
        assert "output_dir" in first and "scratch/" in first


# --- plain papermill, as written -------------------------------------------------------------------


def test_plain_papermill_from_another_folder(tmp_path):
    """The first cell's command for table1, from a folder outside the checkout, with nothing but `-p settings` added (so that
    the default output folder, `scratch/` beside settings.ini, is in tmp_path): it completes, the JSON list is read as
    two datasets, and everything lands inside the output folder, none of it in results/."""
    settings = settings_elsewhere(tmp_path)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    argv = first_cell_command(PAPER / "table1.ipynb")
    assert '["digits","stl10"]' in argv  # the JSON list, as the comment of the parameter suggests
    argv[1] = str(ROOT / argv[1])
    before = results_snapshot()
    r = papermill_cli(argv[1:] + ["-p", "settings", str(settings), "-p", "device", "cpu"], cwd=cwd)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    out = settings.parent / "scratch" / "smoke" / "table1"
    assert read_status(out) == ("complete", "") and (cwd / "table1-out.ipynb").is_file()
    rows = read_csv(out / "table.csv")
    # not '["digits"', '"stl10"]'
    assert {r["dataset"] for r in rows if r["status"] != "not run"} == {"digits", "stl10"}, rows
    assert {r["status"] for r in rows if r["dataset"] == "digits"} == {"ok"}
    metrics = json.loads((out / "metrics.json").read_text())
    checkout = settings.parent  # paths in results are written relative to the checkout
    assert checkout / metrics["runs_root"] == out / "runs" and metrics["parameters"]["datasets"] == ["digits", "stl10"]
    run_dirs = [checkout / r["run_dir"] for r in metrics["runs"] if r.get("run_dir")]
    assert run_dirs and all(p.parent == out / "runs" for p in run_dirs)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.relative_to(tmp_path).parts]
    assert all(p.is_relative_to(out) or p.parent == cwd or p == settings for p in written), written
    assert results_snapshot() == before  # the committed results are untouched


def test_project_kernel_and_output_dir(tmp_path):
    "The same with the project kernel (`-k picnn`) and an explicit output folder, relative to the working directory."
    from jupyter_client.kernelspec import KernelSpecManager

    if "picnn" not in KernelSpecManager().find_kernel_specs():
        pytest.skip("the picnn kernel spec is not installed (make install)")
    r = papermill_cli(
        [str(PAPER / "fig_pathway.ipynb"), "out.ipynb", "-k", "picnn", "-p", "output_dir", "figs"], cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr[-4000:]
    assert read_status(tmp_path / "figs") == ("complete", "") and (tmp_path / "figs" / "pathway.png").is_file()
    assert json.loads((tmp_path / "out.ipynb").read_text())["metadata"]["papermill"]["parameters"] == {
        "output_dir": "figs"
    }


# --- bad parameters, STATUS ------------------------------------------------------------------------


def test_bad_parameters_fail_before_any_status(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(
            str(PAPER / "table1.ipynb"),
            str(tmp_path / "run.ipynb"),
            cwd=str(tmp_path),
            progress_bar=False,
            parameters={"epochs": "abc", "train_subset": -1, "archs": "", "output_dir": str(out)},
        )
    assert e.value.ename == "ParameterError"
    for said in ("epochs = 'abc' is not a whole number", "train_subset = -1 must be at least 0", "archs = '' is empty"):
        assert said in e.value.evalue, e.value.evalue
    assert not (out / "STATUS").exists() and not out.exists()
    # the figures check theirs in figure_setup, before their Record
    with pytest.raises(ParameterError, match="epochs = 0 must be at least 1"):
        figure_setup("fig_x", "smoke", dataset="digits", arch="tiny_cnn", output_dir=tmp_path / "fig", epochs=0)
    assert not (tmp_path / "fig").exists()
    # and the runner refuses them before anything runs
    with pytest.raises(ParameterError, match=r"epochs = -1 must be at least 1"):
        reproduce("smoke", only="table1", output=tmp_path / "results", params={"epochs": "-1"})
    with pytest.raises(ParameterError, match=r"archs = \[\] is empty"):
        reproduce("smoke", only="table1", output=tmp_path / "results", params={"archs": "[]"})
    assert not (tmp_path / "results").exists()


def notebook(path: Path, *cells: str, parameters: str = "scale = 'smoke'\noutput_dir = None") -> Path:
    nbformat.write(
        new_notebook(
            cells=[new_code_cell(parameters, metadata={"tags": ["parameters"]})] + [new_code_cell(c) for c in cells]
        ),
        str(path),
    )
    return path


RECORD = (
    "from picnn.config import load_scale\nfrom picnn.record import Record\n"
    "record = Record('demo', output_dir, load_scale('smoke'), {'scale': 'smoke'})"
)


def test_status_says_the_cause(tmp_path):
    "A failed notebook's STATUS: 'failed', then 'cause: <exception>: <message>' (not a traceback), then where."
    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table_bad.ipynb", "x = 1", "def f(): raise ValueError('the loss is nan')\nf()")
    assert reproduce("smoke", notebooks_dir=nbs, output=tmp_path / "results") is False
    lines = (tmp_path / "results" / "smoke" / "table_bad" / "STATUS").read_text().splitlines()
    assert lines[:2] == ["failed", "cause: ValueError: the loss is nan"] and "Traceback" not in "\n".join(lines)
    assert lines[2].startswith("in cell [") and "raise ValueError" in lines[2]
    # a Record whose runs failed: the cause of the first, not the first 300 characters of its traceback
    rec = Record("demo", tmp_path / "rec", load_scale("smoke"), {})
    bad = {
        "dataset": "digits",
        "method": "std",
        "status": "failed",
        "note": "FAILED: OSError: disk full",
        "error": "Traceback (most recent call last):\n  File ...\nOSError: disk full",
    }
    with pytest.raises(RuntimeError):
        rec.finish([bad], [bad])
    status, cause = read_status(tmp_path / "rec")
    assert status == "failed" and cause.endswith("OSError: disk full") and "Traceback" not in cause


def test_a_later_failing_cell_is_not_complete(tmp_path):
    "Under plain papermill (no runner to catch it), a cell that fails after the results were written marks them failed."
    nb = notebook(
        tmp_path / "late.ipynb",
        RECORD,
        "record.finish([{'dataset': 'digits'}])\nprint(open(output_dir + '/STATUS').read())",
        "assert False, 'a check after the results'",
    )
    with pytest.raises(pm.PapermillExecutionError):
        pm.execute_notebook(
            str(nb),
            str(tmp_path / "run.ipynb"),
            parameters={"output_dir": str(tmp_path / "out")},
            kernel_name="python3",
            language="python",
            progress_bar=False,
        )
    ran = json.loads((tmp_path / "run.ipynb").read_text())
    # it was, then
    assert any("complete" in "".join(o.get("text", "")) for c in ran["cells"] for o in c.get("outputs", []))
    assert read_status(tmp_path / "out") == ("failed", "AssertionError: a check after the results")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["status"] == "failed"


def test_removed_outputs_are_not_complete(tmp_path):
    rec = Record("demo", tmp_path, load_scale("smoke"), {})
    rec.figures.append("fig.png")
    (tmp_path / "fig.png").write_bytes(b"png")
    rec.finish([{"dataset": "digits"}])
    assert read_status(tmp_path) == ("complete", "")
    (tmp_path / "fig.png").unlink()
    (tmp_path / "table.csv").unlink()
    assert read_status(tmp_path) == ("incomplete", "output(s) removed after the notebook completed: table.csv, fig.png")


def test_reproduce_output_has_no_transport_warning(tmp_path, capfd):
    "The kernels the runner starts are encrypted: no 'running over TCP without encryption' in the output (the kernel's own"
    " stderr does reach it: the marker below)."
    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table_a.ipynb", "import os\nos.write(2, b'KERNEL-STDERR\\n')")
    assert reproduce("smoke", notebooks_dir=nbs, output=tmp_path / "results") is True
    captured = capfd.readouterr()
    assert "KERNEL-STDERR" in captured.err
    assert "without encryption" not in captured.out + captured.err, captured.err


def test_cli_names_a_bad_parameter(tmp_path, capsys):
    cli = pytest.importorskip("picnn.cli")
    code = cli.main(
        ["reproduce", "--only", "table1", "--output", str(tmp_path / "r"), "--param", "epochs=abc", "--param", "archs="]
    )
    err = capsys.readouterr().err
    assert code == 2 and "epochs = 'abc' is not a whole number" in err and "archs = '' is empty" in err
    assert not (tmp_path / "r").exists()


# --- issue #25: a killed notebook, and two runs of one notebook or scale at once
def test_a_killed_notebook_reads_interrupted_not_running(tmp_path):
    "Killing a plain papermill run used to leave STATUS 'running' forever: its Record's lock dies with the kernel."
    out = tmp_path / "out"
    code = (
        "import os, signal\nfrom picnn.config import load_scale\nfrom picnn.record import Record\n"
        f"Record('demo', {str(out)!r}, load_scale('smoke'), {{}})\nos.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == -9 and (out / "STATUS").read_text().startswith("running")
    status, cause = read_status(out)
    assert status == "interrupted" and "killed" in cause and "run the notebook again" in cause


def test_a_notebook_folder_in_use_is_refused_and_a_live_one_reads_running(tmp_path):
    from picnn.runs import RunLocked, run_dir_lock

    # another process's notebook writes there (a second open file: a second holder)
    with run_dir_lock(tmp_path / "out"):
        with pytest.raises(
            RunLocked, match=r"output folder of notebook demo .* is in use by process .*another output_dir"
        ):
            Record("demo", tmp_path / "out", load_scale("smoke"), {})
    _held = Record("demo", tmp_path / "out", load_scale("smoke"), {})  # kept: its lock lives as long as it does
    assert read_status(tmp_path / "out")[0] == "running"  # held: running, not interrupted
    again = Record("demo", tmp_path / "out", load_scale("smoke"), {})  # the notebook run again in this kernel
    again.finish([{"dataset": "digits"}])
    assert read_status(tmp_path / "out")[0] == "complete" and not (tmp_path / "out" / ".lock").exists()


def test_two_reproductions_of_one_scale_are_refused(tmp_path, capsys):
    from picnn.runs import run_dir_lock

    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table_x.ipynb", "x = 1")
    with run_dir_lock(tmp_path / "results" / "smoke"):  # what a running `picnn reproduce --scale smoke` holds
        with pytest.raises(
            Exception, match=r"results of scale 'smoke' .* is in use by process .*another picnn reproduce"
        ):
            reproduce("smoke", notebooks_dir=nbs, output=tmp_path / "results")
    assert not (tmp_path / "results" / "smoke" / "table_x").exists()
    assert reproduce("smoke", notebooks_dir=nbs, output=tmp_path / "results") is True
    assert not (tmp_path / "results" / "smoke" / ".lock").exists()


def test_the_runner_leaves_a_folder_that_a_papermill_run_writes_alone(tmp_path):
    from picnn.reproduce import kernel_name
    from picnn.runs import run_dir_lock

    nb = notebook(tmp_path / "table_x.ipynb", "x = 1")
    out = tmp_path / "out"
    out.mkdir()
    (out / "table.csv").write_text("a\n1\n")
    from picnn.reproduce import _execute_spec

    with run_dir_lock(out):
        r = _execute_spec(dict(name="table_x", path=str(nb), out_dir=str(out), parameters={}, kernel=kernel_name()))
    assert (
        r["status"] == "failed" and "is in use by process" in r["error"] and (out / "table.csv").read_text() == "a\n1\n"
    )


def test_sigterm_stops_a_reproduction_like_ctrl_c(tmp_path):
    "SIGTERM to `picnn reproduce --jobs 2` used to wait for its notebooks; now it stops them, with no lock left behind."
    import signal, time

    (tmp_path / "nbs" / "paper").mkdir(parents=True)
    for n in ("table_a", "table_b"):
        notebook(tmp_path / "nbs" / "paper" / f"{n}.ipynb", "import time\ntime.sleep(120)")
    (tmp_path / "settings.ini").write_text((ROOT / "settings.ini").read_text())
    out = tmp_path / "results" / "smoke"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "picnn"),
            "reproduce",
            "--settings",
            str(tmp_path / "settings.ini"),
            "--output",
            str(tmp_path / "results"),
            "--jobs",
            "2",
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not all((out / n / "STATUS").is_file() for n in ("table_a", "table_b")):
            time.sleep(0.2)
        time.sleep(3)
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=100)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143 and time.time() - t0 < 60, err[-2000:]
    assert "picnn reproduce: terminated (SIGTERM)" in err and not list((tmp_path / "results").rglob(".lock"))
    assert [read_status(out / n)[0] for n in ("table_a", "table_b")] == ["interrupted", "interrupted"]


def test_an_output_that_is_a_file_is_named_as_the_option(tmp_path):
    "The error names the option to change, --output (reproduce has no run directory option)."
    from picnn.config import ConfigError

    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table_x.ipynb", "x = 1")
    f = tmp_path / "results"
    f.write_text("mine")
    with pytest.raises(ConfigError, match=r"--output .*results is a file: give a folder"):
        reproduce("smoke", notebooks_dir=nbs, output=f)
    assert f.read_text() == "mine"
