"""Every run folder committed under results/ is read by something: a notebook of its scale (the plan lists it), or
it is the fp32 twin of such a run (only `amp` differs: the bf16/fp32 pair of benchmarks/precision_paired.py). A
folder nothing reads is a number nobody can trace."""

import dataclasses, json
from pathlib import Path
import pytest

from picnn.runs import TrainConfig

from picnn.config import load_scale
from picnn.plan import planned_runs
from picnn.reproduce import find_notebooks, notebooks_dir_of
from benchmarks.precision_paired import setting_key

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("scale", ["smoke", "cpu"])
def test_every_committed_run_folder_is_read_by_a_notebook_or_is_a_precision_twin(scale):
    # each folder's config as today's TrainConfig reads it (settings added since take their defaults)
    folders = {
        p.name: dataclasses.asdict(TrainConfig.from_dict(json.loads((p / "config.json").read_text())))
        for p in (ROOT / "results" / scale / "runs").iterdir()
        if (p / "config.json").is_file()
    }
    planned = planned_runs(
        load_scale(scale), list(find_notebooks(notebooks_dir_of())), runs_root=ROOT / "results" / scale / "runs"
    )
    names = {r.name for r in planned}
    twins = {setting_key(dataclasses.asdict(r.config), ("amp",)) for r in planned}
    unread = sorted(n for n, cfg in folders.items() if n not in names and setting_key(cfg, ("amp",)) not in twins)
    assert not unread, f"run folders nothing reads: {unread}"
