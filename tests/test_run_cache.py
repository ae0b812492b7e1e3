"""The run cache across refactors: the configurations the experiment layer builds today name the run folders that the
committed tables and figures used, so `picnn reproduce` finds them and trains nothing again.

Each committed `results/<scale>/<notebook>/metrics.json` records its scale, its parameters and every run it used. From
those alone the configurations are rebuilt with `picnn.experiment` and their run names compared with the recorded ones.
Scales recorded before `amp`, `mis_method` and `mis_every` were keys of a preset get the values those runs were
trained with (the estimator was then chosen by the scale's name)."""

import json
from dataclasses import fields
from pathlib import Path

import pytest

from picnn.config import Scale
from picnn.experiment import ablation_grid, as_list, table_configs, table_datasets, train_config
from picnn.tradeoff import LAMBDAS, SCHEDULES, long_schedule_lambdas, tradeoff_configs
from picnn.runs import TrainConfig, run_name

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted(p for p in (ROOT / "results").glob("*/*/metrics.json") if p.parent.name != "runs")
# runs trained before `lam` was stored as a float: their config.json says 2, today's configs say 2.0 (another name)
ORPHANS_WITH_INT_LAM = 3


def recorded_scale(m: dict) -> Scale:
    sc = dict(m["scale"])
    sc.setdefault("amp", None)
    sc.setdefault("mis_every", 0)
    # resolved per machine when the runs trained: what they trained with, not what this CPU would
    if sc["amp"] == "auto":
        sc["amp"] = next((r["config"]["amp"] for r in m.get("runs", []) if r.get("config")), None)
    sc.setdefault("mis_method", "fast" if sc["name"] == "smoke" else "sklearn")
    known = {f.name for f in fields(Scale)}
    return Scale(**{k: tuple(v) if isinstance(v, list) else v for k, v in sc.items() if k in known})


def rebuilt(notebook: str, m: dict) -> list[tuple[dict, TrainConfig]]:
    "(labels that identify the recorded row, configuration) of every run the notebook asks for."
    S, p = recorded_scale(m), m["parameters"]
    device, data_dir = p.get("device") or "auto", p.get("data_dir")
    if notebook in ("table1", "table2"):
        cfgs = table_configs(S, table_datasets(S, notebook, p.get("datasets"))[0], device, data_dir)
        return [({"dataset": c.dataset, "arch": c.arch, "method": c.method, "seed": c.seed}, c) for c in cfgs]
    if notebook == "ablations":
        D, A = m.get("dataset") or S.datasets[0], m.get("arch") or S.archs[0]
        grid = ablation_grid(
            as_list(p.get("lambdas"), float) or [0, 0.5, 1, 2, 4],
            as_list(p.get("filters"), int) or [32, 64, 128],
            as_list(p.get("variants")) or ["default", "label", "relaxed"],
        )
        return [
            ({"sweep": sw, "setting": st, "seed": s}, train_config(S, D, A, meth, s, device, data_dir, **over))
            for sw, st, meth, over in grid
            for s in S.seeds
        ]
    if notebook == "tradeoff":  # its grid, plus the recommended λ on the longer schedules when it named one
        lam = (m.get("recommended") or {}).get("lam")
        long = long_schedule_lambdas(S, lam)
        grid = tradeoff_configs(
            S,
            m["dataset"],
            m["arch"],
            S.seeds,
            as_list(p.get("lambdas"), float) or LAMBDAS,
            as_list(p.get("schedules"), int) or SCHEDULES,
            long,
            device,
            data_dir,
        )
        return [({"schedule": sch, "setting": st, "seed": c.seed}, c) for sch, st, c in grid]
    return [
        ({"method": meth}, train_config(S, p["dataset"], p["arch"], meth, p.get("seed", 0), device))
        for meth in ("std", "csg", "picnn")
        if meth in S.methods
    ]  # a figure draws each method its scale trains


@pytest.mark.parametrize("record", RECORDS, ids=[str(p.parent.relative_to(ROOT / "results")) for p in RECORDS])
def test_committed_runs_are_found(record):
    m = json.loads(record.read_text())
    used = [r for r in m.get("runs", []) if r.get("run_dir")]
    if not used:
        pytest.skip("this notebook used no trained run")
    runs_root = record.parent.parent / "runs"
    expected = rebuilt(record.parent.name, m)
    for r in used:
        matches = [c for labels, c in expected if all(r.get(k) == v for k, v in labels.items())]
        assert len(matches) == 1, (r.get("dataset"), r.get("arch"), r.get("method"), r.get("setting"), len(matches))
        name = run_name(matches[0])
        assert name == Path(r["run_dir"]).name, f"{record.parent.name}: {name} != {Path(r['run_dir']).name}"
        # an unfinished run (the trade-off reads finished runs only) is named, not there
        if r.get("status", "ok") == "ok":
            assert (runs_root / name / "metrics.json").is_file() and (runs_root / name / "config.json").is_file()


def test_every_committed_run_folder_is_named_by_its_config():
    folders = sorted(p.parent for p in (ROOT / "results").glob("*/runs/*/config.json"))
    assert folders
    wrong = [
        f for f in folders if run_name(TrainConfig.from_dict(json.loads((f / "config.json").read_text()))) != f.name
    ]
    assert len(wrong) <= ORPHANS_WITH_INT_LAM, [f.name for f in wrong]
    for f in wrong:
        assert isinstance(json.loads((f / "config.json").read_text())["lam"], int), f.name
