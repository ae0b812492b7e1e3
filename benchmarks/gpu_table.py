"""Table 1's GPU cells without Jupyter (the GPU machine has no papermill): the same functions the table1 notebook
calls (`picnn.experiment.train_cell`, `aggregate`, `with_references`, `not_run_rows`, `Record`), writing the same
table.csv and metrics.json into results/gpu/table1.

    python -m benchmarks.gpu_table --device cuda --archs resnet18 --epochs 10 --data-root .gpu/src
    python -m benchmarks.gpu_table --assemble --archs resnet18 --epochs 10 --train-subset 20000 --test-subset 5000

`--assemble` trains nothing: it rebuilds the table from the runs already under results/gpu/runs (their
metrics.json), for example after the runs came back from a GPU machine. Every (dataset, architecture) of the gpu
preset that was not run gets a NOT RUN row. On a machine without git, pass the commit of the tree as
PICNN_GIT_COMMIT (benchmarks/gpu_session.sh does)."""

import argparse, time
from pathlib import Path

from picnn.config import load_scale
from picnn.experiment import aggregate, cached_run, run_row, train_cell, train_config, with_references
from picnn.record import Record
from picnn.report import markdown_table


def not_run_cells(preset, run_datasets, run_archs) -> list[dict]:
    "A NOT RUN row for every (dataset, architecture) of the preset that this session did not run."
    why = "not run in the GPU session (its device time went to the cells above); run `picnn reproduce --scale gpu`"
    return [
        {"dataset": d, "arch": a, "status": "not run", "seeds": 0, "note": why}
        for d in preset.datasets
        for a in preset.archs
        if not (d in run_datasets and a in run_archs)
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--archs", default="resnet18")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--train-subset", type=int, default=None, help="the training images of the data root (recorded)")
    p.add_argument("--test-subset", type=int, default=None, help="the test images of the data root (recorded)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default="results/gpu")
    p.add_argument("--assemble", action="store_true", help="train nothing: rebuild the table from the runs on disk")
    p.add_argument("--runs-note", default=None, help="where and from which tree the runs were trained (recorded)")
    a = p.parse_args(argv)
    archs = [s for s in a.archs.split(",") if s]
    preset = load_scale("gpu")
    S = preset.replace(
        datasets="cifar10",
        archs=archs,
        epochs=a.epochs,
        train_subset=a.train_subset,
        test_subset=a.test_subset,
        compile=False,
    )
    out, runs = Path(a.out) / "table1", Path(a.out) / "runs"
    params = dict(
        scale="gpu",
        datasets=["cifar10"],
        archs=archs,
        epochs=S.epochs,
        device=a.device,
        data_dir=a.data_root,
        note="run by benchmarks/gpu_table.py (no papermill on the GPU machine)"
        + ("; table assembled from the runs on disk" if a.assemble else ""),
        runs_note=a.runs_note,
    )
    record = Record("table1", out, S, params, None)
    cells, t0 = [], time.perf_counter()
    for arch in archs:
        for method in ("std", "picnn"):
            # the runs were trained with the whole split of a subset container: their configs name no subset
            cfg = train_config(
                S.replace(train_subset=0, test_subset=0), "cifar10", arch, method, 0, a.device, a.data_root
            )
            run = cached_run(cfg, runs, model=False) if a.assemble else None
            row = run_row(cfg, run.run_dir, run.metrics) if a.assemble else train_cell(cfg, runs)
            cells.append(row)
            print(
                f"{arch:14s} {method:6s} {row.get('status')}: ACC1 {row.get('acc1', float('nan')):.4f} "
                f"MIS {row.get('mis', float('nan')):.4f}  ({time.perf_counter() - t0:.0f} s so far)",
                flush=True,
            )
    table = with_references(aggregate(cells)) + not_run_cells(preset, ["cifar10"], archs)
    record.finish(table, cells)
    print(markdown_table(table))
    # checkpoints stay behind: only the small files travel back
    if not a.assemble:
        for pt in runs.rglob("*.pt"):
            pt.unlink()


if __name__ == "__main__":
    main()
