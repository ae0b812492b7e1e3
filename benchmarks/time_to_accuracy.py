"""Time to accuracy: PICNN ResNet-18 (CIFAR stem) on CIFAR-10 with picnn's fast path, printing test ACC1 and MIS
against wall time after every epoch.

    python -m benchmarks.time_to_accuracy [--device cuda] [--epochs 15] [--data-root DIR] [--train-subset N]

`--data-root` may hold a subset of CIFAR-10 (for example the 20,000/5,000 container that
`python -m benchmarks.make_subset` writes, small enough to travel to a GPU machine); the output says which
data it used. MIS here is the fast estimator (`picnn.metrics`, method="fast") on the test split."""

from __future__ import annotations
import argparse, datetime, json, os, time
from pathlib import Path
import torch
from picnn.datasets import load_dataset
from picnn.loader import DeviceLoader
from picnn.runs import TrainConfig
from picnn.evaluation import evaluate
from picnn.train import fit

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--method", default="picnn")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data-root", default=None)
    p.add_argument("--train-subset", type=int, default=0)
    p.add_argument("--test-subset", type=int, default=0)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args(argv)
    cfg = TrainConfig(
        arch=a.arch,
        dataset="cifar10",
        method=a.method,
        stem="cifar" if a.arch != "resnet20" else None,
        epochs=a.epochs,
        batch_size=a.batch_size,
        device=a.device,
        compile=a.compile,
        data_root=a.data_root,
        train_subset=a.train_subset,
        test_subset=a.test_subset,
        mis_method="fast",
        eval_draws=1,
    )
    test = load_dataset("cifar10", root=a.data_root, split="test")
    if a.test_subset:
        test = test.subset(a.test_subset, seed=cfg.seed)
    train_n = len(load_dataset("cifar10", root=a.data_root, split="train"))
    print(
        f"data: CIFAR-10 from {a.data_root or 'the default data directories'}: {train_n} train images "
        f"({'a SUBSET of the official 50,000' if train_n < 50000 else 'the full official split'}, of which "
        f"{cfg.val_size:.0%} held out for selection), {len(test)} test images",
        flush=True,
    )
    device = torch.device(a.device)
    loader = DeviceLoader(test, 1024, train=False, augment=None, device=device)
    rows, t0 = [], time.perf_counter()
    print(f"{'epoch':>5s} {'wall s':>8s} {'epoch s':>8s} {'img/s':>9s} {'test ACC1':>9s} {'MIS':>7s}", flush=True)

    def report(epoch, model, row):
        res = evaluate(model, loader, mis="fast", amp=device.type == "cuda")
        wall = time.perf_counter() - t0
        r = {
            "epoch": epoch,
            "wall_seconds": wall,
            "epoch_seconds": row["seconds"],
            "images_per_s": row["images_per_s"],
            "test_acc1": res["acc1"],
            "test_mis": res["mis"],
        }
        rows.append(r)
        print(
            f"{epoch:5d} {wall:8.1f} {row['seconds']:8.1f} {row['images_per_s']:9.0f} {res['acc1']:9.4f} {res['mis']:7.4f}",
            flush=True,
        )

    result = fit(cfg, on_epoch_end=report, progress=False)
    out = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "config": cfg.__dict__,
        "train_images": train_n,
        "test_images": len(test),
        "per_epoch": rows,
        "final_test": result.metrics["test"],
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }
    Path(a.out).mkdir(parents=True, exist_ok=True)
    name = f"time_to_accuracy-{out['device'].replace(' ', '_')}-{datetime.date.today().isoformat()}.json"
    tmp = Path(a.out) / (name + ".tmp")
    tmp.write_text(json.dumps(out, indent=2, default=str))
    os.replace(tmp, Path(a.out) / name)
    print(
        f"final (selected epoch {result.metrics['selected_epoch']}): test ACC1 {result.metrics['test']['acc1']:.4f} "
        f"MIS {result.metrics['test']['mis']:.4f}; written to {Path(a.out) / name}"
    )


if __name__ == "__main__":
    main()
