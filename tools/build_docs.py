"""Build the documentation website into _site/ from the notebooks (`make docs`); preview: python -m http.server -d _site

    python tools/build_docs.py            # stage the sources into _build/docs/src, sphinx-build them, the site into _site/
    python tools/build_docs.py --out DIR  # the site into DIR instead

The builder is Sphinx with MyST-NB (and the Furo theme): both maintained, installable from PyPI (the `dev` extra), and
MyST-NB renders a notebook's stored outputs without executing it (`nb_execution_mode = "off"` in docs/conf.py), so the
site builds in seconds. nbdev's own site builder needs Quarto, whose installer downloads a binary (not possible on
every machine); docs/conf.py keeps MathJax local (sphinx-mathjax-offline) so the pages work without a network too.

The site: nbs/index.ipynb is the landing page; every numbered notebook nbs/NN_*.ipynb a page; the paper notebooks
(nbs/paper/) and their committed runs (results/<scale>/<name>/<name>.ipynb) pages; an API reference generated from the
docstrings of picnn's modules (Sphinx autodoc); Sphinx's search. This script only gathers those sources into one
Sphinx source tree, applying nbdev's cell directives as MyST-NB tags (`#| hide` hides a cell, `#| echo: false` its
code, `#| output: false` its outputs; directive lines themselves are not shown) and pointing links that leave the
site (to repository files) at the repository, as the README does.
"""

import argparse, ast, json, os, posixpath, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, RESULTS = ROOT / "nbs", ROOT / "results"
STAGE = ROOT / "_build" / "docs"
SITE = ROOT / "_site"
sys.path.insert(0, str(ROOT / "tools"))
from make_readme import ABSOLUTE, IMAGE, absolute_url, _directives  # noqa: E402  (one rule for links, README and site)


def numbered_notebooks() -> list[Path]:
    return sorted(NBS.glob("[0-9]*.ipynb"))


def paper_notebooks() -> list[Path]:
    return sorted((NBS / "paper").glob("*.ipynb"))


def result_notebooks() -> list[Path]:
    "The paper notebooks' committed runs: results/<scale>/<name>/<name>.ipynb."
    return sorted(p for p in RESULTS.glob("*/*/*.ipynb") if p.parent.name == p.stem)


def staged_path(repo_path: str) -> str | None:
    "Where repository file `repo_path` (relative to the root) lies in the staged tree: nbs/X -> X, results/X -> results/X."
    if repo_path.startswith("nbs/"):
        return repo_path[len("nbs/") :]
    if repo_path.startswith("results/"):
        return repo_path
    return None


def exports_nothing(path: Path) -> bool:
    "A module whose `__all__` is empty: the old name of a module, which only resolves its names with a warning."
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        and isinstance(node.value, ast.List)
        and not node.value.elts
        for node in ast.parse(path.read_text()).body
    )


def modules() -> list[str]:
    "picnn's public modules (one API page each), from the package folder; an old name exporting nothing has none."
    return sorted(
        p.stem for p in (ROOT / "picnn").glob("*.py") if not p.name.startswith("_") and not exports_nothing(p)
    )


def top_level_names() -> list[tuple[str, str]]:
    "(name, defining module) of each name `import picnn` offers (its __all__), read from picnn/__init__.py's imports."
    tree = ast.parse((ROOT / "picnn" / "__init__.py").read_text())
    where = {
        a.asname or a.name: f"picnn.{node.module}"
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module
        for a in node.names
    }
    names = next(
        (
            ast.literal_eval(n.value)
            for n in tree.body
            if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets)
        ),
        [],
    )
    return [(n, where[n]) for n in names if n in where]


