"""Every published number traces to an artifact: a committed cpu-scale checkpoint re-derives its metrics.json."""
import json, shutil
from pathlib import Path
import pytest
import torch

from picnn.config import data_dirs
from picnn.train import evaluate_run

ROOT = Path(__file__).resolve().parents[1]
FINISHED = sorted(p.parent for p in (ROOT / "results" / "cpu" / "runs").glob("*/best.pt") if (p.parent / "metrics.json").is_file())

@pytest.mark.skipif(not FINISHED, reason="no finished cpu-scale run with a committed best.pt")
@pytest.mark.skipif(not any((d / "cifar10.npz").is_file() for d in data_dirs()), reason="needs CIFAR-10 (../shared/data)")
def test_a_committed_checkpoint_re_derives_its_published_numbers(tmp_path):
    "`picnn evaluate` on the committed best.pt gives the test ACC1-3 and MIS of its metrics.json (fast MIS = sklearn's to 1e-6)."
    run = shutil.copytree(FINISHED[0], tmp_path / FINISHED[0].name)   # evaluate writes evaluation.json: not into results/
    metrics = json.loads((run / "metrics.json").read_text())
    published = metrics["test"]
    threads = torch.get_num_threads()
    torch.set_num_threads(metrics["environment"]["torch_threads"])   # the thread count changes the last digits
    try: again = evaluate_run(run, device="cpu", mis_method="fast")
    finally: torch.set_num_threads(threads)
    assert again["n"] == published["n"] == 10000
    for key in ("acc1", "acc2_mean", "acc3_mean"):   # measured: identical to the last digit
        assert again[key] == published[key], (key, again[key], published[key])
    assert abs(again["mis"] - published["mis"]) < 1e-6, (again["mis"], published["mis"])
