"""Training and evaluation images/s of every paper architecture: the table `picnn reproduce --plan` reads.

    python -m benchmarks.throughput [--device cuda] [--archs a,b] [--methods picnn,std] [--image-size 224]
                                    [--batch-size N] [--steps N] [--warmup N] [--precision bf16|fp32] [--threads N]
    python -m benchmarks.throughput --from-run benchmarks/results/NVIDIA_H100_80GB_HBM3-2026-11-27.json  # from a run
    python -m benchmarks.throughput --table benchmarks/results/throughput-<hardware>-<date>.json  # the README's table

Each architecture of the `paper` preset is built as a paper run builds it (`build_model(arch, 10, method,
stem="imagenet", image_size=224)`, random init: weights do not change the speed) and trained for `warmup` + `steps`
steps of the real loop (`picnn.train.train_one_epoch`: forward, loss, backward, Adam step) on synthetic CIFAR-shaped
uint8 images that the `DeviceLoader` resizes and augments on the device with the official recipe; then the same
model is evaluated (`picnn.train.collect_outputs`, the evaluation pass of every epoch) on `warmup` + `steps`
batches of the same size. Images/s are those of the timed steps. Evaluation is the same network for STD and PICNN
(the method changes only the loss), so it is measured once per architecture, on the first method's row; the other
rows say null.

Precision: bf16 autocast + channels_last by default, on every device. On CUDA that is what the `paper` preset's
`amp = auto` chooses; on a CPU `auto` means fp32, but on this project's CPU bf16 trains 1.66x faster
(`benchmarks.cpu_precision`) and the `cpu` preset sets `amp = true`, so a CPU run of the recipe would too.
`--precision fp32` measures the other. No `torch.compile` (the paper preset compiles on the GPU: these rates are
the uncompiled ones). The JSON is rewritten after every row, so a run stopped by a time limit keeps the rows it
finished; an architecture that fails is reported and skipped, and the exit status is then 1.

On a shared CPU a third runnable process stalls every OpenMP barrier of a 2-thread step and the rate comes out
several times too low, so each CPU timing also measures the CPU time other processes took meanwhile (/proc/stat);
a row they slowed (over `BUSY` of the machine) is measured again at the back of the queue, up to `--tries` times,
and keeps its fastest rates. Pause other work on the machine while measuring.

Writes `benchmarks/results/throughput-<hardware>-<date>.json`:
{"hardware", "device", "date", "torch", "threads", "source", "rows": [{"arch", "image_size", "method", "batch_size",
 "amp", "channels_last", "train_img_s", "eval_img_s", "timed_steps"}]}.
"""

from __future__ import annotations
import argparse, datetime, json, os, re, sys, time, traceback
from pathlib import Path
import torch

from picnn.config import load_scale
from picnn.loader import DeviceLoader
from picnn.models import build_model
from picnn.runs import TrainConfig
from picnn.evaluation import collect_outputs
from picnn.hardware import Distributed
from picnn.train import TrainingStep, train_one_epoch
from benchmarks.cpu_precision import FirstBatches, synthetic_cifar

HERE = Path(__file__).resolve().parent
NUM_CLASSES = 10  # CIFAR-10, the paper's first dataset; only the last linear layer depends on it


def hardware_name(device: torch.device) -> str:
    "The GPU's name, or the CPU's model with the cores this process may use."
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        model = "CPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model} ({cores} cores)"


