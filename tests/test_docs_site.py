"""The documentation website (`make docs`) builds from the notebooks and works in a real browser.

The site is built once into a temporary folder (tools/build_docs.py: Sphinx + MyST-NB, stored outputs, nothing
executed), then checked as files (every notebook, paper notebook, committed result notebook and module has its page;
every internal link and image resolves) and in headless Chromium driven by Playwright, as tests/test_browser.py
drives it (the system's Chromium, no browser download): maths typeset by MathJax, figures loaded, search answering,
no console error. A screenshot of the pathway notebook's page is saved to tests/artifacts/ (or $PICNN_ARTIFACTS).
"""

import functools, html, http.server, json, re, sys, threading, time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest

from test_browser import ARTIFACTS, page  # noqa: F401  (the Chromium page fixture: skips with the reason where none)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_docs  # noqa: E402

BUILD_S = 120  # the whole build must stay well within CI's budget


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("myst_nb", reason="the docs builder is not installed (pip install -e '.[dev]')")
    work = tmp_path_factory.mktemp("docs")
    t0 = time.monotonic()
    out = build_docs.build(work / "_site", work=work / "build")
    took = time.monotonic() - t0
    assert took < BUILD_S, f"the site took {took:.0f} s to build (budget {BUILD_S} s)"
    return out


def notebook_title(nb: Path) -> str:
    "The notebook's title: its first markdown heading `# ...`."
    cells = json.loads(nb.read_text())["cells"]
    src = next(
        "".join(c["source"]) for c in cells if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("# ")
    )
    return src.splitlines()[0][2:].strip()


def test_every_page_is_there(site):
    "A page per numbered notebook, paper notebook, committed result notebook and module; the landing page; search."
    index = (site / "index.html").read_text()
    assert "<title>picnn" in index and "Two commands" in index, "the landing page is not nbs/index.ipynb"
    for nb in build_docs.numbered_notebooks() + build_docs.paper_notebooks() + build_docs.result_notebooks():
        rel = Path(build_docs.staged_path(nb.relative_to(ROOT).as_posix())).with_suffix(".html").as_posix()
        assert (site / rel).is_file(), f"no page for {nb.relative_to(ROOT)}"
        title = re.sub(r"[`*]", "", notebook_title(nb))  # the heading's text, its Markdown rendered
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", (site / rel).read_text(), re.S)
        shown = html.unescape(re.sub(r"<[^>]+>", "", h1.group(1))).rstrip("¶#").strip() if h1 else None
        assert shown == title, f"{rel}: its heading is {shown!r}, the notebook's title {title!r}"
        assert f'href="{rel}"' in index, f"{rel} is not in the site's navigation"
    assert 'class="toctree-l1"' in index
    for m in build_docs.modules():
        api = (site / "api" / f"{m}.html").read_text()
        assert api.count('class="sig ') >= 1, f"api/{m}.html documents nothing"
    assert 'id="picnn.train.fit"' in (site / "api" / "train.html").read_text()
    assert 'id="picnn.runs.TrainConfig"' in (site / "api" / "runs.html").read_text()
    import picnn

    api_index = (site / "api" / "index.html").read_text()
    for name in picnn.__all__:  # what `import picnn` offers, each linked to its documentation
        assert re.search(rf'href="[^"]*#picnn\.\w+\.{name}"', api_index), f"api/index.html does not link picnn.{name}"
    assert (site / "search.html").is_file() and "picnn" in (site / "searchindex.js").read_text()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.links.append(v)


def internal_targets(html_file: Path) -> list[str]:
    p = _Links()
    p.feed(html_file.read_text(errors="replace"))
    return [l for l in p.links if not re.match(r"^([a-z][a-z0-9+.-]*:|#|//)", l, re.I)]


def test_an_old_module_name_has_no_api_page():
    "picnn.data only resolves the names that moved to picnn.loader (with a warning): nothing of its own to document."
    assert "data" not in build_docs.modules() and {"loader", "datasets", "sources"} <= set(build_docs.modules())


def test_no_broken_internal_link(site):
    "Every href and src of every page that stays on the site names a file of the site."
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40
    broken = []
    for html_file in pages:
        for link in internal_targets(html_file):
            path = unquote(urlsplit(link).path)
            if not path:
                continue
            target = (html_file.parent / path).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or site.resolve() not in target.parents:
                broken.append(f"{html_file.relative_to(site)} -> {link}")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:40])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def served(site):
    "The site on a loopback port, as `python -m http.server -d _site` serves it."
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# (page, does it hold maths, how many figures at least)
PAGES = [
    ("index.html", True, 1),
    ("01_pathway.html", True, 1),
    ("08_viz.html", False, 3),
    ("paper/table1.html", False, 1),
    ("results/cpu/table1/table1.html", False, 1),
    ("api/train.html", False, 0),
]
MATHJAX_S = 30
# the page's visible prose: the article's text outside code, outputs and typeset maths
PROSE_JS = """() => { const a = document.querySelector('article').cloneNode(true);
  a.querySelectorAll('pre, code, mjx-container, script, .cell_output').forEach(e => e.remove()); return a.textContent }"""


def test_pages_render_in_chromium(page, served):  # page first: nothing is served when Chromium is missing
    errors = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"console {m.type}: {m.text} {m.location.get('url', '')}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "docs_01_pathway.png"
    try:
        for name, has_maths, min_figures in PAGES:
            if name.startswith("results/") and not (ROOT / "results" / "cpu" / "table1" / "table1.ipynb").is_file():
                continue
            page.goto(f"{served}/{name}", wait_until="load")
            if has_maths:
                page.wait_for_function(
                    "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=MATHJAX_S * 1000
                )
                page.evaluate("() => MathJax.startup.promise")
                typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
                raw = page.evaluate(
                    "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length"
                )
                assert typeset > 0 and raw == 0, f"{name}: {typeset} formulas typeset, {raw} left as TeX"
                # and no TeX left in the prose (maths the Markdown parser did not recognise): "$...\\command"
                prose = page.evaluate(PROSE_JS)
                tex = re.findall(r"\$[^$\n]{0,80}\\[a-zA-Z]+", prose)
                assert not tex, f"{name}: TeX shown as text: {tex[:5]}"
            images = page.evaluate("""() => [...document.querySelectorAll('article img')].map(i =>
                ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}))""")
            assert len(images) >= min_figures, f"{name}: {len(images)} figures, expected at least {min_figures}"
            assert all(i["ok"] for i in images), (
                f"{name}: figures not loaded: {[i['src'] for i in images if not i['ok']]}"
            )
            if name == "01_pathway.html":  # the screenshot: the derivation's maths, typeset
                page.locator("mjx-container").nth(3).scroll_into_view_if_needed()
                page.screenshot(path=str(shot))
        # the search page answers from the site's own index
        page.goto(f"{served}/search.html?q=correspondence", wait_until="load")
        page.wait_for_function(
            "() => document.querySelectorAll('#search-results li').length > 0", timeout=MATHJAX_S * 1000
        )
        assert errors == [], "the browser reported errors:\n" + "\n".join(errors)
    finally:
        if not shot.exists():
            page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
