"""A dry run of the paper scale, end to end, on this machine (issue #15): the wiring, not the numbers.

In a temporary folder it writes
  * fixture datasets in their real on-disk formats, a few images per class and every class of the real dataset:
    STL-10's binary release (stl10_binary/*.bin), the VOC2010 tree (XML annotations, JPEGs, ImageSets), Tiny
    ImageNet's extracted tree (wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/), and CIFAR-10/100 as the shared
    lossless-WebP containers (cifar10.npz, cifar100.npz: the format shared/data ships and the GPU run reads; the
    torchvision pickle batches cannot be faked, since torchvision checks each batch's MD5 even without download);
  * stand-in pretrained weights: each architecture's torchvision model with random init, its `state_dict` saved in
    a temporary torch hub cache ($TORCH_HOME/hub/checkpoints/) under the file name of its DEFAULT weights' URL;
  * a settings.ini whose [paper] preset keeps the paper's code paths (image size, stem, pretrained loading,
    augmentation, datasets, architectures, MIS estimator) and shrinks only sizes: subsets, 1 epoch, small batches,
    1 seed, and torch.compile off unless --compile (compiling ~30 models on a CPU takes longer than training them);
  * nbs/paper/, copied from the checkout (a checkout is what `picnn reproduce` runs in);
then runs the real CLI, `picnn reproduce --scale paper --settings <tmp>/settings.ini --output <tmp>/results`, checks
that every notebook completed and every table row is a run (none NOT RUN, SKIPPED or FAILED), that each run used the
paper's code paths, and that nothing was written into the checkout (results/ above all), and prints a short report.

    python tools/paper_dry_run.py [--archs resnet18,vit_b_16] [--keep DIR] [--jobs N] [--compile]
"""

from __future__ import annotations
import argparse, io, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing: picnn is imported from it

import torch
from torchvision.models import get_model, get_model_weights

from picnn.config import load_scale, read_settings
from picnn.experiment import TABLE1_DATASETS, TABLE2_DATASETS, METHODS
from picnn.hardware import git_commit
from picnn.record import read_csv, read_status
from picnn.models import architecture, cached_weights, checkpoint_path
from picnn.reproduce import find_notebooks

# Only sizes shrink. With 16 training images, 10 % held out for selection (2) and batches of 4, a run takes 3
# optimizer steps; 8 test images feed the metrics and the figures (fig_cams draws 8).
SIZES = dict(seeds="0", epochs="1", batch_size="4", train_subset="16", test_subset="8")
# kept from the preset, checked on every run
PAPER_PATHS = (
    "image_size",
    "stem",
    "pretrained",
    "augment",
    "mis_method",
)
# The reference MIS estimator (sklearn) makes one mutual_info_classif call per (class, filter): 100 x 256 = 25,600 a run
# on CIFAR-100 and 200 x 448 = 89,600 on Tiny ImageNet, ~2 ms of overhead each whatever the test set (measured here:
# 209 s of a 219 s Tiny ImageNet run on 8 test images). The dry run keeps it on the other datasets and uses the fast
# estimator on these two unless --sklearn-everywhere.
FAST_MIS = ("cifar100", "tinyimagenet")
RNG = np.random.default_rng(0)


# --- fixture datasets, in their real formats ------------------------------------------------------


def images(n: int, size: int) -> np.ndarray:
    "n random RGB images (n, size, size, 3), uint8, each a smooth colour ramp plus noise (so JPEG stays small)."
    ramp = np.linspace(0, 1, size)[None, :, None, None] * RNG.integers(0, 256, (n, 1, 1, 3))
    return np.clip(ramp + RNG.normal(0, 20, (n, size, size, 3)), 0, 255).astype(np.uint8)


def write_webp_container(path: Path, classes: list, train_per_class: int, test_per_class: int):
    "CIFAR in the shared container format: one lossless WebP per 32x32 image, offsets, labels, class names."
    arrays = {"classes": np.array(classes)}
    for split, per in (("train", train_per_class), ("test", test_per_class)):
        y = np.repeat(np.arange(len(classes)), per).astype(np.uint8)
        blobs = []
        for img in images(len(y), 32):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="WEBP", lossless=True)
            blobs.append(buf.getvalue())
        arrays[f"webp_{split}"] = np.frombuffer(b"".join(blobs), np.uint8)
        arrays[f"offsets_{split}"] = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
        arrays[f"y_{split}"] = y
        arrays[f"lossless_{split}"] = np.ones(len(y), bool)
    np.savez(path, **arrays)


STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def write_stl10(data: Path, train_per_class: int = 3, test_per_class: int = 2):
    """stl10_binary/ as STL-10 ships its labelled part: <split>_X.bin (3x96x96 bytes an image, channels stored column by
    column), <split>_y.bin (labels 1..10), class_names.txt."""
    folder = data / "stl10_binary"
    folder.mkdir(parents=True)
    for split, per in (("train", train_per_class), ("test", test_per_class)):
        y = np.repeat(np.arange(1, 11), per).astype(np.uint8)
        x = images(len(y), 96).transpose(0, 3, 2, 1)  # (N, H, W, C) -> (N, C, W, H): each channel column-major
        np.ascontiguousarray(x).tofile(folder / f"{split}_X.bin")
        y.tofile(folder / f"{split}_y.bin")
    (folder / "class_names.txt").write_text("\n".join(STL10_CLASSES) + "\n")


VOC_XML = """<annotation>
	<folder>VOC2010</folder>
	<filename>{id}.jpg</filename>
	<source><database>The VOC2010 Database</database></source>
	<size><width>{w}</width><height>{h}</height><depth>3</depth></size>
	<segmented>0</segmented>
{objects}</annotation>
"""
VOC_OBJECT = """	<object>
		<name>{name}</name>
		<pose>Unspecified</pose>
		<truncated>0</truncated>
		<difficult>0</difficult>
		<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>
	</object>
"""


def write_voc(data: Path, per_class: int = 4):
    """VOCdevkit/VOC2010/{Annotations/<id>.xml, JPEGImages/<id>.jpg, ImageSets/Main/trainval.txt}: one animal per
    image, every other image with a person too (skipped by the six-animal protocol), and two images without animals."""
    root = data / "VOCdevkit" / "VOC2010"
    for d in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / d).mkdir(parents=True)
    animals = ["bird", "cat", "cow", "dog", "horse", "sheep"]
    names = [a for a in animals for _ in range(per_class)] + [None, None]
    ids = [f"2008_{i:06d}" for i in range(1, len(names) + 1)]
    for i, (id_, name) in enumerate(zip(ids, names)):
        w, h = 160 + 8 * (i % 4), 120
        objects = VOC_OBJECT.format(name="person", x0=1, y0=1, x1=40, y1=h) if i % 2 or name is None else ""
        if name:
            objects += VOC_OBJECT.format(name=name, x0=30, y0=10, x1=w - 20, y1=h - 5)
        (root / "Annotations" / f"{id_}.xml").write_text(VOC_XML.format(id=id_, w=w, h=h, objects=objects))
        Image.fromarray(images(1, max(w, h))[0][:h, :w]).save(root / "JPEGImages" / f"{id_}.jpg", quality=90)
    (root / "ImageSets" / "Main" / "trainval.txt").write_text("\n".join(ids) + "\n")


