"Run every notebook's test cells (nbdev-test semantics), one pytest test per notebook."
import os
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook_tests

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("_"))

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "nbs")) for p in NOTEBOOKS])
def test_notebook(nb, request, monkeypatch, tmp_path):
    cfg = get_config(ROOT)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    force = ["slow"] if request.config.getoption("--slow") else []
    # Notebooks that write results honour PICNN_OUTPUT: tests never write into results/.
    monkeypatch.setenv("PICNN_OUTPUT", str(tmp_path))
    monkeypatch.setenv("PICNN_TESTING", "1")
    monkeypatch.chdir(nb.parent)
    ok, secs = run_notebook_tests(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    assert ok, f"{nb.name}: a test cell failed (see the traceback above)"
