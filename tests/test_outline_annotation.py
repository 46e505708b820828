"""Outline annotation task: shapes, losses vs NumPy, vertex maps, greedy decoding, end to end."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from scs_keras import ConvSCS2D, SCSModel
from scs_keras.cli import main as cli_main
from scs_keras.tasks.outline_annotation.baselines import ContextSquare, context_square
from scs_keras.tasks.outline_annotation.data import (generated_outline_data, load_datasets,
                                                     training_targets)
from scs_keras.tasks.outline_annotation.decoding import greedy_decode, tokens_to_crop
from scs_keras.tasks.outline_annotation.export import export_outline_model, serving_model
from scs_keras.tasks.outline_annotation.models import (MODEL_NAMES, VertexInputMaps,
                                                       build_model)
from scs_keras.tasks.outline_annotation.training import (FirstVertexLoss, VertexSequenceLoss,
                                                         compile_outline_model,
                                                         evaluate_outline_model,
                                                         render_polygons)
from tests.serving import serve_in_subprocess

RNG = np.random.default_rng(3)


def count_layers(model, cls):
    return sum(isinstance(layer, cls)
               for layer in model._flatten_layers(include_self=False, recursive=True))


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


# -- shapes -------------------------------------------------------------------

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_output_shapes_and_decoder_stack(name):
    model = build_model(name, crop_size=32, max_vertices=6, depth=3, width=4, seed=0)
    tokens = np.array([[0, 1, 5, 16, -1, -1, -1], [3, 2, 1, 0, 4, 8, 16]], np.int32)
    out = model({"image": RNG.random((2, 32, 32, 3), np.float32), "vertices": tokens})
    assert out["first_vertex"].shape == (2, 16)        # grid 4 x 4 cells
    assert out["vertices"].shape == (2, 6, 17)         # L - 1 steps, cells + end
    assert isinstance(model, SCSModel) == (name == "scs")
    lstm = count_layers(model, keras.layers.ConvLSTM2D)
    scs = count_layers(model, ConvSCS2D)
    assert (scs, lstm) == {"scs": (3, 0), "convlstm": (0, 3), "polygon_rnn": (0, 2)}[name]


def test_bad_crop_size_and_model_name():
    with pytest.raises(ValueError, match="multiple of 8"):
        build_model("scs", crop_size=36)
    with pytest.raises(ValueError):
        build_model("lstm")


# -- teacher forcing inputs -------------------------------------------------

def test_vertex_maps_match_numpy_one_hots():
    g = 3
    tokens = np.array([[4, 5, 8, 9, -1, -1], [0, 2, 1, 6, 7, 9]], np.int32)  # 9: end token
    maps = VertexInputMaps(g)(tokens).numpy()
    expected = np.zeros((2, 5, g, g, 3), np.float32)

    def put(b, t, channel, token):
        if 0 <= token < g * g:
            expected[b, t, token // g, token % g, channel] = 1.0

    for b in range(2):
        for t in range(5):  # step t predicts token t + 1
            put(b, t, 0, tokens[b, 0])
            put(b, t, 1, tokens[b, t])
            if t >= 1:
                put(b, t, 2, tokens[b, t - 1])
    np.testing.assert_array_equal(maps, expected)


# -- losses -------------------------------------------------------------------

def test_sequence_loss_ignores_padding():
    y_true = np.array([[3, 0, 4, -1, -1], [1, 4, -1, -1, -1]], np.int32)
    logits = RNG.normal(size=(2, 5, 5)).astype(np.float32)
    logp = log_softmax(logits.astype(np.float64))
    per_polygon = [np.mean([-logp[b, t, y_true[b, t]] for t in range(5) if y_true[b, t] >= 0])
                   for b in range(2)]
    loss = float(VertexSequenceLoss()(y_true, logits))
    assert loss == pytest.approx(np.mean(per_polygon), rel=1e-5)
    # Logits at padded steps cannot change it.
    scrambled = logits.copy()
    scrambled[y_true < 0] = 50 * RNG.normal(size=(int((y_true < 0).sum()), 5))
    assert float(VertexSequenceLoss()(y_true, scrambled)) == pytest.approx(loss, rel=1e-6)


def test_first_vertex_loss_spreads_over_vertex_cells():
    y_true = np.array([[2, 3, 2, 0, 4, -1], [1, 4, -1, -1, -1, -1]], np.int32)  # 4: end token
    logits = RNG.normal(size=(2, 4)).astype(np.float32)
    logp = log_softmax(logits.astype(np.float64))
    expected = [-np.mean(logp[0, [0, 2, 3]]), -logp[1, 1]]
    assert float(FirstVertexLoss()(y_true, logits)) == pytest.approx(np.mean(expected), rel=1e-5)


# -- greedy decoding ----------------------------------------------------------

def counting_step(stop_after, end):
    """Logits that say ``next = previous + 1``, then the end token after ``stop_after``.

    Step t's row reads only tokens 0..t (causal), as a real decoder does.
    """
    def step_logits(tokens):
        tokens = tokens.numpy() if hasattr(tokens, "numpy") else tokens
        batch, length = tokens.shape
        logits = np.zeros((batch, length - 1, end + 1), np.float32)
        for b in range(batch):
            for t in range(length - 1):
                prev = tokens[b, t]
                nxt = end if prev < 0 or prev >= stop_after[b] else prev + 1
                logits[b, t, nxt] = 5.0
        return tf.constant(logits)
    return step_logits


def test_greedy_decoding_stops_at_the_end_token_and_pads_after():
    end = 16
    tokens, count = greedy_decode(counting_step([4, 1, 9], end), tf.constant([2, 1, 5]), 8, end)
    assert tokens.numpy().tolist() == [[2, 3, 4, end, -1, -1, -1, -1],
                                       [1, end, -1, -1, -1, -1, -1, -1],
                                       [5, 6, 7, 8, 9, end, -1, -1]]
    assert count.numpy().tolist() == [3, 1, 5]


def test_greedy_decoding_never_exceeds_the_length():
    end = 16
    tokens, count = greedy_decode(counting_step([99], end), tf.constant([0]), 5, end)
    assert tokens.numpy().tolist() == [[0, 1, 2, 3, 4]]  # cut at 5 vertices, no end token
    assert count.numpy().tolist() == [5]


def test_greedy_decoding_in_a_graph_matches_eager():
    end = 9
    step = counting_step([3, 7], end)

    @tf.function
    def decode(first):
        return greedy_decode(lambda t: tf.py_function(step, [t], tf.float32), first, 6, end)

    tokens, count = decode(tf.constant([0, 6]))
    assert tokens.numpy().tolist() == [[0, 1, 2, 3, end, -1], [6, 7, end, -1, -1, -1]]
    assert count.numpy().tolist() == [4, 2]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_served_polygons_are_the_teacher_forced_argmax_of_their_own_prefix(name):
    """The serving model (evaluation and export decode with it) against a
    teacher-forced pass fed its own tokens: every decoded vertex must be the
    forced pass's best token at that step, and so must the end token.

    The end logit's bias is lowered so that the polygons run to
    ``max_vertices`` and every step is compared, then raised so that they
    end early and the end token is compared too.
    """
    crop, grid, max_vertices, batch = 32, 4, 6, 4
    model = build_model(name, crop_size=crop, max_vertices=max_vertices, depth=2, width=4,
                        seed=1)
    image = RNG.random((batch, crop, crop, 3), np.float32)
    end_bias = model.get_layer("decoder").get_layer("end_logit").bias
    for bias in (-100.0, 0.5):
        end_bias.assign(np.full(end_bias.shape, bias, np.float32))
        served = serving_model(model)(image)
        count = served["num_vertices"].numpy()
        # Cell centres 8 x + 3.5 back to cells, then tokens y * G + x.
        cells = np.rint((served["vertices"].numpy() - 3.5) / (crop / grid)).astype(np.int32)
        tokens = np.where(np.arange(max_vertices) < count[:, None],
                          cells[..., 1] * grid + cells[..., 0], -1)
        padded = np.concatenate([tokens, np.full((batch, 1), -1, np.int32)], axis=1)
        forced = model({"image": image, "vertices": padded}, training=False)
        best = np.argmax(forced["vertices"].numpy(), -1)
        np.testing.assert_array_equal(tokens[:, 0], np.argmax(forced["first_vertex"], -1))
        for b in range(batch):
            n = count[b]
            np.testing.assert_array_equal(best[b, :n - 1], tokens[b, 1:n])
            if n < max_vertices:  # it ended: the end token was the best there
                assert best[b, n - 1] == grid * grid, (bias, b, best[b])
        if bias < 0:
            assert np.all(count == max_vertices)
        else:
            assert np.any(count < max_vertices), count


def test_tokens_to_crop_gives_cell_centres():
    points = tokens_to_crop(tf.constant([[5, 2, 16]]), tf.constant([2]), 4, 32).numpy()
    # Cell (x=1, y=1) and (x=2, y=0); 8-pixel cells have centres at 8x + 3.5.
    np.testing.assert_allclose(points, [[[11.5, 11.5], [19.5, 3.5], [0.0, 0.0]]])


def test_serving_model_returns_polygons_within_max_vertices():
    model = build_model("convlstm", crop_size=32, max_vertices=5, depth=2, width=4, seed=0)
    out = serving_model(model)(RNG.random((3, 32, 32, 3), np.float32))
    assert out["vertices"].shape == (3, 5, 2) and out["vertices"].dtype == tf.float32
    assert out["num_vertices"].dtype == tf.int32
    counts = out["num_vertices"].numpy()
    assert np.all((counts >= 1) & (counts <= 5))
    vertices = out["vertices"].numpy()
    for b, n in enumerate(counts):
        assert np.all(vertices[b, n:] == 0)
        assert np.all((vertices[b, :n] >= 0) & (vertices[b, :n] <= 31))


# -- the fixed baseline -------------------------------------------------------

def test_context_square_is_the_box_long_side_in_the_crop():
    # Context 1: the box's long side is half the crop, centred: pixels 16..47
    # of a 64-pixel crop, i.e. the edges 15.5 and 47.5.
    np.testing.assert_allclose(context_square(64, 1.0),
                               [[15.5, 15.5], [47.5, 15.5], [47.5, 47.5], [15.5, 47.5]])
    # No context: the whole crop.
    np.testing.assert_allclose(context_square(8, 0.0)[2], [7.5, 7.5])
    with pytest.raises(ValueError):
        context_square(64, -0.1)


def test_square_baseline_scores_its_square_against_each_true_polygon():
    """Two crops: a true polygon equal to the square (IoU 1) and a quarter of it."""
    square = context_square(32, 1.0)        # edges 7.5 .. 23.5
    quarter = np.array([[7.5, 7.5], [15.5, 7.5], [15.5, 15.5], [7.5, 15.5]])
    targets = {"polygon": np.stack([square, quarter])[:, :, :].astype(np.float32),
               "num_polygon_vertices": np.array([4, 4]), "label": np.array([0, 0])}
    dataset = [({"image": np.zeros((2, 32, 32, 3), np.float32)}, targets)]
    baseline = ContextSquare(32, 1.0)
    scores = evaluate_outline_model(baseline, dataset, 32)
    assert scores["instance_iou"] == pytest.approx((1.0 + 0.25) / 2, abs=0.03)
    assert scores["mean_vertices"] == 4.0
    assert [p.shape for p in baseline.predict_polygons(np.zeros((3, 32, 32, 3)))] == [(4, 2)] * 3


# -- end to end -----------------------------------------------------------------

SERVE_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
fn = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = fn(image=tf.constant(np.load(sys.argv[2])))
assert not any(m.startswith("scs_keras") for m in sys.modules), "the export must load without scs_keras"
result = {k: v.numpy().tolist() for k, v in out.items()}
result["dtypes"] = {k: v.dtype.name for k, v in out.items()}
result["input_shape"] = fn.structured_input_signature[1]["image"].shape.as_list()
print(json.dumps(result))
"""


