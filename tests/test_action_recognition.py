"""Action recognition task: model shapes, clip-score loss, flow targets, CLI, end to end."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from scs_keras import ASTSGD, ConvSCS2D, OverlapCoherence, SCSModel
from scs_keras.cli import main as cli_main
from scs_keras.tasks.action_recognition.data import (
    attach_targets,
    farneback_flow,
    generated_motion_data,
    make_action_datasets,
    model_targets,
    overlap_sequence_length,
)
from scs_keras.tasks.action_recognition.export import export_action_model, serving_model
from scs_keras.tasks.action_recognition.models import (
    MODEL_NAMES,
    RESNET18_SHAPE,
    build_model,
    build_scs_action_model,
    stage_layout,
)
from scs_keras.tasks.action_recognition.training import (
    ClipScoreLoss,
    compile_action_model,
    evaluate_action_model,
    render_predictions,
)
from tests.serving import serve_in_subprocess

SMALL = dict(widths=(4, 8), stem_kernel=3, stem_stride=1)
RNG = np.random.default_rng(7)


def count_layers(model, cls):
    return sum(isinstance(layer, cls)
               for layer in model._flatten_layers(include_self=False, recursive=True))


# -- layout and shapes --------------------------------------------------------


def test_stage_layout_splits_depth_over_stages():
    stages = stage_layout(15, (64, 128, 256, 512))
    assert [len(s) for s in stages] == [1, 4, 4, 3, 3]  # stem + 14 layers
    assert [s[0][1] for s in stages[1:]] == [1, 2, 2, 2]  # stride 2 at new widths
    assert stage_layout(2, (16, 32)) == [[(16, None)], [(16, 1)]]
    assert stage_layout(5, (8, 16), stage_depths=[1, 3])[2] == [(16, 2), (16, 1), (16, 1)]
    with pytest.raises(ValueError, match="stage_depths"):
        stage_layout(5, (8, 16), stage_depths=[1, 1])
    with pytest.raises(ValueError, match="depth"):
        stage_layout(0, (8,))


@pytest.mark.parametrize("depth", [2, 6, 10])
def test_scs_model_shapes_with_aux_and_flow_heads(depth):
    model = build_scs_action_model(5, (None, 16, 16, 3), depth=depth, flow_heads=True,
                                   **SMALL)
    assert isinstance(model, SCSModel)
    assert count_layers(model, ConvSCS2D) == depth
    out = model(RNG.random((2, 3, 16, 16, 3), dtype=np.float32), training=True)
    assert out["frames"].shape == out["frame_probs"].shape == out["spatial"].shape == (2, 3, 5)
    assert out["clip"].shape == (2, 5)
    assert out["flow_1"].shape == (2, 3, 16, 16, 2)
    if depth > 2:
        assert out["flow_2"].shape == (2, 3, 8, 8, 2)  # stride 2 at the second width
    np.testing.assert_allclose(np.exp(out["frames"]), out["frame_probs"], rtol=1e-5)
    np.testing.assert_allclose(out["clip"], np.mean(out["frames"], axis=1), atol=1e-5)
    np.testing.assert_allclose(np.sum(out["frame_probs"], -1), 1.0, atol=1e-5)


def test_scs_model_without_decoupled_streams():
    model = build_scs_action_model(3, (4, 16, 16, 3), depth=3, aux_spatial_loss=False,
                                   **SMALL)
    assert sorted(model.output_names) == ["clip", "frame_probs", "frames"]
    assert model(np.zeros((1, 4, 16, 16, 3), "float32"))["frames"].shape == (1, 4, 3)


def test_paper_shaped_fifteen_layer_network_builds():
    model = build_scs_action_model(101, (None, 112, 112, 3), aux_spatial_loss=True,
                                   **RESNET18_SHAPE)
    assert count_layers(model, ConvSCS2D) == 15
    assert model.get_layer("frames").output.shape == (None, None, 101)
    # 7x7/2 stem, 3x3/2 pool, then three stride-2 stages: 112 -> 56 -> 28 -> 14 -> 7 -> 4.
    streams = keras.tree.flatten(model.get_layer("stage_4").output)
    assert [tuple(t.shape) for t in streams] == [(None, None, 4, 4, 512)] * 3


@pytest.mark.parametrize("name", ["cnn", "cnn_lstm", "convlstm"])
@pytest.mark.parametrize("depth", [2, 6, 10])
def test_baseline_shapes(name, depth):
    model = build_model(name, 4, (None, 16, 16, 3), depth=depth, seed=0,
                               truncation_rate=0.3, aux_spatial_loss=True, **SMALL)
    assert sorted(model.output_names) == ["clip", "frame_probs", "frames"]
    out = model(RNG.random((2, 3, 16, 16, 3), dtype=np.float32))
    assert out["frames"].shape == (2, 3, 4) and out["clip"].shape == (2, 4)
    if name == "convlstm":
        assert count_layers(model, keras.layers.ConvLSTM2D) == depth
    else:
        convs = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
                 if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size != (1, 1)]
        assert len(convs) == depth
    if name == "cnn":
        # One frame at a time: changing frame 0 leaves frame 1's prediction alone.
        x = RNG.random((1, 2, 16, 16, 3), dtype=np.float32)
        y = x.copy()
        y[:, 0] = 1.0 - y[:, 0]
        np.testing.assert_allclose(model(x)["frames"][:, 1], model(y)["frames"][:, 1],
                                   atol=1e-5)


def test_same_width_and_unknown_model():
    for name in MODEL_NAMES:
        model = build_model(name, 4, (None, 16, 16, 3), depth=2, **SMALL)
        assert model.get_layer("frame_classifier").kernel.shape == (4, 4)
    with pytest.raises(ValueError, match="Unknown model 'resnet'"):
        build_model("resnet", 4, (None, 16, 16, 3))
    with pytest.raises(ValueError, match="input_shape"):
        build_model("scs", 4, (16, 16, 3))


def test_serving_model_outputs_probabilities():
    model = build_model("cnn_lstm", 3, (None, 16, 16, 3), depth=2, **SMALL)
    serving = serving_model(model)
    x = RNG.random((2, 4, 16, 16, 3), dtype=np.float32)
    out, ref = serving(x), model(x)
    np.testing.assert_allclose(out["frame_probabilities"], ref["frame_probs"], atol=1e-6)
    np.testing.assert_allclose(np.sum(out["clip_probabilities"], -1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.argmax(out["clip_probabilities"], -1),
                                  np.argmax(ref["clip"], -1))


# -- the clip-score loss --------------------------------------------------------


def numpy_clip_loss(logits, labels, frames):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    t = logp.shape[1]
    if frames == "second_half":
        logp = logp[:, t // 2:]
    score = logp.mean(axis=1)
    return -np.mean(score[np.arange(len(labels)), labels])


@pytest.mark.parametrize("frames", ["second_half", "all"])
@pytest.mark.parametrize("t", [5, 6])
def test_clip_score_loss_matches_numpy(frames, t):
    logits = RNG.normal(0, 2, (4, t, 7)).astype("float32")
    labels = RNG.integers(0, 7, 4)
    expected = numpy_clip_loss(logits.astype("float64"), labels, frames)
    logp = tf.nn.log_softmax(logits).numpy()
    got = ClipScoreLoss(frames=frames)(labels, logp)
    got_logits = ClipScoreLoss(frames=frames, inputs="logits")(labels[:, None], logits)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    assert float(got_logits) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="frames"):
        ClipScoreLoss(frames="first_half")


# -- flow targets ----------------------------------------------------------------


def test_farneback_flow_sees_a_rightward_shift():
    base = cv2_blur(RNG.random((40, 40)).astype("float32"))
    frames = np.stack([np.roll(base, 2 * t, axis=1) for t in range(3)])  # 2 px/frame right
    frames = np.repeat(frames[..., None], 3, axis=-1)[:, 4:36, 4:36]
    full, half = farneback_flow(frames, [(32, 32), (16, 16)])
    assert full.shape == (3, 32, 32, 2) and half.shape == (3, 16, 16, 2)
    assert np.all(full[0] == 0)  # no previous frame
    inner = full[1:, 8:24, 8:24]
    assert np.median(inner[..., 0]) == pytest.approx(2.0, abs=0.5)
    assert abs(np.median(inner[..., 1])) < 0.3
    # Rescaled to the coarser grid: 2 px at 32 px wide is 1 px at 16 px wide.
    assert np.median(half[1:, 4:12, 4:12, 0]) == pytest.approx(1.0, abs=0.3)


def cv2_blur(img):
    import cv2

    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    return (img - img.min()) / (img.max() - img.min())


def test_flow_heads_train_one_step_on_pipeline_targets():
    keras.utils.set_random_seed(1)
    model = build_scs_action_model(3, (None, 16, 16, 3), depth=2, flow_heads=True, **SMALL)
    compile_action_model(model, 3, metrics=False)
    x = RNG.random((2, 4, 16, 16, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, np.array([0, 2], "int32"))).batch(2)
    ds = attach_targets(ds, model.output_names, {"flow_1": (16, 16)})
    frames, targets = next(iter(ds))
    assert targets["flow_1"].shape == (2, 4, 16, 16, 2)
    assert set(targets) == set(model.output_names)
    head = model.get_layer("flow_1").kernel
    before = head.numpy()
    # One eager training step (tracing `fit` for this model takes ~10 s).
    logs = model.train_step((frames, targets))
    for key in ("loss", "frames_loss", "flow_1_loss", "spatial_loss", "truncation_rate"):
        assert np.isfinite(float(logs[key])), key
    assert not np.allclose(head.numpy(), before)
    with pytest.raises(ValueError, match="flow_shapes"):
        attach_targets(ds, ["frames", "flow_1"])
    with pytest.raises(ValueError, match="overlap"):
        compile_action_model(model, 3, overlap=OverlapCoherence(2, 0.5))


def test_overlap_coherence_step_on_long_sequences():
    keras.utils.set_random_seed(2)
    # Three stacks (stem, two stages) whose states differ in shape, and whose
    # layers share names: each layer must get its own state back at the next
    # clip (SCSModel keys the carried states by layer object).
    model = build_scs_action_model(3, (None, 16, 16, 3), depth=3, **SMALL)
    assert len(model._scs_layers()) == 3
    compile_action_model(model, 3, overlap=OverlapCoherence(4, 0.5, coherence_weight=10.0),
                         metrics=False)
    assert model._overlap.output == "frame_probs"  # coherence on probabilities
    length = overlap_sequence_length(2, 4, 0.5)  # clips [0:4] and [2:6]
    x = tf.constant(RNG.random((2, length, 16, 16, 3)).astype("float32"))
    y = {k: tf.constant([0, 1]) for k in model.output_names}
    logs = model.train_step((x, y))
    assert np.isfinite(float(logs["loss"])) and float(logs["truncation_rate"]) == 0.5
    with pytest.raises(ValueError, match="SCS model"):
        compile_action_model(build_model("cnn", 3, (None, 16, 16, 3), depth=2),
                             3, overlap=OverlapCoherence(4, 0.5))


def test_astsgd_reads_the_frames_and_t1_losses():
    model = build_scs_action_model(3, (None, 16, 16, 3), depth=2, **SMALL)
    compile_action_model(model, 3, truncation=ASTSGD(initial_loss=np.log(3.0), threshold=0.5),
                         metrics=False)
    assert model._truncation.main_output == "frames"
    x = tf.constant(RNG.random((2, 4, 16, 16, 3)).astype("float32"))
    y = {k: tf.constant([0, 1]) for k in model.output_names}
    rate = float(model.train_step((x, y))["truncation_rate"])
    assert 0.0 <= rate <= 1.0 and rate != 0.5  # moved away from q0 by the losses
    no_t1 = build_scs_action_model(3, (None, 16, 16, 3), depth=2, aux_spatial_loss=False,
                                   **SMALL)
    with pytest.raises(ValueError, match="spatial-only output"):
        compile_action_model(no_t1, 3, truncation=ASTSGD())


def test_overlap_sequence_length_gives_k_clips():
    for k, n, r in [(3, 4, 0.25), (6, 5, 0.25), (2, 8, 0.5), (1, 5, 0.0)]:
        length = overlap_sequence_length(k, n, r)
        assert len(OverlapCoherence(n, r).clip_starts(length)) == k


# -- end to end ------------------------------------------------------------------------

SERVE_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
fn = loaded.signatures["serving_default"]
out = fn(frames=tf.constant(np.load(sys.argv[2])))
assert not any(m.startswith("scs_keras") for m in sys.modules), "the export must load without scs_keras"
result = {k: v.numpy().tolist() for k, v in out.items()}
result["input_shape"] = fn.structured_input_signature[1]["frames"].shape.as_list()
print(json.dumps(result))
"""


