"""Every notebook runs top to bottom, as a reader's Jupyter would run it: nbclient, the "picnn" kernel.

tests/test_notebooks.py runs the test cells with nbdev's semantics (exported cells and `#| slow` cells
skipped by its flags); this one executes *every* cell of every notebook in nbs/ and nbs/paper/ in the
named kernel spec that `make install` registers, so a notebook that only works cell-by-cell under nbdev
(or only in some other environment) fails here. Slow: run with `pytest --slow`.

Paper notebooks get tiny parameters injected by papermill (`conftest.parameterised_copy`: one epoch, tiny_cnn,
outputs and runs in a temporary folder), so nothing is written into results/. The executed notebooks are not
saved; nbs/ is left as it was.
"""

import time
from pathlib import Path
import pytest
from conftest import parameterised_copy

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "picnn"
NOTEBOOK_TIMEOUT_S = 600  # the whole notebook, all cells together
NOTEBOOKS = sorted(
    p
    for p in (ROOT / "nbs").rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts and not p.name.startswith(("_", "."))
)


@pytest.fixture(scope="module")
def kernel_name() -> str:
    "The kernel spec the notebooks run in; skip, saying how to install it, when it is missing."
    pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[dev]')")
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if KERNEL not in specs:
        pytest.skip(
            f"Jupyter kernel spec {KERNEL!r} is not installed (have: {sorted(specs)}); install it with "
            f"`make install` or `python -m ipykernel install --sys-prefix --name {KERNEL}`"
        )
    return KERNEL


def notebook_deadline(seconds: float):
    "An nbclient `timeout_func`: each cell may use what is left of the notebook's `seconds`."
    deadline = time.monotonic() + seconds
    return lambda cell: max(1, int(deadline - time.monotonic()))


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "nbs")) for p in NOTEBOOKS])
def test_notebook_executes(nb, kernel_name, monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    # the kernel inherits this environment: outputs into tmp_path, never results/
    monkeypatch.setenv("PICNN_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if nb.parent.name == "paper":
        copy, _ = parameterised_copy(nb, tmp_path)
        notebook = nbformat.read(copy, as_version=4)
        copy.unlink()
    else:
        notebook = nbformat.read(nb, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout_func=notebook_deadline(NOTEBOOK_TIMEOUT_S),
        startup_timeout=120,
        resources={"metadata": {"path": str(nb.parent)}},
    )
    t0 = time.monotonic()
    try:
        client.execute()
    except CellTimeoutError as e:
        pytest.fail(f"{nb.relative_to(ROOT)} did not finish within {NOTEBOOK_TIMEOUT_S} s:\n{e}", pytrace=False)
    except CellExecutionError as e:
        pytest.fail(f"{nb.relative_to(ROOT)} raised in kernel {kernel_name!r}:\n{e}", pytrace=False)
    ran = sum(1 for c in notebook.cells if c.cell_type == "code" and c.get("execution_count"))
    print(f"{nb.relative_to(ROOT)}: {ran} code cells in {time.monotonic() - t0:.1f} s")
    assert ran == sum(1 for c in notebook.cells if c.cell_type == "code" and c.source.strip()), (
        "some code cells did not run"
    )
