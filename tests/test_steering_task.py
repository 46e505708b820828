"""The steering task: models, frame-by-frame stepping, metrics wiring, a short run."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from scs_keras.cli import main as cli_main
from scs_keras.cli import parse_task_args
from scs_keras.tasks import runner
from scs_keras.tasks.base import get_task
from scs_keras.tasks.steering import data as D
from scs_keras.tasks.steering import export as E
from scs_keras.tasks.steering import models as M
from scs_keras.tasks.steering import streaming as S
from scs_keras.tasks.steering import training as TR
from scs_keras.training import ASTSGD

H, W, T = 16, 32, 5
WIDTHS = (4, 8)


def _model(name, **kw):
    keras.utils.set_random_seed(0)
    return M.build_model(name, (H, W), widths=WIDTHS, hidden=8, lstm_units=8,
                         angle_mean=2.0, angle_std=10.0, **kw)


def _clips(n=3, seed=0):
    return np.random.default_rng(seed).random((n, T, H, W, 3)).astype("float32")


# ----------------------------------------------------------------------------
# Models.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_every_model_maps_a_clip_to_one_angle(name):
    model = _model(name)
    out = model(_clips(), training=False)
    expected = ["angle", "spatial", "temporal"] if name == "scs" else ["angle"]
    assert sorted(out) == expected
    for value in out.values():
        assert tuple(value.shape) == (3,)
    assert model.inputs[0].shape[1] is None  # any clip length


def test_comma_cnn_is_the_published_architecture_on_the_last_frame():
    model = _model("comma_cnn")
    convs = [l for l in model.get_layer("front").layer.layers
             if isinstance(l, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (16, (8, 8), (4, 4)), (32, (5, 5), (2, 2)), (64, (5, 5), (2, 2))]
    head = model.get_layer("head").layers
    dense = [l for l in head if isinstance(l, keras.layers.Dense)]
    assert [d.units for d in dense] == [512, 1]
    assert [l.rate for l in head if isinstance(l, keras.layers.Dropout)] == [0.2, 0.5]
    # Single frame: only the last frame of the clip matters.
    x = _clips()
    y = x.copy()
    y[:, :-1] = 0.0
    np.testing.assert_allclose(model(x)["angle"], model(y)["angle"], atol=1e-6)


def test_heads_end_on_the_degree_scale():
    # With the dense layers zeroed, the head outputs the training mean.
    model = _model("convlstm")
    for layer in model.get_layer("head").layers:
        if isinstance(layer, keras.layers.Dense):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    np.testing.assert_allclose(model(_clips())["angle"], [2.0] * 3, atol=1e-6)


# ----------------------------------------------------------------------------
# Streaming.
# ----------------------------------------------------------------------------


def test_state_sizes_count_every_recurrent_state():
    # Front: stride 2 -> 8x16.  ConvSCS2D keeps its state (the gate) at its
    # input resolution: 8*16*4 + 4*8*8.  ConvLSTM2D keeps h and c at its
    # output resolution: 2*(4*8*4) + 2*(2*4*8).  LSTM: h and c of 8 units.
    assert S.state_size(_model("scs")) == 8 * 16 * 4 + 4 * 8 * 8
    assert S.state_size(_model("convlstm")) == 2 * 4 * 8 * 4 + 2 * 2 * 4 * 8
    assert S.state_size(_model("cnn_lstm")) == 2 * 8
    assert S.state_size(_model("comma_cnn")) == 0


def test_exported_step_signature_equals_the_whole_clip_with_tensorflow_alone(tmp_path):
    x = _clips(2)
    np.save(tmp_path / "x.npy", x)
    paths, expected = {}, {}
    # Exports are slow: the SCS model and the stateless CNN (S = 0) here,
    # the other recurrent models stepped in process below.
    for name in ("scs", "comma_cnn"):
        model = _model(name)
        expected[name] = np.asarray(model(x, training=False)["angle"]).tolist()
        paths[name] = (E.export_steering_model(model, str(tmp_path / name)),
                       S.state_size(model))
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        x = np.load({str(tmp_path / 'x.npy')!r})
        report = {{}}
        for name, (path, size) in {paths!r}.items():
            loaded = tf.saved_model.load(path)
            whole = loaded.signatures["serving_default"](frames=tf.constant(x))["angle"]
            step = loaded.signatures["step"]
            state = tf.zeros((len(x), size))
            stepped = []
            for t in range(x.shape[1]):
                out = step(frame=tf.constant(x[:, t]), state=state)
                state = out["state"]
                stepped.append(out["angle"].numpy().tolist())
            spec = step.structured_input_signature[1]
            report[name] = {{"whole": whole.numpy().tolist(), "stepped": stepped,
                            "frame": spec["frame"].shape.as_list(),
                            "state": spec["state"].shape.as_list()}}
        report["modules"] = [m for m in sys.modules if m.startswith(("scs_keras", "keras"))]
        print(json.dumps(report))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=str(tmp_path), env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not any(m.startswith("scs_keras") for m in report.pop("modules"))
    for name, r in report.items():
        assert r["frame"] == [None, H, W, 3] and r["state"] == [None, paths[name][1]]
        np.testing.assert_allclose(r["whole"], expected[name], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(r["stepped"][-1], r["whole"], atol=1e-5, err_msg=name)
        if name != "comma_cnn":  # the recurrent models' angle moves with the frames
            assert not np.allclose(r["stepped"][0], r["whole"], atol=1e-5), name


@pytest.mark.parametrize("name,kw", [("convlstm", {}), ("cnn_lstm", {}),
                                     ("scs", {"residual": True})])
def test_stepping_equals_the_whole_clip_for_the_recurrent_models(name, kw):
    model = _model(name, **kw)
    x = _clips(2)
    state = S.zero_state(model, 2)
    angles = []
    for t in range(T):
        angle, state = S.step(model, x[:, t], state)
        angles.append(np.asarray(angle))
    # After t frames the step gives the angle of the clip's first t frames.
    for t in (1, T):
        np.testing.assert_allclose(angles[t - 1], model(x[:, :t])["angle"], atol=1e-5)


# ----------------------------------------------------------------------------
# Metrics wiring.
# ----------------------------------------------------------------------------


def test_compile_wires_losses_metrics_and_astsgd():
    model = _model("scs")
    TR.compile_steering_model(model, threshold=9.0, thresholds=(2, 7))
    assert isinstance(model._truncation, ASTSGD)
    assert model._truncation.threshold == 9.0
    assert model._truncation.main_output == "angle"
    x = _clips(4)
    y = np.array([0.0, 5.0, -5.0, 20.0], "float32")
    logs = model.evaluate(x, {k: y for k in model.output_names}, verbose=0, return_dict=True)
    pred = np.asarray(model.predict_on_batch(x)["angle"])
    err = np.abs(pred - y)
    assert logs["angle_accuracy_2deg"] == pytest.approx(np.mean(err <= 2), abs=1e-6)
    assert logs["angle_accuracy_7deg"] == pytest.approx(np.mean(err <= 7), abs=1e-6)
    assert logs["angle_mae"] == pytest.approx(err.mean(), rel=1e-4)
    assert logs["angle_rmse"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-4)
    assert logs["angle_loss"] == pytest.approx(np.mean(err ** 2), rel=1e-4)


def test_baselines_refuse_nothing_and_get_no_schedule():
    model = _model("cnn_lstm")
    TR.compile_steering_model(model, truncation="astsgd", threshold=1.0)
    assert model.optimizer is not None and not hasattr(model, "_truncation")


def test_theta_is_the_loss_of_predicting_the_training_mean():
    angles = np.array([-3.0, 1.0, 4.0, 10.0])
    mse_of_mean = np.mean((angles - angles.mean()) ** 2)
    assert TR.mean_prediction_loss(angles.std()) == pytest.approx(mse_of_mean)


def test_stream_table_splits_conditions_into_factors():
    angles = np.zeros(4)
    predictions = {"angle": np.array([0.0, 0.0, 9.0, 9.0]),
                   "spatial": np.array([1.0, 6.0, 1.0, 6.0]),
                   "temporal": np.array([6.0, 1.0, 1.0, 1.0])}
    labels = ["day/lanes/clear", "night/lanes/clear", "day/no_lanes/rain", "night/no_lanes/rain"]
    rows = {r["condition"]: r for r in TR.stream_table(angles, predictions, labels)}
    assert rows["all"] == {"condition": "all", "clips": 4, "full": 0.5, "T1": 0.5, "T2": 0.75,
                           "carrier": "T2"}
    assert rows["day"]["T1"] == 1.0 and rows["day"]["T2"] == 0.5 and rows["day"]["carrier"] == "T1"
    assert rows["night"]["T1"] == 0.0 and rows["night"]["T2"] == 1.0
    assert rows["rain"]["clips"] == 2 and rows["rain"]["full"] == 0.0
    assert rows["lanes"]["carrier"] == "tie"


def test_render_draws_true_and_predicted_lines():
    model = _model("comma_cnn")
    images = TR.render_steering(model, _clips(2), [30.0, -30.0], scale=2)
    assert images.dtype == np.uint8 and images.shape[0] == 2 and images.shape[2] == 2 * W
    frame_part = images[:, : 2 * H].astype(int)
    green = (frame_part[..., 1] > 150) & (frame_part[..., 0] < 60) & (frame_part[..., 2] < 60)
    red = (frame_part[..., 0] > 180) & (frame_part[..., 1] < 60) & (frame_part[..., 2] < 60)
    assert green.any() and red.any()


# ----------------------------------------------------------------------------
# Data and a short run.
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    folder, cached = D.generated_routes(str(tmp_path_factory.mktemp("roads")), routes=3,
                                        frames_per_route=40, image_size=(H, W),
                                        segment_frames=20, seed=0, progress=False)
    assert not cached
    return folder


def test_routes_split_by_name_with_conditions(routes):
    train, test, info = D.load_datasets(routes, length=4, image_size=(H, W), batch_size=8,
                                        stride=2, test_routes=1)
    assert info["train_routes"] == ["route_000", "route_001"]
    assert info["test_routes"] == ["route_002"]
    # Clip ends 3, 5, ..., 39 of 40 frames: 19 per route (glitches aside).
    assert info["test_clips"] <= 19 and info["train_clips"] <= 38
    frames, targets = next(iter(test))
    assert frames.shape[1:] == (4, H, W, 3)
    assert set(targets) == {"steering_angle", "condition"}
    assert info["condition_names"] and all(n.count("/") == 2 for n in info["condition_names"])


@pytest.mark.slow
def test_short_run_lowers_the_loss_and_the_export_reloads(routes, tmp_path, capsys):
    task = get_task("steering")
    args = parse_task_args("train", task, [
        "--data-dir", routes, "--test-routes", "1", "--model", "scs", "--epochs", "8",
        "--batch-size", "8",
        "--learning-rate", "1e-2", "--length", "4", "--image-size", f"{H},{W}",
        "--widths", "4,8", "--hidden", "8", "--thresholds", "2,5", "--verbose", "0"])
    data = task.load_data(args)
    keras.utils.set_random_seed(0)  # the same initial weights every run
    model = task.build_model("scs", data, args)
    task.compile_model(model, "scs", data, args)
    assert model._truncation.threshold == pytest.approx(data.info["angle_std"] ** 2)
    history = task.fit(model, "scs", data, args).history
    # Flat for the first epochs, then well down (45 -> 6 in two seeds tried).
    assert history["angle_loss"][-1] < 0.5 * history["angle_loss"][0], history["angle_loss"]
    assert len(history["truncation_rate"]) == 8
    scores = task.evaluate(model, data, args)
    assert list(task.table_columns) == ["accuracy_2deg", "accuracy_5deg", "mae", "rmse"]
    assert set(task.table_columns) <= set(scores)
    assert "T¹ (spatial-only) vs T² (temporal-only)" in capsys.readouterr().out
    # Reloaded with tf.saved_model.load and compared with the model.
    path = runner.export_and_check(task, model, data, str(tmp_path / "saved"))
    signatures = tf.saved_model.load(path).signatures
    assert sorted(signatures) == ["serving_default", "step"]
    assert signatures["serving_default"].structured_input_signature[1][
        "frames"].shape.as_list() == [None, None, H, W, 3]


def test_command_line_generate_writes_the_comma_layout(tmp_path):
    out = tmp_path / "gen"
    assert cli_main(["generate", "steering", "--out", str(out), "--routes", "2",
                     "--frames-per-route", "8", "--image-size", "8,16", "--verbose", "0"]) == 0
    assert sorted(os.listdir(out)) == ["camera", "conditions", "log"]
    assert sorted(os.listdir(out / "camera")) == ["route_000.h5", "route_001.h5"]
