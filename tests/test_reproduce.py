"The reproduction runner: the real paper notebooks end to end at a tiny smoke scale, and its contract on throwaway notebooks."

import difflib, json, re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("papermill")
from nbformat.v4 import new_code_cell, new_notebook

from picnn.config import load_scale
from picnn.record import read_csv
from picnn.reproduce import find_notebooks, notebook_parameters, reproduce
from picnn.report import write_summary

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "nbs" / "paper"
TABLES = ("table1", "table2", "ablations")


def notebook(path: Path, *cells: str, parameters: str | None = "scale = 'smoke'\noutput_dir = None") -> Path:
    "A throwaway notebook: a cell tagged `parameters` (unless None), then `cells`."
    first = [new_code_cell(parameters, metadata={"tags": ["parameters"]})] if parameters is not None else []
    nbformat.write(new_notebook(cells=first + [new_code_cell(c) for c in cells]), str(path))
    return path


WRITE_TABLE = (
    "from pathlib import Path\n"
    "(Path(output_dir) / 'table.csv').write_text('dataset,arch,method,seeds,acc1,mis,status\\n"
    "digits,tiny_cnn,std,1,0.9,0.1,ok\\n')"
)


def status(root: Path, scale: str, name: str) -> str:
    return (root / scale / name / "STATUS").read_text().splitlines()[0]


# --- the paper notebooks ---------------------------------------------------------------------------


def test_paper_notebooks_declare_their_parameters():
    nbs = find_notebooks(PAPER)
    assert set(TABLES) <= set(nbs), sorted(nbs)
    assert list(nbs)[:2] == ["table1", "table2"] and all(not n.startswith("fig") for n in list(nbs)[:3])
    for name in TABLES:
        params = notebook_parameters(nbs[name])
        assert params is not None, name
        assert {
            "scale",
            "output_dir",
            "runs_root",
            "device",
            "settings",
            "data_dir",
            "seeds",
            "epochs",
            "train_subset",
            "test_subset",
            "mis_method",
        } <= set(params), (name, params)
        assert params["scale"] == "smoke" and params["output_dir"] is None and params["epochs"] is None
    for name in TABLES[:2]:
        assert {"datasets", "archs"} <= set(notebook_parameters(nbs[name]))
    assert {"dataset", "arch", "lambdas", "filters", "variants"} <= set(notebook_parameters(nbs["ablations"]))


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    "All paper notebooks at the smoke scale, shrunk to seconds: tiny_cnn, one epoch, digits plus the absent STL-10."
    tmp = tmp_path_factory.mktemp("reproduce")
    data = tmp / "data"
    data.mkdir()  # only digits (built from scikit-learn) can be found here: STL-10 is missing
    params = {
        "datasets": "digits,stl10",
        "archs": "tiny_cnn",
        "epochs": "1",
        "train_subset": 600,
        "test_subset": 200,
        "data_dir": str(data),
        "lambdas": "[0, 2]",
        "filters": "[64]",
        "variants": "default",
    }
    nbs = find_notebooks(PAPER)
    params = {k: v for k, v in params.items() if any(k in (notebook_parameters(p) or {}) for p in nbs.values())}
    # two at a time: the run locks matter
    again = lambda: reproduce("smoke", output=tmp / "results", params=params, device="cpu", jobs=2)
    return again(), tmp / "results", again


