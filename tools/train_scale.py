"""Train the runs a scale's notebooks ask for into its shared runs folder, outside papermill.

    python tools/train_scale.py --scale cpu --threads 1 [--notebooks table1] [--methods std,picnn] [--seeds 0,1,2]
                                [--worker 0/2] [--amp true|false] [--set lam=0.5,1 epochs=60]

The configs are the ones the notebooks ask for (`picnn.plan.planned_runs`, built by the same functions the
notebooks call), so `picnn reproduce --scale cpu` later finds every run finished here in the run cache and trains
nothing. `--worker i/n` takes every n-th run starting at i, so n workers (one thread each) share a list without
locks. `--amp` overrides the config's bf16 autocast: a paired run that differs only in precision (its run name
differs, so it never stands in for a notebook's run). A killed worker loses at most one epoch: run the same
command again to resume. `--set key=v1,v2` trains every planned run once per listed value of a TrainConfig field
(values read as JSON: 0.5, 60, true): the runs of a grid the notebooks do not plan yet, under the names they will
look them up by."""

import argparse, dataclasses, itertools, json, time
from pathlib import Path
import torch

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--scale", default="cpu")
ap.add_argument("--threads", type=int, default=1, help="torch threads (results change in the last digits with it)")
ap.add_argument("--notebooks", default="table1", help="comma-separated notebook names (picnn.plan)")
ap.add_argument("--methods", default="std,picnn")
ap.add_argument("--seeds", default=None, help="default: every seed the notebooks ask for")
ap.add_argument("--worker", default="0/1", help="i/n: this worker trains runs i, i+n, i+2n, ...")
ap.add_argument("--amp", choices=["true", "false"], default=None, help="override bf16 autocast (paired precision run)")
ap.add_argument("--set", nargs="*", default=[], metavar="KEY=V1,V2", help="train each run once per value of KEY")
ap.add_argument("--list", action="store_true", help="print the runs this worker would train, and stop")
ap.add_argument("--match", default="", help="only runs whose name contains this")
args = ap.parse_args()
torch.set_num_threads(args.threads)

from picnn.config import load_scale
from picnn.plan import planned_runs
from picnn.runs import run_name
from picnn.experiment import cached_run

S = load_scale(args.scale)
root = Path(__file__).resolve().parents[1]
runs = root / "results" / S.name / "runs"
seeds = {int(s) for s in args.seeds.split(",")} if args.seeds else None
configs = [
    r.config
    for r in planned_runs(S, args.notebooks.split(","), runs_root=runs)
    if r.config.method in args.methods.split(",") and (seeds is None or r.config.seed in seeds)
]
if args.amp is not None:
    configs = [dataclasses.replace(c, amp=args.amp == "true") for c in configs]
grid = [[(k, json.loads(v)) for v in vs.split(",")] for k, vs in (kv.split("=", 1) for kv in args.set)]
configs = sorted(
    (c.replace(**dict(combo)) for combo in itertools.product(*grid) for c in configs), key=lambda c: c.seed
)
configs = [c for c in configs if args.match in run_name(c)]
i, n = (int(x) for x in args.worker.split("/"))
if args.list:
    print("\n".join(run_name(c) for c in configs[i::n]))
    raise SystemExit
for cfg in configs[i::n]:
    t0 = time.time()
    print(f"{time.strftime('%H:%M:%S')} {run_name(cfg)}: training or reading back", flush=True)
    res = cached_run(cfg, runs, model=False, progress=None)
    t = res.metrics["test"]
    print(
        f"{time.strftime('%H:%M:%S')} {run_name(cfg)}: acc1 {t['acc1']:.4f} acc2 {t.get('acc2_mean', t['acc2']):.4f} "
        f"acc3 {t.get('acc3_mean', t['acc3']):.4f} mis {t['mis']:.4f} ({time.time() - t0:.0f} s)",
        flush=True,
    )
