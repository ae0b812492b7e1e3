"""Does bf16 autocast change the *results*? One paired training run against the seed-to-seed spread.

    python -m benchmarks.precision_paired [--runs results/cpu/runs] [--date YYYY-MM-DD]

The pair: the same run (config, seed, data order, initial weights) trained twice, once with bf16 autocast (the
`cpu` preset's `amp = true`) and once in fp32; only `amp` differs between their config.json. The spread: for every
setting of the same runs folder trained with two or more seeds in bf16 (the ablations: lambda, K, the variants),
the standard deviation over its seeds, pooled over settings (degrees of freedom summed; settings that trained the
same network, equal ACC1 and MIS at every seed, count once). bf16 is harmless when
|fp32 - bf16| is below that pooled seed standard deviation, metric by metric (test ACC1, ACC2, ACC3, MIS).
Prints the table; writes `benchmarks/results/precision_paired-<date>.json`.
"""

from __future__ import annotations
import argparse, json, math, time
from collections import defaultdict
from pathlib import Path

from picnn.config import atomic_write_text

METRICS = ("acc1", "acc2_mean", "acc3_mean", "mis")
IGNORED = ("amp", "seed")  # what may differ inside a pair (amp) or inside a setting (seed)


def finished_runs(runs_root: Path) -> list[dict]:
    "config and test metrics of every finished run (metrics.json present) under `runs_root`."
    out = []
    for m in sorted(Path(runs_root).glob("*/metrics.json")):
        d = json.loads(m.read_text())
        out.append(
            {"name": m.parent.name, "config": d["config"], "test": d["test"], "environment": d.get("environment", {})}
        )
    return out


def setting_key(cfg: dict, ignore=IGNORED) -> str:
    "A run's settings without the fields in `ignore`, as a comparable string."
    return json.dumps({k: v for k, v in sorted(cfg.items()) if k not in ignore}, sort_keys=True)


def precision_pairs(runs: list[dict]) -> list[tuple[dict, dict]]:
    "(bf16 run, fp32 run) pairs identical in every setting including the seed, differing only in `amp`."
    by_key = defaultdict(dict)
    for r in runs:
        by_key[setting_key(r["config"], ("amp",))][bool(r["config"].get("amp"))] = r
    return [(d[True], d[False]) for d in by_key.values() if True in d and False in d]


def distinct_settings(runs: list[dict]) -> list[list[dict]]:
    """The bf16 runs grouped by setting, keeping one of the settings that trained the same network.

    Two settings whose runs have equal test ACC1 and MIS at every seed trained the same weights (PICNN with
    lambda 0 is STD: its pathway loss adds no gradient), so counting both would double their degrees of freedom."""
    groups = defaultdict(list)
    for r in runs:
        if r["config"].get("amp"):
            groups[setting_key(r["config"])].append(r)
    kept = {}
    for key, rs in sorted(groups.items()):
        network = tuple(sorted((r["config"]["seed"], r["test"]["acc1"], r["test"]["mis"]) for r in rs))
        kept.setdefault(network, rs)
    return list(kept.values())


def pooled_seed_sd(runs: list[dict], metric: str) -> tuple[float, int, int]:
    "(pooled standard deviation over seeds, degrees of freedom, settings) of the distinct bf16 settings with >= 2 seeds."
    ss = df = used = 0
    for vals in ([r["test"][metric] for r in rs] for rs in distinct_settings(runs)):
        if len(vals) < 2:
            continue
        mean = sum(vals) / len(vals)
        ss += sum((v - mean) ** 2 for v in vals)
        df += len(vals) - 1
        used += 1
    return (math.sqrt(ss / df) if df else float("nan"), df, used)


def compare(runs: list[dict]) -> list[dict]:
    "One row per pair and metric: bf16, fp32, their difference and the pooled seed sd it is judged against."
    rows = []
    for bf16, fp32 in precision_pairs(runs):
        for m in METRICS:
            sd, df, settings = pooled_seed_sd(runs, m)
            diff = fp32["test"][m] - bf16["test"][m]
            rows.append(
                {
                    "bf16_run": bf16["name"],
                    "fp32_run": fp32["name"],
                    "metric": m,
                    "bf16": bf16["test"][m],
                    "fp32": fp32["test"][m],
                    "fp32_minus_bf16": diff,
                    "seed_sd": sd,
                    "seed_sd_df": df,
                    "seed_sd_settings": settings,
                    "below_seed_sd": bool(abs(diff) < sd) if df else None,
                }
            )
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="results/cpu/runs")
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d"))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    runs = finished_runs(Path(args.runs))
    rows = compare(runs)
    if not rows:
        raise SystemExit(
            f"no bf16/fp32 pair of finished runs under {args.runs}: train one "
            "(tools/train_scale.py --amp false --match <run>) and run this again"
        )
    print(f"{'metric':<10} {'bf16':>8} {'fp32':>8} {'fp32-bf16':>10} {'seed sd':>8} {'df':>3}  below")
    for r in rows:
        print(
            f"{r['metric']:<10} {r['bf16']:8.4f} {r['fp32']:8.4f} {r['fp32_minus_bf16']:+10.4f} {r['seed_sd']:8.4f} "
            f"{r['seed_sd_df']:3d}  {r['below_seed_sd']}"
        )
    env = next(r["environment"] for r in runs if r["name"] == rows[0]["bf16_run"])
    path = Path(args.out) / f"precision_paired-{args.date}.json"
    atomic_write_text(json.dumps({"runs": args.runs, "environment": env, "rows": rows}, indent=1) + "\n", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
