# picnn: every set-up step a newcomer needs, behind two commands (see README.md).
#   make reproduce   the main job: regenerate the tables and figures into results/ (SCALE=smoke by default)
#   make test        the test suite (notebook tests + pytest)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is installed first and explicitly: on the project's CPU machines these exact releases are on disk.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
SCALE  ?= smoke
# Notebooks of a stage run JOBS at a time, each with THREADS torch threads (results change in their last digits with
# the thread count, which every run's metrics.json records).
JOBS    ?= 2
THREADS ?= 1
PYTEST_ARGS ?=

.PHONY: install test lint format test-slow test-browser reproduce demo lab sync docs clean-venv

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev,cam,timm]"
	$(BIN)/python -m ipykernel install --sys-prefix --name picnn --display-name "Python (picnn)" >/dev/null
	touch $@

install: $(BIN)/.installed

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff over the notebooks, tests, tools and benchmarks (pyproject.toml [tool.ruff]): the linter, and the formatter over
# the scripts; `make test` runs both checks too (tests/test_lint.py). `make format` formats the scripts.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .

test-slow: install
	$(BIN)/python -m pytest --slow $(PYTEST_ARGS)

reproduce: install
	OMP_NUM_THREADS=$(THREADS) $(BIN)/picnn reproduce --scale $(SCALE) --jobs $(JOBS)

demo: install
	$(BIN)/picnn demo

# JupyterLab on the notebooks; the "Python (picnn)" kernel is registered by `install` (root needs --allow-root).
lab: install
	$(BIN)/jupyter lab nbs $(if $(filter 0,$(shell id -u)),--allow-root,)

# Export picnn/ from nbs/ and clean the notebooks (run after editing a notebook).
sync: install
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean && $(BIN)/nbdev-sidebar && $(BIN)/python tools/make_readme.py

# The documentation website, from the notebooks' stored outputs (nothing is executed), into _site/:
# preview with `python -m http.server -d _site`. Sphinx + MyST-NB: see tools/build_docs.py.
docs: install
	$(BIN)/python tools/build_docs.py

clean-venv:
	rm -rf $(VENV)

# The browser tests alone (the notebooks in JupyterLab, the docs site), with their screenshots in tests/artifacts/.
test-browser: install
	$(BIN)/python -m pytest tests/test_browser.py tests/test_docs_site.py -s
