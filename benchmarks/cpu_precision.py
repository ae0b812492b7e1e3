"""Training speed on the CPU by numeric format: fp32 NCHW, fp32 channels_last, bf16 autocast + channels_last.

    python -m benchmarks.cpu_precision [--arch resnet20] [--batch-size 128] [--steps 20] [--warmup 3] [--threads N]

ResNet-20 (the `cpu` scale's model) trains STD and PICNN steps of the real loop (`picnn.train.train_one_epoch`)
on device-resident CIFAR-shaped uint8 data, each format measured side by side in one process, in an
interleaved order (every format once, then again) so that a load change on a shared machine hits all of them.
Prints images/s per format and the ratios to fp32 NCHW; writes `benchmarks/results/cpu_precision-<date>.json`.
Whether bf16 changes the *results* is a separate, paired training run (see benchmarks/README.md).
"""

from __future__ import annotations
import argparse, json, platform, time
from pathlib import Path
import torch

from picnn.datasets import ImageSplit
from picnn.loader import DeviceLoader
from picnn.models import build_model
from picnn.runs import TrainConfig
from picnn.hardware import Distributed, environment_info
from picnn.train import TrainingStep, train_one_epoch

FORMATS = {
    "fp32 NCHW": dict(amp=False, channels_last=False),
    "fp32 channels_last": dict(amp=False, channels_last=True),
    "bf16 channels_last": dict(amp=True, channels_last=True),
}


def synthetic_cifar(n: int, seed: int = 0) -> ImageSplit:
    "n random 32x32 RGB uint8 images with balanced labels (speed does not depend on the pixels)."
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageSplit(x, torch.arange(n) % 10, [str(i) for i in range(10)], "synthetic")


class FirstBatches:
    "The first `n` batches of a loader, keeping `set_epoch`."

    def __init__(self, loader, n):
        self.loader, self.n = loader, n

    def set_epoch(self, e):
        self.loader.set_epoch(e)

    def __len__(self):
        return min(self.n, len(self.loader))

    def __iter__(self):
        for i, b in enumerate(self.loader):
            if i == self.n:
                break
            yield b


def seconds_per_step(
    arch: str, method: str, fmt: dict, data: ImageSplit, batch_size: int, steps: int, warmup: int
) -> float:
    torch.manual_seed(0)
    model = build_model(arch, num_classes=10, method=method, in_channels=3)
    model = model.to(memory_format=torch.channels_last if fmt["channels_last"] else torch.contiguous_format)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    cfg = TrainConfig(arch=arch, dataset="cifar10", method=method, batch_size=batch_size, device="cpu")
    loader = DeviceLoader(
        data,
        batch_size,
        train=True,
        augment="crop_flip",
        device=torch.device("cpu"),
        channels_last=fmt["channels_last"],
    )
    step = TrainingStep(model, cfg)
    train_one_epoch(step, FirstBatches(loader, warmup), opt, cfg, 0, fmt["amp"], Distributed())
    t0 = time.perf_counter()
    train_one_epoch(step, FirstBatches(loader, steps), opt, cfg, 1, fmt["amp"], Distributed())
    return (time.perf_counter() - t0) / steps


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet20")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the fastest round counts")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/cpu_precision-<date>.json)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = synthetic_cifar(args.batch_size * (args.steps + args.warmup))
    best = {}
    for _ in range(args.rounds):
        for method in ("std", "picnn"):
            for name, fmt in FORMATS.items():
                s = seconds_per_step(args.arch, method, fmt, data, args.batch_size, args.steps, args.warmup)
                best[method, name] = min(best.get((method, name), s), s)
    rows = []
    for method in ("std", "picnn"):
        base = best[method, "fp32 NCHW"]
        for name in FORMATS:
            s = best[method, name]
            rows.append(
                {
                    "method": method,
                    "format": name,
                    "images_per_s": args.batch_size / s,
                    "step_ms": 1000 * s,
                    "speedup_over_fp32_nchw": base / s,
                }
            )
            print(f"{method:5s} {name:20s} {args.batch_size / s:8.1f} img/s  {1000 * s:7.1f} ms/step  x{base / s:.2f}")
    # what ran it: picnn's own record of a run's machine (torch, threads, CPU model, the instruction set torch
    # dispatches to), plus whether the CPU computes bf16 natively
    env = {
        "arch": args.arch,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "cpu": platform.processor() or platform.machine(),
        **environment_info(torch.device("cpu")),
    }
    try:
        flags = next(l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags"))
        env["native_bf16"] = [f for f in flags if f in ("avx512_bf16", "amx_bf16")]  # empty: bf16 is emulated
    except (OSError, StopIteration):
        pass
    out = (
        Path(args.out)
        if args.out
        else Path(__file__).parent / "results" / f"cpu_precision-{time.strftime('%Y-%m-%d')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "environment": env, "rows": rows}, indent=1))
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
