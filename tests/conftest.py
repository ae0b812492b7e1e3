import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")

def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="also run tests marked slow (and notebook cells flagged #| slow)")

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long tests, run with --slow")

def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"): return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)

@pytest.fixture(scope="session")
def root() -> Path: return ROOT

@pytest.fixture(scope="session")
def shared_data() -> Path:
    "The workplace's read-only real data (CIFAR-10/100 WebP containers); tests that need it skip without it."
    d = Path(os.environ.get("PICNN_SHARED_DATA", ROOT.parent / "shared" / "data"))
    if not (d / "cifar10.npz").is_file():
        pytest.skip(f"real CIFAR data not found in {d} (set PICNN_SHARED_DATA to the folder holding cifar10.npz)")
    return d
