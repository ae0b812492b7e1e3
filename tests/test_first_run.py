"""Issue #23, "a first run that shows the effect": plain papermill reuses the committed runs and shows each epoch;
ACC2/ACC3 are the mean of their draws for every reader; one default recipe for `fit()` and `picnn train`; own data
reaches the command line; the README example's output is one block and says why it shows no clusters.

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests/test_first_run.py
"""

import json, sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from picnn.config import ConfigError
from picnn.runs import TrainConfig, recipe, run_name
from picnn.evaluation import reported_accuracy

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(
    arch="tiny_cnn",
    dataset="digits",
    epochs=2,
    batch_size=64,
    augment=None,
    mis_method="fast",
    eval_draws=3,
    device="cpu",
)

# ---------------------------------------------------------------------------------------------- item 3: ACC2/ACC3


def test_acc2_and_acc3_are_the_mean_of_their_draws():
    "acc2/acc3 used to hold the first draw only; now they are the mean the definitions name, the first draw kept apart."
    from picnn.models import build_model
    from picnn.evaluation import pathway_accuracy

    torch.manual_seed(0)
    net = build_model("tiny_cnn", num_classes=10, method="picnn", in_channels=1, image_size=8)
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    with torch.no_grad():
        fmap = net.feature_maps(x)
        pooled = fmap.mean((2, 3))
    outputs = {"logits": net.classifier(pooled), "pooled": pooled, "labels": y}
    res = pathway_accuracy(net, outputs, seed=0, draws=5)
    draws = [pathway_accuracy(net, outputs, seed=i, draws=1) for i in range(5)]
    for k in ("acc2", "acc3"):
        assert res[k] == pytest.approx(np.mean([d[k] for d in draws])) == res[f"{k}_mean"]
        assert res[f"{k}_draw0"] == draws[0][k]
    one = pathway_accuracy(net, outputs, seed=0, draws=1)
    assert one["acc2"] == draws[0]["acc2"] and "acc2_mean" not in one


def test_every_reader_agrees_on_old_and_new_metrics():
    "A metrics.json of before (acc2 = first draw, acc2_mean = mean) and of now read alike by run_row, the CLI and demo."
    from picnn.cli import test_summary

    old = {
        "acc1": 0.9,
        "acc2": 0.5,
        "acc2_mean": 0.7,
        "acc2_std": 0.01,
        "acc3": 0.6,
        "acc3_mean": 0.8,
        "acc3_std": 0.02,
        "draws": 10,
        "mis": 0.2,
        "mis_normalized": 0.6,
        "mis_method": "fast",
    }
    new = {**old, "acc2": 0.7, "acc3": 0.8, "acc2_draw0": 0.5, "acc3_draw0": 0.6}
    for k in ("acc1", "acc2", "acc3"):
        assert reported_accuracy(old, k) == reported_accuracy(new, k)
    assert test_summary(old) == test_summary(new) and "ACC2 0.7000±0.0100" in test_summary(new)
    single = {"acc1": 0.9, "acc2": 0.7, "acc3": 0.8, "mis": 0.2, "mis_method": "fast"}  # one draw: no _mean keys
    assert reported_accuracy(single, "acc2") == 0.7 and "ACC2 0.7000 " in test_summary(single)


def test_run_row_reads_the_mean(tmp_path):
    from picnn.experiment import run_row

    np.savez(tmp_path / "analysis.npz", P=np.zeros((10, 64)), mi_matrix=np.zeros((10, 64)))
    t = {
        "acc1": 0.9,
        "acc2": 0.7,
        "acc3": 0.8,
        "acc2_draw0": 0.5,
        "acc3_draw0": 0.6,
        "acc2_mean": 0.7,
        "acc3_mean": 0.8,
        "mis": 0.2,
        "mis_normalized": 0.6,
        "mis_method": "fast",
    }
    row = run_row(TrainConfig(**TINY), tmp_path, {"test": t})
    assert (row["acc2"], row["acc3"]) == (0.7, 0.8)


# ------------------------------------------------------------------------------------------- item 4: one default


