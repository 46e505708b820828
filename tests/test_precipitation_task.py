"""Precipitation nowcasting task: models, loss, pipeline, example CLI, export."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import scs_keras as sk
from scs_keras.cli import main as cli_main
from scs_keras.tasks.precipitation import data as D
from scs_keras.tasks.precipitation import export as E
from scs_keras.tasks.precipitation import models as M
from scs_keras.tasks.precipitation import training as TR
from scs_keras.tasks.training import compile_model, fixed_sample, make_truncation

N, T_OUT, SIZE, WIDTHS = 3, 2, 16, (4, 8)


# ----------------------------------------------------------------------------
# Models.
# ----------------------------------------------------------------------------


def recurrent_layers(model, role):
    return sorted((layer for layer in model.layers if layer.name.startswith(role + "_")),
                  key=lambda layer: layer.name)


def test_builders_shapes_and_equal_depth_and_width():
    scs = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS)
    lstm = M.build_convlstm_forecaster(N, T_OUT, SIZE, widths=WIDTHS)
    assert isinstance(scs, sk.SCSModel)
    assert tuple(scs.inputs[0].shape) == (None, N, SIZE, SIZE, 1)
    assert tuple(lstm.inputs[0].shape) == (None, N, SIZE, SIZE, 1)
    assert sorted(scs.output) == ["forecast", "spatial"]
    assert sorted(lstm.output) == ["forecast"]
    for out in (scs.output["forecast"], scs.output["spatial"], lstm.output["forecast"]):
        assert tuple(out.shape) == (None, T_OUT, SIZE, SIZE, 1)
    for role in ("encoder", "forecaster"):
        a, b = recurrent_layers(scs, role), recurrent_layers(lstm, role)
        assert len(a) == len(b) == len(WIDTHS)
        assert [layer.filters for layer in a] == [layer.filters for layer in b] == list(WIDTHS)
        assert all(isinstance(layer, sk.ConvSCS2D) for layer in a)
        assert all(isinstance(layer, keras.layers.ConvLSTM2D) for layer in b)
    print(f"\nparams: SCS {scs.count_params():,}, ConvLSTM {lstm.count_params():,} "
          f"(widths {WIDTHS}, {len(WIDTHS)} encoder + {len(WIDTHS)} forecaster layers)")
    # The T¹ head shares every weight: it adds no parameter.
    no_t1 = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS, spatial_head=False)
    assert no_t1.count_params() == scs.count_params()
    x = np.random.default_rng(0).random((2, N, SIZE, SIZE, 1)).astype("float32")
    out = scs(x)
    for key in ("forecast", "spatial"):
        assert out[key].shape == (2, T_OUT, SIZE, SIZE, 1)
        assert 0.0 <= float(tf.reduce_min(out[key])) <= float(tf.reduce_max(out[key])) <= 1.0
    # The T¹ forecast has no time: the same frame at every lead.
    np.testing.assert_allclose(out["spatial"][:, 0], out["spatial"][:, -1])
    predictor = M.forecast_only(lstm)
    assert predictor.output_shape == (None, T_OUT, SIZE, SIZE, 1)


def test_deep_topology_keeps_the_resolution_and_adds_layers_not_levels():
    depth = 3
    scs = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS, depth=depth,
                                 next_frame_head=True)
    lstm = M.build_convlstm_forecaster(N, T_OUT, SIZE, widths=WIDTHS, depth=depth)
    for model in (scs, lstm):
        for role in ("encoder", "forecaster"):
            layers = recurrent_layers(model, role)
            assert len(layers) == depth
            # Every recurrent layer has the last width and no stride: the
            # CNN encoder did the downsampling.
            assert {layer.filters for layer in layers} == {WIDTHS[-1]}
            assert {tuple(layer.get_config()["strides"]) for layer in layers} == {(1, 1)}
        stem = [layer for layer in model.layers if layer.name.startswith("stem_")]
        assert len(stem) == len(WIDTHS)
    assert sorted(scs.output) == ["forecast", "next_frame", "spatial"]
    assert tuple(scs.output["forecast"].shape) == (None, T_OUT, SIZE, SIZE, 1)
    assert tuple(scs.output["next_frame"].shape) == (None, N - 1, SIZE, SIZE, 1)
    # One more layer adds exactly two recurrent layers' weights (encoder and
    # forecaster twins); the stem and decoder are unchanged.
    deeper = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS, depth=depth + 1,
                                    next_frame_head=True)
    per_layer = recurrent_layers(scs, "encoder")[0].count_params()
    assert deeper.count_params() - scs.count_params() == 2 * per_layer
    x = np.random.default_rng(2).random((2, N, SIZE, SIZE, 1)).astype("float32")
    out = scs(x)
    np.testing.assert_allclose(out["spatial"][:, 0], out["spatial"][:, -1])
    with pytest.raises(ValueError, match="depth"):
        M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS, depth=0)


def test_strides_set_the_resolution_of_the_recurrent_layers():
    # Deep topology with a stride-1 stem: the recurrent layers run at the
    # frame's own resolution; with stride 2, at half of it.  The stride
    # changes no weight shape, so both have the same parameter count.
    full = M.build_model("scs", N, T_OUT, SIZE, widths=(4,), strides=1, depth=2)
    half = M.build_model("scs", N, T_OUT, SIZE, widths=(4,), strides=2, depth=2)
    assert full.count_params() == half.count_params()
    for model, side in ((full, SIZE), (half, SIZE // 2)):
        layer = recurrent_layers(model, "encoder")[0]
        assert tuple(layer.output[0].shape)[2:4] == (side, side)
        assert tuple(model.output["forecast"].shape) == (None, T_OUT, SIZE, SIZE, 1)
    # The equal-parameter twin is sized with the same strides.
    eq = M.build_model("convlstm_eq_params", N, T_OUT, SIZE, widths=(4,), strides=1, depth=2)
    widths, (scs_params, _) = M.equal_parameter_widths((4,), depth=2, strides=1)
    assert scs_params == full.count_params()
    assert recurrent_layers(eq, "encoder")[0].filters == widths[-1]
    assert tuple(recurrent_layers(eq, "encoder")[0].output[0].shape)[2:4] == (SIZE, SIZE)


def test_deep_topology_has_residual_shortcuts():
    # With layers 2..L zeroed (their outputs are 0), a residual stack passes
    # layer 1's output through unchanged: the forecast equals that of the
    # depth-1 model with the same layer 1, CNN encoder and decoder.
    shallow = M.build_convlstm_forecaster(N, T_OUT, SIZE, widths=WIDTHS, depth=1)
    deep = M.build_convlstm_forecaster(N, T_OUT, SIZE, widths=WIDTHS, depth=4)
    for layer in shallow.layers:
        if layer.weights:
            deep.get_layer(layer.name).set_weights(layer.get_weights())
    for role in ("encoder", "forecaster"):
        for layer in recurrent_layers(deep, role)[1:]:
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(3).random((2, N, SIZE, SIZE, 1)).astype("float32")
    np.testing.assert_allclose(deep(x)["forecast"], shallow(x)["forecast"], atol=1e-6)
    # Without the shortcuts the zeroed layers cut the signal.
    plain = M.build_convlstm_forecaster(N, T_OUT, SIZE, widths=WIDTHS, depth=4, residual=False)
    plain.set_weights(deep.get_weights())
    assert np.abs(plain(x)["forecast"] - shallow(x)["forecast"]).max() > 1e-3


def test_equal_parameter_convlstm():
    widths, (scs_params, lstm_params) = M.equal_parameter_widths(WIDTHS)
    assert all(a < b for a, b in zip(widths, WIDTHS))
    assert abs(lstm_params - scs_params) / scs_params < 0.1
    scs = M.build_model("scs", N, T_OUT, SIZE, widths=WIDTHS)
    eq = M.build_model("convlstm_eq_params", N, T_OUT, SIZE, widths=WIDTHS)
    assert scs.count_params() == scs_params and eq.count_params() == lstm_params
    assert [layer.filters for layer in recurrent_layers(eq, "encoder")] == list(widths)


def test_forecast_depends_on_the_whole_history():
    model = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS, output_bias=0.0)
    x = np.random.default_rng(1).random((2, N, SIZE, SIZE, 1)).astype("float32")
    y = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(y)
        out = tf.reduce_sum(model(y)["forecast"])
    grad = tape.gradient(out, y).numpy()
    # The first observed frame reaches the forecast only through the
    # encoder's states handed to the forecaster.
    assert np.abs(grad[:, 0]).sum() > 0


def test_scs_forecaster_saves_and_reloads(tmp_path):
    model = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS, next_frame_head=True)
    assert tuple(model.output["next_frame"].shape) == (None, N - 1, SIZE, SIZE, 1)
    x = np.random.default_rng(4).random((2, N, SIZE, SIZE, 1)).astype("float32")
    path = str(tmp_path / "model.keras")
    model.save(path)
    clone = keras.saving.load_model(path)
    assert isinstance(clone, sk.SCSModel)
    for key, value in model(x).items():
        np.testing.assert_allclose(clone(x)[key], value, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(image_size=18), "divisible"),
        (dict(input_frames=1, next_frame_head=True), "next_frame_head"),
        (dict(widths=()), "widths"),
        (dict(widths=(4, 0)), "widths"),
        (dict(strides=(2,)), "strides"),
        (dict(input_frames=0), "input_frames"),
        (dict(target_frames=-1), "target_frames"),
        (dict(truncation_rate=1.5), "truncation_rate"),
    ],
)
def test_builder_arguments_are_validated(kwargs, match):
    args = dict(input_frames=N, target_frames=T_OUT, image_size=SIZE, widths=WIDTHS)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        M.build_scs_forecaster(**args)


# ----------------------------------------------------------------------------
# Loss.
# ----------------------------------------------------------------------------


def numpy_weights(y):
    dbz = 70.0 * y.astype(np.float64) - 10.0
    rate = (10.0 ** (dbz / 10.0) / 200.0) ** (1.0 / 1.6)
    w = np.ones_like(rate)
    for edge, value in ((2, 2), (5, 5), (10, 10), (30, 30)):
        w[rate >= edge] = value
    return w


@pytest.mark.parametrize("weighted", [False, True])
def test_loss_against_numpy(weighted):
    rng = np.random.default_rng(3)
    y = rng.random((4, T_OUT, 6, 6, 1)).astype("float32")
    p = rng.random((4, T_OUT, 6, 6, 1)).astype("float32")
    loss = TR.NowcastingLoss(mse_weight=0.7, mae_weight=1.3, intensity_weighted=weighted)
    err = p.astype(np.float64) - y
    per_pixel = 0.7 * err ** 2 + 1.3 * np.abs(err)
    if weighted:
        per_pixel *= numpy_weights(y)
    assert float(loss(y, p)) == pytest.approx(per_pixel.mean(), rel=1e-5)
    np.testing.assert_allclose(loss.call(y, p), per_pixel.mean(axis=(1, 2, 3, 4)), rtol=1e-5)


def test_rain_weights_buckets_and_validation():
    y = np.array([0.0, 0.54, 0.55, 0.62, 0.66, 0.74, 1.0], "float32")
    np.testing.assert_allclose(TR.rain_intensity_weights(y), numpy_weights(y))
    with pytest.raises(ValueError, match="weights"):
        TR.NowcastingLoss(thresholds=(2.0, 5.0), weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="increasing"):
        TR.NowcastingLoss(thresholds=(5.0, 2.0), weights=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="mse_weight"):
        TR.NowcastingLoss(mse_weight=0.0, mae_weight=0.0)


def test_compile_forecaster_checks_its_arguments():
    scs = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS)
    with pytest.raises(ValueError, match="threshold"):
        TR.compile_forecaster(scs, truncation="astsgd")
    with pytest.raises(ValueError, match="truncation"):
        TR.compile_forecaster(scs, truncation="sometimes")
    lstm = M.build_convlstm_forecaster(N, T_OUT, SIZE, widths=WIDTHS)
    no_t1 = M.build_scs_forecaster(N, T_OUT, SIZE, widths=WIDTHS, spatial_head=False)
    with pytest.raises(ValueError, match="spatial-only output"):
        TR.compile_forecaster(no_t1, truncation="astsgd", threshold=0.1)
    # One set of flags compiles every model: the ConvLSTM has no SCS cells,
    # so the truncation flags do not apply to it.
    TR.compile_forecaster(lstm, truncation="stsgd")
    assert lstm.optimizer.global_clipnorm == 1.0
    assert make_truncation("astsgd", 0.5, model=lstm) is None  # no θ needed either
    # The library call itself still refuses a schedule for a model without SCS cells.
    with pytest.raises(ValueError, match="no SCS cells"):
        compile_model(lstm, "mse", 1e-3, truncation=sk.STSGD(0.5))
    TR.compile_forecaster(scs, threshold=0.1)
    assert isinstance(scs._truncation, sk.ASTSGD)
    assert scs._truncation.threshold == pytest.approx(0.1)


def test_strip_images():
    imgs = TR.strip_images(np.zeros((2, 3, 8, 8, 1)), np.ones((2, 2, 8, 8, 1)),
                          np.full((2, 2, 8, 8, 1), 0.5))
    assert imgs["radar/input"].shape == (2, 8, 3 * 8 + 2 * 2, 1)
    assert imgs["radar/prediction"].shape == (2, 8, 2 * 8 + 2, 1)
    assert imgs["radar/panel"].shape == (2, 3 * 8 + 2 * 2, 28, 1)


# ----------------------------------------------------------------------------
# End to end.
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("rain")
    return D.generated_data(str(root), "png", image_size=SIZE, train_events=4, test_events=1,
                            frames_per_event=12, seed=0)


@pytest.mark.slow
def test_end_to_end_training_lowers_the_loss_and_the_export_reloads(tiny_data, tmp_path):
    train, test, info = D.load_datasets(tiny_data["train"], tiny_data["test"], N, T_OUT,
                                        batch_size=8, stride=1)
    assert info["image_size"] == (SIZE, SIZE) and info["train_windows"] == 4 * 8
    model = M.build_model("scs", N, T_OUT, SIZE, widths=WIDTHS, seed=0)
    theta = TR.persistence_loss(train)
    logdir = str(tmp_path / "logs")
    TR.compile_forecaster(model, threshold=theta, learning_rate=5e-3)
    history = TR.fit_forecaster(model, train, epochs=4, val_ds=test, logdir=logdir, verbose=0)
    losses = history.history["forecast_loss"]
    assert losses[-1] < losses[0]
    rates = history.history["truncation_rate"]
    assert len(rates) == 4 and all(0.0 <= r <= 1.0 for r in rates)
    assert os.listdir(os.path.join(logdir, "images"))  # picture strips
    assert os.path.isdir(os.path.join(logdir, "train"))  # scalars
    scores = TR.evaluate_forecaster(model, test, T_OUT)
    assert set(TR.TABLE_COLUMNS) <= set(scores)
    assert len(scores["per_lead"]["mse"]) == T_OUT

    x, _ = fixed_sample(test, 3)
    expected = M.forecast_only(model)(x, training=False).numpy()
    path = E.export_forecaster(model, str(tmp_path / "saved_models" / "precipitation"))
    assert path.endswith(os.path.join("precipitation", "1"))
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        fn = loaded.signatures["serving_default"]
        spec = fn.structured_input_signature[1]["frames"]
        out = fn(frames=tf.constant(np.load({str(tmp_path / 'x.npy')!r})))
        np.save({str(tmp_path / 'y.npy')!r}, out["forecast"].numpy())
        print(json.dumps({{"scs_keras": any(m.startswith("scs_keras") for m in sys.modules),
                          "keras": "keras" in sys.modules, "shape": spec.shape.as_list(),
                          "outputs": sorted(fn.structured_outputs)}}))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=str(tmp_path), env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"scs_keras": False, "keras": report["keras"],
                      "shape": [None, N, SIZE, SIZE, 1], "outputs": ["forecast"]}
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)


@pytest.mark.slow
def test_hdf5_data_and_the_command_line_baselines(tmp_path, capsys):
    argv = ["train", "precipitation", "--format", "hdf5", "--generated-dir",
            str(tmp_path / "gen"), "--model", "persistence", "--image-size", str(SIZE),
            "--input-frames", str(N), "--target-frames", str(T_OUT), "--train-events", "2",
            "--test-events", "1", "--frames-per-event", "8", "--stride", "1",
            "--batch-size", "4"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "generated HDF5" in out
    table = out.strip().splitlines()
    assert table[-3].startswith("| model | mse | mae | ssim | csi_20dbz")
    assert table[-1].startswith("| persistence |")
    # The HDF5 file is read through tensorflow-io and yields [0, 1] windows.
    h5 = [f for f in os.listdir(tmp_path / "gen" / os.listdir(tmp_path / "gen")[0])
          if f.endswith(".h5")]
    assert sorted(h5) == ["test.h5", "train.h5"]


@pytest.mark.slow
def test_depth_study_command_prints_one_table_over_depths(tiny_data, tmp_path, capsys):
    argv = ["study", "precipitation", "--generated-dir", str(tmp_path / "gen"),
            "--depths", "1,2", "--models", "scs,convlstm", "--epochs", "1",
            "--image-size", str(SIZE), "--widths", ",".join(map(str, WIDTHS)),
            "--input-frames", str(N), "--target-frames", str(T_OUT), "--train-events", "2",
            "--test-events", "1", "--frames-per-event", "8", "--stride", "2",
            "--batch-size", "8", "--verbose", "0"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    table = out[out.index("Depth study"):].strip().splitlines()
    header = [c.strip() for c in table[2].strip("|").split("|")]
    assert header[:3] == ["depth", "model", "mse"] and header[-1] == "time_vs_convlstm"
    end = table.index("", 4)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[4:end]]
    assert [(r[0], r[1]) for r in rows] == [("1", "scs"), ("1", "convlstm"),
                                            ("2", "scs"), ("2", "convlstm")]
    # Then each model's time per added layer: at two depths, the difference.
    assert table[end + 1].startswith("Training time per added recurrent layer")
    slope_rows = [[c.strip() for c in line.strip("|").split("|")]
                  for line in table[end + 5:]]
    seconds = {(r[0], r[1]): float(r[header.index("train_s")]) for r in rows}
    per_layer = {r[0]: float(r[1]) for r in slope_rows}
    assert set(per_layer) == {"scs", "convlstm"}
    for model in per_layer:
        expected = seconds[("2", model)] - seconds[("1", model)]
        assert abs(per_layer[model] - expected) <= 0.005 * max(1.0, abs(expected))
    params = {(r[0], r[1]): int(r[header.index("params")]) for r in rows}
    # Each added depth adds an encoder and a forecaster layer's weights.
    for model, builder in (("scs", M.build_scs_forecaster),
                           ("convlstm", M.build_convlstm_forecaster)):
        for depth in (1, 2):
            expected = builder(N, T_OUT, SIZE, widths=WIDTHS, depth=depth,
                               next_frame_head=True).count_params()
            assert params[(str(depth), model)] == expected


@pytest.mark.slow
def test_a_study_row_does_not_depend_on_the_models_trained_before_it(tmp_path):
    # The same SCS configuration twice in one study: ASTSGD's θ reads the
    # shuffled training pipeline, and when it was computed once and cached,
    # the second model saw other epoch orders (a different MSE) than the
    # first, i.e. than the same model trained alone.
    from scs_keras.cli import parse_task_args
    from scs_keras.tasks import runner
    from scs_keras.tasks.base import get_task

    task = get_task("precipitation")
    args = parse_task_args("study", task, [
        "--depths", "1,1", "--models", "scs", "--epochs", "2", "--image-size", "16",
        "--train-events", "3", "--test-events", "1", "--frames-per-event", "12",
        "--batch-size", "2", "--widths", "4", "--verbose", "0",
        "--generated-dir", str(tmp_path / "gen")])
    first, second = runner.depth_study(task, args)
    assert first["mse"] == second["mse"] and first["csi_30dbz"] == second["csi_30dbz"]
