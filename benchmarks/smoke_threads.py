"""Does a last-digit perturbation change a smoke verdict? Two smoke reproductions of one commit, at torch thread counts
1 and 2 (results differ in their last digits with the thread count), compared claim by claim.

    python -m benchmarks.smoke_threads ROOT_1 ROOT_2 [--logs LOG_1 LOG_2] [--name YYYY-MM-DD-x]

ROOT_1 and ROOT_2 are the `results` folders of the two reproductions (each `picnn reproduce --scale smoke` from its own
checkout of the same commit, with OMP_NUM_THREADS=1 and =2). For every smoke claim row (the claims table of SUMMARY)
it lists both verdicts, both measurements and on which side of its margin each estimate lies, and for every run both
selected epochs. Prints the comparison and writes `benchmarks/results/smoke_threads-<name>.json` (names sort in the
order the comparisons were made: the newest is the last); exits 1 when a verdict differs.
"""

from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

from picnn.config import atomic_write_text
from picnn.claims import claim_rows
from picnn.results import collect_results


def smoke_claims(root) -> dict:
    "'claim | cell' -> (verdict, measured) of every smoke claim row of the results under `root`."
    out = {}
    for r in claim_rows([e for e in collect_results(root) if e["scale"] == "smoke"]):
        cell = f"{r['dataset']}/{r['arch']}" if r["dataset"] else "all"
        if r.get("setting"):
            cell += f" {r['setting']}"
        if r.get("epochs"):
            cell += f" ({r['epochs']} epochs)"
        diff = {k: r["diff"][k] for k in ("mean", "lo", "hi")} if "diff" in r else None
        out[f"{r['claim']} | {cell}"] = {
            "verdict": r["verdict"],
            "measured": r["measured"],
            "diff": diff,
            "estimate": r.get("estimate"),
        }
    return out


def recommended(root) -> dict:
    """The smoke trade-off's recommendation on its validation split: the λ (None where none keeps ACC1 within the
    margin) and each λ's paired validation ACC1 difference from STD; empty where the trade-off did not run."""
    found = [
        e["metrics"].get("recommended") or {}
        for e in collect_results(root)
        if (e["scale"], e["name"]) == ("smoke", "tradeoff")
    ]
    return found[0] if found else {}


def selections(root) -> dict:
    "run name -> (selected epoch, torch threads) of every finished smoke run under `root`."
    out = {}
    for m in sorted(Path(root, "smoke", "runs").glob("*/metrics.json")):
        d = json.loads(m.read_text())
        out[m.parent.name] = {
            "selected_epoch": d["selected_epoch"],
            "torch_threads": d["environment"]["torch_threads"],
            "cpu_capability": d["environment"].get("cpu_capability"),
        }
    return out


def compare(root_1, root_2) -> dict:
    """Both reproductions' claims and selections: whether every verdict agrees, and whether each estimate lies on the
    same side of its margin (an estimate near the margin may cross it while the verdict, the interval's, does not)."""
    c1, c2 = smoke_claims(root_1), smoke_claims(root_2)
    s1, s2 = selections(root_1), selections(root_2)
    rows = [
        {
            "claim": k,
            "threads_1": c1.get(k),
            "threads_2": c2.get(k),
            "same_verdict": (c1.get(k) or {}).get("verdict") == (c2.get(k) or {}).get("verdict"),
            "same_estimate_side": (c1.get(k) or {}).get("estimate") == (c2.get(k) or {}).get("estimate"),
        }
        for k in dict.fromkeys([*c1, *c2])
    ]
    # runs both sides trained (a reproduction of fewer notebooks has fewer); the others are listed apart
    runs = [{"run": k, "threads_1": s1[k], "threads_2": s2[k]} for k in s1 if k in s2]
    one_side = sorted(set(s1) ^ set(s2))
    return {
        "claims": rows,
        "runs": runs,
        "same_verdicts": all(r["same_verdict"] for r in rows),
        "claims_compared": len(rows),
        "claims_same_verdict": sum(r["same_verdict"] for r in rows),
        "claims_same_estimate_side": sum(r["same_estimate_side"] for r in rows),
        "same_selected_epochs": sum(
            (r["threads_1"] or {}).get("selected_epoch") == (r["threads_2"] or {}).get("selected_epoch") for r in runs
        ),
        "runs_compared": len(runs),
        "runs_on_one_side": one_side,
        "recommended": {"threads_1": recommended(root_1), "threads_2": recommended(root_2)},
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs=2, help="the results folders of the threads-1 and threads-2 reproductions")
    ap.add_argument("--logs", nargs=2, default=None, help="their `picnn reproduce` logs, kept beside the JSON")
    ap.add_argument(
        "--name",
        default=time.strftime("%Y-%m-%d"),
        help="the JSON's name: the date, and a letter after it for a later comparison of the same day",
    )
    args = ap.parse_args()
    res = compare(*args.roots)
    if args.logs:
        res["logs"] = {t: Path(p).read_text() for t, p in zip(("threads_1", "threads_2"), args.logs)}
    for r in res["claims"]:
        v1, v2 = ((r[t] or {}).get("verdict") for t in ("threads_1", "threads_2"))
        print(f"{'same' if r['same_verdict'] else 'DIFFERENT':9s} {r['claim']}: {v1} | {v2}")
    print(
        f"selected epochs equal in {res['same_selected_epochs']} of the {res['runs_compared']} runs both trained "
        f"({len(res['runs_on_one_side'])} on one side only); "
        f"verdicts {'all the same' if res['same_verdicts'] else 'DIFFER'}: the same in {res['claims_same_verdict']} "
        f"of {res['claims_compared']} claim rows; estimates on the same side of their margin in "
        f"{res['claims_same_estimate_side']}; the trade-off recommends λ "
        f"{res['recommended']['threads_1'].get('lam')} and {res['recommended']['threads_2'].get('lam')} "
        "(a choice on one seed's validation split, not a verdict)"
    )
    out = Path(__file__).parent / "results" / f"smoke_threads-{args.name}.json"
    if out.exists():
        sys.exit(f"{out} exists: it is an earlier comparison; give this one another --name (the date and a letter)")
    atomic_write_text(json.dumps(res, indent=2), out)
    print(f"wrote {out}")
    sys.exit(0 if res["same_verdicts"] else 1)
