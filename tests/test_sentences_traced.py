"""Every number-bearing sentence of README.md, results/SUMMARY.md and benchmarks/README.md is generated from a committed
artifact, or tested against one; a drifted number fails here.

- README.md is index.ipynb rendered (test_readme). Its generated regions are the stored outputs of index.ipynb's
  `#| echo: false` cells: each is run again here (from nbs/, as the notebook runs) and must give its stored output.
  Every other sentence with a number (the hand-written markdown cells) must be in `README_ALLOWED`, whose check
  reads the artifact the sentence states. Fenced blocks (code, and a program's printed output) are not sentences.
- results/SUMMARY.md must be what `picnn.report.summary_markdown` writes from results/ now (but for the time stamp
  and commit of its first paragraph): every sentence of it is generated.
- benchmarks/README.md: every sentence and table row with a number lies in a section that names its raw artifacts
  (`BENCH_SECTIONS`), and each of its numbers (a factor such as "243x" included) must be a value of those artifacts
  as printed (to the digits shown, or as a percentage), or one of the values `BENCH_DERIVED` computes for that
  sentence: a formula over those artifacts, the runs and tables under results/, settings.ini, or a constant or
  default read from the benchmark script that defines it.

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests/test_sentences_traced.py
"""

import ast, io, json, math, re, statistics, subprocess, sys
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])(?<![A-Za-z]-)[-+−]?\d[\d,]*(?:\.\d+)?(?![\w])")


