import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser):
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (and notebook cells flagged #| slow)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long tests, run with --slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    "The workplace's read-only real data (CIFAR-10/100 WebP containers); tests that need it skip without it."
    d = Path(os.environ.get("PICNN_SHARED_DATA", ROOT.parent / "shared" / "data"))
    if not (d / "cifar10.npz").is_file():
        pytest.skip(f"real CIFAR data not found in {d} (set PICNN_SHARED_DATA to the folder holding cifar10.npz)")
    return d


# The paper notebooks at test size: parameters passed by papermill, as a user would pass them (the package has no
# test mode). Each notebook gets the ones it declares; outputs and runs go into the test's temporary folder.
TINY_PAPER_PARAMETERS = dict(archs=["tiny_cnn"], epochs=1, train_subset=1000, test_subset=300, mis_method="fast")
TINY_PER_NOTEBOOK = {
    "table1": dict(datasets=["digits", "stl10"]),  # stl10 is absent here: a visible skipped row
    "table2": dict(datasets=["digits", "tinyimagenet"]),
    "ablations": dict(dataset="digits", lambdas=[0, 2], filters=[64], variants=["label"]),
    "tradeoff": dict(dataset="digits", lambdas=[0.5, 2], schedules=[1, 2]),
    **{
        f: dict(dataset="digits", arch="tiny_cnn", train_subset=500, test_subset=200)
        for f in ("fig_matrices", "fig_cams", "fig_curves")
    },
}


def tiny_parameters(nb: Path, tmp_path: Path) -> dict:
    "The parameters that shrink paper notebook `nb` to seconds, restricted to those its `parameters` cell declares."
    from picnn.reproduce import notebook_parameters

    declared = notebook_parameters(nb) or {}
    wanted = {
        **TINY_PAPER_PARAMETERS,
        **TINY_PER_NOTEBOOK.get(nb.stem, {}),
        "output_dir": str(tmp_path / "output" / nb.stem),
        "runs_root": str(tmp_path / "runs"),
        "device": "cpu",
    }
    return {k: v for k, v in wanted.items() if k in declared}


def parameterised_copy(nb: Path, tmp_path: Path) -> tuple[Path, dict]:
    "A copy of paper notebook `nb` beside it (a hidden name: the runner skips it) with papermill's injected tiny parameters."
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    import nbformat

    params = tiny_parameters(nb, tmp_path)
    node = parameterize_notebook(load_notebook_node(str(nb)), params, kernel_name="python3", language="python")
    copy = nb.parent / f".test-{nb.stem}-{os.getpid()}.ipynb"
    nbformat.write(node, str(copy))
    return copy, params
