"""Issue #15: the plan of a reproduction lists exactly the runs its notebooks train, its commands rebuild exactly their
configurations, and runs dispatched as separate jobs (here: torchrun with two gloo processes each) are read back by
`picnn reproduce` without training anything."""

import json, os, shlex, subprocess, sys
from pathlib import Path

import pytest

from picnn.cli import build_parser, main, train_command_config as cli_config
from picnn.config import load_scale
from picnn.datasets import DatasetNotFound, load_dataset
from picnn.plan import planned_runs, train_command
from picnn.reproduce import find_notebooks, reproduction_plan
from picnn.runs import run_name

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def present(dataset: str) -> bool:
    try:
        load_dataset(dataset, split="test")
        return True
    except DatasetNotFound:
        return False


def test_smoke_plan_is_the_committed_run_cache():
    "The committed smoke results were made by the notebooks: the plan names exactly their run folders, all cached."
    runs_root = ROOT / "results" / "smoke" / "runs"
    plan = reproduction_plan("smoke", output=ROOT / "results")
    here = {r["name"] for r in plan.rows if r["data"] == "here"}
    on_disk = {
        p.name
        for p in runs_root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and present(p.name.split("-")[0])
    }
    assert here == on_disk, sorted(here ^ on_disk)
    # smoke checkpoints are not committed (a cache make reproduce rebuilds): cached exactly where best.pt is here
    assert all(
        (r["state"] == "cached") == (runs_root / r["name"] / "best.pt").is_file()
        for r in plan.rows
        if r["data"] == "here"
    )
    assert {r["dataset"] for r in plan.rows if r["data"] == "MISSING"} >= {"stl10", "voc_part"}


@pytest.mark.parametrize("scale", ["smoke", "cpu", "gpu", "paper"])
def test_every_command_rebuilds_its_run(scale):
    "Each dispatched command, parsed by `picnn train`'s own parser, is the run's configuration (same run name)."
    sc = load_scale(scale)
    runs = planned_runs(sc, list(find_notebooks()))
    assert runs
    for run in runs:
        for gpus in (1, 2):
            if run.config.batch_size % gpus:
                continue
            argv = shlex.split(train_command(run.config, "/tmp/x", gpus))
            argv = argv[argv.index("train") :]
            cfg = cli_config(build_parser().parse_args(argv))
            assert run_name(cfg) == run.name and cfg.replace(device="auto") == run.config.replace(device="auto"), argv


