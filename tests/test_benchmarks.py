"The benchmark entry point's arithmetic, and a seconds-long run of it on the CPU (its correctness, not its speed)."
import json, subprocess, sys
from pathlib import Path
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.run import ratio, peak_tflops, train_step_flops

def test_ratio():
    assert ratio(6.0, 2.0) == 3.0
    assert ratio(None, 2.0) is None and ratio(1.0, 0) is None

def test_peak_lookup():
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0 and peak_tflops("NVIDIA H200") == 989.0
    assert peak_tflops("Some Unknown GPU") is None

def test_flop_count_of_a_known_layer():
    "A linear layer: forward 2*B*I*O, backward twice that (input and weight gradients)."
    from torch.utils.flop_counter import FlopCounterMode
    lin = torch.nn.Linear(10, 20, bias=False)
    x = torch.randn(4, 10, requires_grad=True)
    with FlopCounterMode(display=False) as c:
        lin(x).sum().backward()
    assert c.get_total_flops() == 3 * 2 * 4 * 10 * 20

def test_train_step_flops_counts_the_pathway():
    from picnn.models import build_model
    x, y = torch.randn(2, 1, 8, 8), torch.tensor([0, 1])
    std, picnn = (build_model("tiny_cnn", 10, method=m) for m in ("std", "picnn"))
    picnn.load_state_dict(std.state_dict())
    f_std, f_picnn = train_step_flops(std, x, y, "std"), train_step_flops(picnn, x, y, "picnn")
    # the conv stack dominates; PICNN adds the cluster logits' linear layer and the mask
    assert f_std > 0 and f_std < f_picnn < 1.1 * f_std

def test_benchmark_runs_tiny_on_cpu(tmp_path):
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--device", "cpu", "--tiny", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert {r["path"] for r in res["throughput"]} == {"plain", "fast"}
    for r in res["ratios"]:
        v = r.get("fast_over_plain_throughput") or r.get("picnn_over_std_step_time")
        assert v is not None and v > 0
    assert res["mis"]["max_abs_diff"] < 1e-6

def test_cpu_precision_benchmark_runs_and_reports_ratios(tmp_path):
    "The fp32/bf16 CPU benchmark measures every format for both methods and its ratios are to fp32 NCHW."
    from benchmarks.cpu_precision import main, FORMATS
    rows = main(["--arch", "tiny_cnn", "--batch-size", "8", "--steps", "1", "--warmup", "1", "--rounds", "1",
                 "--out", str(tmp_path / "p.json")])
    assert {(r["method"], r["format"]) for r in rows} == {(m, f) for m in ("std", "picnn") for f in FORMATS}
    assert all(r["speedup_over_fp32_nchw"] == 1.0 for r in rows if r["format"] == "fp32 NCHW")
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["environment"]["torch_threads"] >= 1 and len(saved["rows"]) == 6

def _readme_cells(title: str) -> list[list[str]]:
    "The rows of the first markdown table after `title` in benchmarks/README.md, as lists of cell strings."
    text = (ROOT / "benchmarks" / "README.md").read_text().split(title, 1)[1]
    rows = [l for l in text.splitlines() if l.startswith("|")]
    table = []
    for l in rows:
        if table and not l.startswith("|"): break
        table.append([c.strip().strip("*") for c in l.strip("|").split("|")])
    return [r for r in table[2:]]

def test_benchmark_readme_prints_the_json_numbers():
    "Every fast/plain ratio of the CPU table is the JSON's, rounded to two decimals (it once said 1.10 for 1.0948)."
    saved = json.loads((ROOT / "benchmarks" / "results" / "cpu-2026-11-27.json").read_text())
    want = {(r["size"], r["method"]): f"{r['fast_over_plain_throughput']:.2f}" for r in saved["ratios"] if "method" in r}
    rows = [r for r in _readme_cells("## CPU: this project's 2-core machine") if r[0].endswith("px")]
    assert len(rows) == 4
    for r in rows:
        assert r[4] == want[int(r[0].split()[0]), r[1].lower()], r

def test_torch_loader_baseline_matches_the_device_loader():
    "The PIL DataLoader path the loader benchmark measures against: same shapes and pairing, the official recipe at 224 px."
    from benchmarks.torch_loader import make_dataloader, official_transforms
    from picnn.data import DeviceLoader, ImageSplit, load_dataset
    i = torch.arange(64)
    x = torch.zeros(64, 3, 32, 32, dtype=torch.uint8)
    x[:, 0], x[:, 1], x[:, 2] = (i % 256).view(64, 1, 1), (i // 256).view(64, 1, 1), 128
    split = ImageSplit(x, i, [str(k) for k in range(64)], "index")
    xb, yb = next(iter(make_dataloader(split, batch_size=16, train=False, augment=None, num_workers=0)))
    ref = DeviceLoader(split, batch_size=16, train=False)
    assert xb.shape == (16, 3, 32, 32) and torch.allclose(xb, next(iter(ref))[0], atol=1e-5) and torch.equal(yb, i[:16])
    xb, _ = next(iter(make_dataloader(split, batch_size=16, train=True, augment="crop_flip", num_workers=0)))
    assert xb.shape == (16, 3, 32, 32)
    digits = load_dataset("digits", split="test")
    xb, _ = next(iter(make_dataloader(digits, batch_size=8, train=False, augment="official", image_size=32, num_workers=0)))
    assert xb.shape == (8, 1, 32, 32)
    t = official_transforms(True)
    assert [type(s).__name__ for s in t.transforms] == ["Resize", "RandomCrop", "RandomHorizontalFlip", "ColorJitter", "ToTensor", "Normalize"]
    assert t.transforms[0].size == 256 and official_transforms(False).transforms[1].size == (224, 224)

def test_gpu_table_marks_every_cell_of_the_preset_it_did_not_run():
    "The GPU table once listed only the cells it ran: every other (dataset, arch) of the gpu preset is a NOT RUN row."
    from benchmarks.gpu_table import not_run_cells
    from picnn.config import load_scale
    preset = load_scale("gpu")
    rows = not_run_cells(preset, ["cifar10"], ["resnet18"])
    assert len(rows) == len(preset.datasets) * len(preset.archs) - 1
    assert all(r["status"] == "not run" and r["note"] for r in rows) and ("cifar10", "resnet18") not in {(r["dataset"], r["arch"]) for r in rows}
    committed = read_csv_rows(ROOT / "results" / "gpu" / "table1" / "table.csv")
    assert {(r["dataset"], r["arch"]) for r in committed if r["status"] == "not run"} == {(r["dataset"], r["arch"]) for r in rows}

def read_csv_rows(path):
    import csv
    with open(path) as f: return list(csv.DictReader(f))
