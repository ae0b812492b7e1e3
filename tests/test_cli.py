"""`picnn train` and `picnn evaluate` as a user meets them: options that mean what they say, settings checked before any
work, run directories that keep their run, one-line errors (exit 2, no traceback), progress in a pipe."""

import dataclasses, errno, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import pytest
import torch

from picnn.cli import main, build_parser, train_command_config
from picnn.runs import TrainConfig
from picnn.train import fit

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
SMALL = ["--epochs", "2", "--train-subset", "400", "--eval-draws", "3", "--device", "cpu"]  # the quick recipe, shorter
SMALL_CFG = TrainConfig(
    arch="tiny_cnn",
    dataset="digits",
    epochs=2,
    batch_size=64,
    augment=None,
    mis_method="fast",
    train_subset=400,
    eval_draws=3,
    device="cpu",
)


def picnn_cli(*args, **kw):
    return subprocess.run([str(BIN / "picnn"), *args], capture_output=True, text=True, env=ENV, timeout=600, **kw)


def cli(capsys, *args):
    "`picnn ARGS` in this process: (exit status, stdout, stderr)."
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code  # argparse's exit on a bad option
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    "A finished small run (2 epochs of the quick recipe on 400 digits)."
    run = tmp_path_factory.mktemp("finished") / "run"
    fit(SMALL_CFG, run_dir=run, progress=False)
    return run


@pytest.fixture
def copy_of(finished, tmp_path):
    def copy():
        return Path(shutil.copytree(finished, tmp_path / "run"))

    return copy


# --- issue #13, bug 1: `--augment none` was dropped as "not given"; digits runs could not be resumed from the CLI
def test_augment_none_is_used_and_such_a_run_resumes_from_the_cli(tmp_path, capsys, monkeypatch):
    a = build_parser().parse_args(["train", "--recipe", "paper", "--augment", "none"])
    assert train_command_config(a).augment is None
    run = tmp_path / "run"
    import picnn.train as T

    real = T.end_epoch

    def killed_after_first(t, state, row, on_epoch_end=None):  # the run dies once epoch 0 is checkpointed
        real(t, state, row, on_epoch_end)
        raise KeyboardInterrupt

    monkeypatch.setattr(T, "end_epoch", killed_after_first)
    code, out, err = cli(
        capsys,
        "train",
        "--recipe",
        "paper",
        "--arch",
        "tiny_cnn",
        "--dataset",
        "digits",
        "--augment",
        "none",
        "--batch-size",
        "64",
        "--mis-method",
        "fast",
        "--run-dir",
        run,
        *SMALL,
    )
    assert code == 130 and json.loads((run / "config.json").read_text())["augment"] is None
    monkeypatch.setattr(T, "end_epoch", real)
    code, out, err = cli(capsys, "train", "--run-dir", run, "--resume")  # no options: the run's own settings
    assert code == 0, err
    assert [json.loads(l)["epoch"] for l in (run / "log.jsonl").read_text().splitlines()] == [0, 1]
    assert json.loads((run / "metrics.json").read_text())["config"]["augment"] is None


