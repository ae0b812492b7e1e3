"""Write README.md from nbs/index.ipynb (nbdev's own `nbdev-readme` needs Quarto, which is not always installable).

    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 when README.md differs from what index.ipynb gives

Markdown cells are copied; code cells become ```python blocks, except cells marked `#| hide`; a cell's
text/markdown output is copied as it is and its plain-text output is shown in a fenced block, except
cells marked `#| echo: false` whose source is left out."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n"

def _directives(src: str) -> dict:
    return {m.group(1).strip(): m.group(2).strip() for m in re.finditer(r"^#\|\s*([\w-]+)\s*:?\s*(.*)$", src, re.M)}

def _strip_directives(src: str) -> str:
    return "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip()

def _outputs(cell) -> list[str]:
    parts = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "text/markdown" in data: parts.append(_rebase_links("".join(data["text/markdown"]).strip()))
        elif out.get("output_type") == "stream" and out.get("name") == "stdout": parts.append("```\n" + "".join(out["text"]).rstrip() + "\n```")
        elif "text/plain" in data and "image/png" not in data: parts.append("```\n" + "".join(data["text/plain"]).rstrip() + "\n```")
    return parts

def _rebase_links(md: str) -> str:
    "Links in the notebook are relative to nbs/; in README.md they are relative to the repository root."
    import posixpath
    def fix(m):
        target = m.group(2)
        if re.match(r"^(https?:|mailto:|#|/)", target): return m.group(0)
        return f"{m.group(1)}({posixpath.normpath('nbs/' + target)})"
    return re.sub(r"(\]\s*)\(([^)\s]+)\)", fix, md)

def render(nb_path: Path = ROOT / "nbs" / "index.ipynb") -> str:
    nb = json.loads(nb_path.read_text())
    blocks = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            blocks.append(_rebase_links(src.strip())); continue
        if cell["cell_type"] != "code": continue
        d = _directives(src)
        if "hide" in d or "default_exp" in d: continue
        code = _strip_directives(src)
        if code and d.get("echo") != "false": blocks.append("```python\n" + code + "\n```")
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
        readme.write_text(text); print(f"wrote {readme}")
