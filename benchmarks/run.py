"""picnn's performance benchmark: the fast path against the plain path, measured side by side in one process.

    python -m benchmarks.run [--device cuda] [--tiny] [--compile] [--steps 30]

Prints a table and writes benchmarks/results/<device>-<date>.json. What it measures:
- training throughput (images/s) of STD and PICNN, resnet18 at 32 px (CIFAR stem) and at 224 px (the official
  recipe's input), on the plain path (fp32, NCHW, torchvision DataLoader with the official PIL transforms, no
  compile) and on picnn's fast path (device-resident uint8 data augmented on the device, bf16 autocast and
  channels_last on CUDA, channels_last on CPU, optional torch.compile), and the fast/plain ratio;
- the PICNN/STD step-time ratio on each path;
- on CUDA, model FLOP utilisation of the 224 px step (FLOPs counted by torch.utils.flop_counter);
- fast MIS on the device against scikit-learn on the CPU, with the largest difference;
- peak memory of each path (CUDA allocator peak; on the CPU, the peak resident set of the process so far).
"""

from __future__ import annotations
import argparse, datetime, json, os, platform, resource, time
from pathlib import Path
import torch

from picnn.models import build_model
from picnn.datasets import load_dataset, normalization, ImageSplit
from picnn.loader import DeviceLoader
from benchmarks.torch_loader import official_transforms
from picnn.runs import TrainConfig
from picnn.hardware import Distributed
from picnn.train import TrainingStep, train_one_epoch

HERE = Path(__file__).resolve().parent

# Dense bf16 peak of the tensor cores (vendor figures, without sparsity).
BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}


def peak_tflops(device_name: str) -> float | None:
    "The bf16 dense peak of a GPU from its name, or None when unknown."
    for key, value in BF16_PEAK_TFLOPS.items():
        if key in device_name:
            return value
    return None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    "numerator / denominator, or None when either is missing or the denominator is zero."
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def train_step_flops(model, x, y, method: str) -> int:
    "FLOPs of one training step (forward + backward) counted by torch.utils.flop_counter."
    from torch.utils.flop_counter import FlopCounterMode
    from picnn.pathway import picnn_loss, std_loss

    with FlopCounterMode(display=False) as counter:
        loss = picnn_loss(model.pathways(x, y), y).total if method == "picnn" else std_loss(model(x), y)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def benchmark_data(n: int) -> ImageSplit:
    "Real CIFAR-10 when present (a seeded subset of n), else the embedded digits."
    try:
        split = load_dataset("cifar10", split="train")
    except FileNotFoundError:
        split = load_dataset("digits", split="train")
    return split.subset(n, seed=0) if n < len(split) else split


class PILDataset(torch.utils.data.Dataset):
    "The plain path's data: PIL images through torchvision transforms, as the released code loads them."

    def __init__(self, split: ImageSplit, transform):
        self.x, self.y, self.transform = split.x.permute(0, 2, 3, 1).numpy(), split.y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image

        img = self.x[i]
        img = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).convert("RGB")
        return self.transform(img), self.y[i]


class OnDevice:
    "Move each batch of a DataLoader to the device (the plain path's host-to-device copy)."

    def __init__(self, loader, device):
        self.loader, self.device = loader, device

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def __len__(self):
        return len(self.loader)


