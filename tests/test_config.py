"settings.ini: a malformed value names its key, section and file; a yes/no that is neither is an error; a key given twice too."
from pathlib import Path
import pytest
from picnn.config import find_settings, load_scale, ConfigError, PicnnError

def settings_with(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.ini"; p.write_text(find_settings().read_text() + "\n" + text); return p

@pytest.mark.parametrize("text, words", [
    ("[odd]\npretrained = maybe\n", ["pretrained", "'maybe'", "[odd]", "true or false"]),
    ("[odd]\nepochs = ten\n", ["epochs", "'ten'", "[odd]", "whole number"]),
    ("[odd]\nval_size = a tenth\n", ["val_size", "[odd]", "number"]),
    ("[odd]\nepochs = 3\nepochs = 4\n", ["'epochs'", "twice", "[odd]", "line"]),
    ("[odd]\nepochs = 3\n[odd]\n", ["[odd]", "twice"]),
    ("[odd]\nthis is not a setting\n", ["line", "key = value"]),
])
def test_malformed_settings_name_key_section_and_file(tmp_path, text, words):
    path = settings_with(tmp_path, text)
    with pytest.raises(ConfigError) as e: load_scale("odd", settings=path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg and isinstance(e.value, PicnnError), msg
    for w in words: assert w in msg, (w, msg)

def test_a_malformed_override_names_its_key():
    with pytest.raises(ConfigError, match="override: epochs = 'many'"): load_scale("smoke", epochs="many")

@pytest.mark.parametrize("key", ["datasets", "archs", "seeds"])
def test_an_empty_list_in_a_preset_is_named(tmp_path, key):
    "`datasets =` used to load as () and fail later: an IndexError in --plan, an empty AssertionError in reproduce."
    path = settings_with(tmp_path, f"[odd]\n{key} =\n")
    with pytest.raises(ConfigError) as e: load_scale("odd", settings=path)
    msg = str(e.value)
    assert f"{key} = '' is not valid: is empty" in msg and "[odd]" in msg and "\n" not in msg, msg

def test_an_empty_datasets_list_is_one_line_in_plan_and_reproduce(tmp_path, root):
    import os, subprocess, sys
    (tmp_path / "nbs").mkdir(); (tmp_path / "nbs" / "paper").symlink_to(root / "nbs" / "paper")
    text = find_settings().read_text().replace("datasets = digits, cifar10, stl10, voc_part", "datasets =", 1)
    assert "datasets =\n" in text
    (tmp_path / "settings.ini").write_text(text)
    picnn = Path(sys.executable).parent / "picnn"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for extra in (["--plan"], []):
        res = subprocess.run([str(picnn), "reproduce", "--scale", "smoke", "--settings", str(tmp_path / "settings.ini"),
                              "--output", str(tmp_path / "results"), *extra], capture_output=True, text=True, env=env, timeout=300)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
        assert "datasets = '' is not valid: is empty" in lines[0], lines[0]
    assert not (tmp_path / "results").exists()
