"The benchmark entry point's arithmetic, and a seconds-long run of it on the CPU (its correctness, not its speed)."

import json, subprocess, sys
from pathlib import Path
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.run import ratio, peak_tflops, train_step_flops
from benchmarks.precision_paired import compare, finished_runs


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
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--device", "cpu", "--tiny", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
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

    rows = main(
        [
            "--arch",
            "tiny_cnn",
            "--batch-size",
            "8",
            "--steps",
            "1",
            "--warmup",
            "1",
            "--rounds",
            "1",
            "--out",
            str(tmp_path / "p.json"),
        ]
    )
    assert {(r["method"], r["format"]) for r in rows} == {(m, f) for m in ("std", "picnn") for f in FORMATS}
    assert all(r["speedup_over_fp32_nchw"] == 1.0 for r in rows if r["format"] == "fp32 NCHW")
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["environment"]["torch_threads"] >= 1 and len(saved["rows"]) == 6


def _readme_cells(title: str) -> list[list[str]]:
    "The rows of the first markdown table after `title` in benchmarks/README.md, as lists of cell strings."
    text = (ROOT / "benchmarks" / "README.md").read_text().split(title, 1)[1]
    table = []
    for l in text.splitlines():
        if table and not l.startswith("|"):
            break  # the end of the first table (not the next table's rows)
        if l.startswith("|"):
            table.append([c.strip().strip("*") for c in l.strip("|").split("|")])
    return [r for r in table[2:]]


def test_benchmark_readme_prints_the_json_numbers():
    "Every fast/plain ratio of the CPU table is the JSON's, rounded to two decimals (it once said 1.10 for 1.0948)."
    saved = json.loads((ROOT / "benchmarks" / "results" / "cpu-2026-11-27.json").read_text())
    want = {
        (r["size"], r["method"]): f"{r['fast_over_plain_throughput']:.2f}" for r in saved["ratios"] if "method" in r
    }
    rows = [r for r in _readme_cells("## CPU: this project's 2-core machine") if r[0].endswith("px")]
    assert len(rows) == 4
    for r in rows:
        assert r[4] == want[int(r[0].split()[0]), r[1].lower()], r


def test_torch_loader_baseline_matches_the_device_loader():
    "The PIL DataLoader path the loader benchmark measures against: same shapes and pairing, the official recipe at 224 px."
    from benchmarks.torch_loader import make_dataloader, official_transforms
    from picnn.datasets import ImageSplit, load_dataset
    from picnn.loader import DeviceLoader

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
    xb, _ = next(
        iter(make_dataloader(digits, batch_size=8, train=False, augment="official", image_size=32, num_workers=0))
    )
    assert xb.shape == (8, 1, 32, 32)
    t = official_transforms(True)
    assert [type(s).__name__ for s in t.transforms] == [
        "Resize",
        "RandomCrop",
        "RandomHorizontalFlip",
        "ColorJitter",
        "ToTensor",
        "Normalize",
    ]
    assert t.transforms[0].size == 256 and official_transforms(False).transforms[1].size == (224, 224)


def test_gpu_table_marks_every_cell_of_the_preset_it_did_not_run():
    "The GPU table once listed only the cells it ran: every other (dataset, arch) of the gpu preset is a NOT RUN row."
    from benchmarks.gpu_table import not_run_cells
    from picnn.config import load_scale

    preset = load_scale("gpu")
    rows = not_run_cells(preset, ["cifar10"], ["resnet18"])
    assert len(rows) == len(preset.datasets) * len(preset.archs) - 1
    assert all(r["status"] == "not run" and r["note"] for r in rows) and ("cifar10", "resnet18") not in {
        (r["dataset"], r["arch"]) for r in rows
    }
    committed = read_csv_rows(ROOT / "results" / "gpu" / "table1" / "table.csv")
    assert {(r["dataset"], r["arch"]) for r in committed if r["status"] == "not run"} == {
        (r["dataset"], r["arch"]) for r in rows
    }


def read_csv_rows(path):
    import csv

    with open(path) as f:
        return list(csv.DictReader(f))