# --- bug 2: settings are checked when the config is built, before any work
@pytest.mark.parametrize(
    "args, words",
    [
        (["--mis-method", "bogus"], ["mis_method='bogus'", "sklearn"]),
        (["--eval-draws", "0"], ["eval_draws=0", "at least 1"]),
        (["--image-size", "-1"], ["image_size=-1"]),
        (["--train-subset", "-5"], ["train_subset=-5"]),
        (["--test-subset", "-1"], ["test_subset=-1"]),
        (["--epochs", "ten"], ["--epochs", "ten"]),
        (["--resume"], ["--resume needs --run-dir"]),
    ],
)
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
    code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL)  # the same settings, without --resume
    assert code == 2
    one_line_error(err, "already holds a finished run", "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_overwrite_killed_before_its_first_epoch_leaves_no_old_file(copy_of, monkeypatch):
    import picnn.train as T

    run = copy_of()

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(T, "train_one_epoch", killed)
    with pytest.raises(KeyboardInterrupt):
        T.fit(SMALL_CFG, method="std", run_dir=run, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == []  # nor a stub of the new one (#25): the retry is not refused


def test_evaluate_refuses_a_checkpoint_of_another_config(copy_of, capsys):
    run = copy_of()  # the state an overwrite killed before its first epoch used to leave: new config, old model
    cfg = json.loads((run / "config.json").read_text())
    cfg["method"] = "std"
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
    from picnn.runs import run_dir_lock

    run = tmp_path / "run"
    a = subprocess.Popen(
        [str(BIN / "picnn"), "train", "--run-dir", str(run), "--epochs", "200", "--device", "cpu"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 300
        while (
            time.time() < deadline
            and a.poll() is None
            and not ((run / ".lock").is_file() and (run / ".lock").read_text())
        ):
            time.sleep(0.05)
        assert a.poll() is None, "the first process ended before the second could start"
        b = picnn_cli("train", "--run-dir", str(run), "--method", "std", *SMALL)  # another run, same folder
        assert a.poll() is None, "the first process ended before the second failed"
    finally:
        a.kill()
        a.wait()
    assert b.returncode == 2
    one_line_error(b.stderr, "is in use by process", str(a.pid))
    assert json.loads((run / "config.json").read_text())["method"] == "picnn"  # nothing of the second run
    with run_dir_lock(run):
        pass  # the kernel released the lock of the killed process


# --- bug 7 and weak spots: files of a run that cannot be read
def test_a_crafted_checkpoint_is_refused_without_running_code(copy_of, tmp_path, capsys):
    run, marker = copy_of(), tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"model": Payload(), "config": {}}, run / "best.pt")
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2 and not marker.exists()
    one_line_error(err, str(run / "best.pt"), "cannot be read")


@pytest.mark.parametrize("name", ["best.pt", "config.json"])
def test_a_truncated_file_is_named(copy_of, capsys, name):
    run = copy_of()
    data = (run / name).read_bytes()
    (run / name).write_bytes(data[: len(data) // 2])
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2
    one_line_error(err, str(run / name))


# --- weak spots: disks that refuse to be written
def test_a_read_only_run_directory_is_one_line(tmp_path, capsys, monkeypatch):
    def read_only(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "ro" / "run", *SMALL)
    assert code == 2
    one_line_error(err, "read-only", "another run directory")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_says_so_and_leaves_no_tmp(tmp_path, capsys, monkeypatch):
    import picnn.config

    monkeypatch.setattr(picnn.config, "temporary_path", lambda p: p.with_name(p.name + ".tmp"))  # a name known here
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json.tmp").symlink_to("/dev/full")  # every write of config.json meets a full disk
    code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL)
    assert code == 2
    one_line_error(err, "no space left", "config.json")
    assert not any(p.name.endswith(".tmp") for p in run.iterdir())


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_at_a_checkpoint_leaves_no_tmp(tmp_path, monkeypatch):
    import picnn.config
    from picnn.runs import RunDirError

    monkeypatch.setattr(picnn.config, "temporary_path", lambda p: p.with_name(p.name + ".tmp"))  # a name known here
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt.tmp").symlink_to("/dev/full")
    with pytest.raises(RunDirError, match="no space left"):
        fit(SMALL_CFG, run_dir=run, progress=False)
    assert not (run / "last.pt.tmp").exists() and not (run / "last.pt").exists() and not (run / ".lock").exists()


# --- weak spot: a loss that explodes without becoming NaN
def test_an_exploding_loss_is_reported_as_diverged(tmp_path, capsys):
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "run", "--lr", "1e6", *SMALL)
    assert code == 2
    one_line_error(err, "diverged at epoch 0", "lr=1e+06")
    assert not (tmp_path / "run" / "metrics.json").exists()


# --- issue #14: progress in a pipe, help, first-run defaults, printed numbers
def test_a_run_in_a_pipe_prints_one_line_per_epoch_and_the_numbers_of_metrics_json(tmp_path):
    res = picnn_cli("train", "--run-dir", str(tmp_path / "run"), *SMALL)  # stdout is a pipe here
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [l for l in res.stdout.splitlines() if l.startswith("epoch ")]
    assert len(lines) == 2 and all(
        re.search(r"loss [\d.]+ .*train ACC1 [\d.]+ .*val ACC1 [\d.]+ .*img/s .*ETA \d+:\d\d:\d\d", l) for l in lines
    ), res.stdout
    assert "--recipe paper" in res.stdout
    t = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    assert f"ACC2 {t['acc2_mean']:.4f}±{t['acc2_std']:.4f}" in res.stdout and f"ACC3 {t['acc3_mean']:.4f}" in res.stdout


def test_train_help_explains_options_choices_recipes_and_gives_examples():
    res = picnn_cli("train", "--help")
    assert res.returncode == 0
    for words in (
        "{sklearn,fast}",
        "{none,crop_flip,official}",
        "--recipe",
        "official recipe",
        "examples:",
        "picnn train --run-dir",
        "tiny_cnn (quick), resnet20 (paper)",
        "the interpretation loss",
    ):
        assert words in res.stdout, words


def test_the_cli_defaults_are_a_short_first_run_and_paper_is_the_recipe():
    quick = train_command_config(build_parser().parse_args(["train"]))
    assert quick.dataset == "digits" and quick.epochs <= 20
    assert train_command_config(build_parser().parse_args(["train", "--recipe", "paper"])) == TrainConfig()


# --- issue #25: the last hostile cases
def killed_after(monkeypatch, epochs_done: int):
    "Make the next fit die (KeyboardInterrupt) once `epochs_done` epochs are checkpointed; returns the undo."
    import picnn.train as T

    real = T.end_epoch

    def end_epoch(t, state, row, on_epoch_end=None):
        real(t, state, row, on_epoch_end)
        if row["epoch"] + 1 >= epochs_done:
            raise KeyboardInterrupt

    monkeypatch.setattr(T, "end_epoch", end_epoch)
    return lambda: monkeypatch.setattr(T, "end_epoch", real)


def test_an_evaluation_records_its_epoch_and_never_outlives_a_resume_or_overwrite(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    undo = killed_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        fit(SMALL_CFG, run_dir=run, progress=False)
    undo()
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 0, err
    partial = json.loads((run / "evaluation.json").read_text())
    assert (
        partial["checkpoint"],
        partial["epoch"],
        partial["epochs_trained"],
        partial["epochs"],
        partial["finished"],
    ) == ("best", 0, 1, 2, False)
    assert "has not finished (1 of 2 epochs)" in err and "epoch 1" in err
    code, out, err = cli(capsys, "train", "--run-dir", run, "--resume")
    assert code == 0, err
    assert not (run / "evaluation.json").exists()  # the resumption made it stale: gone
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    done = json.loads((run / "evaluation.json").read_text())
    assert done["finished"] and done["epochs_trained"] == 2
    assert done["acc1"] == pytest.approx(json.loads((run / "metrics.json").read_text())["test"]["acc1"])
    code, out, err = cli(capsys, "train", "--run-dir", run, "--overwrite", "--method", "std", *SMALL, "--epochs", "1")
    assert code == 0 and not (run / "evaluation.json").exists()


def test_evaluate_refuses_a_run_that_is_being_trained(copy_of, capsys):
    from picnn.runs import run_dir_lock

    run = copy_of()
    with run_dir_lock(run, doing="training it"):  # what a training process holds (another open file: another holder)
        code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2 and not (run / "evaluation.json").exists()
    one_line_error(err, "in use by process", "training it", "evaluate it once that has ended")


def test_a_lock_says_what_its_holder_does(copy_of, capsys):
    "The refusal names what the holder does: an evaluation, not a training."
    import picnn.readback as R

    run = copy_of()
    with R._not_in_training(run):  # what an evaluation holds
        code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
        assert code == 2
        one_line_error(err, "in use by process", "evaluating it", "evaluate it once")
        code, out, err = cli(capsys, "train", "--run-dir", run, "--resume")
        assert code == 2
        one_line_error(err, "in use by process", "evaluating it", "wait for it to finish")


def test_evaluate_shows_its_numbers_where_it_cannot_write_and_writes_elsewhere(copy_of, capsys, monkeypatch, tmp_path):
    import picnn.runs

    run = copy_of()

    def read_only_open(path, mode="r", *a, **k):
        if str(path).startswith(str(run)) and any(c in mode for c in "wa+"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return open(path, mode, *a, **k)

    real_write_text = Path.write_text

    def read_only_write_text(self, *a, **k):
        if str(self).startswith(str(run)):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_write_text(self, *a, **k)

    monkeypatch.setattr(picnn.runs, "open", read_only_open, raising=False)
    monkeypatch.setattr(Path, "write_text", read_only_write_text)
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2 and json.loads(out)["acc1"] > 0  # the numbers, though the folder refuses them
    one_line_error(err, "read-only", "--output FILE", "--output -")
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu", "--output", "-")
    assert code == 0 and json.loads(out)["checkpoint"] == "best" and not err
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu", "--output", tmp_path / "elsewhere.json")
    selected = json.loads((run / "metrics.json").read_text())["selected_epoch"]
    assert code == 0 and json.loads((tmp_path / "elsewhere.json").read_text())["epoch"] == selected
    assert not (run / "evaluation.json").exists()


def test_val_size_is_a_count_or_a_fraction_by_its_type(tmp_path, capsys):
    parse = lambda v: train_command_config(build_parser().parse_args(["train", "--val-size", v])).val_size
    assert parse("30") == 30 and isinstance(parse("30"), int) and parse("0.25") == 0.25
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "frac", "--val-size", "30.0", *SMALL)
    assert code == 2 and not (tmp_path / "frac").exists()
    one_line_error(err, "val_size=30.0", "fraction in [0, 1)", "count")
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "count", "--val-size", "30", *SMALL, "--epochs", "1")
    assert code == 0, err
    assert json.loads((tmp_path / "count" / "metrics.json").read_text())["val_size"] == 30


@pytest.mark.parametrize(
    "bad, words",
    [
        (["--num-filters", "4"], ["K=4 < num_classes C=10"]),  # K smaller than the class count
        (["--lr", "1e6"], ["diverged at epoch 0"]),  # divergence at epoch 0
        (["--train-subset", "100000"], ["train_subset=100000", "1,437", "at most 1437"]),
        (["--dataset", "npz:BAD"], ["bad.npz", "not a readable .npz"]),  # a bad npz
        (["--test-subset", "100000"], ["test_subset=100000", "at most 360"]),
        (["--val-size", "400"], ["val_size=400", "400 validation images of 400"]),
    ],
)
def test_a_failure_before_the_first_epoch_leaves_nothing_that_blocks_the_retry(tmp_path, capsys, bad, words):
    if bad[-1] == "npz:BAD":
        (tmp_path / "bad.npz").write_bytes(b"not an npz")
        bad = ["--dataset", f"npz:{tmp_path / 'bad.npz'}"]
    for run in (tmp_path / "new", tmp_path / "existing"):
        if run.name == "existing":
            run.mkdir()
        code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL, "--epochs", "1", *bad)
        assert code == 2
        one_line_error(err, *words)
        assert not run.exists() if run.name == "new" else list(run.iterdir()) == []
        code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL, "--epochs", "1")  # the corrected command
        assert code == 0, err


