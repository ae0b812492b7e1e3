"The pip package: its dependency lists, and the wheel working where nbdev, papermill and jupyter are absent."

import re, subprocess, sys, tomllib, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name
DEV_ONLY = {
    "nbdev",
    "papermill",
    "jupyterlab",
    "jupyter",
    "ipykernel",
    "nbclient",
    "pytest",
    "execnb",
    "fastcore",
    "IPython",
}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def _pyproject_deps() -> set:
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(proj["dependencies"]) + [d for extra in proj["optional-dependencies"].values() for d in extra]
    return {_name(d) for d in deps}


def _environment_deps() -> set:
    names = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        s = line.strip()
        if s == "- pip:":
            continue
        if not s.startswith("- ") or s in ("- pip", "- conda-forge"):
            continue
        n = _name(s[2:])
        if n in ("python", "pip"):
            continue
        names.add(CONDA_NAMES.get(n, n))
    return names


def test_environment_yml_matches_pyproject():
    py, env = _pyproject_deps(), _environment_deps()
    assert py == env, f"only in pyproject.toml: {sorted(py - env)}; only in environment.yml: {sorted(env - py)}"


def test_runtime_dependencies_exclude_dev_tools():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not {_name(d) for d in proj["dependencies"]} & {n.lower() for n in DEV_ONLY}


BLOCKER = """
import sys, importlib.abc
BLOCKED = {"nbdev", "papermill", "jupyterlab", "jupyter_core", "jupyter_client", "ipykernel", "nbclient", "execnb",
           "fastcore", "IPython", "nbformat"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED: raise ImportError(f"{name} is not installed (blocked for this test)")
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
import importlib, pkgutil, picnn, torch
for m in pkgutil.iter_modules(picnn.__path__):
    importlib.import_module(f"picnn.{m.name}")
from picnn.pathway import PathwayClassifier
net = PathwayClassifier(torch.nn.Conv2d(1, 8, 3), 8, 3, 4)
assert net(torch.randn(2, 1, 8, 8)).shape == (2, 3)
print("imported", picnn.__file__)
"""


def test_wheel_imports_without_dev_tools(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("picnn-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
        licence = [n for n in z.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert licence, f"the wheel carries no LICENSE: {z.namelist()}"
        text = z.read(licence[0]).decode()
        z.extractall(tmp_path / "site")
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "the picnn authors" in text
    assert text == (ROOT / "LICENSE").read_text()
    assert "License-Expression: Apache-2.0" in meta and "License-File: LICENSE" in meta
    required = {
        _name(l.split(":", 1)[1]) for l in meta.splitlines() if l.startswith("Requires-Dist:") and "extra ==" not in l
    }
    assert required and not required & {n.lower() for n in DEV_ONLY}, required
    assert "timm" not in required and "Provides-Extra: timm" in meta  # timm is the optional extra picnn[timm]
    run = subprocess.run(
        [sys.executable, "-c", BLOCKER, str(tmp_path / "site")], capture_output=True, text=True, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert str(tmp_path / "site") in run.stdout