def test_fit_and_picnn_train_start_from_the_same_recipe(monkeypatch):
    "fit() without a config used to train the 200-epoch CIFAR-10 recipe while `picnn train` trained the quick one."
    import picnn.train as T
    from picnn.cli import build_parser, train_command_config

    seen = {}

    def stop(cfg):
        seen["cfg"] = cfg
        raise KeyboardInterrupt

    monkeypatch.setattr(T, "setup_process", stop)
    with pytest.raises(KeyboardInterrupt):
        T.fit()
    assert seen["cfg"] == train_command_config(build_parser().parse_args(["train"])) == recipe("quick")
    assert seen["cfg"].epochs == 10 and seen["cfg"].dataset == "digits"
    with pytest.raises(KeyboardInterrupt):
        T.fit(method="std", epochs=3)
    assert seen["cfg"] == recipe("quick", method="std", epochs=3)
    assert recipe("paper") == TrainConfig()  # the presets build on TrainConfig(): committed run names unchanged


# ------------------------------------------------------------------- item 2: plain papermill reuses, and shows epochs


def _checkout(tmp_path) -> Path:
    d = tmp_path / "checkout"
    d.mkdir()
    (d / "settings.ini").write_text((ROOT / "settings.ini").read_text())
    return d / "settings.ini"


