"""The notebooks read in fastcore's rhythm (issue #24): one idea per exported cell, its test right below it.

An *export cell* is a code cell flagged `#| export` (its length counts its lines without the `#|` directives). It is
*followed by its test* when the next code cell is visible (not `#| hide`, which is setup), exports nothing and asserts
something: a `fastcore.test` check (`test_eq`, `test_fail`, `test_close`, ...) or an `assert`."""

import json, re, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))
EXPORT = re.compile(r"^#\|\s*export[is]?\s*$", re.M)
HIDE = re.compile(r"^#\|\s*hide\s*$", re.M)
CHECK = re.compile(r"\btest_\w*\(|\bassert\b|\btest_fail\b")
MAX_MEDIAN_LINES, MIN_FOLLOWED = 12, 0.60


def source(cell) -> str:
    return "".join(cell["source"])


def export_cells(nb: Path) -> list[tuple[int, bool]]:
    "(lines, followed by its test) of every export cell of `nb`."
    code = [source(c) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    out = []
    for i, text in enumerate(code):
        if not EXPORT.search(text):
            continue
        lines = [line for line in text.splitlines() if not line.startswith("#|")]
        after = code[i + 1] if i + 1 < len(code) else ""
        tested = bool(after) and not EXPORT.search(after) and not HIDE.search(after) and bool(CHECK.search(after))
        out.append((len(lines), tested))
    return out


CELLS = [c for nb in NBS for c in export_cells(nb)]


def test_the_measure_sees_cells_and_tests(tmp_path):
    "The parser finds export cells, and tells a visible test from hidden setup and from the next export cell."

    def nb(tmp, *cells):
        p = tmp / "x.ipynb"
        p.write_text(json.dumps({"cells": [{"cell_type": "code", "source": s} for s in cells]}))
        return p

    tmp = tmp_path
    assert export_cells(nb(tmp, "#| export\ndef f(): pass", "test_eq(f(), None)")) == [(1, True)]
    assert export_cells(nb(tmp, "#| export\ndef f(): pass", "#| hide\nassert True")) == [(1, False)]
    assert export_cells(nb(tmp, "#| export\ndef f(): pass", "#| export\ndef g(): pass")) == [(1, False), (1, False)]
    assert export_cells(nb(tmp, "#| export\na = 1\nb = 2", "f()")) == [(2, False)]


def test_export_cells_hold_one_idea():
    median = statistics.median(n for n, _ in CELLS)
    assert median <= MAX_MEDIAN_LINES, f"export cells: median {median} lines (> {MAX_MEDIAN_LINES}): split them by idea"


def test_export_cells_are_followed_by_their_test():
    share = sum(t for _, t in CELLS) / len(CELLS)
    assert share >= MIN_FOLLOWED, f"{share:.0%} of export cells are followed by their test (< {MIN_FOLLOWED:.0%})"