def slug(text: str) -> str:
    "A file-name-safe form of a hardware name: 'NVIDIA H100 80GB HBM3' -> 'NVIDIA_H100_80GB_HBM3'."
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def synchronize(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_ticks() -> tuple[int, int]:
    "Busy clock ticks so far of the whole machine and of this process (Linux); (0, 0) where /proc is missing."
    try:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, open("/proc/stat").readline().split()[1:9])
        own = open("/proc/self/stat").read().rsplit(")", 1)[1].split()  # after the name: state, ppid, ...
        return user + nice + system + irq + softirq + steal, int(own[11]) + int(own[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return 0, 0


def timed(fn, device) -> tuple[float, float]:
    "Seconds `fn()` takes, and the share of the machine's CPU time other processes (or the hypervisor) took meanwhile."
    synchronize(device)
    (m0, s0), t0 = cpu_ticks(), time.perf_counter()
    fn()
    synchronize(device)
    (m1, s1), seconds = cpu_ticks(), time.perf_counter() - t0
    machine = seconds * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    return seconds, min(1.0, max(0.0, ((m1 - m0) - (s1 - s0)) / machine)) if machine else 0.0


BUSY = 0.10  # other processes' share of the machine's CPU time above which a CPU row is measured again, later


def train_img_s(model, arch: str, method: str, loader, amp: bool, args, device) -> tuple[float, float]:
    "Images/s of `steps` training steps of the real loop after `warmup` (oneDNN / cuDNN set-up), and the busy share."
    cfg = TrainConfig(arch=arch, dataset="cifar10", method=method, batch_size=loader.batch_size, device=str(device))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    step = TrainingStep(model, cfg)
    train_one_epoch(step, FirstBatches(loader, args.warmup), opt, cfg, 0, amp, Distributed())
    epoch = lambda: train_one_epoch(step, FirstBatches(loader, args.steps), opt, cfg, 1, amp, Distributed())
    seconds, busy = timed(epoch, device)
    return args.steps * loader.batch_size / seconds, busy


def eval_img_s(model, loader, amp: bool, args, device) -> tuple[float, float]:
    "Images/s of the evaluation pass (no grad, eval mode: feature maps, pooling, classifier), and the busy share."
    collect_outputs(model, FirstBatches(loader, args.warmup), amp)
    seconds, busy = timed(lambda: collect_outputs(model, FirstBatches(loader, args.steps), amp), device)
    return args.steps * loader.batch_size / seconds, busy


def measure(arch: str, method: str, args, data, device, with_eval: bool) -> tuple[dict, float]:
    "One row: train (and eval) images/s of `arch` built as a paper run builds it; and the larger busy share."
    torch.manual_seed(0)
    model = build_model(arch, NUM_CLASSES, method=method, stem=args.stem, image_size=args.image_size)
    model = model.to(device, memory_format=torch.channels_last if args.channels_last else torch.contiguous_format)
    common = dict(augment="official", device=device, image_size=args.image_size, channels_last=bool(args.channels_last))
    amp = args.precision == "bf16"
    loader = DeviceLoader(data, args.batch_size, train=True, **common)
    train, busy = train_img_s(model, arch, method, loader, amp, args, device)
    evaluation = None
    if with_eval:
        loader = DeviceLoader(data, args.batch_size, train=False, **common)
        evaluation, eval_busy = eval_img_s(model, loader, amp, args, device)
        busy = max(busy, eval_busy)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {
        "arch": arch,
        "image_size": args.image_size,
        "method": method,
        "batch_size": args.batch_size,
        "amp": amp,
        "channels_last": bool(args.channels_last),
        "train_img_s": train,
        "eval_img_s": evaluation,
        "timed_steps": args.steps,
    }, busy


def faster(old: dict | None, new: dict) -> dict:
    "The row with each rate the higher of two tries (a slower try is one that something else slowed down)."
    if old is None:
        return new
    best = lambda k: None if new[k] is None else max(old[k], new[k])
    return {**new, "train_img_s": best("train_img_s"), "eval_img_s": best("eval_img_s")}


def measure_all(archs: list[str], methods: list[str], args, data, device, table: dict, out: Path) -> list[str]:
    """Every (method, arch) row, written to `out` as each finishes; a CPU row that other processes slowed (busy share
    over `BUSY`) goes to the back of the queue for another try, up to `tries`, and keeps its faster rates. The
    architectures that failed."""
    queue = [(i, m, a) for i, (m, a) in enumerate((m, a) for m in methods for a in archs)]
    rows, tries, failed = {}, {}, []
    while queue:
        i, method, arch = queue.pop(0)
        t0 = time.perf_counter()
        try:
            row, busy = measure(arch, method, args, data, device, with_eval=method == methods[0])
        except Exception as e:  # one architecture's failure (out of memory, say) must not cost the others' rows
            failed.append(f"{arch} {method}")
            traceback.print_exc()
            print(f"FAILED {arch} {method}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            continue
        rows[i] = faster(rows.get(i), row)
        tries[i] = tries.get(i, 0) + 1
        table["rows"] = [rows[k] for k in sorted(rows)]
        write_table(table, out)
        slowed = device.type == "cpu" and busy > BUSY
        again = slowed and tries[i] < args.tries
        if again:
            queue.append((i, method, arch))
        evaluation = "" if row["eval_img_s"] is None else f"  eval {img_s(row['eval_img_s']):>9s} img/s"
        note = (
            (
                f"; other processes took {busy:.0%} of the CPU: "
                + ("measuring again later" if again else "kept the fastest try")
            )
            if slowed
            else ""
        )
        print(
            f"  {arch:20s} {method:5s} train {img_s(row['train_img_s']):>9s} img/s{evaluation}"
            f"  ({time.perf_counter() - t0:.0f} s{note})",
            flush=True,
        )
    return failed


def write_table(table: dict, out: Path) -> Path:
    "Write atomically, so that a run stopped mid-write leaves the previous complete table."
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(table, indent=1) + "\n")
    os.replace(tmp, out)
    return out


def table_path(table: dict, out: str | None) -> Path:
    "`out` when it names a .json file, else throughput-<hardware>-<date>.json in `out` (default benchmarks/results)."
    if out and out.endswith(".json"):
        return Path(out)
    return Path(out or HERE / "results") / f"throughput-{slug(table['hardware'])}-{table['date'][:10]}.json"


def from_run(path: Path) -> dict:
    """The throughput table of a `benchmarks.run` JSON: its fast-path rows at 224 px (ImageNet stem, DeviceLoader with
    the official recipe, bf16 + channels_last on CUDA), which are built and fed as a paper run is. Its 32 px rows
    (CIFAR stem) and plain-path rows (PIL DataLoader, fp32) are not paper runs and are left out; eval was not
    measured there."""
    run = json.loads(Path(path).read_text())
    env = run["environment"]
    rows = [
        {
            "arch": "resnet18",
            "image_size": r["size"],
            "method": r["method"],
            "batch_size": env["batch_size"],
            "amp": r["amp_bf16"],
            "channels_last": r["channels_last"],
            "train_img_s": r["images_per_s"],
            "eval_img_s": None,
            "timed_steps": env["steps"],
        }
        for r in run["throughput"]
        if r["path"] == "fast" and r["size"] == 224 and not r.get("compile")
    ]
    source = Path(path).resolve()
    source = source.relative_to(HERE.parent) if source.is_relative_to(HERE.parent) else source
    return {
        "hardware": env["gpu"] or "CPU",
        "device": env["device"],
        "date": run["date"],
        "torch": env["torch"],
        "threads": env["torch_threads"],
        "source": str(source),
        "rows": rows,
    }


def img_s(v: float | None) -> str:
    "How the README prints a rate: one decimal below 100 images/s, whole numbers with thousands separators above."
    return "-" if v is None else f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def markdown_table(table: dict) -> str:
    "The README's table of one throughput JSON."
    lines = ["| arch | method | px | batch | format | train img/s | eval img/s |", "|---|---|---:|---:|---|---:|---:|"]
    for r in table["rows"]:
        fmt = ("bf16" if r["amp"] else "fp32") + (" channels_last" if r["channels_last"] else " NCHW")
        lines.append(
            f"| {r['arch']} | {r['method'].upper()} | {r['image_size']} | {r['batch_size']} | {fmt} "
            f"| {img_s(r['train_img_s'])} | {img_s(r['eval_img_s'])} |"
        )
    return "\n".join(lines)


def main(argv=None):
    paper = load_scale("paper")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--archs", default=",".join(paper.archs), help="comma-separated (default: the paper preset's)")
    p.add_argument("--methods", default="picnn,std", help="PICNN first: the slower one, and the one a time limit keeps")
    p.add_argument("--image-size", type=int, default=paper.image_size)
    p.add_argument("--stem", default=paper.stem)
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"default: the paper preset's {paper.batch_size} on CUDA, 8 on a CPU",
    )
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 20 on CUDA, 3 on a CPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5 on CUDA, 2 on a CPU)")
    p.add_argument("--precision", choices=("bf16", "fp32"), default="bf16", help="bf16: autocast to bfloat16")
    p.add_argument("--channels-last", type=int, choices=(0, 1), default=1)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument(
        "--tries",
        type=int,
        default=3,
        help=f"on a CPU, tries of a row that other processes slowed (took over {BUSY * 100:.0f}%% of the "
        "machine's CPU time meanwhile), each at the back of the queue; the fastest rates count",
    )
    p.add_argument(
        "--out",
        default=None,
        help="a .json path, or a folder for throughput-<hardware>-<date>.json (default benchmarks/results)",
    )
    p.add_argument("--from-run", default=None, help="derive the table from a benchmarks.run JSON instead of measuring")
    p.add_argument("--table", default=None, help="print the README's markdown table of a throughput JSON and stop")
    args = p.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.table).read_text())))
        return None
    if args.from_run:
        table = from_run(Path(args.from_run))
        print(f"wrote {write_table(table, table_path(table, args.out))} ({len(table['rows'])} rows)")
        return table

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no CUDA device: run on a GPU machine or pass --device cpu")
    cuda = device.type == "cuda"
    args.batch_size = args.batch_size or (paper.batch_size if cuda else 8)
    args.steps = args.steps or (20 if cuda else 3)
    args.warmup = args.warmup or (5 if cuda else 2)
    if args.threads:
        torch.set_num_threads(args.threads)
    archs, methods = args.archs.split(","), args.methods.split(",")
    data = synthetic_cifar(args.batch_size * max(args.steps, args.warmup))
    table = {
        "hardware": hardware_name(device),
        "device": device.type,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "source": "benchmarks/throughput.py",
        "rows": [],
    }
    out = table_path(table, args.out)
    print(
        f"{table['hardware']}, torch {table['torch']}, {table['threads']} threads; batch {args.batch_size}, "
        f"{args.warmup} warm-up + {args.steps} timed steps, {args.image_size} px, {args.precision}"
        f"{' channels_last' if args.channels_last else ''}",
        flush=True,
    )
    failed = measure_all(archs, methods, args, data, device, table, out)
    print(f"wrote {out}")
    if failed:
        sys.exit(f"not measured: {', '.join(failed)} (see the errors above)")
    return table


if __name__ == "__main__":
    main()