def write_tinyimagenet(data: Path, classes: int = 200, train_per_class: int = 2, val_per_class: int = 1):
    """tiny-imagenet-200/ as extracted from tiny-imagenet-200.zip: wnids.txt, words.txt, train/<wnid>/images/*.JPEG with
    <wnid>_boxes.txt, val/images/*.JPEG with val/val_annotations.txt."""
    root = data / "tiny-imagenet-200"
    wnids = [f"n{1440000 + 7 * i:08d}" for i in range(classes)]
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text("".join(f"{w}\tthing {i}, object {i}\n" for i, w in enumerate(wnids)))
    for w in wnids:
        folder = root / "train" / w / "images"
        folder.mkdir(parents=True)
        for j, img in enumerate(images(train_per_class, 64)):
            Image.fromarray(img).save(folder / f"{w}_{j}.JPEG", quality=90)
        (root / "train" / w / f"{w}_boxes.txt").write_text(
            "".join(f"{w}_{j}.JPEG\t0\t0\t63\t63\n" for j in range(train_per_class))
        )
    (root / "val" / "images").mkdir(parents=True)
    lines = []
    for k, (w, img) in enumerate(zip(np.repeat(wnids, val_per_class), images(classes * val_per_class, 64))):
        Image.fromarray(img).save(root / "val" / "images" / f"val_{k}.JPEG", quality=90)
        lines.append(f"val_{k}.JPEG\t{w}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    (root / "test" / "images").mkdir(parents=True)  # the official test images carry no labels: never read


def write_datasets(data: Path, shared: Path) -> dict:
    """Every paper dataset's fixture: the raw trees in `data` (the writable data folder), the CIFAR containers in `shared`
    (a read-only extra folder, as shared/data is); what each is, for the report."""
    data.mkdir(parents=True)
    shared.mkdir(parents=True)
    write_webp_container(
        shared / "cifar10.npz",
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        4,
        2,
    )
    write_webp_container(shared / "cifar100.npz", [f"class_{i:02d}" for i in range(100)], 2, 1)
    write_stl10(data)
    write_voc(data)
    write_tinyimagenet(data)
    return {
        "cifar10": "cifar10.npz, the shared WebP container, 10 classes x (4 train, 2 test)",
        "cifar100": "cifar100.npz, the shared WebP container, 100 classes x (2 train, 1 test)",
        "stl10": "stl10_binary/ binary release, 10 classes x (3 train, 2 test), 96x96",
        "voc_part": "VOCdevkit/VOC2010 XML + JPEG tree, 26 images, 24 animal objects (4 per class)",
        "tinyimagenet": "tiny-imagenet-200/ extracted tree, 200 classes x (2 train, 1 val) JPEGs",
    }


# --- stand-in weights in a temporary torch hub cache ------------------------------------------------

# torchvision's googlenet builder loads its weights into a model with both auxiliary heads, then drops them
STANDIN_KWARGS = {"googlenet": dict(aux_logits=True, init_weights=False)}


def write_standin_weights(archs: list, torch_home: Path) -> dict:
    "For each architecture, its torchvision model (random init) saved where `cached_weights` looks for its DEFAULT weights."
    # torch.hub.get_dir() reads it at every call
    saved, os.environ["TORCH_HOME"] = (
        os.environ.get("TORCH_HOME"),
        str(torch_home),
    )
    try:
        return {arch: write_standin(arch, torch_home) for arch in archs}
    finally:
        if saved is None:
            os.environ.pop("TORCH_HOME")
        else:
            os.environ["TORCH_HOME"] = saved


def write_standin(arch: str, torch_home: Path) -> Path:
    "`arch`'s stand-in weights file, checked to be the one `picnn.models.cached_weights` finds."
    weights = get_model_weights(architecture(arch).torchvision).DEFAULT
    path = checkpoint_path(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = get_model(
        architecture(arch).torchvision,
        weights=None,
        num_classes=len(weights.meta["categories"]),
        **STANDIN_KWARGS.get(architecture(arch).torchvision, {}),
    )
    torch.save(model.state_dict(), path)
    assert cached_weights(arch, True) == weights and path.is_relative_to(torch_home), (arch, path)
    return path


# --- the settings and the checkout-like folder ------------------------------------------------------


def write_settings(work: Path, archs: list, compile_: bool, sizes: dict, fast_mis=FAST_MIS) -> Path:
    "The checkout's settings.ini with its data folders in `work` (data/, and shared/data as the extra), [paper] shrunk in sizes only."
    cp = read_settings(ROOT / "settings.ini")
    cp["data"]["dir"], cp["data"]["extra_dirs"] = "data", "shared/data"
    for section in [s for s in cp.sections() if s == "paper" or s.startswith("paper.")]:
        for key, value in sizes.items():
            if section == "paper" or key in cp[section]:
                cp[section][key] = value
    paper = cp["paper"]
    paper["archs"], paper["compile"] = ", ".join(archs), str(compile_).lower()
    paper["description"] = (
        "DRY RUN of the paper preset (tools/paper_dry_run.py): fixture data, stand-in weights, tiny sizes"
    )
    for d in fast_mis:
        if not cp.has_section(f"paper.{d}"):
            cp.add_section(f"paper.{d}")
        cp[f"paper.{d}"]["mis_method"] = "fast"
    path = work / "settings.ini"
    with open(path, "w") as f:
        cp.write(f)
    return path


def checkout_like(work: Path) -> Path:
    "nbs/paper copied beside the settings: `picnn reproduce` runs the notebooks of the checkout its settings.ini is in."
    dst = work / "nbs" / "paper"
    shutil.copytree(ROOT / "nbs" / "paper", dst, ignore=shutil.ignore_patterns(".*", "_*"))
    return dst


def checkout_snapshot() -> dict:
    """The files of the checkout a misdirected run could write: results/ (but the scales a training worker of this
    machine may be writing now: the dry run writes only the paper scale and SUMMARY.md), data/ and scratch/."""
    busy = [ROOT / "results" / s for s in ("smoke", "cpu", "gpu")]
    files = [
        p
        for d in ("results", "data", "scratch")
        for p in (ROOT / d).rglob("*")
        if p.is_file() and not any(p.is_relative_to(b) for b in busy)
    ]
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in files}


# --- the run and its checks -------------------------------------------------------------------------


def picnn_cli() -> str:
    here = Path(sys.executable).parent / "picnn"
    return str(here) if here.is_file() else (shutil.which("picnn") or sys.exit("no `picnn` command: pip install -e ."))


def run_reproduce(work: Path, settings: Path, jobs: int, quiet: bool) -> tuple[int, str]:
    "The real CLI in a subprocess, in `work`, every data and weight lookup pointed into `work`."
    env = {
        **os.environ,
        "PICNN_SETTINGS": str(settings),
        "PICNN_DATA": str(work / "data"),
        "TORCH_HOME": str(work / "torch"),
        "PICNN_GIT_COMMIT": git_commit(ROOT),
        "MPLBACKEND": "Agg",
    }
    for k in ("PICNN_OUTPUT", "PICNN_RUNS"):
        env.pop(k, None)
    cmd = [
        picnn_cli(),
        "reproduce",
        "--scale",
        "paper",
        "--settings",
        str(settings),
        "--output",
        str(work / "results"),
        "--jobs",
        str(jobs),
    ]
    print("$ " + " ".join(cmd), flush=True)
    with open(work / "reproduce.log", "w") as log:
        p = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            log.write(line)
            if not quiet:
                print("  | " + line, end="", flush=True)
        return p.wait(), (work / "reproduce.log").read_text()


def check_results(out: Path, notebooks: list, archs: list, compile_: bool, fast_mis=FAST_MIS) -> dict:
    "Problems (every one, not the first) and counts: notebooks complete, every row a run, each run on the paper's paths."
    paper, problems, walls, runs = load_scale("paper", ROOT / "settings.ini"), [], {}, {}
    for name in notebooks:
        status, cause = read_status(out / name)
        if status != "complete":
            problems.append(f"{name}: {status} {cause}".strip())
        metrics_path = out / name / "metrics.json"
        if not metrics_path.is_file():
            problems.append(f"{name}: no metrics.json")
            continue
        metrics = json.loads(metrics_path.read_text())
        walls[name] = metrics.get("runner", {}).get("wall_seconds")
        table = out / name / "table.csv"
        rows = read_csv(table) if table.is_file() else []
        bad = [r for r in rows if r["status"] not in ("ok", "published")]  # published: the paper's numbers beside ours
        problems += [
            f"{name}: row {r.get('dataset')}/{r.get('arch')}/{r.get('method')} is {r['status'].upper()}: "
            f"{r.get('note', '')[:300]}"
            for r in bad
        ]
        for r in metrics.get("runs", []):
            if r.get("status") != "ok":
                continue
            runs[r["run_dir"]] = r["config"]
            expected = {k: getattr(paper, k) for k in PAPER_PATHS}
            if r["config"]["dataset"] in fast_mis:
                expected["mis_method"] = "fast"
            wrong = {k: r["config"][k] for k in PAPER_PATHS if r["config"][k] != expected[k]}
            if r["config"]["compile"] != compile_:
                wrong["compile"] = r["config"]["compile"]
            if wrong:
                problems.append(f"{name}: run {Path(r['run_dir']).name} left the paper's paths: {wrong}")
    for name, datasets in (("table1", TABLE1_DATASETS), ("table2", TABLE2_DATASETS)):
        table = out / name / "table.csv"
        cells = {
            (r["dataset"], r["arch"], r["method"])
            for r in (read_csv(table) if table.is_file() else [])
            if r["status"] == "ok"
        }
        missing = [c for c in ((d, a, m) for d in datasets for a in archs for m in METHODS) if c not in cells]
        if missing:
            problems.append(f"{name}: no run for {missing}")
    return {
        "problems": problems,
        "notebook_wall_seconds": walls,
        "runs": len(runs),
        "run_cells": sorted({(c["dataset"], c["arch"], c["method"]) for c in runs.values()}),
    }


def dry_run(
    archs=None,
    work=None,
    jobs: int = 1,
    compile_: bool = False,
    quiet: bool = False,
    sizes: dict | None = None,
    fast_mis=FAST_MIS,
) -> dict:
    "Everything above, in `work` (a new temporary folder, removed afterwards, when None); the report as a dict."
    paper = load_scale("paper", ROOT / "settings.ini")
    unknown = sorted(set(archs or []) - set(paper.archs))
    if unknown:
        sys.exit(f"--archs {unknown} are not in the paper preset; choose among {', '.join(paper.archs)}")
    archs = [a for a in paper.archs if not archs or a in archs]  # the preset's order
    assert set(paper.datasets) == set(TABLE1_DATASETS + TABLE2_DATASETS), paper.datasets
    tmp = None if work else tempfile.TemporaryDirectory(prefix="picnn-paper-dry-run-")
    work = Path(work or tmp.name).resolve()
    assert not work.is_relative_to(ROOT / "results"), (
        f"the dry run must not write into {ROOT / 'results'}: pick another --keep"
    )
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        sys.exit(f"{work} is not empty: the dry run starts from an empty folder")
    before, t0 = checkout_snapshot(), time.perf_counter()
    try:
        fixtures = write_datasets(work / "data", work / "shared" / "data")
        weights = write_standin_weights(archs, work / "torch")
        sizes = {**SIZES, **(sizes or {})}
        settings = write_settings(work, archs, compile_, sizes, fast_mis)
        notebooks = list(find_notebooks(checkout_like(work)))
        setup = time.perf_counter() - t0
        code, log = run_reproduce(work, settings, jobs, quiet)
        wall = time.perf_counter() - t0
        report = check_results(work / "results" / "paper", notebooks, archs, compile_, fast_mis)
        if code != 0:
            report["problems"].insert(0, f"picnn reproduce exited with {code}; its log: {work / 'reproduce.log'}")
        after = checkout_snapshot()
        changed = sorted(str(p.relative_to(ROOT)) for p in set(before) | set(after) if before.get(p) != after.get(p))
        assert not changed, f"the dry run wrote into the checkout: {changed}"
        summary = (work / "results" / "SUMMARY.md").read_text() if (work / "results" / "SUMMARY.md").is_file() else ""
        report.update(
            archs=archs,
            datasets=list(paper.datasets),
            notebooks=notebooks,
            fixtures=fixtures,
            weights={a: p.name for a, p in weights.items()},
            setup_seconds=round(setup, 1),
            wall_seconds=round(wall, 1),
            work=str(work),
            summary_lines=len(summary.splitlines()),
            sizes=dict(sizes, compile=compile_),
            paper_paths={k: getattr(paper, k) for k in PAPER_PATHS},
            fast_mis=list(fast_mis),
            log_tail=log[-3000:] if report["problems"] else "",
        )
        return report
    finally:
        if tmp is not None:
            tmp.cleanup()


def print_report(r: dict):
    print(
        f"\npaper dry run: {'OK' if not r['problems'] else 'FAILED'} in {r['wall_seconds']:.0f} s "
        f"(fixtures and weights {r['setup_seconds']:.0f} s) in {r['work']}"
    )
    print(
        f"  paper code paths kept: {r['paper_paths']} (MIS estimator 'fast' on {r['fast_mis'] or 'none'}); sizes: {r['sizes']}"
    )
    print(f"  {len(r['archs'])} architectures: {', '.join(r['archs'])}")
    for d, what in r["fixtures"].items():
        print(f"  {d:12s} {what}")
    print(f"  weights: {', '.join(r['weights'].values())}")
    for n in r["notebooks"]:
        print(f"  {n:13s} {r['notebook_wall_seconds'].get(n) or 0:7.0f} s")
    print(
        f"  {r['runs']} trained runs ({len({c[:2] for c in r['run_cells']})} dataset x architecture cells, STD and PICNN)"
    )
    for p in r["problems"]:
        print(f"  PROBLEM: {p}")
    if r["log_tail"]:
        print("  last lines of the log:\n" + r["log_tail"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", help="comma-separated architectures (default: all of the paper preset)")
    ap.add_argument("--keep", help="work in this (new or empty) folder and keep it, instead of a temporary one")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at once (picnn reproduce --jobs)")
    ap.add_argument("--compile", action="store_true", help="keep the preset's torch.compile on (slow on a CPU)")
    ap.add_argument(
        "--sklearn-everywhere",
        action="store_true",
        help=f"the reference MIS estimator on {', '.join(FAST_MIS)} too (minutes a run)",
    )
    ap.add_argument("--quiet", action="store_true", help="do not echo the notebooks' progress")
    args = ap.parse_args(argv)
    report = dry_run(
        args.archs.split(",") if args.archs else None,
        args.keep,
        args.jobs,
        args.compile,
        args.quiet,
        fast_mis=() if args.sklearn_everywhere else FAST_MIS,
    )
    print_report(report)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
