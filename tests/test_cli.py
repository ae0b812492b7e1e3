"""`picnn train` and `picnn evaluate` as a user meets them: options that mean what they say, settings checked before any
work, run directories that keep their run, one-line errors (exit 2, no traceback), progress in a pipe."""
import errno, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import pytest
import torch

from picnn.cli import main, build_parser, train_config
from picnn.train import TrainConfig, fit

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
SMALL = ["--epochs", "2", "--train-subset", "400", "--eval-draws", "3", "--device", "cpu"]   # the quick recipe, shorter
SMALL_CFG = TrainConfig(arch="tiny_cnn", dataset="digits", epochs=2, batch_size=64, augment=None, mis_method="fast",
                        train_subset=400, eval_draws=3, device="cpu")

def picnn_cli(*args, **kw):
    return subprocess.run([str(BIN / "picnn"), *args], capture_output=True, text=True, env=ENV, timeout=600, **kw)

def cli(capsys, *args):
    "`picnn ARGS` in this process: (exit status, stdout, stderr)."
    try: code = main([str(a) for a in args])
    except SystemExit as e: code = e.code          # argparse's exit on a bad option
    out, err = capsys.readouterr()
    return code, out, err

def one_line_error(err: str, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words: assert w in lines[0], (w, lines[0])
    return lines[0]

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    "A finished small run (2 epochs of the quick recipe on 400 digits)."
    run = tmp_path_factory.mktemp("finished") / "run"
    fit(SMALL_CFG, run_dir=run, progress=False)
    return run

@pytest.fixture
def copy_of(finished, tmp_path):
    def copy(): return Path(shutil.copytree(finished, tmp_path / "run"))
    return copy

# --- issue #13, bug 1: `--augment none` was dropped as "not given"; digits runs could not be resumed from the CLI
def test_augment_none_is_used_and_such_a_run_resumes_from_the_cli(tmp_path, capsys, monkeypatch):
    a = build_parser().parse_args(["train", "--recipe", "paper", "--augment", "none"])
    assert train_config(a).augment is None
    run = tmp_path / "run"
    import picnn.train as T
    real = T.end_epoch
    def killed_after_first(t, state, row, on_epoch_end=None):   # the run dies once epoch 0 is checkpointed
        real(t, state, row, on_epoch_end)
        raise KeyboardInterrupt
    monkeypatch.setattr(T, "end_epoch", killed_after_first)
    code, out, err = cli(capsys, "train", "--recipe", "paper", "--arch", "tiny_cnn", "--dataset", "digits", "--augment",
                         "none", "--batch-size", "64", "--mis-method", "fast", "--run-dir", run, *SMALL)
    assert code == 130 and json.loads((run / "config.json").read_text())["augment"] is None
    monkeypatch.setattr(T, "end_epoch", real)
    code, out, err = cli(capsys, "train", "--run-dir", run, "--resume")          # no options: the run's own settings
    assert code == 0, err
    assert [json.loads(l)["epoch"] for l in (run / "log.jsonl").read_text().splitlines()] == [0, 1]
    assert json.loads((run / "metrics.json").read_text())["config"]["augment"] is None

# --- bug 2: settings are checked when the config is built, before any work
@pytest.mark.parametrize("args, words", [
    (["--mis-method", "bogus"], ["mis_method='bogus'", "sklearn"]),
    (["--eval-draws", "0"], ["eval_draws=0", "at least 1"]),
    (["--image-size", "-1"], ["image_size=-1"]),
    (["--train-subset", "-5"], ["train_subset=-5"]),
    (["--test-subset", "-1"], ["test_subset=-1"]),
    (["--epochs", "ten"], ["--epochs", "ten"]),
    (["--resume"], ["--resume needs --run-dir"]),
])
def test_bad_settings_fail_before_any_work(tmp_path, capsys, args, words):
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *args, *([] if args == ["--resume"] else ["--run-dir", run]))
    assert code == 2
    one_line_error(err, *words)
    assert not run.exists()

@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    code, out, err = cli(capsys, "train", "--device", "cuda", "--run-dir", tmp_path / "run")
    assert code == 2 and not (tmp_path / "run").exists()
    one_line_error(err, "CUDA is not available", "cpu")