@pytest.mark.slow
def test_end_to_end_training_loss_falls_and_export_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    root = generated_motion_data(str(tmp_path / "data"), videos_per_class=4, num_frames=6,
                                 size=16, progress=False)
    model = build_scs_action_model(4, (None, 16, 16, 3), depth=2, widths=(8,),
                                   stem_kernel=3, stem_stride=1, seed=0)
    train_ds, test_ds, info = make_action_datasets(root, num_frames=6, image_size=16,
                                                   batch_size=4, seed=0)
    names = info["class_names"]
    assert names == ["MoveLeft", "MoveRight", "MoveUp", "MoveDown"]
    train_ds, test_ds = model_targets(train_ds, model), model_targets(test_ds, model)
    compile_action_model(model, len(names), learning_rate=1e-2)
    history = model.fit(train_ds, epochs=8, verbose=0).history
    assert history["loss"][-1] < 0.9 * history["loss"][0], history["loss"]
    assert history["truncation_rate"][-1] == pytest.approx(0.5)
    metrics = evaluate_action_model(model, test_ds, len(names))
    assert set(metrics) == {"top1", "top5", "mAP", "t1_top1"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())

    frames = next(iter(test_ds))[0].numpy()
    pictures = render_predictions(model, frames[:2], [0, 1], names)
    assert pictures.dtype == np.uint8 and pictures.shape[0] == 2

    path = export_action_model(model, 6, 16, str(tmp_path / "saved" / "action"))
    assert path.endswith(os.path.join("action", "1"))
    served = serve_in_subprocess(SERVE_SCRIPT, path, frames, tmp_path)
    assert served["input_shape"] == [None, 6, 16, 16, 3]  # batched: any batch size
    expected = serving_model(model)(frames)
    for key in ("frame_probabilities", "clip_probabilities"):
        np.testing.assert_allclose(served[key], expected[key], atol=1e-5)