def test_throughput_table_runs_tiny_on_cpu_and_has_the_estimators_schema(tmp_path):
    "benchmarks.throughput on two paper architectures at 64 px, one step: every row of the schema, rates positive."
    from benchmarks.throughput import main

    with pytest.raises(SystemExit) as help_exit:
        main(["--help"])  # argparse formats every help string
    assert help_exit.value.code == 0
    table = main(
        [
            "--device",
            "cpu",
            "--archs",
            "resnet18,vit_b_16",
            "--image-size",
            "64",
            "--batch-size",
            "2",
            "--steps",
            "1",
            "--warmup",
            "1",
            "--tries",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    saved = json.loads(next(tmp_path.glob("throughput-*.json")).read_text())
    assert saved == json.loads(json.dumps(table)) and check_throughput_schema(saved) == "cpu"
    assert [(r["arch"], r["method"]) for r in saved["rows"]] == [
        (a, m) for m in ("picnn", "std") for a in ("resnet18", "vit_b_16")
    ]
    assert all(
        r["image_size"] == 64 and r["batch_size"] == 2 and r["timed_steps"] == 1 and r["amp"] for r in saved["rows"]
    )
    # evaluation is the same network for both methods: measured once, on the PICNN row
    assert all((r["eval_img_s"] is None) == (r["method"] == "std") for r in saved["rows"])


def check_throughput_schema(table: dict) -> str:
    "The keys and types `picnn reproduce --plan` reads from a throughput table; returns its device."
    assert set(table) == {"hardware", "device", "date", "torch", "threads", "source", "rows"}
    assert table["device"] in ("cpu", "cuda") and table["hardware"] and table["threads"] >= 1 and table["rows"]
    import datetime

    datetime.datetime.fromisoformat(table["date"])
    types = {
        "arch": str,
        "image_size": int,
        "method": str,
        "batch_size": int,
        "amp": bool,
        "channels_last": bool,
        "train_img_s": float,
        "timed_steps": int,
    }
    for r in table["rows"]:
        assert set(r) == set(types) | {"eval_img_s"}, r
        assert all(type(r[k]) is t for k, t in types.items()), r
        assert r["method"] in ("picnn", "std") and r["train_img_s"] > 0
        assert r["eval_img_s"] is None or (type(r["eval_img_s"]) is float and r["eval_img_s"] > 0)
    return table["device"]


def test_committed_throughput_tables_have_the_schema_and_cover_the_paper_archs():
    "Every committed table reads; the 2-thread CPU one has a PICNN row at 224 px for each paper architecture."
    from picnn.config import load_scale

    tables = {
        p.name: json.loads(p.read_text()) for p in sorted((ROOT / "benchmarks" / "results").glob("throughput-*.json"))
    }
    assert tables and all(check_throughput_schema(t) for t in tables.values())
    cpu = [
        t for t in tables.values() if t["device"] == "cpu" and t["threads"] == 2
    ]  # the 1-thread one: the cpu preset's runs
    assert cpu and {r["arch"] for t in tables.values() if t["threads"] == 1 for r in t["rows"]} == {"resnet20"}
    assert {r["arch"] for r in cpu[-1]["rows"] if r["method"] == "picnn" and r["image_size"] == 224} == set(
        load_scale("paper").archs
    )
    h100 = tables["throughput-NVIDIA_H100_80GB_HBM3-2026-11-27.json"]
    assert h100["source"] == "benchmarks/results/NVIDIA_H100_80GB_HBM3-2026-11-27.json"
    assert [round(r["train_img_s"]) for r in h100["rows"]] == [7391, 7041]  # the 224 px fast-path rows of that run


def test_throughput_from_a_benchmark_run_keeps_only_its_paper_shaped_rows():
    "Deriving the H100 table again gives the committed file: 224 px fast-path rows only (not 32 px, not PIL/fp32)."
    from benchmarks.throughput import from_run

    src = ROOT / "benchmarks" / "results" / "NVIDIA_H100_80GB_HBM3-2026-11-27.json"
    assert from_run(src) == json.loads(
        (ROOT / "benchmarks" / "results" / "throughput-NVIDIA_H100_80GB_HBM3-2026-11-27.json").read_text()
    )


def test_contention_share_sees_another_busy_process():
    "The CPU timing is retried when others took CPU time: a spinning child during a 1 s sleep shows as >= half a core."
    import os, time
    from benchmarks.throughput import timed

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        seconds, busy = timed(lambda: time.sleep(1.0), torch.device("cpu"))
    finally:
        spinner.kill()
        spinner.wait()
    assert seconds >= 1.0 and busy * os.cpu_count() >= 0.5


THROUGHPUT_TABLES = {
    "### Throughput on this CPU": "throughput-AMD_EPYC_2_cores-2026-12-02.json",
    "### Throughput on an H100": "throughput-NVIDIA_H100_80GB_HBM3-2026-11-27.json",
}


def test_throughput_readme_prints_the_json_numbers():
    "Each table of the README's throughput section is its JSON's rows, in order, as benchmarks.throughput prints them."
    from benchmarks.throughput import img_s

    for title, name in THROUGHPUT_TABLES.items():
        saved = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
        cells = _readme_cells(title)
        assert len(cells) == len(saved["rows"]), title
        for c, r in zip(cells, saved["rows"]):
            assert c[:4] == [r["arch"], r["method"].upper(), str(r["image_size"]), str(r["batch_size"])], (title, c)
            assert c[5:7] == [img_s(r["train_img_s"]), img_s(r["eval_img_s"])], (title, c)


def test_precision_pair_is_judged_against_the_pooled_seed_spread(tmp_path):
    "fp32 - bf16 of the one pair that differs only in amp, against the seed sd pooled over bf16 settings with 2 seeds."

    def run(name, lam, seed, amp, acc1):
        d = tmp_path / name
        d.mkdir()
        test = {"acc1": acc1, "acc2_mean": acc1, "acc3_mean": 0.1, "mis": 0.17}
        (d / "metrics.json").write_text(json.dumps({"config": {"lam": lam, "seed": seed, "amp": amp}, "test": test}))

    run("a0", 2.0, 0, True, 0.70)
    run("a1", 2.0, 1, True, 0.72)  # setting lam 2: sd 0.01414 (1 df)
    run("b0", 1.0, 0, True, 0.60)
    run("b1", 1.0, 1, True, 0.64)  # setting lam 1: sd 0.02828 (1 df)
    run("a0-fp32", 2.0, 0, False, 0.705)  # the pair of a0
    rows = {r["metric"]: r for r in compare(finished_runs(tmp_path))}
    acc = rows["acc1"]
    assert (acc["bf16_run"], acc["fp32_run"]) == ("a0", "a0-fp32")
    assert abs(acc["fp32_minus_bf16"] - 0.005) < 1e-12
    assert abs(acc["seed_sd"] - ((0.0002 + 0.0008) / 2) ** 0.5) < 1e-12 and acc["seed_sd_df"] == 2
    assert acc["below_seed_sd"] is True
    assert rows["mis"]["seed_sd"] == 0 and rows["mis"]["below_seed_sd"] is False  # equal MIS: no spread to hide in


def test_settings_that_trained_the_same_network_count_once(tmp_path):
    "PICNN with lambda 0 trains STD's network (the pathway adds no gradient): equal ACC1 and MIS at every seed."

    def run(name, cfg, seed, amp, acc1, mis):
        d = tmp_path / name
        d.mkdir()
        test = {"acc1": acc1, "acc2_mean": acc1, "acc3_mean": 0.1, "mis": mis}
        (d / "metrics.json").write_text(json.dumps({"config": {**cfg, "seed": seed, "amp": amp}, "test": test}))

    std, lam0 = {"method": "std", "lam": 2.0}, {"method": "picnn", "lam": 0.0}
    run("s0", std, 0, True, 0.70, 0.12)
    run("s1", std, 1, True, 0.72, 0.13)  # sd 0.01414 (1 df)
    run("z0", lam0, 0, True, 0.70, 0.12)
    run("z1", lam0, 1, True, 0.72, 0.13)  # the same network: no new df
    run("s0-fp32", std, 0, False, 0.705, 0.12)
    acc = {r["metric"]: r for r in compare(finished_runs(tmp_path))}["acc1"]
    assert acc["seed_sd_df"] == 1 and acc["seed_sd_settings"] == 1
    assert abs(acc["seed_sd"] - 0.0002**0.5) < 1e-12


def test_precision_readme_prints_the_json_numbers():
    "The bf16/fp32 table of benchmarks/README.md is its JSON's rows: values, difference, pooled seed sd and df."
    raw = json.loads((ROOT / "benchmarks" / "results" / "precision_paired-2026-12-03.json").read_text())["rows"]
    cells = _readme_cells("### Does bf16 change the results?")
    assert [c[0] for c in cells] == ["ACC1", "ACC2", "ACC3", "MIS"] and len(raw) == 4
    for c, r in zip(cells, raw):
        if r["metric"] == "mis":
            want = [f"{r['bf16']:.4f}", f"{r['fp32']:.4f}", f"{r['fp32_minus_bf16']:+.4f}", f"{r['seed_sd']:.4f}"]
        else:
            want = [
                f"{100 * r['bf16']:.2f} %",
                f"{100 * r['fp32']:.2f} %",
                f"{100 * r['fp32_minus_bf16']:+.2f} points",
                f"{100 * r['seed_sd']:.2f} points",
            ]
        assert c[1:5] == want, (c, want)
        assert c[5].startswith("yes" if r["below_seed_sd"] else "no"), c
    assert f"pooled seed sd ({raw[0]['seed_sd_df']} df)" in (ROOT / "benchmarks" / "README.md").read_text()