def test_plan_errors_are_one_line(capsys, tmp_path):
    assert main(["reproduce", "--plan", "--hardware", "no such chip"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "benchmarks/throughput.py" in err
    assert main(["reproduce", "--plan", "--slurm", "x.sbatch"]) == 2
    assert "--slurm needs --commands" in capsys.readouterr().err
    assert main(["reproduce", "--commands", "x.txt"]) == 2
    assert "go with --plan" in capsys.readouterr().err
    for option in ("--commands", "--slurm"):  # a folder where the file goes: one line naming the option
        files = {"--commands": tmp_path, "--slurm": tmp_path} if option == "--slurm" else {"--commands": tmp_path}
        if option == "--slurm":
            files["--commands"] = tmp_path / "commands.txt"
        argv = [a for k, v in files.items() for a in (k, str(v))]
        assert main(["reproduce", "--plan", "--only", "table1", "--output", str(tmp_path / "results"), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and f"{option} {tmp_path}: cannot write it" in err, err


def test_slurm_task_runs_its_line(tmp_path):
    "Array task i runs line i + 1 of the commands file."
    from picnn.plan import slurm_script

    cmds = tmp_path / "cmds.txt"
    cmds.write_text("echo first\necho second\n")
    script = tmp_path / "job.sbatch"
    script.write_text(slurm_script(cmds, 2, workdir=tmp_path))
    out = subprocess.run(
        ["bash", str(script)], env={**os.environ, "SLURM_ARRAY_TASK_ID": "1"}, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "second", out


@pytest.mark.skipif(not (BIN / "torchrun").exists(), reason="torchrun is not installed next to this python")
def test_dispatched_runs_are_read_back_without_training(tmp_path):
    """A plan dispatched as jobs, each `torchrun --nproc_per_node=2` on CPU (gloo), then `picnn reproduce` with the same
    arguments: the table is assembled from those runs, no run folder is written again, and the plan says all cached."""
    data = tmp_path / "data"
    data.mkdir()
    params = [
        "--param",
        "datasets=digits",
        "--param",
        "archs=tiny_cnn",
        "--param",
        "seeds=0",
        "--param",
        "epochs=1",
        "--param",
        "train_subset=400",
        "--param",
        "test_subset=200",
        "--param",
        f"data_dir={data}",
    ]
    common = ["--scale", "smoke", "--only", "table1", "--output", str(tmp_path / "results"), *params]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    picnn = [str(BIN / "picnn"), "reproduce"]
    cmds = tmp_path / "cmds.txt"
    out = subprocess.run(
        [*picnn, *common, "--plan", "--commands", str(cmds), "--gpus-per-run", "2"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = cmds.read_text().splitlines()
    methods = load_scale("smoke").methods  # STD, PICNN and CSG: CSG's gate, unused in its STD epochs, under DDP too
    assert len(lines) == len(methods) and all(
        l.startswith("torchrun --standalone --nproc_per_node=2 -m picnn.cli train") for l in lines
    )
    for line in lines:
        job = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600)
        assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    runs = tmp_path / "results" / "smoke" / "runs"
    written = {p: p.stat().st_mtime_ns for p in runs.rglob("*") if p.is_file() and ".lock" not in p.name}
    assert {p.name for p in written} >= {"metrics.json", "best.pt", "config.json"}

    out = subprocess.run([*picnn, *common], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    after = {p: p.stat().st_mtime_ns for p in runs.rglob("*") if p.is_file() and ".lock" not in p.name}
    assert after == written, "reproduce wrote into the dispatched runs: it trained instead of reading them back"
    rows = json.loads((tmp_path / "results" / "smoke" / "table1" / "metrics.json").read_text())["runs"]
    assert sorted((r["method"], r["status"]) for r in rows) == sorted((m, "ok") for m in methods), rows
    replan = subprocess.run([*picnn, *common, "--plan"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert f"cached {len(methods)}; to train 0" in replan.stdout, replan.stdout


def test_partial_run_costs_its_remaining_epochs(tmp_path):
    "A run with a checkpoint after k of n epochs resumes there: its cost is (n - k) / n of a fresh one."
    from picnn.plan import make_plan

    tp = tmp_path / "tp"
    tp.mkdir()
    (tp / "throughput-x.json").write_text(
        json.dumps(
            {
                "hardware": "X",
                "device": "cpu",
                "rows": [
                    dict(arch="tiny_cnn", image_size=8, method=m, train_img_s=1000.0, eval_img_s=3000.0)
                    for m in ("std", "picnn")
                ],
            }
        )
    )
    sc = load_scale("smoke", datasets=["digits"], seeds=[0])
    fresh = make_plan(sc, ["table1"], tmp_path / "runs", "X", throughput=tp)
    row = fresh.rows[0]
    d = tmp_path / "runs" / row["name"]
    d.mkdir(parents=True)
    (d / "last.pt").write_bytes(b"")
    (d / "log.jsonl").write_text("{}\n" * 30)
    again = make_plan(sc, ["table1"], tmp_path / "runs", "X", throughput=tp)
    assert again.rows[0]["state"] == f"partial (30/{row['epochs']} epochs)"
    assert again.rows[0]["hours"] == pytest.approx(row["hours"] * (1 - 30 / row["epochs"]))
    assert again.rows[1]["hours"] == fresh.rows[1]["hours"]