@pytest.mark.parametrize(
    "bad, words",
    [
        (["--train-subset", "100000"], ["train_subset=100000"]),
        (["--num-filters", "4"], ["K=4 < num_classes C=10"]),
        (["--dataset", "npz:BAD"], ["not a readable .npz"]),
        (["--arch", "timm:resnet18"], ["need timm"]),
    ],
)
def test_an_overwrite_that_fails_before_training_keeps_the_run_it_was_to_replace(
    copy_of, capsys, monkeypatch, bad, words
):
    "The folder is checked before the data is loaded and written only after: the finished run stays as it was."
    run = copy_of()
    if bad[-1] == "npz:BAD":
        (run.parent / "bad.npz").write_bytes(b"not an npz")
        bad = ["--dataset", f"npz:{run.parent / 'bad.npz'}"]
    monkeypatch.setitem(sys.modules, "timm", None)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL, "--overwrite", *bad)
    assert code == 2
    one_line_error(err, *words)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("value", ["[]", "{trunc"])
def test_a_damaged_config_json_says_how_to_replace_the_run(copy_of, capsys, value):
    run = copy_of()
    (run / "config.json").write_text(value)
    code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL)
    assert code == 2
    one_line_error(err, str(run / "config.json"), "--overwrite")
    code, out, err = cli(capsys, "train", "--run-dir", run, *SMALL, "--overwrite")
    assert code == 0, err


