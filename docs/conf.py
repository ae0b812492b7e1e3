"""Sphinx configuration of the documentation website: built by `make docs` (tools/build_docs.py), which stages the
notebooks into the source folder Sphinx reads. Notebooks are rendered from their stored outputs, never executed."""
import picnn

project = "picnn"
author = "picnn developers"
copyright = "picnn developers"
release = version = picnn.__version__
extensions = [
    "myst_nb",                  # notebooks (and Markdown) as pages
    "sphinx.ext.autodoc",       # the API reference, from docstrings
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",   # MathJax served from the site itself: maths render without a network
]
nb_execution_mode = "off"       # render the outputs stored in the notebooks
nb_render_markdown_format = "myst"   # text/markdown outputs (the claims table) with tables, maths and links
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True   # $$...$$ inside a paragraph is display maths, as in Jupyter and Quarto
myst_heading_anchors = 3
# picnn's docstrings are written for nbdev (Markdown): `name` is code, as there
default_role = "code"
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
exclude_patterns = ["**/.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]   # notebooks start sections at any level, as Jupyter allows
html_theme = "furo"
html_title = f"picnn {release}"
html_favicon = "favicon.svg"
html_show_sourcelink = False
html_copy_source = False
