"""The documentation is configured to build: `make docs` builds the website with Sphinx + MyST-NB (built and opened in a
browser by tests/test_docs_site.py), and nbdev's own doc pre-processing, the step `nbdev-docs` runs before Quarto,
runs on every notebook without error, so that where Quarto is installed nbdev's site builds from the same notebooks."""

import re, subprocess, tomllib
from pathlib import Path
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
NOTEBOOKS = sorted(
    p for p in NBS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and not p.name.startswith(("_", "."))
)


def test_make_docs_builds_the_site_with_pinned_tools():
    make = subprocess.run(["make", "-n", "docs"], cwd=ROOT, capture_output=True, text=True)
    assert make.returncode == 0 and "tools/build_docs.py" in make.stdout, make.stdout + make.stderr
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    names = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in dev}
    assert {"sphinx", "myst-nb", "furo", "sphinx-mathjax-offline"} <= names, (
        f"the docs builder is not in the dev extra: {dev}"
    )
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert 'nb_execution_mode = "off"' in conf, "the site renders stored outputs, it never executes a notebook"
    ignored = subprocess.run(
        ["git", "check-ignore", "_site/index.html", "_build/docs/src/index.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert ignored == ["_site/index.html", "_build/docs/src/index.ipynb"], "the built site must stay out of git"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.relative_to(NBS).as_posix() for p in NOTEBOOKS])
def test_nbdev_preprocessing_runs(nb, tmp_path, monkeypatch):
    """nbdev's doc pre-processing of `nb`, as `nbdev-docs`/`nbdev-proc-nbs` run it without needing Quarto: each worker
    of nbdev.serve.proc_nbs calls nbdev.serve_drv.main on (notebook, destination, FilterDefaults), from the project
    root. It executes every cell that holds an import (and the exported ones): a cell mixing imports with code that
    needs earlier, non-executed cells fails here with a NameError."""
    pytest.importorskip("nbdev")
    import nbdev.serve_drv
    from nbdev.processors import FilterDefaults

    monkeypatch.chdir(ROOT)
    # a notebook left to its default never writes into results/
    monkeypatch.setenv("PICNN_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # serve_drv sets it and removes it only on success: restored at teardown either way
    monkeypatch.setenv("IN_TEST", "1")
    dest = tmp_path / nb.name
    nbdev.serve_drv.main((nb, dest, FilterDefaults))
    assert dest.is_file() and dest.stat().st_size > 0


def test_quarto_config_is_present_and_complete():
    "nbdev's own site (nbdev-docs, where Quarto is installed) keeps its configuration."
    quarto = yaml.safe_load((NBS / "_quarto.yml").read_text())
    assert quarto["project"]["type"] == "website"
    for meta in quarto["metadata-files"]:
        assert (NBS / meta).is_file(), meta
    assert (NBS / quarto["format"]["html"]["css"]).is_file()


def test_sidebar_lists_every_notebook():
    text = (NBS / "sidebar.yml").read_text()
    listed = set(re.findall(r"-\s+([\w/]+\.ipynb)", text))
    present = {p.relative_to(NBS).as_posix() for p in NBS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert listed == present, f"missing from sidebar.yml: {sorted(present - listed)}; stale: {sorted(listed - present)}"