def test_a_stub_of_a_killed_start_is_replaced_and_a_foreign_metrics_json_is_not_a_run(tmp_path, capsys):
    stub = tmp_path / "stub"
    stub.mkdir()  # what a start killed (SIGKILL) before its first epoch leaves
    (stub / "config.json").write_text(json.dumps(dataclasses.asdict(SMALL_CFG.replace(method="std"))))
    (stub / "log.jsonl").write_text("")
    code, out, err = cli(capsys, "train", "--run-dir", stub, *SMALL, "--epochs", "1")
    assert code == 0, err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "metrics.json").write_text('{"accuracy": 0.5}')
    code, out, err = cli(capsys, "train", "--run-dir", foreign, *SMALL)
    assert code == 2 and sorted(p.name for p in foreign.iterdir()) == ["metrics.json"]
    line = one_line_error(err, "holds metrics.json but no config.json", "--overwrite")
    assert "finished run" not in line


@pytest.mark.parametrize(
    "args", [["train", *SMALL], ["train", *SMALL, "--overwrite"], ["train", "--resume"], ["evaluate"]]
)
def test_a_run_directory_that_is_a_file_is_said_so(tmp_path, capsys, args):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    code, out, err = cli(capsys, *(["evaluate", f] if args == ["evaluate"] else [args[0], "--run-dir", f, *args[1:]]))
    assert code == 2 and f.read_text() == "mine"
    one_line_error(err, "is a file, not a run directory", "move the file away")