def plain_loader(split, size: int, batch_size: int, device, workers: int):
    import torchvision.transforms as T

    mean, std = normalization(split.name)
    if len(mean) == 1:
        mean, std = mean * 3, std * 3
    if size == 224:
        tf = official_transforms(train=True, image_size=224, mean=mean, std=std)
    else:
        tf = T.Compose(
            [
                T.Resize(size),
                T.RandomCrop(size, padding=size // 8),
                T.RandomHorizontalFlip(),
                T.ToTensor(),
                T.Normalize(mean, std),
            ]
        )
    dl = torch.utils.data.DataLoader(
        PILDataset(split, tf),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    return OnDevice(dl, device)


def peak_memory_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; process peak so far


def measure(path: str, method: str, size: int, split, args, device) -> dict:
    "Images/s of `steps` training steps (after `warmup` steps) of resnet18 on one path."
    fast = path == "fast"
    torch.manual_seed(0)
    model = build_model(
        "resnet18", num_classes=10, method=method, stem="cifar" if size == 32 else "imagenet", in_channels=3
    )
    cl = fast and (device.type == "cuda" or args.cpu_channels_last)
    model = model.to(device, memory_format=torch.channels_last if cl else torch.contiguous_format)
    cfg = TrainConfig(
        arch="resnet18", dataset=split.name, method=method, batch_size=args.batch_size, device=str(device)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    amp = fast and device.type == "cuda"
    steps = args.steps + args.warmup
    data = (
        split.subset(min(len(split), steps * args.batch_size), seed=1)
        if len(split) > steps * args.batch_size
        else split
    )
    if split.x.shape[1] == 1:  # digits: three channels like the paper's datasets
        data = ImageSplit(data.x.expand(-1, 3, -1, -1).contiguous(), data.y, data.classes, data.name, data.note)
    if fast:
        loader = DeviceLoader(
            data,
            args.batch_size,
            train=True,
            augment="crop_flip" if size == 32 else "official",
            device=device,
            image_size=size,
            channels_last=cl,
        )
    else:
        loader = plain_loader(data, size, args.batch_size, device, args.workers)
    step = TrainingStep(model, cfg)
    net = torch.compile(step) if (fast and args.compile) else step
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    # warm-up (and compilation) on a short epoch, then a timed epoch of `steps` steps
    warm = WarmupLimited(loader, args.warmup)
    train_one_epoch(net, warm, opt, cfg, 0, amp, Distributed())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    timed = WarmupLimited(loader, args.steps)
    t0 = time.perf_counter()
    train_one_epoch(net, timed, opt, cfg, 1, amp, Distributed())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    res = {
        "path": path,
        "method": method,
        "size": size,
        "images_per_s": args.steps * args.batch_size / seconds,
        "step_ms": 1000 * seconds / args.steps,
        "peak_memory_mb": peak_memory_mb(device),
        "amp_bf16": amp,
        "channels_last": cl,
        "compile": bool(fast and args.compile),
    }
    if device.type == "cuda" and size == 224:
        x, y = next(iter(loader))
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            flops = train_step_flops(model, x, y, method)
        res["flops_per_step"] = flops
        peak = peak_tflops(torch.cuda.get_device_name(device))
        res["mfu"] = ratio(flops / (seconds / args.steps), peak * 1e12) if peak else None
    return res


class WarmupLimited:
    "The first `n` batches of a loader (re-iterable), keeping set_epoch."

    def __init__(self, loader, n):
        self.loader, self.n = loader, n

    def set_epoch(self, e):
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(e)

    def __len__(self):
        return min(self.n, len(self.loader))

    def __iter__(self):
        for i, b in enumerate(self.loader):
            if i >= self.n:
                break
            yield b


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="seconds-long settings (CI): batch 8, 2 steps, 32 and 64 px")
    p.add_argument("--sizes", default=None, help="comma-separated input sizes (default 32,224)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers of the plain path")
    p.add_argument("--compile", action="store_true", help="torch.compile on the fast path")
    p.add_argument("--cpu-channels-last", type=int, default=1)
    p.add_argument("--mis-n", type=int, default=None)
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    args.steps = args.steps or (2 if args.tiny else (30 if cuda else 8))
    args.warmup = args.warmup or (1 if args.tiny else (10 if cuda else 2))
    args.batch_size = args.batch_size or (8 if args.tiny else (256 if cuda else 64))
    args.workers = args.workers if args.workers is not None else (0 if args.tiny else min(8, os.cpu_count() or 1))
    sizes = [int(s) for s in (args.sizes or ("32,64" if args.tiny else "32,224")).split(",")]
    split = benchmark_data(max(2000, (args.steps + args.warmup) * args.batch_size))

    rows = []
    for size in sizes:
        for path in ("plain", "fast"):
            for method in ("std", "picnn"):
                r = measure(path, method, size, split, args, device)
                rows.append(r)
                print(
                    f"  {path:5s} {method:5s} {size:3d}px  {r['images_per_s']:9.1f} img/s  {r['step_ms']:8.1f} ms/step"
                    f"  peak {r['peak_memory_mb']:8.0f} MiB" + (f"  MFU {r['mfu']:.3f}" if r.get("mfu") else ""),
                    flush=True,
                )
    summary = []
    for size in sizes:
        get = {(r["path"], r["method"]): r for r in rows if r["size"] == size}
        for method in ("std", "picnn"):
            summary.append(
                {
                    "size": size,
                    "method": method,
                    "fast_over_plain_throughput": ratio(
                        get["fast", method]["images_per_s"], get["plain", method]["images_per_s"]
                    ),
                }
            )
        for path in ("plain", "fast"):
            summary.append(
                {
                    "size": size,
                    "path": path,
                    "picnn_over_std_step_time": ratio(get[path, "picnn"]["step_ms"], get[path, "std"]["step_ms"]),
                }
            )

    from benchmarks.mis import mis_speed

    mis_n = args.mis_n or (500 if args.tiny else 10_000)
    mis = mis_speed(mis_n, 64 if not args.tiny else 8, 10, str(device))

    env = {
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "data": split.name,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "plain_workers": args.workers,
        "tiny": args.tiny,
    }
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "environment": env,
        "throughput": rows,
        "ratios": summary,
        "mis": mis,
    }
    print("\nratios (measured side by side in this run):")
    for s in summary:
        key = "fast_over_plain_throughput" if "fast_over_plain_throughput" in s else "picnn_over_std_step_time"
        who = s.get("method") or s.get("path")
        print(
            f"  {s['size']:3d}px {who:6s} {key:28s} {s[key]:.3f}"
            if s[key] is not None
            else f"  {s['size']}px {who} {key} n/a"
        )
    print(
        f"  MIS fast/sklearn speed-up {mis.get('speedup', float('nan')):.1f}x, largest |difference| {mis.get('max_abs_diff', float('nan')):.2e}"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = (
        (env["gpu"] or "cpu").replace(" ", "_")
        + ("-tiny" if args.tiny else "")
        + "-"
        + datetime.date.today().isoformat()
        + ".json"
    )
    tmp = out / (name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out / name)
    print(f"written to {out / name}")
    return result


if __name__ == "__main__":
    main()
