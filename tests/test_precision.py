"""`amp = auto`: bf16 autocast on a CPU only where it computes bf16 natively, fp32 elsewhere; every run records the
precision it trained in; the main job (smoke) trains the same runs, in fp32, on every CPU kind."""

import pytest
import picnn.hardware as H
from picnn.config import load_scale
from picnn.experiment import train_config
from picnn.runs import TrainConfig, run_name
from picnn.hardware import resolve_amp
from picnn.train import fit


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_on_a_cpu_with_native_bf16(monkeypatch, native):
    monkeypatch.setattr(H, "native_bf16", lambda: native)
    monkeypatch.setattr(H.torch.cuda, "is_available", lambda: False)
    assert resolve_amp("auto", "cpu") is (True if native else None)
    assert resolve_amp("auto", "auto") is (True if native else None)
    assert resolve_amp("auto", "cuda") is None  # bf16 on CUDA, as None always meant
    for fixed in (True, False, None):
        assert resolve_amp(fixed, "cpu") is fixed


@pytest.mark.parametrize("native", [True, False])
def test_cpu_preset_follows_the_cpu_and_smoke_does_not(monkeypatch, native):
    monkeypatch.setattr(H, "native_bf16", lambda: native)
    monkeypatch.setattr(H.torch.cuda, "is_available", lambda: False)
    cpu = train_config(load_scale("cpu"), "cifar10", "resnet20", "std", 0)
    assert cpu.amp is (True if native else None)
    # the committed cpu runs are bf16 ones: found by name only where bf16 is what this CPU would train
    assert (run_name(cpu) == "cifar10-resnet20-std-s0-ba80047a") is native
    smoke = [train_config(load_scale("smoke"), d, "tiny_cnn", "picnn", 0) for d in ("digits", "cifar10")]
    assert [c.amp for c in smoke] == [None, None]


def test_a_run_records_its_precision():
    cfg = TrainConfig(
        arch="tiny_cnn",
        dataset="digits",
        epochs=1,
        batch_size=64,
        augment=None,
        mis_method="fast",
        train_subset=200,
        eval_draws=1,
        device="cpu",
    )
    assert fit(cfg, progress=False).metrics["precision"] == "fp32"
