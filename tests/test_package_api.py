"""`import picnn` offers the names users need, every module imports on its own (no import cycle), and the command answers
`picnn --version` and `python -m picnn`."""

import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NAMES = {
    "fit",
    "TrainConfig",
    "build_model",
    "list_models",
    "load_run",
    "evaluate_run",
    "load_dataset",
    "register_dataset",
    "list_datasets",
    "mutual_information_score",
}
# the lowest layer (everything else loads while it does), a module that imports `picnn` itself, and the command line
MODULES = ["config", "experiment", "cli"]


def test_top_level_names():
    import picnn

    assert picnn.__all__ is not None and NAMES <= set(picnn.__all__), (
        f"missing from picnn.__all__: {NAMES - set(picnn.__all__ or [])}"
    )
    for name in picnn.__all__:
        obj = getattr(picnn, name)
        module = sys.modules[obj.__module__]
        assert getattr(module, name) is obj, f"picnn.{name} is not {obj.__module__}.{name}"
    assert picnn.TrainConfig().arch and callable(picnn.fit)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first(module):
    "Each module imported first in a fresh interpreter (so picnn/__init__ runs while it loads): no import cycle."
    r = subprocess.run(
        [sys.executable, "-c", f"import picnn.{module}, picnn; assert picnn.fit"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.parametrize(
    "cmd", [[str(BIN / "picnn")], [sys.executable, "-m", "picnn"]], ids=["picnn", "python -m picnn"]
)
def test_version(cmd):
    import picnn

    if not Path(cmd[0]).exists():
        pytest.skip(f"{cmd[0]} is not installed (pip install -e .)")
    r = subprocess.run(cmd + ["--version"], capture_output=True, text=True, cwd=ROOT)
    assert (r.returncode, r.stdout.strip()) == (0, f"picnn {picnn.__version__}"), r.stdout + r.stderr


def test_python_m_picnn_is_the_command():
    r = subprocess.run([sys.executable, "-m", "picnn", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.startswith("usage: picnn ") and "reproduce" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "picnn", "nonsense"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr  # one readable line


def test_no_name_is_exported_from_two_modules():
    "Each public name has one home: no two modules list it in `__all__` (the package itself re-offers a chosen few)."
    import importlib, pkgutil
    import picnn

    homes = {}
    for m in pkgutil.iter_modules(picnn.__path__):
        if m.name.startswith("_"):
            continue
        for name in getattr(importlib.import_module(f"picnn.{m.name}"), "__all__", []):
            homes.setdefault(name, []).append(m.name)
    shared = {name: mods for name, mods in homes.items() if len(mods) > 1}
    assert not shared, f"exported from two modules: {shared}"
