"Run every notebook's test cells (nbdev-test semantics), one pytest test per notebook; the paper notebooks at tiny size."

from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook_tests
from conftest import parameterised_copy

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p
    for p in (ROOT / "nbs").rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts and not p.name.startswith(("_", "."))
)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "nbs")) for p in NOTEBOOKS])
def test_notebook(nb, request, monkeypatch, tmp_path):
    cfg = get_config(ROOT)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    force = ["slow"] if request.config.getoption("--slow") else []
    # a notebook left to its default never writes into results/
    monkeypatch.setenv("PICNN_OUTPUT", str(tmp_path / "default-output"))
    monkeypatch.chdir(nb.parent)
    paper = nb.parent.name == "paper"
    run, params = parameterised_copy(nb, tmp_path) if paper else (nb, {})
    try:
        ok, secs = run_notebook_tests(run, skip_flags=skip, force_flags=force, basepath=ROOT)
    finally:
        if paper:
            run.unlink()
    assert ok, f"{nb.name}: a test cell failed (see the traceback above)"
    if paper:  # it wrote where it was told, and completed
        assert (Path(params["output_dir"]) / "STATUS").read_text().startswith("complete")
