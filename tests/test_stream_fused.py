"""The fused path of the decoupled streams (``call_streams``,
``DeepSCS(decoupled=True)``): its values and hand-written gradients against
TensorFlow's automatic differentiation of the per-step ``tf.scan`` path
(``fused=False``)."""

import numpy as np
import pytest
import tensorflow as tf

from scs_keras import SCS, ConvSCS1D, ConvSCS2D, DeepSCS

RNG = np.random.default_rng(11)

CASES = [
    (lambda **kw: SCS(5, **kw), (3, 5, 4)),
    (lambda **kw: ConvSCS2D(3, 3, **kw), (2, 4, 5, 5, 2)),
    (lambda **kw: ConvSCS2D(3, 3, strides=2, **kw), (2, 4, 7, 6, 2)),
    (lambda **kw: ConvSCS1D(3, 3, strides=2, recurrent_activation="tanh",
                            **kw), (2, 4, 9, 2)),
]
IDS = ["dense", "conv2d", "conv2d_strided", "conv1d_strided_tanh"]

TRUNCATION = {"off": dict(truncation_mode="none"),
              "on": dict(truncation_mode="temporal", truncation_rate=0.5)}


def _pair(factory, shape, truncation, unroll=False):
    """The fused layer and the scan reference, with equal weights and equal
    truncation draws (same seed)."""
    kwargs = dict(return_sequences=True, seed=3, **TRUNCATION[truncation])
    fused = factory(unroll=unroll, **kwargs)
    loop = factory(fused=False, **kwargs)
    x = RNG.normal(0, 1, shape).astype("float32")
    fused(x)
    loop(x)
    weights = [RNG.normal(0, 0.4, w.shape).astype("float32")
               for w in fused.weights]
    fused.set_weights(weights)
    loop.set_weights(weights)
    return fused, loop


def _streams_and_gradients(layer, inputs, upstreams):
    """Values of the three streams and the gradients of
    ``Σ stream ⊙ upstream`` for the three inputs and the weights, traced
    (as in training) so the default zero state is seen as such."""
    inputs = [tf.constant(v) for v in inputs]

    @tf.function
    def run(x, sigma, tau):
        with tf.GradientTape() as tape:
            tape.watch([x, sigma, tau])
            streams = layer.call_streams(x, sigma, tau, training=True)
            loss = tf.add_n([tf.reduce_sum(v * u)
                             for v, u in zip(streams, upstreams)])
        return streams, tape.gradient(
            loss, [x, sigma, tau] + layer.trainable_weights)

    return run(*inputs)


# Both loop forms, both truncation settings, for every case (not all four
# combinations: the file must stay quick).
@pytest.mark.parametrize("unroll, truncation", [(True, "on"), (False, "off")],
                         ids=["unrolled-truncated", "while-untruncated"])
@pytest.mark.parametrize("factory, shape", CASES, ids=IDS)
def test_fused_streams_and_gradients_equal_autodiff_of_the_scan(
        factory, shape, unroll, truncation):
    fused, loop = _pair(factory, shape, truncation, unroll)
    inputs = [RNG.normal(0, 1, shape).astype("float32") for _ in range(3)]
    out_shape = fused(inputs[0]).shape
    upstreams = [tf.constant(RNG.normal(0, 1, out_shape).astype("float32"))
                 for _ in range(3)]
    got_streams, got = _streams_and_gradients(fused, inputs, upstreams)
    want_streams, want = _streams_and_gradients(loop, inputs, upstreams)
    for name, a, b in zip(["output", "spatial", "temporal"], got_streams,
                          want_streams):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
    names = (["d_inputs", "d_spatial_inputs", "d_temporal_inputs"]
             + [w.name for w in fused.trainable_weights])
    for name, a, b in zip(names, got, want):
        assert np.abs(b.numpy()).max() > 0, name
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)
    if truncation == "on":
        # The draws did cut something: the coupled input's gradient is not
        # the untruncated one.
        untruncated, _ = _pair(factory, shape, "off")
        untruncated.set_weights(fused.get_weights())
        _, plain = _streams_and_gradients(untruncated, inputs, upstreams)
        assert np.abs(plain[0].numpy() - got[0].numpy()).max() > 1e-4


def test_eager_call_streams_with_an_initial_state():
    """Eagerly (no zero-state shortcut) and with a coupled initial state."""
    factory, shape = CASES[2]
    fused, loop = _pair(factory, shape, "off")
    x = tf.constant(RNG.normal(0, 1, shape).astype("float32"))
    h = fused(x)
    state_shape = fused.cell.compute_state_shape(
        (shape[0],) + tuple(shape[2:]))
    c0 = tf.constant(RNG.uniform(0, 1, state_shape).astype("float32"))
    upstream = tf.constant(RNG.normal(0, 1, h.shape).astype("float32"))

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch([x, c0])
            h, sigma, tau = layer.call_streams(x, initial_state=[c0])
            loss = tf.reduce_sum((h + 2 * sigma + 3 * tau) * upstream)
        return tape.gradient(loss, [x, c0] + layer.trainable_weights)

    for a, b in zip(gradients(fused), gradients(loop)):
        assert np.abs(b.numpy()).max() > 0
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_unrolled_streams_build_no_loop():
    """The spatial-only stream is a per-frame op and the two recurrences are
    the fused ones: unrolled, the traced streams contain no while loop
    (the scan path does)."""
    factory, shape = CASES[1]
    fused, loop = _pair(factory, shape, "off", unroll=True)
    x = tf.constant(RNG.normal(0, 1, shape).astype("float32"))

    def loop_ops(layer):
        graph = tf.function(lambda x: layer.call_streams(x, training=True)
                            ).get_concrete_function(x).graph
        return [op.type for op in graph.get_operations()
                if op.type in ("While", "StatelessWhile")]

    assert loop_ops(fused) == []
    assert loop_ops(loop) != []


@pytest.mark.parametrize("layer_type, shape, strides", [
    ("dense", (2, 4, 5), 1),
    ("conv2d", (2, 4, 8, 8, 2), [2, 1, 1]),
])
def test_decoupled_stack_gradients_equal_the_scan_stack(layer_type, shape,
                                                        strides):
    """The time-major fused stack against the batch-major scan stack."""
    x = tf.constant(RNG.normal(0, 1, shape).astype("float32"))
    kwargs = dict(layer_type=layer_type, strides=strides, decoupled=True,
                  batch_norm=True, seed=4, truncation_rate=0.5)
    fused = DeepSCS([4, 5, 5], **kwargs)
    loop = DeepSCS([4, 5, 5], layer_kwargs={"fused": False}, **kwargs)
    fused(x)
    loop(x)
    loop.set_weights(fused.get_weights())

    def run(stack):
        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = stack(x, training=True)
                loss = tf.add_n([tf.reduce_sum(tf.sin(v) * (k + 1))
                                 for k, v in enumerate(out.values())])
            return out, tape.gradient(loss, [x] + stack.trainable_weights)
        return step(x)

    (got_out, got), (want_out, want) = run(fused), run(loop)
    for key in want_out:
        np.testing.assert_allclose(got_out[key], want_out[key], rtol=1e-5,
                                   atol=1e-5, err_msg=key)
    # Float32 sums over a whole stack: the tolerance is relative to the
    # largest gradient (a bias feeding a batch norm has a gradient of ~0,
    # which is all rounding).
    scale = max(np.abs(b.numpy()).max() for b in want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale)