def test_plain_papermill_reads_the_committed_runs_first(tmp_path, monkeypatch):
    "A finished run under results/<scale>/runs with the very config is reused (read only); nothing is trained."
    from picnn.experiment import train_cell
    from picnn.record import committed_runs
    import picnn.experiment as E

    monkeypatch.delenv("PICNN_RUNS", raising=False)
    settings = _checkout(tmp_path)
    assert committed_runs("smoke", None, settings) is None  # no results/ here: nothing to reuse
    cfg = TrainConfig(**TINY)
    done = settings.parent / "results" / "smoke" / "runs" / run_name(cfg)
    done.mkdir(parents=True)
    (done / "config.json").write_text(json.dumps(asdict(cfg)))
    (done / "log.jsonl").write_text("{}\n")
    np.savez(done / "analysis.npz", P=np.zeros((10, 64)), mi_matrix=np.zeros((10, 64)))
    t = {"acc1": 0.9, "acc2": 0.7, "acc3": 0.8, "mis": 0.2, "mis_normalized": 0.6, "mis_method": "fast"}
    (done / "metrics.json").write_text(json.dumps({"test": t}))
    reuse = committed_runs("smoke", None, settings)
    assert reuse == done.parent.resolve()
    monkeypatch.setattr(E, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained again")))
    row = train_cell(cfg, tmp_path / "scratch-runs", reuse)
    assert row["status"] == "ok" and Path(row["run_dir"]) == reuse / run_name(cfg) and row["acc2"] == 0.7
    assert not (tmp_path / "scratch-runs").exists()  # nothing written beside the outputs
    # a run cache named explicitly (as picnn reproduce does) reads nothing from results/
    assert committed_runs("smoke", tmp_path / "elsewhere", settings) is None
    monkeypatch.setenv("PICNN_RUNS", str(tmp_path / "elsewhere"))
    assert committed_runs("smoke", None, settings) is None


def test_a_cell_that_trains_prints_one_line_per_epoch(tmp_path, capsys):
    "Training in a notebook cell was silent (progress=False); now the cell's output (papermill's log) has each epoch."
    from picnn.experiment import train_cell

    row = train_cell(TrainConfig(**TINY), tmp_path / "runs")
    out = capsys.readouterr().out
    assert row["status"] == "ok", row
    assert "training digits-tiny_cnn-picnn-s0-" in out and "epoch 1/2" in out and "epoch 2/2" in out, out


# ------------------------------------------------------------------------------------------ item 6: own data


def test_too_small_a_training_split_names_the_batch_size_option(tmp_path):
    "The error used to suggest drop_last=False, which `picnn train` has no option for."
    import picnn.train as T

    with pytest.raises(ConfigError, match=r"fewer than one batch of 4096.*--batch-size") as e:
        T.fit(recipe("quick", device="cpu", batch_size=4096), progress=False)
    assert "drop_last" not in str(e.value)


MODULE = """
import numpy as np
from picnn.datasets import register_dataset, DATASETS
def setup():
    if "firstrun_mine" in DATASETS: return
    rng = np.random.default_rng(0)
    x = lambda n: rng.integers(0, 255, (n, 1, 8, 8), dtype=np.uint8)
    y = lambda n: np.arange(n) % 2
    register_dataset("firstrun_mine", lambda: dict(x_train=x(80), y_train=y(80), x_test=x(20), y_test=y(20),
                                                   classes=np.array(["a", "b"])))
"""


def test_a_dataset_registered_from_python_reaches_train_and_evaluate(tmp_path, monkeypatch, capsys):
    "A dataset of register_dataset was unknown to `picnn train`/`evaluate`; --register MODULE:FUNCTION makes it known."
    from picnn.cli import main

    (tmp_path / "firstrun_mydata.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    run = tmp_path / "run"
    args = [
        "--dataset",
        "firstrun_mine",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--run-dir",
        str(run),
    ]
    assert main(["train", "--register", "firstrun_mydata:nothing", *args]) == 2
    assert "has no function 'nothing'" in capsys.readouterr().err
    assert main(["train", "--register", "firstrun_mydata:setup", *args]) == 0, capsys.readouterr().err
    assert (run / "metrics.json").is_file()
    assert main(["evaluate", str(run), "--register", "firstrun_mydata:setup", "--device", "cpu", "--output", "-"]) == 0
    assert main(["train", "--register", "no_such_module_here:setup", *args]) == 2
    assert "cannot import 'no_such_module_here'" in capsys.readouterr().err


def test_cache_dir_is_the_users_not_the_checkout(monkeypatch, tmp_path):
    from picnn.config import cache_dir

    monkeypatch.delenv("PICNN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "picnn"
    monkeypatch.setenv("PICNN_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and not cache_dir().is_relative_to(ROOT)


# --------------------------------------------------------------------------------- items 7 and 10: README, demo


def test_demo_says_whether_clusters_formed():
    from picnn.cli import demo_note

    assert "far below" in demo_note(0.9, 0.1, 10, 230) and "no class clusters" not in demo_note(0.9, 0.1, 10, 230)
    note = demo_note(0.9, 0.85, 10, 230)
    assert "no class clusters" in note and "230 optimizer steps" in note and "too short" in note


def test_readme_example_output_is_one_block_and_what_the_code_prints():
    "Its epoch log rendered as ten separate blocks; the dict it prints is the stored output of the code above it."
    sys.path.insert(0, str(ROOT / "tools"))
    import make_readme

    cell = {
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["epoch 1/2\n"]},
            {"output_type": "stream", "name": "stdout", "text": ["epoch 2/2\n"]},
            {"output_type": "stream", "name": "stdout", "text": ["{'acc1': 1.0}\n"]},
        ]
    }
    assert make_readme._outputs(cell) == ["```\nepoch 1/2\nepoch 2/2\n{'acc1': 1.0}\n```"]
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    ex = next(c for c in nb["cells"] if c["cell_type"] == "code" and "run = fit(" in "".join(c["source"]))
    printed = "".join("".join(o["text"]) for o in ex["outputs"] if o.get("name") == "stdout")
    assert "epoch 10/10" in printed and printed.rstrip().splitlines()[-1].startswith("{'acc1'")
    readme = (ROOT / "README.md").read_text()
    assert "```\n" + printed.rstrip() + "\n```" in readme  # one block, all of it
    assert "too short for class clusters" in readme


def test_readme_documents_extras_normalisation_demo_plotting_tests_and_citation():
    readme = (ROOT / "README.md").read_text()
    for said in (
        '".[timm]"',
        "*normalised* input",
        "picnn.inputs.input_normalization",
        "`picnn demo`",
        "plot_training_curves(",
        "--durations",
        "CITATION.cff",
        "--register MODULE:FUNCTION",
    ):
        assert said in readme, said
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and "2312.12068" in json.dumps(cff["preferred-citation"])
    assert cff["preferred-citation"]["title"] == "A Pathway towards Interpretable Convolutional Neural Networks"