@pytest.mark.slow
def test_end_to_end_training_loss_falls_and_export_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    root, cached = generated_outline_data(str(tmp_path / "data"), 6, 2, progress=False)
    assert not cached
    train, test, info = load_datasets(root, crop_size=32, max_vertices=8, batch_size=8, seed=0)
    assert info["grid_size"] == 4 and info["train_objects"] > 0
    train = training_targets(train).take(1).cache().repeat(12)  # one batch, learnt by heart
    model = build_model("scs", crop_size=32, max_vertices=8, depth=2, width=8, seed=0)
    compile_outline_model(model, learning_rate=1e-2)
    first = model.evaluate(train.take(1), verbose=0, return_dict=True)["loss"]
    history = model.fit(train, epochs=2, verbose=0, shuffle=False).history
    last = model.evaluate(train.take(1), verbose=0, return_dict=True)["loss"]
    assert last < 0.8 * first, (first, last)
    assert history["truncation_rate"][-1] == pytest.approx(0.5)

    scores = evaluate_outline_model(model, test, 32)
    assert 0.0 <= scores["mean_iou"] <= 1.0 and 0.0 <= scores["instance_iou"] <= 1.0
    inputs, targets = next(iter(test))
    images = inputs["image"].numpy()[:3]
    true = [p[:n] for p, n in zip(targets["polygon"].numpy(), targets["num_polygon_vertices"])]
    pictures = render_polygons(model, images, true[:3])
    assert pictures.shape == (3, 128, 128, 3) and pictures.dtype == np.uint8

    path = export_outline_model(model, str(tmp_path / "saved" / "outline"))
    assert path.endswith(os.path.join("outline", "1"))
    served = serve_in_subprocess(SERVE_SCRIPT, path, images, tmp_path)
    assert served["input_shape"] == [None, 32, 32, 3]  # batched: any batch size
    assert served["dtypes"] == {"vertices": "float32", "num_vertices": "int32"}
    assert np.asarray(served["vertices"]).shape == (3, 8, 2)
    expected = serving_model(model)(images)
    np.testing.assert_array_equal(served["num_vertices"], expected["num_vertices"])
    np.testing.assert_allclose(served["vertices"], expected["vertices"], atol=1e-5)


def test_command_line_flags_are_checked(capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "outline-annotation", "--crop-size", "36"])
    assert e.value.code == 2
    assert "--crop-size must be a multiple of 8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["train", "outline-annotation", "--truncation", "astsgd"])
    assert "spatial-only head" in capsys.readouterr().err