def _src(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def prose(md: str) -> str:
    "Markdown without what is not a sentence: fenced blocks, inline code, link targets, HTML comments and tags."
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    md = re.sub(r"<!--.*?-->", "", md, flags=re.S)
    md = re.sub(r"`[^`]*`", "", md)
    md = re.sub(r"\]\([^)]*\)", "]", md)
    md = re.sub(r"https?://\S+", "", md)
    return md


def sentences(md: str, number=NUMBER) -> list[str]:
    "Sentences and table rows of `md` that carry a number (names such as CIFAR-10, ResNet-20, bf16 or H100 are not numbers)."
    out = []
    for block in re.split(r"\n\s*\n", prose(md)):
        lines = block.splitlines()
        if all(l.startswith("|") for l in lines if l.strip()):
            out += [l for l in lines if number.search(l) and not re.fullmatch(r"[|\s:-]+", l)]
            continue
        text = " ".join(l.strip() for l in lines)
        out += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*(`])", text) if number.search(s)]
    return out


def numbers(s: str) -> list[str]:
    return [n.lstrip("+-−") for n in NUMBER.findall(s)]


# ---------------------------------------------------------------------------------------------------------------- README


def run_generated_cell(src: str) -> list[str]:
    "The markdown an `echo: false` cell of index.ipynb displays, run from nbs/ as the notebook runs."
    from IPython.display import Markdown

    shown = []

    def display(obj):
        shown.append(obj.data if isinstance(obj, Markdown) else repr(obj))

    import os

    here = os.getcwd()
    os.chdir(ROOT / "nbs")
    try:
        with redirect_stdout(io.StringIO()):
            exec(compile(src, "index.ipynb", "exec"), {"display": display, "__name__": "__main__"})
    finally:
        os.chdir(here)
    return shown


def stored_markdown(cell) -> list[str]:
    return [
        "".join(o["data"]["text/markdown"]) for o in cell.get("outputs", []) if "text/markdown" in o.get("data", {})
    ]


def generated_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and re.search(r"^#\|\s*echo:\s*false", _src(c), re.M)]


def regenerate_index(path=ROOT / "nbs" / "index.ipynb") -> None:
    "Store in index.ipynb the outputs its `echo: false` cells give now (then `python tools/make_readme.py`)."
    nb = json.loads(path.read_text())
    for c in generated_cells(nb):
        c["outputs"] = [
            {
                "data": {
                    "text/markdown": md.splitlines(keepends=True),
                    "text/plain": ["<IPython.core.display.Markdown object>"],
                },
                "metadata": {},
                "output_type": "display_data",
            }
            for md in run_generated_cell(_src(c))
        ]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def test_readme_generated_regions_are_what_their_cells_give_now():
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    cells = generated_cells(nb)
    assert cells, "index.ipynb has no generated cell"
    for c in cells:
        assert run_generated_cell(_src(c)) == stored_markdown(c), (
            "a generated region of README.md has drifted from its artifacts: python tests/test_sentences_traced.py --write"
        )


def _scale(name):
    from picnn.config import load_scale

    return load_scale(name)


def _requires_python():
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]


# hand-written README sentences with a number: a fragment of the sentence -> the check of its numbers against an artifact
README_ALLOWED = {
    "AAAI 2024, arXiv 2312.12068": lambda: (
        "2312.12068"
        in (ROOT / "pyproject.toml").read_text()
        + "".join(p.read_text() for p in (ROOT / "nbs" / "paper").glob("*.ipynb"))
        or "2312.12068" in (ROOT / "nbs" / "index.ipynb").read_text()
    ),
    "on a machine with Python 3.10+": lambda: _requires_python().replace(" ", "") == ">=3.10",
    "preset (ten ImageNet-pretrained architectures x five datasets x STD/PICNN at 224 px,": lambda: (
        (
            len(_scale("paper").archs),
            len(_scale("paper").datasets),
            _scale("paper").image_size,
            _scale("paper").epochs,
            _scale("paper").pretrained,
        )
        == (10, 5, 224, 200, True)
    ),
    "paper reports higher MIS at equal or better accuracy on ten architectures and five": lambda: (
        (len(_scale("paper").archs), len(_scale("paper").datasets)) == (10, 5)
    ),
    "nbdev 3 reads its own configuration only from": lambda: re.search(
        r'"nbdev>=3', (ROOT / "pyproject.toml").read_text()
    ),
    "open http://localhost:8000": lambda: "8000" in Path(__import__("http.server").server.__file__).read_text(),
}


def test_every_number_in_readme_prose_is_generated_or_checked():
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    unchecked, failed = [], []
    for c in nb["cells"]:
        if c["cell_type"] != "markdown":
            continue
        for s in sentences(_src(c)):
            key = next((k for k in README_ALLOWED if k in s), None)
            if key is None:
                unchecked.append(s)
            elif not README_ALLOWED[key]():
                failed.append(s)
    assert not unchecked, f"README sentences with a number that nothing generates or checks: {unchecked}"
    assert not failed, f"README sentences whose numbers their artifact no longer says: {failed}"


def test_readme_says_no_timing_or_machine_verdict_without_a_log():
    text = prose((ROOT / "README.md").read_text())
    for stale in ("min 38 s", "min 51 s", "min 21 s", "min 46 s", "AVX-512 machine", "re-evaluates"):
        assert stale not in text, stale


# --------------------------------------------------------------------------------------------------------------- SUMMARY


def test_summary_is_what_the_report_writes_from_results_now():
    """Every sentence of results/SUMMARY.md is generated: the file is what picnn.report writes from results/, byte for
    byte (it holds no time stamp, commit or path of the machine that wrote it). It fails when a number drifts from its
    run, or the report's words change, until `picnn reproduce` (or `picnn.report.write_summary('results')`) writes it again."""
    from picnn.report import summary_markdown

    want = summary_markdown(ROOT / "results")
    got = (ROOT / "results" / "SUMMARY.md").read_text()
    assert got == want, "results/SUMMARY.md differs from what picnn.report writes from results/ now"


# ------------------------------------------------------------------------------------------------------ benchmarks README

BENCH = ROOT / "benchmarks" / "results"
# as NUMBER, but a factor written "243x" or "1.6x" is a number too (NUMBER reads none, or only the "1" of "1.6x"), and a
# comma belongs to a number only between digits
BENCH_NUMBER = re.compile(r"(?<![\w.])(?<![A-Za-z]-)[-+−]?\d(?:\d|,(?=\d))*(?:\.\d+)?(?=x\b|(?!\w))")


def bench_numbers(s: str) -> list[str]:
    return [n.lstrip("+-−") for n in BENCH_NUMBER.findall(s)]


def _values(obj, out):
    if isinstance(obj, bool):
        return out
    if isinstance(obj, (int, float)) and math.isfinite(obj):
        out.append(float(obj))
    elif isinstance(obj, dict):
        [_values(v, out) for v in obj.values()]
    elif isinstance(obj, list):
        [_values(v, out) for v in obj]
    elif isinstance(obj, str):
        out += [
            float(n.replace(",", ""))
            for n in NUMBER.findall(obj)
            if n.replace(",", "").lstrip("+-").replace(".", "", 1).isdigit()
        ]
    return out


def artifact_values(names) -> list[float]:
    vals = []
    for n in names:
        p = BENCH / n
        vals += _values(json.loads(p.read_text()), []) if p.suffix == ".json" else _values(p.read_text(), [])
        vals += _values(n, [])  # the date and sizes of the file name
    return vals


def _committed_cpu_log_rates(train_subset=10_000) -> list[float]:
    "Every epoch's logged rate of the committed cpu runs on a `train_subset` (the ablation runs: a finished, fixed set)."
    files = subprocess.run(
        ["git", "ls-files", "results/cpu/runs/*/log.jsonl"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    files = [
        f
        for f in files
        if json.loads((ROOT / f).with_name("config.json").read_text()).get("train_subset") == train_subset
    ]
    return [
        json.loads(l)["images_per_s"]
        for f in files
        for l in (ROOT / f).read_text().splitlines()
        if l.strip() and "images_per_s" in json.loads(l)
    ]


def _matches(token: str, vals, extra) -> bool:
    shown = token.replace(",", "")
    try:
        x = float(shown)
    except ValueError:
        return False
    digits = len(shown.split(".")[1]) if "." in shown else 0
    tol = 0.5 * 10**-digits + 1e-9
    # a token is read without its sign (bench_numbers), so a value is compared by its size: "−1.02 points" is -0.0102
    return any(abs(abs(v) - x) <= tol or abs(100 * abs(v) - x) <= tol for v in list(vals) + list(extra))


# section title (the start of a ## or ### heading) -> the raw artifacts its numbers come from
BENCH_SECTIONS = {
    "# Benchmarks": [],
    "## GPU: one NVIDIA H100": ["NVIDIA_H100_80GB_HBM3-2026-11-27.json", "NVIDIA_H100-2026-11-27-bench.log"],
    "### Time to accuracy": [
        "time_to_accuracy-NVIDIA_H100_80GB_HBM3-2026-11-27.json",
        "NVIDIA_H100-2026-11-27-time_to_accuracy.log",
    ],
    "## CPU: this project's 2-core machine": ["cpu-2026-11-27.json"],
    "### fp32 against bf16 on this CPU": ["cpu_precision-2026-12-02.json"],
    "### The same benchmark on an EPYC without AVX-512": ["cpu_precision-2026-12-03-avx2.json"],
    "### Does bf16 change the results?": ["precision_paired-2026-12-03.json"],
    "### Smoke verdicts at 1 and 2 torch threads": [
        "smoke_threads-2026-12-05-b.json",
        "smoke_threads-2026-12-05-a.json",
    ],
    "## Images/s of the paper architectures": [],
    "### Throughput on this CPU": ["throughput-AMD_EPYC_2_cores-2026-12-02.json"],
    "### Throughput of the cpu preset's runs": ["throughput-AMD_EPYC_2_cores-1thread-2026-12-02.json"],
    "### Throughput on an H100": [
        "throughput-NVIDIA_H100_80GB_HBM3-2026-11-27.json",
        "NVIDIA_H100_80GB_HBM3-2026-11-27.json",
    ],
    "### The paper scale's dry run": ["paper_dry_run-2026-12-02.log"],
}


def _cpu_precision_ratios(name):
    rows = json.loads((BENCH / name).read_text())["rows"]
    rate = {(r["method"], r["format"]): r["images_per_s"] for r in rows}
    return [rate[(m, "bf16 channels_last")] / rate[(m, "fp32 channels_last")] for m in ("std", "picnn")] + [
        rate[(m, "fp32 channels_last")] / rate[(m, "bf16 channels_last")] for m in ("std", "picnn")
    ]


def _median_log_rate():
    return [statistics.median(_committed_cpu_log_rates()), 10_000]


def _json(path) -> dict:
    return json.loads((ROOT / path).read_text())


def _script(name) -> str:
    return (ROOT / "benchmarks" / name).read_text()


def _arg_defaults(name) -> dict:
    "The literal `default=` of each argparse option a benchmark script declares."
    out = {}
    for node in ast.walk(ast.parse(_script(name))):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "add_argument"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            out.update(
                {
                    node.args[0].value.lstrip("-"): kw.value.value
                    for kw in node.keywords
                    if kw.arg == "default" and isinstance(kw.value, ast.Constant)
                }
            )
    return out


def _script_constant(name, var):
    "A module-level constant of a benchmark script, as its source assigns it."
    for node in ast.parse(_script(name)).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == var for t in node.targets):
            return ast.literal_eval(node.value)
    raise KeyError(var)


def _run_sizes():
    "The input sizes benchmarks/run.py measures by default."
    return [
        float(x) for x in re.search(r'args\.sizes or \(.* else "([\d,]+)"\)', _script("run.py")).group(1).split(",")
    ]


def _paired_defaults():
    "The ACC metrics benchmarks/precision_paired.py compares, and the seeds a setting needs to count in the pooled sd."
    accs = [m for m in _script_constant("precision_paired.py", "METRICS") if m.startswith("acc")]
    return [len(accs), float(re.search(r"if len\(vals\) < (\d+):\s*continue", _script("precision_paired.py")).group(1))]


def _mis_defaults():
    d = _arg_defaults("mis.py")
    return [d["n"], d["k"], d["classes"]]


def _gpu_table_number():
    "The paper table benchmarks/gpu_table.py fills, as its docstring names it."
    return [float(re.match(r'"""Table (\d+)\'s GPU cells', _script("gpu_table.py")).group(1))]


def _tta():
    return _json("benchmarks/results/time_to_accuracy-NVIDIA_H100_80GB_HBM3-2026-11-27.json")


def _gpu_subset():
    "The images of .gpu/src's CIFAR-10, which the time-to-accuracy run states and the benchmark (same session) read too."
    log = (BENCH / "NVIDIA_H100-2026-11-27-bench.log").read_text()
    return (
        [_tta()["train_images"]]
        if ".gpu/src/cifar10.npz" in log and _tta()["config"]["data_root"] == ".gpu/src"
        else []
    )


def _tta_split():
    "Trained on and held out: the run's training images split by its val_size."
    t = _tta()
    n, v = t["train_images"], t["config"]["val_size"]
    return [round(n * (1 - v)), round(n * v)]


def _mfu_terms():
    """TFLOP per 224 px step (flops_per_step), and the bf16 peak benchmarks/run.py divides by for this GPU, provided the
    JSON's MFU is that division (flops / step time / peak)."""
    d = _json("benchmarks/results/NVIDIA_H100_80GB_HBM3-2026-11-27.json")
    peak = next(v for k, v in _script_constant("run.py", "BF16_PEAK_TFLOPS").items() if k in d["environment"]["gpu"])
    rows = [r for r in d["throughput"] if r.get("mfu")]
    used = [r["flops_per_step"] / (r["step_ms"] / 1e3) / r["mfu"] / 1e12 for r in rows]
    return [r["flops_per_step"] / 1e12 for r in rows] + (
        [peak] if all(abs(u - peak) < 1e-6 * peak for u in used) else []
    )


def _paired(metric):
    "|fp32 - bf16| of a metric of the paired run in units of the pooled seed sd."
    row = next(r for r in _json("benchmarks/results/precision_paired-2026-12-03.json")["rows"] if r["metric"] == metric)
    return [abs(row["fp32_minus_bf16"]) / row["seed_sd"]]


def _paired_run():
    "The pair's training subset (both configs), the ablations' scheduled steps (settings.ini) and the step its log ends at."
    row = _json("benchmarks/results/precision_paired-2026-12-03.json")["rows"][0]
    runs = [ROOT / "results/cpu/runs" / row["bf16_run"], ROOT / "results/cpu/runs" / row["fp32_run"]]
    subsets = {json.loads((r / "config.json").read_text())["train_subset"] for r in runs}
    last = [json.loads(l)["steps"] for l in (runs[0] / "log.jsonl").read_text().splitlines() if '"steps"' in l][-1]
    section = dict(dict(_scale("cpu").sections)["ablations"])
    return (list(subsets) if subsets == {section["train_subset"]} else []) + [section["steps"], last]


def _cpu_table1_picnn():
    "PICNN's mean test ACC3 and ACC1 in the cpu Table 1 (results/cpu/table1/table.csv)."
    import csv

    row = next(r for r in csv.DictReader((ROOT / "results/cpu/table1/table.csv").open()) if r["method"] == "picnn")
    return [float(row["acc3"]), float(row["acc1"])]


def _gpu_session_throughput_limit():
    "The seconds gpu_session.sh gives its last line (benchmarks.throughput) on a GPU."
    return [
        float(
            re.search(r"LIM=\(\$\{LIMITS:-([\d ]+)\}\)", (ROOT / "benchmarks/gpu_session.sh").read_text())
            .group(1)
            .split()[-1]
        )
    ]


def _cpu_throughput():
    "PICNN / STD training rate per architecture (its range), and a paper-length CIFAR-10 run at the PICNN rates."
    rows = _json("benchmarks/results/throughput-AMD_EPYC_2_cores-2026-12-02.json")["rows"]
    rate = {(r["arch"], r["method"]): r["train_img_s"] for r in rows}
    ratios = [rate[a, "picnn"] / rate[a, "std"] for a, m in rate if m == "picnn"]
    n = {r["train_size"] for r in _json("results/cpu/table1/metrics.json")["runs"] if r["dataset"] == "cifar10"}
    assert len(n) == 1 and _scale("paper").val_size == _scale("cpu").val_size
    n, epochs = n.pop(), _scale("paper").epochs
    return [
        min(ratios),
        max(ratios),
        epochs,
        n,
        epochs * n / rate["resnet18", "picnn"] / 3600,
        epochs * n / rate["vit_b_16", "picnn"] / 86400,
    ]


# a fragment of a sentence -> the values its numbers are computed from (beyond the raw values of its section)
BENCH_DERIVED = {
    "trains PICNN": lambda: _cpu_precision_ratios("cpu_precision-2026-12-02.json"),
    "means fp32 on a CPU, about": lambda: _cpu_precision_ratios("cpu_precision-2026-12-02.json"),
    "bf16 autocast is": lambda: _cpu_precision_ratios("cpu_precision-2026-12-03-avx2.json"),
    "logged a median of": _median_log_rate,
    "the difference of two seeds has a standard deviation": lambda: (
        [math.sqrt(2)] + _paired("acc2_mean") + _paired("acc3_mean")
    ),
    # the command table: the scripts' own defaults
    "training images/s of STD and PICNN, ResNet-18 at": _run_sizes,
    "whether bf16 changes the *results*": _paired_defaults,
    "| fast MIS against": _mis_defaults,
    "evaluation images/s of every": lambda: [_scale("paper").image_size],
    "plus Table": _gpu_table_number,
    # the GPU session
    "real CIFAR-10 images (the": _gpu_subset,
    "Model FLOP utilisation": _mfu_terms,
    "held out for selection": _tta_split,
    "per epoch of": _tta_split,
    "its last line, within": _gpu_session_throughput_limit,
    # the paired precision run
    "| ACC1 |": lambda: _paired("acc1"),
    "| ACC2 |": lambda: _paired("acc2_mean"),
    "| ACC3 |": lambda: _paired("acc3_mean"),
    "| MIS |": lambda: _paired("mis"),
    "ablations' default PICNN run": _paired_run,
    "far below its ACC1": _cpu_table1_picnn,
    # images/s of the paper architectures on this CPU
    "PICNN's training rate is": _cpu_throughput,
    "at these PICNN rates": _cpu_throughput,
}


def bench_sentences():
    "(section title, sentence) for every number-bearing sentence or table row of benchmarks/README.md."
    text = (ROOT / "benchmarks" / "README.md").read_text()
    parts = re.split(r"^(#{1,3} .*)$", text, flags=re.M)
    out = []
    for head, body in zip(parts[1::2], parts[2::2]):
        title = next((t for t in BENCH_SECTIONS if head.startswith(t)), head)
        out += [(title, s) for s in sentences(body, BENCH_NUMBER)]
    return out


def test_every_number_of_the_benchmarks_readme_is_a_value_of_its_artifacts():
    untraced = []
    for title, s in bench_sentences():
        if title not in BENCH_SECTIONS:
            untraced.append((title, s, "section names no artifact"))
            continue
        vals = artifact_values(BENCH_SECTIONS[title])
        extra = [v for k, f in BENCH_DERIVED.items() if k in s for v in f()]
        missing = [n for n in bench_numbers(s) if not _matches(n, vals, extra)]
        if missing:
            untraced.append((title, s[:160], missing))
    assert not untraced, "numbers of benchmarks/README.md that no committed artifact says:\n" + "\n".join(
        map(str, untraced)
    )


def test_the_checker_catches_a_drifted_number():
    "A number one unit off in its last digit is not a value of the artifact: the checker would fail on it."
    vals = artifact_values(["cpu_precision-2026-12-02.json"])
    assert _matches("1,182", vals, []) and not _matches("1,183", vals, [])
    assert _matches("1.02", [-0.0102], []) and not _matches("1.03", [-0.0102], [])  # a negative value, in points
    assert sentences("It took 67 s, on `2` cores. CIFAR-10 on ResNet-20.\n\n| a | b |\n|---|---|\n| x | 3.5 |") == [
        "It took 67 s, on  cores.",
        "| x | 3.5 |",
    ]
    assert bench_numbers("**243x** faster, 1.6x slower, 10,000 x 64, ResNet-20, shufflenet_v2_x1_0") == [
        "243",
        "1.6",
        "10,000",
        "64",
    ]


if __name__ == "__main__" and "--write" in sys.argv:
    regenerate_index()
    print("index.ipynb: generated outputs stored; now run python tools/make_readme.py")