class Stager:
    def __init__(self, src: Path):
        self.src, self.docs = src, set()  # docs: staged paths (relative, posix) of every notebook page
        self.written = set()  # every file this build staged

    def write(self, rel: str, text: str):
        "Write a staged file only when its content changes, so Sphinx rebuilds only the pages that changed."
        dest = self.src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.read_text() != text:
            dest.write_text(text)
        self.written.add(dest)

    def copy(self, source: Path, rel: str):
        dest = self.src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if (
            not dest.exists()
            or dest.stat().st_mtime != source.stat().st_mtime
            or dest.stat().st_size != source.stat().st_size
        ):
            shutil.copy2(source, dest)
        self.written.add(dest)

    def link(self, target: str, repo_doc: str) -> str:
        "Rewrite a relative link of the page from repository file `repo_doc`: kept within the site, else to the repository."
        if ABSOLUTE.match(target):
            return target
        path, rest = re.match(r"^([^#?]*)(.*)$", target).groups()
        if not path:
            return target
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(repo_doc), path))
        staged, here = staged_path(repo_path), posixpath.dirname(staged_path(repo_doc))
        if staged in self.docs:
            return posixpath.relpath(staged, here or ".") + rest
        if staged and IMAGE.search(path) and (ROOT / repo_path).is_file():
            self.copy(ROOT / repo_path, staged)
            return posixpath.relpath(staged, here or ".") + rest
        return absolute_url(repo_path)

    def rebase(self, text: str, repo_doc: str) -> str:
        text = re.sub(r"(\]\s*)\(([^)\s]+)\)", lambda m: f"{m.group(1)}({self.link(m.group(2), repo_doc)})", text)
        return re.sub(
            r"""\b(src|href)=(["'])([^"']+)\2""",
            lambda m: f"{m.group(1)}={m.group(2)}{self.link(m.group(3), repo_doc)}{m.group(2)}",
            text,
        )

    def notebook(self, source: Path, extra_cells: list[dict] = ()):
        "Stage notebook `source` with nbdev's directives turned into MyST-NB tags and its links rebased."
        repo_doc = source.relative_to(ROOT).as_posix()
        nb = json.loads(source.read_text())
        cells = []
        for cell in nb["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                cell = {**cell, "source": self.rebase(src, repo_doc)}
            elif cell["cell_type"] == "code":
                d = _directives(src)
                code = "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip("\n")
                tags = list(cell.get("metadata", {}).get("tags", []))
                if "hide" in d:
                    tags.append("remove-cell")
                if d.get("echo") == "false":
                    tags.append("remove-input")
                if d.get("output") == "false":
                    tags.append("remove-output")
                if not code.strip() and not cell.get("outputs"):
                    continue  # e.g. a `#| default_exp` cell
                outputs = []
                for out in cell.get("outputs", []):
                    data = out.get("data")
                    if data:
                        data = {
                            k: (self.rebase("".join(v), repo_doc) if k in ("text/markdown", "text/html") else v)
                            for k, v in data.items()
                        }
                        out = {**out, "data": data}
                    outputs.append(out)
                cell = {
                    **cell,
                    "source": code,
                    "outputs": outputs,
                    "metadata": {**cell.get("metadata", {}), "tags": tags},
                }
            cells.append(cell)
        for i, cell in enumerate(cells):
            cell.setdefault("id", f"cell-{i}")
        # nbdev-clean drops the kernel's metadata; the code is Python all the same (and highlighted as such)
        meta = {
            **nb.get("metadata", {}),
            "language_info": nb.get("metadata", {}).get("language_info") or {"name": "python"},
        }
        nb = {
            **nb,
            "metadata": meta,
            "nbformat": 4,
            "nbformat_minor": max(5, nb.get("nbformat_minor", 5)),
            "cells": cells + list(extra_cells),
        }
        self.write(staged_path(repo_doc), json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def notebook_title(nb: Path) -> str:
    "A notebook's title: its first markdown heading `# ...` (else its name)."
    for cell in json.loads(nb.read_text())["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and src.startswith("# "):
            return src.splitlines()[0][2:].strip()
    return nb.stem


def toctree(caption: str, entries: list[str]) -> str:
    return "\n".join(["```{toctree}", f":caption: {caption}", ":maxdepth: 1", ":hidden:", "", *entries, "```"])


def md_cell(text: str) -> dict:
    return {"cell_type": "markdown", "id": "site-navigation", "metadata": {}, "source": text}


def stage(src: Path) -> Path:
    "Gather every page of the site into the Sphinx source tree `src`; files no longer part of it are removed."
    st = Stager(src)
    numbered, paper, results = numbered_notebooks(), paper_notebooks(), result_notebooks()
    st.docs = {staged_path(p.relative_to(ROOT).as_posix()) for p in [NBS / "index.ipynb", *numbered, *paper, *results]}
    for p in [*numbered, *paper, *results]:
        st.notebook(p)
    # the API reference: a page per module, generated from its docstrings by autodoc
    mods = modules()
    for m in mods:
        st.write(f"api/{m}.md", f"# picnn.{m}\n\n```{{eval-rst}}\n.. automodule:: picnn.{m}\n   :members:\n```\n")
    top = "\n".join(f"- {{py:obj}}`{name} <{module}.{name}>` ({module})" for name, module in top_level_names())
    st.write(
        "api/index.md",
        "# API reference\n\nGenerated from the docstrings of picnn's modules; each notebook of the "
        "same name derives the code in prose.\n\n## `import picnn`\n\nThe names the package itself offers:\n\n"
        + top
        + "\n\n## Modules\n\n"
        + "\n".join(["```{toctree}", ":maxdepth: 1", "", *mods, "```"])
        + "\n",
    )

    # the landing page: nbs/index.ipynb, with the site's navigation (hidden tables of contents) appended
    def titled(p: Path, scale: str) -> str:
        return f"{notebook_title(p)} ({scale}) <results/{scale}/{p.stem}/{p.stem}>"

    scales = sorted({p.parent.parent.name for p in results})
    nav = [
        toctree("Notebooks", [p.stem for p in numbered]),
        toctree("Paper notebooks", [f"paper/{p.stem}" for p in paper]),
        *[toctree(f"Results: {s} scale", [titled(p, s) for p in results if p.parent.parent.name == s]) for s in scales],
        toctree("Reference", ["api/index"]),
    ]
    st.notebook(NBS / "index.ipynb", extra_cells=[md_cell("\n\n".join(nav))])
    if (NBS / "images").is_dir():
        for f in (NBS / "images").rglob("*"):
            if f.is_file():
                st.copy(f, f"images/{f.relative_to(NBS / 'images').as_posix()}")
    for f in src.rglob("*"):  # what an earlier build staged and this one did not: gone from the site too
        if f.is_file() and f not in st.written:
            f.unlink()
    return src


def build(out: Path = SITE, quiet: bool = True, work: Path = STAGE) -> Path:
    """Stage the sources, build the HTML with Sphinx (incrementally, in `work`/html: MyST-NB keeps its extracted
    outputs beside Sphinx's output folder), and copy the finished site to `out`."""
    src, html = stage(work / "src"), work / "html"
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-c",
        str(ROOT / "docs"),
        "-d",
        str(work / "doctrees"),
        *(["-q"] if quiet else []),
        str(src),
        str(html),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    r = subprocess.run(cmd, cwd=ROOT, env=env)
    if r.returncode:
        sys.exit(f"sphinx-build failed (exit {r.returncode}): {' '.join(cmd)}")
    out = Path(out).absolute()
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(html, out, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SITE, help="the site's folder (default: _site/)")
    ap.add_argument("--verbose", action="store_true", help="sphinx-build's full output")
    out = build(ap.parse_args().out, quiet=not ap.parse_args().verbose)
    print(f"site built in {out}: preview with  python -m http.server -d {os.path.relpath(out)}")
