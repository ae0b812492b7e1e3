"""Write README.md from nbs/index.ipynb (nbdev's own `nbdev-readme` needs Quarto, which is not always installable).

    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 when README.md differs from what index.ipynb gives

Markdown cells are copied; code cells become ```python blocks, except cells marked `#| hide`; a cell's
text/markdown output is copied as it is and its plain-text output is shown in a fenced block, except
cells marked `#| echo: false` whose source is left out.

Relative links (relative to nbs/ in the notebook) become absolute URLs into the repository named by
pyproject.toml's [project.urls] Repository, on the branch of [tool.nbdev] `branch` (default main):
images to their raw files, documents to their page on the repository, so the README works on the
package index's page (which has no repository files beside it) as well as on the repository."""

import json, posixpath, re, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n"


def _directives(src: str) -> dict:
    return {m.group(1).strip(): m.group(2).strip() for m in re.finditer(r"^#\|\s*([\w-]+)\s*:?\s*(.*)$", src, re.M)}


def _strip_directives(src: str) -> str:
    return "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip()


def _outputs(cell) -> list[str]:
    "A cell's outputs as README blocks; consecutive printed (stdout) outputs are one block, as a terminal shows them."
    parts, printed = [], []

    def flush():
        if printed:
            parts.append("```\n" + "".join(printed).rstrip() + "\n```")
            printed.clear()

    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if out.get("output_type") == "stream":
            if out.get("name") == "stdout":
                printed.append("".join(out["text"]))
            continue
        flush()
        if "text/markdown" in data:
            parts.append(_rebase_links("".join(data["text/markdown"]).strip()))
        elif "text/plain" in data and "image/png" not in data:
            parts.append("```\n" + "".join(data["text/plain"]).rstrip() + "\n```")
    flush()
    return parts


IMAGE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.I)
ABSOLUTE = re.compile(r"^([a-z][a-z0-9+.-]*:|#|/)", re.I)  # a URL with a scheme, an anchor, or a site-absolute path


def project_urls(root: Path = ROOT) -> tuple[str, str]:
    "The repository URL (pyproject.toml's [project.urls] Repository) and its branch ([tool.nbdev] branch, else main)."
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    urls = {k.lower(): v for k, v in meta["project"].get("urls", {}).items()}
    repo = urls.get("repository") or urls.get("source") or urls.get("homepage")
    if not repo:
        sys.exit("pyproject.toml has no [project.urls] Repository: README links cannot be made absolute")
    return repo.rstrip("/"), meta.get("tool", {}).get("nbdev", {}).get("branch", "main")


def absolute_url(path: str, root: Path = ROOT) -> str:
    """The URL of repository file `path` (relative to the root, maybe with a #fragment or ?query): an image's raw
    file, a folder's tree page, any other file's blob page."""
    repo, branch = project_urls(root)
    path, rest = re.match(r"^([^#?]*)(.*)$", path).groups()
    if IMAGE.search(path):
        m = re.match(r"^https://github\.com/([^/]+/[^/]+)$", repo)
        base = f"https://raw.githubusercontent.com/{m.group(1)}/{branch}" if m else f"{repo}/raw/{branch}"
    else:
        base = f"{repo}/{'tree' if (root / path).is_dir() else 'blob'}/{branch}"
    return f"{base}/{path}{rest}"


def _rebase_links(md: str) -> str:
    "Links in the notebook are relative to nbs/; in README.md they are absolute URLs into the repository."

    def target(t: str) -> str:
        return t if ABSOLUTE.match(t) else absolute_url(posixpath.normpath("nbs/" + t))

    md = re.sub(r"(\]\s*)\(([^)\s]+)\)", lambda m: f"{m.group(1)}({target(m.group(2))})", md)  # markdown [..](..)
    return re.sub(
        r"""\b(src|href)=(["'])([^"']+)\2""", lambda m: f"{m.group(1)}={m.group(2)}{target(m.group(3))}{m.group(2)}", md
    )


def render(nb_path: Path = ROOT / "nbs" / "index.ipynb") -> str:
    nb = json.loads(nb_path.read_text())
    blocks = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            blocks.append(_rebase_links(src.strip()))
            continue
        if cell["cell_type"] != "code":
            continue
        d = _directives(src)
        if "hide" in d or "default_exp" in d:
            continue
        code = _strip_directives(src)
        if code and d.get("echo") != "false":
            blocks.append("```python\n" + code + "\n```")
        blocks.extend(_outputs(cell))
    return HEADER + "\n\n".join(b for b in blocks if b) + "\n"


if __name__ == "__main__":
    text = render()
    readme = ROOT / "README.md"
    if "--check" in sys.argv:
        if readme.read_text() != text:
            sys.exit("README.md differs from nbs/index.ipynb: run `python tools/make_readme.py` (or `make sync`)")
        print("README.md is up to date")
    else:
        readme.write_text(text)
        print(f"wrote {readme}")
