"""The ``scs-keras`` command: subcommands, shared flags and one-line errors."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from scs_keras import cli
from scs_keras.tasks.base import TASKS, get_task

SHARED = ["--data-dir", "--generated-dir", "--model", "--compare", "--epochs", "--batch-size",
          "--learning-rate", "--truncation", "--truncation-rate", "--truncation-mode",
          "--seed", "--logdir", "--checkpoint", "--export", "--on-bad", "--verbose"]


def test_help_lists_every_subcommand_and_task(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("demo", "train", "evaluate", "export", "generate", "tune", "study", "chains"):
        assert f"  {name} " in out
    for task in TASKS:
        assert task in out


@pytest.mark.parametrize("command", ["train", "evaluate", "export"])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_takes_the_same_shared_flags(command, task, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, task, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"scs-keras {command} {task}" in out
    shared = out[out.index("shared flags"):]
    positions = [shared.index(flag + " ") for flag in SHARED]
    assert positions == sorted(positions), "shared flags come in the same order"
    assert out.index("shared flags") < out.index(f"\n{get_task(task).title}:\n")


def test_demo_runs_the_depth_studys_best_configuration_and_train_the_pyramid():
    task = get_task("precipitation")
    demo = cli.parse_task_args("demo", task, [])
    assert (demo.widths, demo.strides, demo.depth) == ((32,), (2,), 10)
    assert demo.compare and demo.export == task.default_export_dir
    train = cli.parse_task_args("train", task, [])
    assert (train.widths, train.strides, train.depth) == ((16, 32), (2, 2), None)
    # A flag given on the command line wins over the demo's preset.
    assert cli.parse_task_args("demo", task, ["--depth", "2"]).depth == 2


@pytest.mark.parametrize("argv", [["generate", "precipitation", "--help"], ["demo", "--help"],
                                  ["chains", "--help"]])
def test_other_subcommands_have_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["fly"], "unknown subcommand 'fly'"),
    (["train", "weather"], "unknown task 'weather'"),
    (["train", "precipitation", "--model", "transformer"], "invalid choice"),
    (["train", "precipitation", "--epochs", "0"], "must be > 0"),
    (["train", "precipitation", "--truncation-rate", "1.5"], "must be in [0, 1]"),
    (["train", "precipitation", "--truncation", "sometimes"], "invalid choice"),
    (["train", "precipitation", "--model", "persistence", "--export"],
     "--export needs a neural model"),
    (["train", "precipitation", "--image-size", "20", "--widths", "4,8,16"], "divisible"),
    (["train", "precipitation", "--widths", "4,x"], "--widths"),
    (["train", "precipitation", "--widths", "16,32", "--strides", "2,2,2"], "--strides"),
    (["train", "precipitation", "--strides", "0"], "--strides"),
    (["train", "precipitation", "--image-size", "18", "--strides", "1,4"],
     "product of the strides (4)"),
    (["train", "precipitation", "--format", "netcdf"], "invalid choice"),
    (["train", "precipitation", "--data-dir", "/no/such/folder"], "does not exist"),
    (["export", "precipitation"], "needs --checkpoint"),
    (["train", "action-recognition", "--clips", "3,4"], "--clips takes K,n,r"),
    (["train", "action-recognition", "--clips", "3,4,1.0"], "0 <= r < 1"),
    (["train", "action-recognition", "--clips", "3,4,0.25", "--model", "cnn"],
     "needs --model scs"),
    (["train", "action-recognition", "--flow", "--model", "convlstm"],
     "--flow needs --model scs"),
    (["train", "action-recognition", "--stem", "7"], "--stem takes"),
    (["train", "action-recognition", "--widths", "16,x"], "--widths"),
    (["train", "action-recognition", "--truncation", "astsgd", "--no-aux"], "T¹ head"),
    (["study", "steering"], "has no --depth flag"),
    (["train", "steering", "--routes", "3"], "--routes (3) must exceed --test-routes (3)"),
    (["study", "precipitation", "--models", "scs,persistence"], "--models must name neural"),
    (["study", "precipitation", "--depths", "2,0"], "--depths[1] must be >= 1"),
    (["train", "precipitation", "--depth", "0"], "--depth must be >= 1"),
])
def test_bad_flags_are_one_line_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_empty_data_dir_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "action-recognition", "--data-dir", str(tmp_path)])
    assert info.value.code == 2
    assert "is empty" in capsys.readouterr().err


def test_unusable_data_dir_is_one_line(tmp_path, capsys):
    # A folder with something in it, but no radar events: the reader's
    # DataError becomes one line and exit status 2.
    (tmp_path / "notes.txt").write_text("not radar data")
    code = cli.main(["train", "precipitation", "--data-dir", str(tmp_path), "--verbose", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("scs-keras: error:") and len(err.strip().splitlines()) == 1
    assert str(tmp_path) in err


def test_chains_prints_the_table(capsys):
    assert cli.main(["chains", "--layers", "3", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "L=3, T=2" in out
    # The per-K table (K, expected chains, fraction): the fractions of all
    # chains add up to one.
    lines = out[out.index("fraction"):].splitlines()[1:]
    fractions = [float(line.split()[2]) for line in lines if line.strip()]
    assert len(fractions) >= 2 and sum(fractions) == pytest.approx(1.0, abs=1e-3)


def test_generate_writes_the_real_format(tmp_path):
    out = tmp_path / "rain"
    assert cli.main(["generate", "precipitation", "--out", str(out), "--image-size", "16",
                     "--train-events", "2", "--test-events", "1",
                     "--frames-per-event", "10"]) == 0
    events = sorted(os.listdir(out / "train"))
    assert len(events) == 2
    assert all(f.endswith(".png") for f in os.listdir(out / "train" / events[0]))


FILTER_SCRIPT = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import scs_keras_cli
scs_keras_cli.filter_stderr()
os.write(2, b"real warning: keep me\n")
os.write(2, b"W0000 00:00:1796050590.445700 18136 op_level_cost_estimator.cc:699] "
            b"Error in PredictCost() for the op: Conv2DBackpropFilter\n")
os.write(2, b"progress 1/2\rprogress 2/2")
os.write(2, b"\nE external/cuda_dnn.cc:8454] Unable to register cuDNN factory\nlast line\n")
"""


