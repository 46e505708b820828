"""Stochastic truncation: forward invariance and gradient paths."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from scs_keras import SCS, ConvSCS2D, DeepSCS, SCSCell
from scs_keras.layers.truncation import keep_factors
from tests import numpy_reference as ref
from tests.test_scs_layer import random_weights

RNG = np.random.default_rng(2)
B, T, D, U = 2, 12, 4, 5


def layer_with(weights, **kwargs):
    layer = SCS(U, return_sequences=True, **kwargs)
    layer(np.zeros((B, T, D), "float32"))
    layer.set_weights(weights)
    return layer


def input_and_weight_gradients(layer, x, upstream):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = layer(x, training=True)
        loss = tf.reduce_sum(h * upstream)
    grads = tape.gradient(loss, [x] + layer.trainable_weights)
    return grads[0].numpy(), [g.numpy() for g in grads[1:]]


def numpy_gradients(x, w, upstream):
    """Per-step candidates: full, temporal path cut, spatial path cut."""
    x64 = x.astype("float64")
    full = ref.dense_input_gradient(x64, *w, upstream)
    no_temporal = ref.dense_input_gradient(x64, *w, upstream, temporal_keep=np.zeros(T))
    no_spatial = ref.dense_input_gradient(x64, *w, upstream, spatial_keep=np.zeros(T))
    return full, no_temporal, no_spatial


@pytest.mark.parametrize("mode", ["temporal", "exclusive"])
@pytest.mark.parametrize("layer_type", ["dense", "conv"])
def test_forward_is_identical_in_training_and_inference(mode, layer_type):
    if layer_type == "dense":
        layer = SCS(U, return_sequences=True, truncation_rate=0.7,
                    truncation_mode=mode, seed=1)
        x = RNG.normal(0, 1, (B, T, D)).astype("float32")
    else:
        layer = ConvSCS2D(3, 3, strides=2, return_sequences=True,
                          truncation_rate=0.7, truncation_mode=mode, seed=1)
        x = RNG.normal(0, 1, (B, 5, 8, 8, 2)).astype("float32")
    np.testing.assert_array_equal(layer(x, training=True), layer(x, training=False))
    stack = DeepSCS([4, 4, 4], layer_type="dense", truncation_rate=1.0,
                    truncation_mode=mode)
    xd = RNG.normal(0, 1, (B, T, D)).astype("float32")
    np.testing.assert_array_equal(stack(xd, training=True), stack(xd, training=False))


def test_rate_one_keeps_only_the_spatial_path_and_rate_zero_everything():
    w = random_weights(D, U)
    x = RNG.normal(0, 1, (B, T, D)).astype("float32")
    upstream = RNG.normal(0, 1, (B, T, U)).astype("float32")
    full, no_temporal, _ = numpy_gradients(x, w, upstream)
    assert np.abs(full - no_temporal).max() > 1e-2  # the two really differ

    dx1, dw1 = input_and_weight_gradients(layer_with(w, truncation_rate=1.0), x, upstream)
    np.testing.assert_allclose(dx1, no_temporal, atol=1e-5)
    dx0, dw0 = input_and_weight_gradients(layer_with(w, truncation_rate=0.0), x, upstream)
    np.testing.assert_allclose(dx0, full, atol=1e-5)
    # The cut stream's weights still learn: weight gradients are unchanged.
    for a, b in zip(dw1, dw0):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(dw1[1]).max() > 0  # temporal_kernel


def test_cell_path_truncates_like_the_fused_layer():
    w = random_weights(D, U)
    x = RNG.normal(0, 1, (B, T, D)).astype("float32")
    upstream = RNG.normal(0, 1, (B, T, U)).astype("float32")
    _, no_temporal, _ = numpy_gradients(x, w, upstream)
    rnn = keras.layers.RNN(SCSCell(U, truncation_rate=1.0), return_sequences=True)
    rnn(x)
    rnn.set_weights(w)
    dx, _ = input_and_weight_gradients(rnn, x, upstream)
    np.testing.assert_allclose(dx, no_temporal, atol=1e-5)


def classify_steps(dx, candidates):
    """For each step, which candidate gradient it equals (or -1)."""
    labels = []
    for t in range(T):
        match = [i for i, c in enumerate(candidates)
                 if np.allclose(dx[:, t], c[:, t], atol=1e-5)]
        labels.append(match[0] if match else -1)
    return np.array(labels)


@pytest.mark.parametrize("mode, rate", [("temporal", 0.5), ("exclusive", 0.7),
                                        ("exclusive", 0.3)])
def test_cuts_are_per_step_and_follow_the_table(mode, rate):
    """Every step's input gradient is one of the three cases (neither path
    cut, temporal cut, spatial cut), with the expected frequencies (statistical check over the layer's own draws)."""
    w = random_weights(D, U)
    x = RNG.normal(0, 1, (B, T, D)).astype("float32")
    upstream = RNG.normal(0, 1, (B, T, U)).astype("float32")
    candidates = numpy_gradients(x, w, upstream)  # neither, temporal, spatial
    layer = layer_with(w, truncation_rate=rate, truncation_mode=mode, seed=5)
    step = tf.function(lambda: input_and_weight_gradients_tf(layer, x, upstream))
    labels = np.concatenate(
        [classify_steps(step().numpy(), candidates) for _ in range(40)]
    )
    assert (labels >= 0).all(), "a step's gradient matched no truncation case"
    n = labels.size
    freq = np.bincount(labels, minlength=3) / n
    if mode == "temporal":
        expected = [1 - rate, rate, 0.0]
    elif rate >= 0.5:
        expected = [rate * (1 - rate), rate, (1 - rate) ** 2]
    else:
        expected = [rate * (1 - rate), rate ** 2, 1 - rate]
    for f, p in zip(freq, expected):
        assert abs(f - p) <= 4 * np.sqrt(max(p * (1 - p), 1e-4) / n) + 1e-9, (freq, expected)


def input_and_weight_gradients_tf(layer, x, upstream):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=True) * upstream)
    return tape.gradient(loss, x)


