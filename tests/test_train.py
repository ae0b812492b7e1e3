"Training beyond one notebook: a killed run resumed, two processes under torchrun, a non-finite loss, the CLI."

import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
DIGITS = [
    "--arch",
    "tiny_cnn",
    "--dataset",
    "digits",
    "--method",
    "picnn",
    "--epochs",
    "6",
    "--batch-size",
    "8",
    "--augment",
    "crop_flip",
    "--mis-method",
    "fast",
    "--eval-draws",
    "3",
    "--device",
    "cpu",
]


def picnn_cli(*args, **kw):
    return subprocess.run([str(BIN / "picnn"), *args], capture_output=True, text=True, env=ENV, timeout=600, **kw)


def test_killed_run_resumes_to_the_same_result(tmp_path):
    ref = picnn_cli("train", *DIGITS, "--run-dir", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr[-2000:]
    assert "results in" in ref.stdout

    run = tmp_path / "killed"
    proc = subprocess.Popen(
        [str(BIN / "picnn"), "train", *DIGITS, "--run-dir", str(run)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = run / "log.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if log.is_file() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(log.read_text().splitlines())
    assert not (run / "metrics.json").exists() and 2 <= done < 6, f"the kill came too late ({done} epochs logged)"
    torch.load(run / "last.pt", weights_only=False)  # what was written before the kill is intact

    res = picnn_cli("train", *DIGITS, "--run-dir", str(run), "--resume")
    assert res.returncode == 0, res.stderr[-2000:]
    a, b = (json.loads((d / "metrics.json").read_text())["test"] for d in (tmp_path / "ref", run))
    for k in ("acc1", "acc2", "acc3", "acc2_mean", "mis"):
        assert a[k] == pytest.approx(b[k], abs=1e-6), k
    wa, wb = (torch.load(d / "last.pt", weights_only=False)["model"] for d in (tmp_path / "ref", run))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)
    assert [json.loads(l)["epoch"] for l in log.read_text().splitlines()] == list(range(6))
    # the resumed run records both sessions, and its wall time covers them both (not only the last one)
    m = json.loads((run / "metrics.json").read_text())
    s = m["sessions"]
    assert len(s) == 2 and s[0]["first_epoch"] == 0 and s[1]["first_epoch"] == s[0]["epochs"] >= done
    assert sum(x["epochs"] for x in s) == 6 and all(x["environment"]["cpu_capability"] for x in s)
    assert m["wall_seconds"] == pytest.approx(sum(x["seconds"] for x in s))
    assert m["wall_seconds"] >= sum(json.loads(l)["seconds"] for l in log.read_text().splitlines())

    ev = picnn_cli("evaluate", str(run), "--device", "cpu")
    assert ev.returncode == 0 and json.loads((run / "evaluation.json").read_text())["acc1"] == pytest.approx(b["acc1"])


def test_two_processes_match_one(tmp_path):
    one = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "ddp_fit.py"), str(tmp_path / "one.pt")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [
            str(BIN / "torchrun"),
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            str(ROOT / "tests" / "ddp_fit.py"),
            str(tmp_path / "two.pt"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (torch.load(tmp_path / f, weights_only=False) for f in ("one.pt", "two.pt"))
    for k in a["state"]:
        torch.testing.assert_close(a["state"][k], b["state"][k], rtol=1e-4, atol=1e-5)
    assert a["metrics"]["acc1"] == pytest.approx(b["metrics"]["acc1"], abs=2e-3)


def test_non_finite_loss_stops_with_epoch_and_step(tmp_path):
    from picnn.runs import TrainConfig, NonFiniteLoss, load_checkpoint
    from picnn.train import fit
    from picnn.models import build_model

    model = build_model("tiny_cnn", num_classes=10, in_channels=1)
    seen_eval = {"done": False}

    def poison(module, inputs, output):  # after the first validation, every training step's logits are NaN
        if not module.training:
            seen_eval["done"] = True
        elif seen_eval["done"]:
            return output * float("nan")

    cfg = TrainConfig(
        arch="tiny_cnn", dataset="digits", epochs=3, batch_size=64, augment=None, device="cpu", mis_method="fast"
    )
    model.classifier.register_forward_hook(poison)
    with pytest.raises(NonFiniteLoss, match=r"epoch 1, step 0"):
        fit(cfg, model=model, run_dir=tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epoch"] == 0 and all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_cli_errors_are_clear(tmp_path):
    res = picnn_cli("evaluate", str(tmp_path / "missing"))
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = picnn_cli("train", "--arch", "no_such_net", "--dataset", "digits", "--epochs", "1")
    assert res.returncode == 2 and "no_such_net" in res.stderr


def test_committed_runs_keep_their_names():
    "Every committed run folder is still found by `run_name` (its config.json is valid and hashes as before)."
    from picnn.runs import TrainConfig, run_name

    configs = sorted(ROOT.glob("results/*/runs/*/config.json"))
    assert configs, "no committed runs found"
    for c in configs:
        cfg = TrainConfig.from_dict(json.loads(c.read_text()))
        assert (c.parent.parent / run_name(cfg)).is_dir(), c


def test_a_new_setting_at_its_default_renames_no_committed_run():
    """A TrainConfig with one more field, as a setting added later, finds every committed run by its name while the new
    field is at its default; set to another value, it names another run."""
    import dataclasses
    from picnn.runs import TrainConfig, run_name

    Later = dataclasses.make_dataclass(
        "Later", [("new_knob", float, dataclasses.field(default=0.5))], bases=(TrainConfig,)
    )
    configs = sorted(ROOT.glob("results/*/runs/*/config.json"))
    assert configs, "no committed runs found"
    for c in configs:
        saved = json.loads(c.read_text())
        name = run_name(Later(**saved))
        assert name == run_name(TrainConfig.from_dict(saved)) and (c.parent.parent / name).is_dir(), c
        assert run_name(Later(**saved, new_knob=0.25)) != name, c


def test_run_dir_lock_names_its_holder_and_is_released(tmp_path):
    from picnn.runs import run_dir_lock, RunLocked

    with run_dir_lock(tmp_path):
        assert str(os.getpid()) in (tmp_path / ".lock").read_text()
        with pytest.raises(RunLocked, match=f"in use by process {os.getpid()}"):
            with run_dir_lock(tmp_path):
                pass
    assert not (tmp_path / ".lock").exists()
    with run_dir_lock(tmp_path):
        pass


def test_every_expected_error_is_a_picnn_error_and_keeps_its_old_type():
    from picnn.config import PicnnError, ConfigError, UnknownSetting
    from picnn import runs as T

    for cls, old in [
        (ConfigError, ValueError),
        (UnknownSetting, KeyError),
        (T.RunNotFound, FileNotFoundError),
        (T.RunMismatch, ValueError),
        (T.CorruptRunFile, ValueError),
        (T.NonFiniteLoss, FloatingPointError),
        (T.DeviceUnavailable, RuntimeError),
        (T.RunDirError, OSError),
        (T.RunLocked, OSError),
    ]:
        assert issubclass(cls, PicnnError) and issubclass(cls, old), cls
    assert str(UnknownSetting("no such key")) == "no such key"


def test_pretrained_backbones_get_their_weights_statistics(tmp_path, monkeypatch):
    """The paper preset's ImageNet-pretrained ResNet-18 on CIFAR-10 is normalised with its weights' statistics (ImageNet's,
    as the released code does) in training, selection, test and `evaluate_run`, and metrics.json says so; the same network
    from scratch keeps CIFAR-10's. Before, both got CIFAR-10's."""
    from torchvision.models import ResNet18_Weights, resnet18
    from picnn import inputs, readback, train as T
    from picnn.config import load_scale
    from picnn.hardware import Distributed
    from picnn.datasets import ImageSplit, normalization
    from picnn.models import checkpoint_path

    paper = load_scale("paper")
    assert paper.pretrained and paper.augment == "official" and paper.image_size == 224
    gen = torch.Generator().manual_seed(0)
    split = ImageSplit(
        torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8, generator=gen),
        torch.arange(20) % 10,
        [str(c) for c in range(10)],
        "cifar10",
    )
    for module in (inputs, readback):  # CIFAR-10's name and size, no files, for training and for re-evaluation
        monkeypatch.setattr(module, "prepare_data", lambda cfg: (split, split, split))
    cfg = T.TrainConfig(
        arch="resnet18",
        dataset="cifar10",
        pretrained=paper.pretrained,
        stem=paper.stem,
        image_size=paper.image_size,
        augment=paper.augment,
        batch_size=10,
        device="cpu",
    )
    weights = ResNet18_Weights.IMAGENET1K_V1
    imagenet = tuple(weights.transforms().mean), tuple(weights.transforms().std)
    data = inputs.make_loaders(cfg, torch.device("cpu"), Distributed())
    assert all(
        (dl.mean, dl.std) == imagenet for dl in (data.train, data.select, data.test)
    ) and data.train.resize_to == (256, 256)
    scratch = inputs.make_loaders(cfg.replace(pretrained=False), torch.device("cpu"), Distributed())
    assert all((dl.mean, dl.std) == normalization("cifar10") for dl in (scratch.train, scratch.select, scratch.test))

    # a short run at 32 px, with random weights standing in for the ImageNet file in the torch hub cache
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoint_path(weights).parent.mkdir(parents=True)
    torch.save(resnet18().state_dict(), checkpoint_path(weights))
    short = cfg.replace(image_size=0, augment=None, epochs=1, mis_method="fast", eval_draws=1)
    metrics = T.fit(short, run_dir=tmp_path / "run", progress=False).metrics
    recorded = {
        "mean": list(imagenet[0]),
        "std": list(imagenet[1]),
        "source": "pretrained weights ResNet18_Weights.IMAGENET1K_V1.transforms()",
    }
    assert (
        metrics["normalization"]
        == recorded
        == json.loads((tmp_path / "run" / "metrics.json").read_text())["normalization"]
    )
    again = readback.evaluate_run(tmp_path / "run", device="cpu")  # normalised as in training: the same numbers
    for k in ("acc1", "acc2", "mis"):
        assert again[k] == pytest.approx(metrics["test"][k], abs=1e-6), k
