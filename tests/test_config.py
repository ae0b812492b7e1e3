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