@pytest.mark.slow
def test_command_line_writes_tensorboard_logs_checkpoint_and_export(tmp_path, capsys):
    base = tmp_path / "saved"
    code = cli_main([
        "train", "action-recognition", "--epochs", "1", "--videos-per-class", "4",
        "--frames", "6", "--image-size", "16", "--widths", "8", "--depth", "2",
        "--stem", "3,1", "--batch-size", "4", "--generated-dir", str(tmp_path / "data"),
        "--logdir", str(tmp_path / "logs"), "--export", str(base), "--no-aux",
        "--checkpoint", str(tmp_path / "scs.keras"),
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "reloaded with tf.saved_model.load and checked" in out and "top1" in out
    assert os.path.isdir(base / "1")
    run = tmp_path / "logs" / "scs"
    assert any(f.startswith("events") for f in os.listdir(run / "train"))
    assert any(f.startswith("events") for f in os.listdir(run / "images"))
    # The checkpoint evaluates and exports again through the same command.
    common = ["--videos-per-class", "4", "--frames", "6", "--image-size", "16",
              "--batch-size", "4", "--generated-dir", str(tmp_path / "data"),
              "--checkpoint", str(tmp_path / "scs.keras")]
    assert cli_main(["evaluate", "action-recognition", *common]) == 0
    assert "| model | top1 | top5 | mAP |" in capsys.readouterr().out
    assert cli_main(["export", "action-recognition", *common, "--export", str(base)]) == 0
    assert os.path.isdir(base / "2")