@pytest.mark.parametrize("value", ["[]", "null", "3"])
def test_a_config_json_that_is_not_an_object_is_one_line(copy_of, capsys, value):
    run = copy_of()
    (run / "config.json").write_text(value)
    code, out, err = cli(capsys, "evaluate", run, "--device", "cpu")
    assert code == 2
    one_line_error(err, str(run / "config.json"), "not a JSON object")


@pytest.mark.parametrize(
    "device, words",
    [("mps", ["MPS", "not available", "cpu"]), ("meta", ["device='meta'", "cpu"]), ("cuda:99", ["cuda"])],
)
def test_devices_that_cannot_train_here_are_refused_before_any_work(tmp_path, capsys, device, words):
    if device == "cuda:99" and torch.cuda.is_available():
        words = ["cuda:99", "CUDA device(s)"]
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "run", *SMALL, "--device", device)
    assert code == 2 and not (tmp_path / "run").exists()
    one_line_error(err, *words)


def test_timm_missing_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # `import timm` raises ImportError
    code, out, err = cli(capsys, "train", "--run-dir", tmp_path / "run", *SMALL, "--arch", "timm:resnet18")
    assert code == 2 and not (tmp_path / "run").exists()
    one_line_error(err, "need timm", "pip install 'picnn[timm]'")


def test_a_disk_that_fills_inside_torch_save_says_no_space(tmp_path, monkeypatch):
    "torch's zip writer turns a failed write into 'unexpected pos ... inline_container.cc'; the OSError is what is said."
    import picnn.runs
    from picnn.runs import RunDirError

    class FullAfter:  # a real file that refuses to grow past a few KB, as a full disk does
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, b):
            if self.n + len(b) > 4096:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.n += len(b)
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    def full_open(path, mode="r", *a, **k):
        f = open(path, mode, *a, **k)
        # a checkpoint's temporary file
        return FullAfter(f) if Path(path).name.endswith(".tmp") and ".pt." in Path(path).name else f

    monkeypatch.setattr(picnn.runs, "open", full_open, raising=False)
    run = tmp_path / "run"
    with pytest.raises(RunDirError, match=r"cannot write .*best\.pt: no space left on the device; free some space"):
        fit(SMALL_CFG, run_dir=run, progress=False)
    assert not any(p.name.endswith(".tmp") for p in run.iterdir()) if run.exists() else True


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX signals")
def test_sigterm_behaves_like_ctrl_c(tmp_path):
    import signal

    run = tmp_path / "run"
    a = subprocess.Popen(
        [str(BIN / "picnn"), "train", "--run-dir", str(run), "--epochs", "200", "--device", "cpu"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 300
        while (
            time.time() < deadline
            and a.poll() is None
            and not ((run / "log.jsonl").is_file() and (run / "log.jsonl").read_text())
        ):
            time.sleep(0.05)
        assert a.poll() is None, "the run ended before it could be terminated"
        a.send_signal(signal.SIGTERM)
        err = a.communicate(timeout=120)[1]
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    assert a.returncode == 143, err
    one_line_error(err, "terminated (SIGTERM)", "--resume")
    assert not (run / ".lock").exists() and (run / "last.pt").is_file() and not (run / "metrics.json").exists()


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_an_interruption_says_what_to_run_next(copy_of, capsys, monkeypatch, command):
    "Ctrl-C (and SIGTERM, which unwinds the same way) names the command that continues: evaluate again, or --resume the run."
    import picnn.cli, picnn.inputs, picnn.readback

    run = copy_of()

    def stopped(*a, **k):
        raise picnn.cli.Terminated()

    for module in (picnn.inputs, picnn.readback):  # both commands load the data first
        monkeypatch.setattr(module, "prepare_data", stopped)
    args = ["evaluate", run, "--device", "cpu"] if command == "evaluate" else ["train", "--run-dir", run, "--resume"]
    code, out, err = cli(capsys, *args)
    assert code == 143 and not (run / ".lock").exists() and not (run / "evaluation.json").exists()
    line = one_line_error(err, f"picnn {command}: terminated (SIGTERM)")
    assert (
        "evaluate it again" in line and "--resume" not in line
        if command == "evaluate"
        else f"picnn train --run-dir {run} --resume" in line
    ), line


def test_reproduce_refuses_fewer_than_one_job(tmp_path, capsys):
    code, out, err = cli(capsys, "reproduce", "--jobs", "0", "--output", tmp_path / "results")
    assert code == 2 and not (tmp_path / "results").exists()
    one_line_error(err, "--jobs must be at least 1", "got 0")