def test_smoke_end_to_end(smoke_results):
    ok, root, _ = smoke_results
    for name in find_notebooks(PAPER):
        d = root / "smoke" / name
        assert status(root, "smoke", name) == "complete", (d / "STATUS").read_text()
        metrics = json.loads((d / "metrics.json").read_text())
        assert metrics["status"] == "complete" and "picnn_version" in metrics
        assert not {"git_commit", "hardware", "wall_seconds", "started", "finished"} & (
            set(metrics) | set(metrics.get("runner", {}))
        )
        assert {"commit:", "hardware:", "wall_seconds:", "finished:"} <= {
            l.split()[0] for l in (d / "STATUS").read_text().splitlines()[1:]
        }
        assert (d / f"{name}.ipynb").is_file()  # the executed notebook
    assert ok is True
    for name in TABLES:
        d = root / "smoke" / name
        assert (d / "table.csv").is_file() and list(d.glob("*.png")), name
        m = json.loads((d / "metrics.json").read_text())
        assert m["scale"]["epochs"] == 1 and m["runner"]["kernel"]
    for name in TABLES[:2]:
        assert json.loads((root / "smoke" / name / "metrics.json").read_text())["scale"]["archs"] == ["tiny_cnn"]
    # the notebooks share one model cache: the ablations' default and STD runs are Table 1's
    t1 = json.loads((root / "smoke" / "table1" / "metrics.json").read_text())["runs"]
    ab = json.loads((root / "smoke" / "ablations" / "metrics.json").read_text())["runs"]
    t1_dirs = {r["run_dir"] for r in t1 if r["status"] == "ok"}
    assert t1_dirs and all(Path(p).parent == root / "smoke" / "runs" for p in t1_dirs)
    assert {r["run_dir"] for r in ab if r.get("setting") in ("λ = 2", "STD")} <= t1_dirs