def test_stderr_filter_drops_only_the_known_noise():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", FILTER_SCRIPT, root], capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (b"real warning: keep me\nprogress 1/2\rprogress 2/2\n"
                           b"last line\n")


def scalar_tags(folder):
    """Tags of the scalar summaries in a TensorBoard run folder."""
    tags = set()
    for name in os.listdir(folder):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
            tags.update(v.tag for v in event.summary.value)
    return tags


@pytest.mark.slow
def test_console_script_trains_logs_exports_and_is_quiet(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "scs-keras")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [exe, "train", "precipitation", "--generated-dir", str(tmp_path / "gen"), "--epochs",
         "1", "--image-size", "16", "--train-events", "2", "--test-events", "1",
         "--frames-per-event", "12", "--batch-size", "4", "--widths", "4,8", "--verbose", "0",
         "--logdir", str(tmp_path / "logs"), "--export", str(tmp_path / "exports")],
        capture_output=True, text=True, timeout=600, cwd=str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    # The table is printed whatever --verbose says; TensorFlow's C++ noise is not.
    assert "| scs |" in done.stdout
    assert "PredictCost" not in done.stderr and "Unable to register" not in done.stderr
    # TensorBoard: scalars with the truncation rate, and picture strips.
    tags = scalar_tags(tmp_path / "logs" / "scs" / "train")
    assert {"epoch_loss", "epoch_truncation_rate"} <= tags, tags
    assert os.listdir(tmp_path / "logs" / "scs" / "images")
    # A batched export that TensorFlow alone loads (checked further in the task tests).
    fn = tf.saved_model.load(str(tmp_path / "exports" / "1")).signatures["serving_default"]
    assert fn.structured_input_signature[1]["frames"].shape.as_list() == [None, 5, 16, 16, 1]


def test_console_script_is_installed_and_quiet():
    # The entry point from setup.py, in the test's own environment.
    exe = os.path.join(os.path.dirname(sys.executable), "scs-keras")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "subcommands:" in done.stdout
    assert "PredictCost" not in done.stderr and "cpu_feature_guard" not in done.stderr


@pytest.mark.parametrize("task", sorted(TASKS))
def test_generate_flags_parse_for_every_task(task, tmp_path):
    # `generate` has no shared training flags: each task's own checks must
    # still work on what it gets.
    args = cli.parse_task_args("generate", get_task(task), ["--out", str(tmp_path), "--seed", "3"])
    assert args.out == str(tmp_path) and args.seed == 3


def test_the_command_line_page_lists_every_model_of_every_task():
    page = open(os.path.join(os.path.dirname(__file__), "..", "docs", "cli.md"),
                encoding="utf-8").read()
    row = next(line for line in page.splitlines() if line.startswith("| `--model NAME`"))
    for name in TASKS:
        listed = row[row.index(name + ":"):].split(";")[0]
        for model in get_task(name).model_names:
            assert f"`{model}`" in listed, (name, model)
