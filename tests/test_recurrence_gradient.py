"""The fused layers' hand-written recurrence gradient (recurrence.py) against
TensorFlow's automatic differentiation of the per-step loop."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from scs_keras import SCS, ConvSCS1D, ConvSCS2D, ConvSCS3D
from scs_keras.layers import recurrence
from scs_keras.layers.recurrence import time_chunks

RNG = np.random.default_rng(5)

CASES = [
    (lambda **kw: SCS(5, **kw), (3, 6, 4)),
    (lambda **kw: ConvSCS1D(3, 3, strides=2, **kw), (2, 4, 9, 2)),
    (lambda **kw: ConvSCS2D(3, 3, strides=2, **kw), (2, 4, 7, 6, 2)),
    (lambda **kw: ConvSCS2D(3, 3, padding="valid", **kw), (2, 3, 6, 6, 2)),
    (lambda **kw: ConvSCS3D(2, 3, **kw), (1, 3, 4, 4, 4, 2)),
    (lambda **kw: SCS(5, recurrent_activation="tanh", **kw), (3, 6, 4)),
    # An even kernel: its recurrent input gradient is a transposed
    # convolution (odd kernels use the flipped-kernel convolution).
    (lambda **kw: ConvSCS2D(3, 2, **kw), (2, 3, 5, 5, 2)),
    (lambda **kw: ConvSCS2D(3, (3, 1), **kw), (2, 3, 5, 4, 2)),
    # Spatial activations whose gradient is written from their output...
    (lambda **kw: ConvSCS2D(3, 3, activation="relu", **kw), (2, 3, 5, 5, 2)),
    (lambda **kw: SCS(5, activation="linear", **kw), (3, 6, 4)),
    # ...and one that is not (the fused path then recomputes it).
    (lambda **kw: SCS(5, activation="gelu", **kw), (3, 6, 4)),
    (lambda **kw: SCS(5, recurrent_activation="relu", **kw), (3, 6, 4)),
]


def gradients(layer, x, c0, upstream, state_upstream):
    x, c0 = tf.constant(x), tf.constant(c0)
    with tf.GradientTape() as tape:
        tape.watch([x, c0])
        h, state = layer(x, initial_state=[c0], training=True)
        loss = tf.reduce_sum(h * upstream) + tf.reduce_sum(state * state_upstream)
    return tape.gradient(loss, [x, c0] + layer.trainable_weights)


@pytest.mark.parametrize("unroll", [True, False], ids=["unrolled", "while_loops"])
@pytest.mark.parametrize("factory, shape", CASES)
def test_fused_gradients_equal_autodiff_of_the_loop(factory, shape, unroll):
    kwargs = dict(return_sequences=True, return_state=True, truncation_mode="none")
    fused, loop = factory(unroll=unroll, **kwargs), factory(fused=False, **kwargs)
    x = RNG.normal(0, 1, shape).astype("float32")
    h, state = fused(x)
    loop(x)
    weights = [RNG.normal(0, 0.4, w.shape).astype("float32") for w in fused.weights]
    fused.set_weights(weights)
    loop.set_weights(weights)
    c0 = RNG.uniform(0, 1, state.shape).astype("float32")
    upstream = RNG.normal(0, 1, h.shape).astype("float32")
    state_upstream = RNG.normal(0, 1, state.shape).astype("float32")
    got = gradients(fused, x, c0, upstream, state_upstream)
    want = gradients(loop, x, c0, upstream, state_upstream)
    names = ["inputs", "initial_state"] + [w.name for w in fused.trainable_weights]
    for name, a, b in zip(names, got, want):
        assert np.abs(b.numpy()).max() > 0, name
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("factory, shape", CASES[:3])
def test_recomputed_spatial_stream_gives_the_same_gradients(factory, shape):
    kwargs = dict(return_sequences=True, return_state=True, truncation_mode="none")
    kept, recomputed = factory(**kwargs), factory(recompute_spatial=True, **kwargs)
    x = RNG.normal(0, 1, shape).astype("float32")
    h, state = kept(x)
    recomputed(x)
    recomputed.set_weights(kept.get_weights())
    c0 = RNG.uniform(0, 1, state.shape).astype("float32")
    upstream = RNG.normal(0, 1, h.shape).astype("float32")
    state_upstream = RNG.normal(0, 1, state.shape).astype("float32")
    got = gradients(recomputed, x, c0, upstream, state_upstream)
    want = gradients(kept, x, c0, upstream, state_upstream)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert recomputed.get_config()["recompute_spatial"] is True
    np.testing.assert_allclose(recomputed(x)[0], h, atol=1e-6)


def test_dynamic_length_sequences_use_the_while_loop():
    """With the time dimension unknown at trace time the loop cannot be
    unrolled; the result must still equal the per-step cell path."""
    fused = SCS(4, return_sequences=True, truncation_mode="none")
    loop = SCS(4, return_sequences=True, truncation_mode="none", fused=False)
    x = RNG.normal(0, 1, (2, 7, 3)).astype("float32")
    fused(x)
    loop(x)
    loop.set_weights(fused.get_weights())

    def traced(layer):
        @tf.function(input_signature=[tf.TensorSpec([2, None, 3], tf.float32)])
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(y * tf.range(1.0, 5.0))
            return y, tape.gradient(loss, [x] + layer.trainable_weights)
        return run(tf.constant(x))

    (y_fused, g_fused), (y_loop, g_loop) = traced(fused), traced(loop)
    np.testing.assert_allclose(y_fused, y_loop, rtol=1e-5, atol=1e-6)
    for a, b in zip(g_fused, g_loop):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_time_chunks_cover_the_sequence_once():
    for steps in (1, 2, 3, 7, 10, 100):
        chunks = time_chunks(steps)
        assert chunks[0][0] == 0 and chunks[-1][1] == steps
        assert all(a < b for a, b in chunks)
        assert all(b == c for (_, b), (c, _) in zip(chunks, chunks[1:]))
        assert len(chunks) == min(recurrence.OVERLAP_CHUNKS, steps)


def test_unroll_argument_is_validated_and_serialized():
    with pytest.raises(ValueError, match="unroll"):
        SCS(3, unroll="yes")
    layer = SCS(3, unroll=False)
    assert layer.get_config()["unroll"] is False
    assert SCS.from_config(layer.get_config()).unroll is False
    assert SCS(3).unroll is None


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("factory, shape", [CASES[0], CASES[2]])
def test_default_zero_state_in_a_traced_step(factory, shape, steps):
    """Traced with the default (all-zero) initial state, the fused path
    skips the first recurrent product and c_0's share of dU; gradients must
    still equal autodiff of the per-step loop."""
    shape = (shape[0], steps) + shape[2:]
    fused = factory(return_sequences=True, truncation_mode="none")
    loop = factory(return_sequences=True, truncation_mode="none", fused=False)
    x = tf.constant(RNG.normal(0, 1, shape).astype("float32"))
    fused(x)
    loop(x)
    loop.set_weights(fused.get_weights())
    upstream = tf.constant(RNG.normal(0, 1, fused(x).shape).astype("float32"))

    def traced(layer):
        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x, training=True) * upstream)
            return tape.gradient(loss, [x] + layer.trainable_weights)
        return run(x)

    got, want = traced(fused), traced(loop)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_zero_state_detection():
    @tf.function
    def check():
        return (recurrence._is_zeros(tf.zeros((2, 3))),
                recurrence._is_zeros(tf.zeros((200, 30))),
                recurrence._is_zeros(tf.ones((2, 3))),
                recurrence._is_zeros(tf.zeros((2, 3)) + 1.0))
    assert [bool(v) for v in check()] == [True, True, False, False]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cell_path"])
@pytest.mark.parametrize("factory, shape", [CASES[0], CASES[2], CASES[3]])
def test_mixed_precision_training_step(factory, shape, fused):
    """Under a mixed policy the layer computes in bfloat16 and its float32
    variables get float32 gradients close to a float32 run's (the fused
    backward pass reads the weights outside Keras' autocast scope)."""
    x = RNG.normal(0, 1, shape).astype("float32")
    # Fixed initial weights: with bfloat16's 8-bit mantissa the gradient
    # error relative to the tolerance depends on the weights (0.1 to 0.9 of
    # it over eight seeds for the strided ConvSCS2D, and above 1 for a few
    # unseeded runs).
    keras.utils.set_random_seed(0)

    def run(policy):
        previous = keras.mixed_precision.dtype_policy()
        keras.mixed_precision.set_dtype_policy(policy)
        try:
            layer = factory(return_sequences=True, truncation_mode="none",
                            fused=fused)
            layer(x)
        finally:
            keras.mixed_precision.set_dtype_policy(previous)
        return layer

    reference, mixed = run("float32"), run("mixed_bfloat16")
    mixed.set_weights(reference.get_weights())

    def step(layer):
        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                y = layer(x, training=True)
                loss = tf.reduce_mean(tf.square(tf.cast(y, "float32")))
            return y, tape.gradient(loss, layer.trainable_weights)
        return run(tf.constant(x))

    (y_ref, g_ref), (y_mixed, g_mixed) = step(reference), step(mixed)
    assert y_mixed.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y_mixed, "float32"), y_ref, atol=0.05)
    for a, b in zip(g_mixed, g_ref):
        assert a.dtype == tf.float32
        np.testing.assert_allclose(a, b, atol=0.05 * np.abs(b).max() + 1e-3)
