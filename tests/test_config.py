"settings.ini: a malformed value names its key, section and file; a yes/no that is neither is an error; a key given twice too."

from pathlib import Path
import pytest
from picnn.config import find_settings, load_scale, ConfigError, PicnnError


def settings_with(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.ini"
    p.write_text(find_settings().read_text() + "\n" + text)
    return p


@pytest.mark.parametrize(
    "text, words",
    [
        ("[odd]\npretrained = maybe\n", ["pretrained", "'maybe'", "[odd]", "true or false"]),
        ("[odd]\nepochs = ten\n", ["epochs", "'ten'", "[odd]", "whole number"]),
        ("[odd]\nval_size = a tenth\n", ["val_size", "[odd]", "number"]),
        ("[odd]\nepochs = 3\nepochs = 4\n", ["'epochs'", "twice", "[odd]", "line"]),
        ("[odd]\nepochs = 3\n[odd]\n", ["[odd]", "twice"]),
        ("[odd]\nthis is not a setting\n", ["line", "key = value"]),
    ],
)
def test_malformed_settings_name_key_section_and_file(tmp_path, text, words):
    path = settings_with(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_scale("odd", settings=path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg and isinstance(e.value, PicnnError), msg
    for w in words:
        assert w in msg, (w, msg)


def test_a_malformed_override_names_its_key():
    with pytest.raises(ConfigError, match="override: epochs = 'many'"):
        load_scale("smoke", epochs="many")


@pytest.mark.parametrize("key", ["datasets", "archs", "seeds"])
def test_an_empty_list_in_a_preset_is_named(tmp_path, key):
    "`datasets =` used to load as () and fail later: an IndexError in --plan, an empty AssertionError in reproduce."
    path = settings_with(tmp_path, f"[odd]\n{key} =\n")
    with pytest.raises(ConfigError) as e:
        load_scale("odd", settings=path)
    msg = str(e.value)
    assert f"{key} = '' is not valid: is empty" in msg and "[odd]" in msg and "\n" not in msg, msg


def test_an_empty_datasets_list_is_one_line_in_plan_and_reproduce(tmp_path, root):
    import os, subprocess, sys

    (tmp_path / "nbs").mkdir()
    (tmp_path / "nbs" / "paper").symlink_to(root / "nbs" / "paper")
    text = find_settings().read_text().replace("datasets = digits, cifar10, stl10, voc_part", "datasets =", 1)
    assert "datasets =\n" in text
    (tmp_path / "settings.ini").write_text(text)
    picnn = Path(sys.executable).parent / "picnn"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for extra in (["--plan"], []):
        res = subprocess.run(
            [
                str(picnn),
                "reproduce",
                "--scale",
                "smoke",
                "--settings",
                str(tmp_path / "settings.ini"),
                "--output",
                str(tmp_path / "results"),
                *extra,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
        assert "datasets = '' is not valid: is empty" in lines[0], lines[0]
    assert not (tmp_path / "results").exists()


def test_a_preset_val_size_count_stays_a_count(tmp_path):
    """`val_size = 500` in a preset is a count of images, an int, as TrainConfig reads it (a float is a fraction): the
    digits' 1,437 training images keep 937, 29 steps an epoch at batch 32, so 6,000 steps are 207 epochs. Read as the
    float 500.0 it was taken for a fraction, and the run trained 6,000 epochs."""
    from picnn.experiment import epochs_for, train_config

    path = settings_with(tmp_path, "[counted]\ndatasets = digits\nsteps = 6000\nbatch_size = 32\nval_size = 500\n")
    sc = load_scale("counted", settings=path)
    assert sc.val_size == 500 and type(sc.val_size) is int
    assert epochs_for(sc, "digits") == 207
    cfg = train_config(sc, "digits", "tiny_cnn", "picnn", 0, device="cpu")
    assert (cfg.val_size, type(cfg.val_size), cfg.epochs) == (500, int, 207)
    assert type(load_scale("smoke").val_size) is float and load_scale("smoke").val_size == 0.1  # a fraction stays one
    assert type(load_scale("counted", settings=path, val_size="0.2").val_size) is float
