"""Train every Table 1 run of a scale into its shared runs folder, seed by seed, outside papermill.

    python tools/train_scale.py --scale cpu --threads 1 [--methods std,picnn] [--seeds 0,1,2]

The configs are the ones the table1 notebook asks for (`picnn.experiment.train_config`), so
`picnn reproduce --scale cpu` later finds every run finished here in the run cache and trains nothing.
A killed worker loses at most one epoch: run the same command again to resume."""
import argparse, json, sys, time
from pathlib import Path
import torch

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--scale", default="cpu")
ap.add_argument("--threads", type=int, default=1, help="torch threads (results change in the last digits with it)")
ap.add_argument("--methods", default="std,picnn")
ap.add_argument("--seeds", default=None, help="default: the scale's seeds")
ap.add_argument("--dataset", default=None, help="default: the scale's first dataset")
args = ap.parse_args()
torch.set_num_threads(args.threads)

from picnn.config import load_scale
from picnn.experiment import train_config
from picnn.train import cached_fit, run_name

S = load_scale(args.scale)
root = Path(__file__).resolve().parents[1]
runs = root / "results" / S.name / "runs"
seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(S.seeds)
dataset = args.dataset or S.datasets[0]
for seed in seeds:
    for arch in S.archs:
        for method in args.methods.split(","):
            cfg = train_config(S, dataset, arch, method, seed)
            t0 = time.time()
            print(f"{time.strftime('%H:%M:%S')} {run_name(cfg)}: training or reading back", flush=True)
            res = cached_fit(cfg, runs)
            t = res.metrics["test"]
            print(f"{time.strftime('%H:%M:%S')} {run_name(cfg)}: acc1 {t['acc1']:.4f} acc2 {t.get('acc2_mean', t['acc2']):.4f} "
                  f"acc3 {t.get('acc3_mean', t['acc3']):.4f} mis {t['mis']:.4f} ({time.time() - t0:.0f} s)", flush=True)
