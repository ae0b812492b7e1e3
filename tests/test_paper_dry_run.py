"""The paper scale's dry run (tools/paper_dry_run.py, issue #15): fixture datasets in their real formats, stand-in weights
under torchvision's file names, and `picnn reproduce --scale paper` end to end on them, never touching results/."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("papermill")
import torch
from torchvision.models import get_model_weights

import picnn.datasets as data
from picnn.models import build_model, checkpoint_path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("paper_dry_run", ROOT / "tools" / "paper_dry_run.py")
dry = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dry)

CLASSES = {"cifar10": 10, "cifar100": 100, "stl10": 10, "voc_part": 6, "tinyimagenet": 200}
SIDES = {"cifar10": 32, "cifar100": 32, "stl10": 96, "voc_part": 128, "tinyimagenet": 64}


def test_fixtures_are_read_by_the_real_sources(tmp_path, monkeypatch):
    """Through the dry run's settings (raw trees in data/, CIFAR's containers in the shared extra folder), each fixture
    is read by its source with the real class count and image size."""
    monkeypatch.setenv("PICNN_SETTINGS", str(dry.write_settings(tmp_path, ["resnet18"], False, dry.SIZES)))
    monkeypatch.delenv("PICNN_DATA", raising=False)
    dry.write_datasets(tmp_path / "data", tmp_path / "shared" / "data")
    data.clear_cache()
    for name, classes in CLASSES.items():
        train, test = data.load_dataset(name), data.load_dataset(name, split="test")
        assert train.num_classes == classes and set(test.y.tolist()) <= set(range(classes)), name
        assert train.image_shape == test.image_shape == (3, SIDES[name], SIDES[name]), (name, train.image_shape)
        assert len(train) >= 16 and len(test) >= 7, (name, len(train), len(test))  # the dry run's subsets fit
    assert "official labelled split (30 train, 20 test)" in data.load_dataset("stl10").note
    assert sorted(p.name for p in (tmp_path / "data").glob("*.npz")) == sorted(f"{n}.npz" for n in CLASSES)  # caches
    data.clear_cache()


def test_standin_weights_are_found_and_loaded_under_torchvision_file_names(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    written = dry.write_standin_weights(["resnet18", "googlenet"], tmp_path / "torch")
    for arch, path in written.items():
        weights = get_model_weights(arch).DEFAULT
        assert path == checkpoint_path(weights) == tmp_path / "torch" / "hub" / "checkpoints" / Path(weights.url).name
    model = build_model("resnet18", 10, pretrained=True, stem="imagenet")
    saved = torch.load(written["resnet18"], weights_only=True)
    assert torch.equal(model.backbone.conv1.weight, saved["conv1.weight"])  # the file's weights, not a fresh init
    # its builder loads the file into a model with aux heads
    build_model("googlenet", 10, pretrained=True, stem="imagenet")


def check(report: dict, archs: list):
    assert not report["problems"], "\n".join(report["problems"]) + "\n" + report["log_tail"]
    assert (
        report["archs"] == archs and report["paper_paths"]["image_size"] == 224 and report["paper_paths"]["pretrained"]
    )
    assert set(report["notebooks"]) == {
        "table1",
        "table2",
        "ablations",
        "tradeoff",
        "fig_cams",
        "fig_curves",
        "fig_matrices",
        "fig_pathway",
    }
    cells = set(report["run_cells"])
    assert {(d, a, m) for d in CLASSES for a in archs for m in ("std", "picnn")} <= cells
    assert not (ROOT / "results" / "paper").exists()


def test_dry_run_one_architecture(tmp_path):
    """CI size: one CNN through every dataset and notebook, smaller subsets than the tool's default (each architecture,
    the ViT included, goes through the slow test below: `make test-slow` or `pytest --slow`)."""
    archs = ["resnet18"]
    report = dry.dry_run(
        archs, tmp_path / "work", quiet=True, sizes=dict(batch_size="2", train_subset="8", test_subset="4")
    )
    check(report, archs)


@pytest.mark.slow
def test_dry_run_every_paper_architecture(tmp_path):
    report = dry.dry_run(None, tmp_path / "work", quiet=True)
    check(report, [a.strip() for a in dry.load_scale("paper", ROOT / "settings.ini").archs])