def test_a_second_reproduction_rewrites_no_tracked_file(smoke_results):
    """Reproducing again from the same finished runs writes every output byte for byte as before: nothing in an
    executed notebook, metrics.json, table.csv, a figure or SUMMARY.md depends on when or where it ran. Only `STATUS`
    (ignored by git) changes. (The first reproduction trained its runs, and its notebooks show the training logs; the
    two compared here both read the runs back, as a clone of the committed results does.)"""
    _, root, again = smoke_results
    snapshot = lambda d: {
        p.relative_to(d): p.read_bytes()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name != "STATUS" and "runs" not in p.relative_to(d).parts
    }
    assert again() is True
    before = snapshot(root)
    assert again() is True
    after = snapshot(root)
    changed = sorted(str(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    text = lambda files, k: files.get(Path(k), b"").decode(errors="replace").splitlines()
    # what changed, so that a rare difference can be read from one CI log
    diffs = [
        line
        for k in changed[:3]
        for line in difflib.unified_diff(text(before, k), text(after, k), k, k, n=2, lineterm="")
    ][:60]
    assert not changed, f"a second reproduction rewrote {changed}:\n" + "\n".join(diffs)


def test_missing_dataset_is_a_visible_skipped_row(smoke_results):
    _, root, _ = smoke_results
    rows = read_csv(root / "smoke" / "table1" / "table.csv")
    stl = [r for r in rows if r["dataset"] == "stl10"]
    assert {r["method"] for r in stl} == set(load_scale("smoke").methods) and all(r["status"] == "skipped" for r in stl)
    assert all("not found" in r["note"] and "To get it" in r["note"] for r in stl)
    digits = [r for r in rows if r["dataset"] == "digits"]
    assert {r["status"] for r in digits} == {"ok"} and all(0 <= float(r["acc1"]) <= 1 for r in digits)
    assert {r["dataset"] for r in rows} == {"digits", "stl10", "cifar10", "voc_part"}  # nothing silently replaced
    assert {r["status"] for r in rows if r["dataset"] in ("cifar10", "voc_part")} == {"not run"}


def test_summary_lists_every_table(smoke_results):
    _, root, _ = smoke_results
    summary = (root / "SUMMARY.md").read_text()
    for title in ("Table 1", "Table 2", "Ablations", "## Status", "## Protocol"):
        assert title in summary, title
    assert "**SKIPPED**" in summary and "stl10" in summary and "**FAILED**" not in summary
    assert "smoke/table1/acc_vs_mis.png" in summary and "smoke/ablations/ablations.png" in summary
    assert str(root) not in summary  # links are relative
    assert re.search(r"1 epoch( \([^)]*\))? instead of 200 epochs", summary) and "validation split" in summary


# --- the runner's contract on throwaway notebooks ------------------------------------------------


def test_notebook_without_parameters_is_refused(tmp_path):
    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table_a.ipynb", WRITE_TABLE)
    notebook(nbs / "table_b.ipynb", "x = 1", parameters=None)
    with pytest.raises(ValueError, match="table_b.ipynb.*parameters"):
        reproduce("smoke", notebooks_dir=nbs, output=tmp_path / "results")
    assert not (tmp_path / "results").exists()  # refused before anything ran
    notebook(nbs / "table_b.ipynb", "x = 1", parameters="scale = 'smoke'")  # a parameters cell without output_dir
    with pytest.raises(ValueError, match="output_dir"):
        reproduce("smoke", notebooks_dir=nbs, output=tmp_path / "results")


def test_failing_notebook_is_reported_and_the_others_complete(tmp_path, capsys):
    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table_ok.ipynb", WRITE_TABLE)
    notebook(nbs / "table_bad.ipynb", "y = 2", "raise RuntimeError('broken on purpose')")
    notebook(
        nbs / "fig_late.ipynb",
        "from pathlib import Path",
        "assert (Path(output_dir).parent / 'table_ok' / 'table.csv').is_file(), 'figure ran before the tables'",
    )
    root = tmp_path / "results"
    assert reproduce("smoke", notebooks_dir=nbs, output=root, jobs=2) is False
    assert [status(root, "smoke", n) for n in ("table_ok", "table_bad", "fig_late")] == [
        "complete",
        "failed",
        "complete",
    ]
    bad = json.loads((root / "smoke" / "table_bad" / "metrics.json").read_text())
    assert bad["status"] == "failed" and "RuntimeError" in bad["error"] and "broken on purpose" in bad["error"]
    assert "raise RuntimeError" in bad["failed_cell"]["source"] and bad["failed_cell"]["exec_count"]
    out = capsys.readouterr().out
    assert "table_bad: FAILED" in out and "broken on purpose" in out and "cell [" in out
    summary = (root / "SUMMARY.md").read_text()
    assert "**FAILED**" in summary and "broken on purpose" in summary and "| digits |" in summary


def test_partial_results_are_not_presented_as_complete(tmp_path):
    "A notebook that wrote part of its table, then failed, shows FAILED and 'incomplete' above the rows it wrote."
    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table_half.ipynb", WRITE_TABLE, "raise KeyError('second half')")
    root = tmp_path / "results"
    assert reproduce("smoke", notebooks_dir=nbs, output=root) is False
    summary = (root / "SUMMARY.md").read_text()
    assert "**FAILED**" in summary and "incomplete" in summary and "second half" in summary


def test_summary_keeps_earlier_scales(tmp_path):
    root = tmp_path / "results"
    cpu = root / "cpu" / "table1"
    cpu.mkdir(parents=True)
    (cpu / "table.csv").write_text(
        "dataset,arch,method,seeds,acc1,mis,status,ref_acc1,ref_mis\ncifar10,resnet20,std,1,0.9,0.11,ok,0.9169,0.1119\n"
    )
    (cpu / "metrics.json").write_text(json.dumps({"status": "complete", "scale": {"name": "cpu", "epochs": 30}}))
    (cpu / "STATUS").write_text("complete\n")
    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(nbs / "table1.ipynb", WRITE_TABLE)
    assert reproduce("smoke", notebooks_dir=nbs, output=root) is True
    summary = (root / "SUMMARY.md").read_text()
    assert "### scale `smoke`" in summary and "### scale `cpu`" in summary
    assert summary.index("scale `smoke`") < summary.index("scale `cpu`")  # presets in settings.ini order
    assert "91.69 / 0.1119 (CSG)" in summary and "30 epochs instead of 200" in summary
    write_summary(root)  # rebuilding from disk alone gives the same tables
    assert "### scale `cpu`" in (root / "SUMMARY.md").read_text()


def test_needs_a_checkout(tmp_path):
    "Outside a checkout (a settings.ini without nbs/paper beside it) the error says what is needed."
    (tmp_path / "settings.ini").write_text((ROOT / "settings.ini").read_text())
    with pytest.raises(FileNotFoundError, match="needs a picnn checkout"):
        reproduce("smoke", settings=tmp_path / "settings.ini", output=tmp_path / "results")


def test_only_and_parameters(tmp_path):
    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(
        nbs / "table_a.ipynb",
        "assert epochs == 3 and names == ['x', 'y'], (epochs, names)",
        parameters="scale = 'smoke'\noutput_dir = None\nepochs = None\nnames = None",
    )
    notebook(nbs / "table_b.ipynb", "raise SystemExit('must not run')")
    root = tmp_path / "results"
    assert reproduce(
        "smoke", only=["table_a"], notebooks_dir=nbs, output=root, params={"epochs": "3", "names": "['x', 'y']"}
    )
    assert not (root / "smoke" / "table_b").exists()
    with pytest.raises(KeyError, match="table_c"):
        reproduce("smoke", only="table_c", notebooks_dir=nbs, output=root)
    with pytest.raises(KeyError, match="lambdas"):
        reproduce("smoke", only="table_a", notebooks_dir=nbs, output=root, params={"lambdas": "[1]"})
    with pytest.raises(ValueError, match="scale"):
        reproduce("smoke", only="table_a", notebooks_dir=nbs, output=root, params={"scale": "cpu"})


def test_cli_reproduce(tmp_path):
    cli = pytest.importorskip("picnn.cli")
    import picnn.reproduce as rp

    nbs = tmp_path / "paper"
    nbs.mkdir()
    notebook(
        nbs / "table_a.ipynb", "assert epochs == 2", parameters="scale = 'smoke'\noutput_dir = None\nepochs = None"
    )
    calls = {}
    real = rp.reproduce

    def spy(**kw):
        calls.update(kw)
        return real(**kw, notebooks_dir=nbs)

    rp_reproduce, rp.reproduce = rp.reproduce, spy
    try:
        code = cli.main(
            [
                "reproduce",
                "--scale",
                "smoke",
                "--only",
                "table_a",
                "--output",
                str(tmp_path / "r"),
                "--param",
                "epochs=2",
            ]
        )
    finally:
        rp.reproduce = rp_reproduce
    assert code == 0 and calls["only"] == ["table_a"] and status(tmp_path / "r", "smoke", "table_a") == "complete"


def test_summary_never_says_complete_for_removed_outputs(tmp_path):
    "A notebook folder whose STATUS says complete but whose table.csv was removed reads 'incomplete' in SUMMARY.md."
    import json
    from picnn.report import summary_markdown

    d = tmp_path / "smoke" / "table1"
    d.mkdir(parents=True)
    (d / "STATUS").write_text("complete\n")
    (d / "metrics.json").write_text(json.dumps({"status": "complete", "runs": [], "figures": []}))
    assert "incomplete" in summary_markdown(tmp_path)


def test_a_kernel_that_dies_before_it_is_ready_is_started_once_more(tmp_path, monkeypatch):
    "Two kernels starting at once can race for a port and one dies before it is ready: it ran nothing, so it is retried."
    import papermill as pm
    from picnn.reproduce import KERNEL_DIED_AT_START, execute_notebook

    nb = notebook(tmp_path / "table_ok.ipynb", WRITE_TABLE)
    real, calls = pm.execute_notebook, []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(KERNEL_DIED_AT_START)
        return real(*a, **k)

    monkeypatch.setattr(pm, "execute_notebook", flaky)
    out = tmp_path / "results" / "smoke" / "table_ok"
    res = execute_notebook("table_ok", nb, out, {"output_dir": str(out)}, "python3")
    assert res["status"] == "complete" and len(calls) == 2, res
    calls.clear()
    monkeypatch.setattr(
        pm, "execute_notebook", lambda *a, **k: (_ for _ in ()).throw(RuntimeError(KERNEL_DIED_AT_START))
    )
    # twice: reported
    assert execute_notebook("table_ok", nb, out, {"output_dir": str(out)}, "python3")["status"] == "failed"