@pytest.mark.parametrize("mode", ["temporal", "exclusive"])
def test_keep_factor_frequencies_match_table(mode):
    n = 200_000
    for q in (0.2, 0.5, 0.8):
        keep_t, keep_s = keep_factors(q, mode, n, keras.random.SeedGenerator(11))
        keep_t = keep_t.numpy()
        keep_s = np.ones(n) if keep_s is None else keep_s.numpy()
        t_cut = np.mean((keep_t == 0) & (keep_s == 1))
        s_cut = np.mean((keep_s == 0) & (keep_t == 1))
        neither = np.mean((keep_t == 1) & (keep_s == 1))
        assert np.mean((keep_t == 0) & (keep_s == 0)) == 0  # never both
        if mode == "temporal":
            expected = (q, 0.0, 1 - q)
        elif q >= 0.5:
            expected = (q, (1 - q) ** 2, q * (1 - q))
        else:
            expected = (q ** 2, 1 - q, q * (1 - q))
        for got, want in zip((t_cut, s_cut, neither), expected):
            assert abs(got - want) < 4 * np.sqrt(max(want * (1 - want), 1e-6) / n) + 1e-9


def test_seeded_draws_are_reproducible():
    w = random_weights(D, U)
    x = RNG.normal(0, 1, (B, T, D)).astype("float32")
    upstream = RNG.normal(0, 1, (B, T, U)).astype("float32")
    grads = []
    for seed in (3, 3, 4):
        layer = layer_with(w, truncation_rate=0.5, seed=seed)
        grads.append(input_and_weight_gradients(layer, x, upstream)[0])
    np.testing.assert_array_equal(grads[0], grads[1])
    assert not np.allclose(grads[0], grads[2])


def test_mode_none_and_inference_never_cut():
    w = random_weights(D, U)
    x = RNG.normal(0, 1, (B, T, D)).astype("float32")
    upstream = RNG.normal(0, 1, (B, T, U)).astype("float32")
    full, _, _ = numpy_gradients(x, w, upstream)
    layer = layer_with(w, truncation_rate=1.0, truncation_mode="none")
    np.testing.assert_allclose(input_and_weight_gradients(layer, x, upstream)[0],
                               full, atol=1e-5)


@pytest.fixture
def float64():
    """Runs a test with ``keras.config.floatx() == "float64"``.

    Keras fixes its global dtype policy from ``floatx`` when the first layer
    is built, so the policy is set too (else the layers of a test run after
    others would stay float32).
    """
    previous_floatx = keras.config.floatx()
    previous_policy = keras.mixed_precision.dtype_policy()
    keras.config.set_floatx("float64")
    keras.mixed_precision.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(previous_floatx)
        keras.mixed_precision.set_dtype_policy(previous_policy)


def _float64_pair(make_layer, x):
    """A truncating layer and a ``truncation_mode="none"`` twin, same weights."""
    truncating = make_layer(truncation_rate=0.5)
    plain = make_layer(truncation_mode="none")
    truncating(x)
    plain(x)
    plain.set_weights(truncating.get_weights())
    return truncating, plain


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cell_path"])
@pytest.mark.parametrize("mode", ["temporal", "exclusive"])
@pytest.mark.parametrize("layer_type", ["dense", "conv2d"])
def test_float64_truncation_keeps_forward_values(float64, layer_type, mode, fused):
    if layer_type == "dense":
        x = RNG.normal(0, 1, (B, T, D))
        def make(**kw):
            kw.setdefault("truncation_mode", mode)
            return SCS(U, return_sequences=True, fused=fused, seed=2, **kw)
    else:
        x = RNG.normal(0, 1, (B, 4, 6, 6, 2))
        def make(**kw):
            kw.setdefault("truncation_mode", mode)
            return ConvSCS2D(3, 3, strides=2, return_sequences=True, fused=fused,
                             seed=2, **kw)
    truncating, plain = _float64_pair(make, x)
    x = tf.constant(x)  # float64
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = truncating(x, training=True)
        loss = tf.reduce_sum(y * y)
    dx = tape.gradient(loss, x)
    assert y.dtype == tf.float64 and dx.dtype == tf.float64
    assert truncating.cell.spatial_kernel.dtype == "float64"
    np.testing.assert_array_equal(y, plain(x, training=True))
    assert np.isfinite(dx.numpy()).all()


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cell_path"])
def test_float64_cut_gradient_matches_numpy(float64, fused):
    """At rate 1 every temporal path is cut, in float64 as in float32."""
    w = [v.astype("float64") for v in random_weights(D, U)]
    x = RNG.normal(0, 1, (B, T, D))
    upstream = RNG.normal(0, 1, (B, T, U))
    layer = SCS(U, return_sequences=True, truncation_rate=1.0, fused=fused)
    layer(x)
    layer.set_weights(w)
    dx, _ = input_and_weight_gradients(layer, x, upstream)
    assert dx.dtype == np.float64
    expected = ref.dense_input_gradient(x, *w, upstream, temporal_keep=np.zeros(T))
    np.testing.assert_allclose(dx, expected, atol=1e-10)
