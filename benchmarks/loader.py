"""Loader throughput: picnn's `DeviceLoader` (whole split on the device, batched augmentation there) against the
standard torch `DataLoader` with worker processes and the official PIL transform pipeline, on the same images.

    python -m benchmarks.loader [--device cpu] [--n 5000] [--batch-size 128] [--image-size 224] [--workers N] [--official-n N]
                                [--data auto|cifar10|digits|synthetic]

`--data auto` uses the real CIFAR-10 when it is present (`picnn.datasets.load_dataset("cifar10")`), else the digits.
`loader_throughput(...)` returns the measurements as a dict for other benchmark entry points.
"""

from __future__ import annotations
import argparse, os, time

import torch

from picnn.datasets import ImageSplit, load_dataset
from picnn.sources import DatasetNotFound
from picnn.loader import DeviceLoader
from benchmarks.torch_loader import make_dataloader


def benchmark_split(data: str = "auto", n: int = 5000, seed: int = 0) -> ImageSplit:
    "The images to time: a stratified subset of `n` of CIFAR-10 (auto: when present), the digits, or synthetic CIFAR-shaped noise."
    if data in ("auto", "cifar10"):
        try:
            return load_dataset("cifar10").subset(n, seed)
        except DatasetNotFound:
            if data == "cifar10":
                raise
    if data == "synthetic":
        g = torch.Generator().manual_seed(seed)
        x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
        return ImageSplit(x, torch.arange(n) % 10, [str(c) for c in range(10)], "synthetic")
    if data not in ("auto", "digits"):
        raise ValueError(f"data must be auto, cifar10, digits or synthetic, got {data!r}")
    return load_dataset("digits").subset(n, seed)


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_epoch(loader, device: torch.device, warmup: int = 1) -> tuple[int, float]:
    "(images, seconds) of one pass over `loader`, batches moved to `device`, the first `warmup` batches not counted."
    it = iter(loader)
    for _ in range(warmup):
        x, y = next(it)
        x.to(device, non_blocking=True)
    _sync(device)
    t0, n = time.perf_counter(), 0
    for x, y in it:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        n += len(y)
    _sync(device)
    return n, time.perf_counter() - t0


def loader_throughput(
    split: ImageSplit | None = None,
    device="cpu",
    n: int = 5000,
    batch_size: int = 128,
    image_size: int = 224,
    num_workers: int | None = None,
    data: str = "auto",
    seed: int = 0,
    official_n: int | None = None,
) -> dict:
    """Images per second of DeviceLoader (crop_flip at the native size; the official recipe at `image_size`) and of a
    torch DataLoader with `num_workers` workers and the PIL pipelines (`official_transforms`; crop_flip), same images.
    The official rows time the first `official_n` of the `n` images (default: all on an accelerator, 1024 on the CPU,
    where a pass at 224 px takes minutes)."""
    device = torch.device(device)
    split = benchmark_split(data, n, seed) if split is None else split.subset(n, seed)
    if official_n is None:
        official_n = len(split) if device.type != "cpu" else min(len(split), 1024)
    small = split.subset(official_n, seed)
    workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
    native = split.image_shape[1]
    cases = [  # (loader, augment, output size, factory)
        (
            "DeviceLoader",
            "crop_flip",
            native,
            lambda: DeviceLoader(split, batch_size, augment="crop_flip", device=device, seed=seed),
        ),
        (
            "torch DataLoader (PIL)",
            "crop_flip",
            native,
            lambda: make_dataloader(
                split, batch_size, augment="crop_flip", num_workers=workers, seed=seed, pin_memory=device.type == "cuda"
            ),
        ),
        (
            "DeviceLoader",
            "official",
            image_size,
            lambda: DeviceLoader(
                small, batch_size, augment="official", image_size=image_size, device=device, seed=seed
            ),
        ),
        (
            "torch DataLoader (PIL)",
            "official",
            image_size,
            lambda: make_dataloader(
                small,
                batch_size,
                augment="official",
                image_size=image_size,
                num_workers=workers,
                seed=seed,
                pin_memory=device.type == "cuda",
            ),
        ),
    ]
    rows = []
    for name, augment, size, factory in cases:
        loader = factory()
        images, seconds = time_epoch(loader, device)
        rows.append(
            dict(loader=name, augment=augment, size=size, images=images, seconds=seconds, images_per_s=images / seconds)
        )
        del loader
    rate = {(r["loader"].split()[0], r["augment"]): r["images_per_s"] for r in rows}
    return dict(
        dataset=split.name,
        n=len(split),
        official_n=len(small),
        native_size=native,
        device=str(device),
        batch_size=batch_size,
        num_workers=workers,
        image_size=image_size,
        torch=torch.__version__,
        rows=rows,
        ratio_crop_flip=rate["DeviceLoader", "crop_flip"] / rate["torch", "crop_flip"],
        ratio_official=rate["DeviceLoader", "official"] / rate["torch", "official"],
    )


def format_table(res: dict) -> str:
    lines = [
        f"loader throughput: {res['dataset']} ({res['n']} images, {res['native_size']}x{res['native_size']}), device {res['device']}, "
        f"batch {res['batch_size']}, {res['num_workers']} DataLoader workers, torch {res['torch']}",
        "",
        "| loader | augment | output | images timed | images/s |",
        "|---|---|---|---:|---:|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['loader']} | {r['augment']} | {r['size']}x{r['size']} | {r['images']} | {r['images_per_s']:,.0f} |"
        )
    lines += [
        "",
        f"DeviceLoader / DataLoader: crop_flip x{res['ratio_crop_flip']:.2f}, official x{res['ratio_official']:.2f}",
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=int, default=5000, help="images per timed pass")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--image-size", type=int, default=224, help="output size of the official recipe")
    p.add_argument("--workers", type=int, default=None, help="DataLoader worker processes (default: min(8, CPUs))")
    p.add_argument("--data", default="auto", choices=["auto", "cifar10", "digits", "synthetic"])
    p.add_argument(
        "--official-n", type=int, default=None, help="images for the official rows (default: all; 1024 on the CPU)"
    )
    a = p.parse_args(argv)
    res = loader_throughput(
        device=a.device,
        n=a.n,
        batch_size=a.batch_size,
        image_size=a.image_size,
        num_workers=a.workers,
        data=a.data,
        official_n=a.official_n,
    )
    print(format_table(res))
    return res


if __name__ == "__main__":
    main()