# --- bug 3: a run directory keeps its run
def test_a_folder_of_another_run_is_refused_naming_the_settings(copy_of, capsys):
    run = copy_of()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, out, err = cli(capsys, "train", "--run-dir", run, "--method", "std", *SMALL)
    assert code == 2
    one_line_error(err, "another run", "method (saved 'picnn', asked 'std')", "--overwrite")
    code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL)     # the same settings, without --resume
    assert code == 2
    one_line_error(err, "already holds a finished run", "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before

def test_overwrite_killed_before_its_first_epoch_leaves_no_old_file(copy_of, monkeypatch):
    import picnn.train as T
    run = copy_of()
    def killed(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(T, "train_one_epoch", killed)
    with pytest.raises(KeyboardInterrupt): T.fit(SMALL_CFG, method="std", run_dir=run, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "log.jsonl"]
    assert json.loads((run / "config.json").read_text())["method"] == "std"

def test_evaluate_refuses_a_checkpoint_of_another_config(copy_of, capsys):
    run = copy_of()   # the state an overwrite killed before its first epoch used to leave: new config, old model
    cfg = json.loads((run / "config.json").read_text()); cfg["method"] = "std"
    (run / "config.json").write_text(json.dumps(cfg))
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2 and not (run / "evaluation.json").exists()
    one_line_error(err, "best.pt", "another run", "method")

# --- bug 4: resuming with more epochs used to climb the learning rate back up
def test_resume_with_other_epochs_is_refused_with_the_reason(copy_of, capsys):
    run = copy_of()
    code, out, err = cli(capsys, "train", "--run-dir", run, "--resume", "--epochs", "5")
    assert code == 2
    one_line_error(err, "epochs (saved 2, asked 5)", "schedule")

# --- bug 6: two processes into one run directory
def test_a_second_process_into_a_run_directory_fails_at_once(tmp_path):
    from picnn.train import run_dir_lock
    run = tmp_path / "run"
    a = subprocess.Popen([str(BIN / "picnn"), "train", "--run-dir", str(run), "--epochs", "200", "--device", "cpu"],
                         env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and a.poll() is None and not ((run / ".lock").is_file() and (run / ".lock").read_text()):
            time.sleep(0.05)
        assert a.poll() is None, "the first process ended before the second could start"
        b = picnn_cli("train", "--run-dir", str(run), "--method", "std", *SMALL)    # another run, same folder
        assert a.poll() is None, "the first process ended before the second failed"
    finally:
        a.kill(); a.wait()
    assert b.returncode == 2
    one_line_error(b.stderr, "is in use by process", str(a.pid))
    assert json.loads((run / "config.json").read_text())["method"] == "picnn"      # nothing of the second run
    with run_dir_lock(run): pass               # the kernel released the lock of the killed process

# --- bug 7 and weak spots: files of a run that cannot be read
def test_a_crafted_checkpoint_is_refused_without_running_code(copy_of, tmp_path, capsys):
    run, marker = copy_of(), tmp_path / "payload-ran"
    class Payload:
        def __reduce__(self): return (os.system, (f"touch {marker}",))
    torch.save({"model": Payload(), "config": {}}, run / "best.pt")
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2 and not marker.exists()
    one_line_error(err, str(run / "best.pt"), "cannot be read")

@pytest.mark.parametrize("name", ["best.pt", "config.json"])
def test_a_truncated_file_is_named(copy_of, capsys, name):
    run = copy_of()
    data = (run / name).read_bytes(); (run / name).write_bytes(data[: len(data) // 2])
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2
    one_line_error(err, str(run / name))

# --- weak spots: disks that refuse to be written
def test_a_read_only_run_directory_is_one_line(tmp_path, capsys, monkeypatch):
    def read_only(self, *a, **k): raise OSError(errno.EROFS, "Read-only file system", str(self))
    monkeypatch.setattr(Path, "mkdir", read_only)
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "ro" / "run", *SMALL)
    assert code == 2
    one_line_error(err, "read-only", "another run directory")

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_says_so_and_leaves_no_tmp(tmp_path, capsys):
    run = tmp_path / "run"; run.mkdir()
    (run / "config.json.tmp").symlink_to("/dev/full")     # every write of config.json meets a full disk
    code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL)
    assert code == 2
    one_line_error(err, "no space left", "config.json")
    assert not any(p.name.endswith(".tmp") for p in run.iterdir())

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_at_a_checkpoint_leaves_no_tmp(tmp_path):
    from picnn.train import RunDirError
    run = tmp_path / "run"; run.mkdir()
    (run / "last.pt.tmp").symlink_to("/dev/full")
    with pytest.raises(RunDirError, match="no space left"): fit(SMALL_CFG, run_dir=run, progress=False)
    assert not (run / "last.pt.tmp").exists() and not (run / "last.pt").exists() and not (run / ".lock").exists()

# --- weak spot: a loss that explodes without becoming NaN
def test_an_exploding_loss_is_reported_as_diverged(tmp_path, capsys):
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "run", "--lr", "1e6", *SMALL)
    assert code == 2
    one_line_error(err, "diverged at epoch 0", "lr=1e+06")
    assert not (tmp_path / "run" / "metrics.json").exists()

# --- issue #14: progress in a pipe, help, first-run defaults, printed numbers
def test_a_run_in_a_pipe_prints_one_line_per_epoch_and_the_numbers_of_metrics_json(tmp_path):
    res = picnn_cli("train", "--run-dir", str(tmp_path / "run"), *SMALL)     # stdout is a pipe here
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [l for l in res.stdout.splitlines() if l.startswith("epoch ")]
    assert len(lines) == 2 and all(re.search(r"loss [\d.]+ .*train ACC1 [\d.]+ .*val ACC1 [\d.]+ .*img/s .*ETA \d+:\d\d:\d\d", l)
                                   for l in lines), res.stdout
    assert "--recipe paper" in res.stdout
    t = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    assert f"ACC2 {t['acc2_mean']:.4f}±{t['acc2_std']:.4f}" in res.stdout and f"ACC3 {t['acc3_mean']:.4f}" in res.stdout

def test_train_help_explains_options_choices_recipes_and_gives_examples():
    res = picnn_cli("train", "--help")
    assert res.returncode == 0
    for words in ("{sklearn,fast}", "{none,crop_flip,official}", "--recipe", "official recipe", "examples:",
                  "picnn train --run-dir", "tiny_cnn (quick), resnet20 (paper)", "the interpretation loss"):
        assert words in res.stdout, words

def test_the_cli_defaults_are_a_short_first_run_and_paper_is_the_recipe():
    quick = train_config(build_parser().parse_args(["train"]))
    assert quick.dataset == "digits" and quick.epochs <= 20
    assert train_config(build_parser().parse_args(["train", "--recipe", "paper"])) == TrainConfig()
