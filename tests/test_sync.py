"picnn/ must be exactly what nbdev exports from nbs/, and every notebook must be clean."

import shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _copy_project(dst: Path):
    for name in ("pyproject.toml", "settings.ini"):
        shutil.copy(ROOT / name, dst / name)
    shutil.copytree(ROOT / "nbs", dst / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "picnn", dst / "picnn", ignore=shutil.ignore_patterns("__pycache__"))


def _tree(d: Path, pattern: str) -> dict:
    return {
        p.relative_to(d).as_posix(): p.read_text()
        for p in sorted(d.rglob(pattern))
        if "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
    }


def test_exported_module_matches_notebooks(tmp_path):
    _copy_project(tmp_path)
    shutil.rmtree(tmp_path / "picnn")
    (tmp_path / "picnn").mkdir()
    shutil.copy(ROOT / "picnn" / "__init__.py", tmp_path / "picnn" / "__init__.py")
    subprocess.run([str(BIN / "nbdev-export")], cwd=tmp_path, check=True, capture_output=True)
    exported, committed = _tree(tmp_path / "picnn", "*.py"), _tree(ROOT / "picnn", "*.py")
    stale = sorted(k for k in set(exported) | set(committed) if exported.get(k) != committed.get(k))
    assert not stale, f"picnn/ is out of sync with nbs/ in {stale}: run `make sync` (nbdev-export) and commit"


def test_notebooks_are_clean(tmp_path):
    _copy_project(tmp_path)
    subprocess.run([str(BIN / "nbdev-clean")], cwd=tmp_path, check=True, capture_output=True)
    cleaned, committed = _tree(tmp_path / "nbs", "*.ipynb"), _tree(ROOT / "nbs", "*.ipynb")
    dirty = sorted(k for k in committed if cleaned.get(k) != committed[k])
    assert not dirty, f"notebooks not clean: {dirty}: run `make sync` (nbdev-clean) and commit"


def test_parameters_tags_survive_cleaning():
    import json
    from nbdev.config import get_config

    assert "tags" in get_config(ROOT).allowed_cell_metadata_keys
    for nb in (ROOT / "nbs").rglob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        for c in cells:
            if "parameters" in c.get("metadata", {}).get("tags", []):
                assert c["cell_type"] == "code", nb
