"README.md is generated from nbs/index.ipynb (tools/make_readme.py) and keeps the two set-up commands."

import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_generated_from_index():
    res = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_readme.py"), "--check"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr + res.stdout


def test_readme_has_exactly_two_setup_commands_and_ci_calls_the_test_one():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", text, re.S).group(1)
    commands = [l.split("#")[0].strip() for l in block.splitlines() if l.strip() and not l.strip().startswith("#")]
    assert commands == ["make reproduce", "make test"], commands
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _make_readme():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_readme
    finally:
        sys.path.pop(0)
    return make_readme


def _links(text):
    return re.findall(r"\]\s*\(([^)\s]+)\)", text) + re.findall(r"""\b(?:src|href)=["']([^"']+)["']""", text)


def test_readme_links_are_absolute_and_resolve():
    """On a package index the README has no repository beside it: every link is an absolute URL or an anchor,
    images point at raw files, and every link into the repository names a file or folder that exists here."""
    repo, branch = _make_readme().project_urls()
    raw = "https://raw.githubusercontent.com/" + repo.removeprefix("https://github.com/") + f"/{branch}/"
    links = _links((ROOT / "README.md").read_text())
    assert any(l.startswith(raw) for l in links), "the README shows no image from the repository"
    for target in links:
        assert re.match(r"^(https?:|mailto:|#)", target), f"README has a relative link {target}: it breaks on PyPI"
        path = target.split("#")[0].split("?")[0]
        for prefix in (raw, f"{repo}/blob/{branch}/", f"{repo}/tree/{branch}/"):
            if path.startswith(prefix):
                assert (ROOT / path[len(prefix) :]).exists(), (
                    f"README links to {target}, which is not in the repository"
                )
                if re.search(r"\.(png|jpe?g|gif|svg|webp)$", path, re.I):
                    assert prefix == raw, f"image {target} not raw"


def test_repository_url_is_consistent():
    """pyproject.toml names the repository that nbdev.yml belongs to, and advertises no Documentation URL while nothing
    publishes the site (`make docs` builds it locally into _site/; nbdev would also write that URL into every module's
    docstring as a `Docs:` link)."""
    import tomllib

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert re.match(r"^https://github\.com/([^/]+)/([^/]+)$", urls["Repository"])
    assert f'repo-url: "{urls["Repository"]}"' in (ROOT / "nbs" / "nbdev.yml").read_text()
    publishes = [p for p in (ROOT / ".github" / "workflows").glob("*.y*ml") if "pages" in p.read_text()]
    if not publishes:
        assert "Documentation" not in urls, (
            f"pyproject.toml advertises {urls['Documentation']}, where no site is published"
        )
        stale = [p.name for p in (ROOT / "picnn").glob("*.py") if "\nDocs: http" in p.read_text()]
        assert not stale, f"module docstrings link to an unpublished site: {stale} (make sync)"


def test_relative_links_become_absolute():
    mr = _make_readme()
    repo, branch = mr.project_urls()
    raw = "https://raw.githubusercontent.com/" + repo.removeprefix("https://github.com/") + f"/{branch}"
    md = (
        "![fig](images/pathway.png) [nb](02b_timm.ipynb#the-backbone) [dir](paper) [up](../results/SUMMARY.md) "
        '[web](https://example.org/a.png) [top](#two-commands) <img src="images/pathway.png" width="50%">'
    )
    assert mr._rebase_links(md) == (
        f"![fig]({raw}/nbs/images/pathway.png) [nb]({repo}/blob/{branch}/nbs/02b_timm.ipynb#the-backbone) "
        f"[dir]({repo}/tree/{branch}/nbs/paper) [up]({repo}/blob/{branch}/results/SUMMARY.md) "
        f'[web](https://example.org/a.png) [top](#two-commands) <img src="{raw}/nbs/images/pathway.png" width="50%">'
    )
