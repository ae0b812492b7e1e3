"""CSG as a user meets it: `picnn train --method csg` trains and re-evaluates, its help lists its settings, its
schedule alternates as the released code does, and adding its settings renamed no committed run."""

import json, os, subprocess, sys
from pathlib import Path
import torch

from picnn.csg import GatedClassifier, csg_epoch
from picnn.runs import TrainConfig, read_config
from picnn.runs import run_name
from picnn.readback import load_run
from picnn.train import fit

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
SMALL = dict(
    arch="tiny_cnn",
    dataset="digits",
    method="csg",
    epochs=4,
    csg_warmup=1,
    batch_size=64,
    augment=None,
    mis_method="fast",
    train_subset=400,
    eval_draws=2,
    device="cpu",
)


def picnn_cli(*args):
    return subprocess.run([str(BIN / "picnn"), *map(str, args)], capture_output=True, text=True, env=ENV, timeout=600)


def test_train_help_lists_the_csg_settings():
    # a '%' in a setting's help once made argparse's help formatting crash
    r = picnn_cli("train", "--help")
    assert r.returncode == 0, r.stderr
    for opt in ("{picnn,std,csg}", "--gate-weight", "--gate-density", "--csg-warmup", "--csg-period", "--csg-phase"):
        assert opt in r.stdout, opt


def test_cli_trains_csg_and_evaluate_reads_it_back(tmp_path):
    run = tmp_path / "csg"
    r = picnn_cli(
        "train",
        "--method",
        "csg",
        "--arch",
        "tiny_cnn",
        "--dataset",
        "digits",
        "--epochs",
        4,
        "--csg-warmup",
        1,
        "--batch-size",
        64,
        "--augment",
        "none",
        "--mis-method",
        "fast",
        "--train-subset",
        400,
        "--eval-draws",
        2,
        "--device",
        "cpu",
        "--run-dir",
        run,
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["config"]["method"] == "csg" and 0 < metrics["l1_density"] <= 1
    model, cfg = load_run(run)
    assert isinstance(model, GatedClassifier) and cfg.method == "csg"
    G = model.gate.G.detach()
    # warm-up 1 of 4 epochs: epoch 2 (0-based) trains the gated path, so G was renormalised after its steps
    assert torch.allclose(G.max(0).values, torch.ones(G.shape[1])) and G.min() >= 0
    r = picnn_cli("evaluate", run)
    assert r.returncode == 0, r.stderr
    ev = json.loads((run / "evaluation.json").read_text())
    assert abs(ev["acc1"] - metrics["test"]["acc1"]) < 1e-6


def test_csg_trains_the_gate_only_in_its_epochs():
    seen = []

    def record(epoch, model, row):
        seen.append(model.gate.G.detach().clone())

    fit(TrainConfig(**SMALL), progress=False, on_epoch_end=record)
    changed = [not torch.equal(a, b) for a, b in zip(seen, seen[1:])]
    assert changed == [csg_epoch(e, warmup=1) for e in range(1, 4)]  # epochs 1-3: only epoch 2 trains G


def test_csg_settings_name_only_csg_runs():
    assert run_name(TrainConfig(method="std", csg_warmup=2)) != run_name(TrainConfig(method="std"))  # set: named
    # every committed run keeps its folder name with the csg settings at their defaults
    for d in ROOT.glob("results/*/runs/*"):
        if (d / "config.json").is_file():
            assert run_name(read_config(d)) == d.name, d
