"""keras-tuner search over a task's SCS model: objective names, unbuilt
subclassed models, the printed command, and `scs-keras tune` end to end."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import scs_keras as sk
from scs_keras.cli import parse_task_args
from scs_keras.tasks.base import TaskData, get_task
from scs_keras.tasks.tuning import _ensure_built, resolve_objective, train_command, tune


def test_resolve_objective_finds_prefixed_metrics():
    logs = {"loss": 1.0, "val_loss": 0.9, "val_output_csi": 0.2, "output_csi": 0.3,
            "val_spatial_mse": 1.0, "val_output_mse": 2.0}
    assert resolve_objective("val_loss", logs) == "val_loss"
    assert resolve_objective("val_csi", logs) == "val_output_csi"
    assert resolve_objective("csi", logs) == "output_csi"
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_objective("val_mse", logs)
    with pytest.raises(ValueError, match="not logged"):
        resolve_objective("val_accuracy", logs)


class Subclassed(sk.SCSModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.scs = sk.SCS(3, seed=1)
        self.head = keras.layers.Dense(2)

    def call(self, x):
        return self.head(self.scs(x))


def test_unbuilt_subclassed_model_is_built_before_its_weights_are_saved(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 5, 2)).astype("float32")
    data = TaskData(tf.data.Dataset.from_tensor_slices((x, np.zeros(4))).batch(2), None, {},
                    [])
    model = Subclassed()
    model.compile("sgd", "mse", truncation=sk.STSGD(0.3))
    assert not model.built
    _ensure_built(model, data)
    model.truncation_rate.assign(0.42)
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    # What keras-tuner does on reload: build a fresh model, load the weights.
    fresh = Subclassed()
    fresh.compile("sgd", "mse", truncation=sk.STSGD(0.3))
    with pytest.raises(ValueError):
        fresh.load_weights(path)  # the pitfall: no weights to load into yet
    _ensure_built(fresh, data)
    fresh.load_weights(path)
    assert float(fresh.truncation_rate.numpy()) == pytest.approx(0.42)
    np.testing.assert_allclose(fresh(x), model(x), atol=0)


def test_train_command_replaces_the_tuned_flags():
    task = get_task("precipitation")
    argv = ["--image-size", "8", "--widths", "4,8", "--trials", "3", "--epochs=2",
            "--learning-rate", "0.1", "--directory", "d", "--logdir", "l"]
    command = train_command(task, argv, {"learning_rate": 0.00123, "truncation": "stsgd",
                                         "width": 2.0, "widths": "8,16"}, epochs=2)
    assert command == ("scs-keras train precipitation --image-size 8 --epochs 2 "
                       "--learning-rate 0.00123 --truncation stsgd --widths 8,16")


TINY = ["--image-size", "8", "--widths", "4", "--input-frames", "2", "--target-frames", "2",
        "--train-events", "2", "--test-events", "1", "--frames-per-event", "6",
        "--batch-size", "4", "--stride", "2", "--verbose", "0"]


def _hparams_runs(logdir):
    """Run folders whose event files hold an HParams session summary."""
    runs = set()
    for path in glob.glob(os.path.join(logdir, "**", "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    runs.add(os.path.relpath(os.path.dirname(path), logdir))
    return runs


@pytest.mark.slow
def test_tune_precipitation_end_to_end(tmp_path, capsys):
    task = get_task("precipitation")
    argv = TINY + ["--generated-dir", str(tmp_path / "gen"), "--trials", "2", "--epochs", "1",
                   "--directory", str(tmp_path / "tuner"), "--logdir", str(tmp_path / "hp")]
    args = parse_task_args("tune", task, argv)
    result = tune(task, args, argv)
    out = capsys.readouterr().out
    assert "scs-keras train precipitation" in out and result["command"] in out
    assert len(result["tuner"].oracle.trials) == 2
    # The experiment summary plus one run per trial.
    assert _hparams_runs(str(tmp_path / "hp")) == {".", "trial_001", "trial_002"}
    best = result["best_model"]
    assert isinstance(best, sk.SCSModel)
    kind = {"stsgd": sk.STSGD, "astsgd": sk.ASTSGD}[result["best_hparams"]["truncation"]]
    assert isinstance(best._truncation, kind)
    # The reloaded schedule state is the trained one, as the trial logged it.
    trial = result["tuner"].oracle.get_best_trials(1)[0]
    logged = trial.metrics.get_last_value("truncation_rate")
    assert float(best.truncation_rate.numpy()) == pytest.approx(logged, abs=1e-6)


@pytest.mark.parametrize("task", ["precipitation", "action-recognition"])
def test_tune_help_lists_the_search_flags(task, capsys):
    from scs_keras import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["tune", task, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--trials", "--directory", "--tuner", "--logdir", "--epochs", "--widths"):
        assert flag + " " in out
    assert "--strategy" not in out


@pytest.mark.parametrize("depth, searched", [(None, None), (4, (3, 5))])
def test_precipitation_depth_is_searched_only_in_the_deep_topology(depth, searched):
    import keras_tuner

    from scs_keras.tasks.tuning import search_space

    task = get_task("precipitation")
    argv = [] if depth is None else ["--depth", str(depth)]
    args = parse_task_args("tune", task, argv)
    hp = keras_tuner.HyperParameters()
    values = search_space(task, args, hp)
    if searched is None:
        assert "depth" not in values and "depth" not in hp.values
    else:
        space = hp._hps["depth"][0]
        assert (space.min_value, space.max_value) == searched
