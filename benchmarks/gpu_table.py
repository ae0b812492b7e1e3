"""Table 1's GPU cells without papermill (the GPU machine has no Jupyter): the same functions the table1
notebook calls (`picnn.experiment.train_cell`, `aggregate`, `with_references`, `Record`), writing the same
`table.csv` and `metrics.json` into results/gpu/table1 (or --out).

    python -m benchmarks.gpu_table [--device cuda] [--archs resnet18,mobilenet_v2] [--epochs 12] [--data-root .gpu]
"""
from __future__ import annotations
import argparse, shutil, time
from pathlib import Path
from picnn.config import load_scale
from picnn.experiment import Record, train_config, train_cell, aggregate, with_references
from picnn.report import markdown_table

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--archs", default="resnet18")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--test-subset", type=int, default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default="results/gpu")
    a = p.parse_args(argv)
    archs = [s for s in a.archs.split(",") if s]
    S = load_scale("gpu", datasets="cifar10", archs=archs, epochs=a.epochs, train_subset=a.train_subset,
                   test_subset=a.test_subset, compile=False)
    out = Path(a.out) / "table1"
    params = dict(scale="gpu", datasets=["cifar10"], archs=archs, epochs=S.epochs, device=a.device, data_dir=a.data_root,
                  note="run by benchmarks/gpu_table.py (no papermill on the GPU machine)")
    record = Record("table1", out, S, params, None)
    cells, t0 = [], time.perf_counter()
    for arch in archs:
        for method in ("std", "picnn"):
            cfg = train_config(S, "cifar10", arch, method, 0, a.device, a.data_root)
            row = train_cell(cfg, Path(a.out) / "runs")
            cells.append(row)
            print(f"{arch:14s} {method:6s} {row.get('status')}: ACC1 {row.get('acc1', float('nan')):.4f} "
                  f"MIS {row.get('mis', float('nan')):.4f}  ({time.perf_counter() - t0:.0f} s so far)", flush=True)
    table = with_references(aggregate(cells))
    record.finish(table, cells)
    print(markdown_table(table))
    # checkpoints stay behind: only the small files travel back
    for pt in (Path(a.out) / "runs").rglob("*.pt"): pt.unlink()

if __name__ == "__main__":
    main()
