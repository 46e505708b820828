"""The fused layers' hand-written recurrence gradient (recurrence.py) against
TensorFlow's automatic differentiation of the per-step loop."""

import numpy as np
import pytest
import tensorflow as tf

from scs_keras import SCS, ConvSCS1D, ConvSCS2D, ConvSCS3D

RNG = np.random.default_rng(5)

CASES = [
    (lambda **kw: SCS(5, **kw), (3, 6, 4)),
    (lambda **kw: ConvSCS1D(3, 3, strides=2, **kw), (2, 4, 9, 2)),
    (lambda **kw: ConvSCS2D(3, 3, strides=2, **kw), (2, 4, 7, 6, 2)),
    (lambda **kw: ConvSCS2D(3, 3, padding="valid", **kw), (2, 3, 6, 6, 2)),
    (lambda **kw: ConvSCS3D(2, 3, **kw), (1, 3, 4, 4, 4, 2)),
    (lambda **kw: SCS(5, recurrent_activation="tanh", **kw), (3, 6, 4)),
]


def gradients(layer, x, c0, upstream, state_upstream):
    x, c0 = tf.constant(x), tf.constant(c0)
    with tf.GradientTape() as tape:
        tape.watch([x, c0])
        h, state = layer(x, initial_state=[c0], training=True)
        loss = tf.reduce_sum(h * upstream) + tf.reduce_sum(state * state_upstream)
    return tape.gradient(loss, [x, c0] + layer.trainable_weights)


@pytest.mark.parametrize("factory, shape", CASES)
def test_fused_gradients_equal_autodiff_of_the_loop(factory, shape):
    kwargs = dict(return_sequences=True, return_state=True, truncation_mode="none")
    fused, loop = factory(**kwargs), factory(fused=False, **kwargs)
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
