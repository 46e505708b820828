"""DeepSCS residual stacks and the decoupled spatial-only / temporal-only streams."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from scs_keras import SCS, DeepSCS
from tests import numpy_reference as ref
from tests.test_scs_layer import random_weights

RNG = np.random.default_rng(3)
B, T, D = 2, 5, 4


def dense_input():
    return RNG.normal(0, 1, (B, T, D)).astype("float32")


def test_fifteen_and_seventeen_layer_stacks_build_and_train():
    x = RNG.normal(0, 1, (2, 3, 16, 16, 3)).astype("float32")
    for depth in (15, 17):
        widths = [4] * 5 + [8] * 5 + [16] * (depth - 10)
        strides = [1] * 5 + [2] + [1] * 4 + [2] + [1] * (depth - 11)
        stack = DeepSCS(widths, strides=strides, batch_norm=True, activation="relu")
        with tf.GradientTape() as tape:
            y = stack(x, training=True)
            loss = tf.reduce_mean(y ** 2)
        grads = tape.gradient(loss, stack.trainable_weights)
        assert y.shape == (2, 3, 4, 4, 16)
        assert len(stack.scs_layers) == depth
        assert all(g is not None for g in grads)
        # Gradient reaches the first layer through 15+ recurrent layers.
        first = stack.scs_layers[0].cell.spatial_kernel
        g_first = grads[[id(w) for w in stack.trainable_weights].index(id(first))]
        assert np.abs(g_first.numpy()).max() > 0
        # Shortcut projections exactly where width or resolution changes.
        assert sorted(stack.shortcuts, key=int) == ["0", "4", "10"]  # 3->4 channels too


def test_identity_shortcut_numerics_match_numpy():
    x = dense_input()
    stack = DeepSCS([D, D], layer_type="dense")
    stack(x)
    w1, w2 = random_weights(D, D), random_weights(D, D)
    stack.scs_layers[0].set_weights(w1)
    stack.scs_layers[1].set_weights(w2)
    h1 = ref.dense_forward(x.astype("float64"), *w1)[0]
    h2 = ref.dense_forward(h1, *w2)[0]
    np.testing.assert_allclose(stack(x), h2 + x, atol=1e-5)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_projection_shortcut_numerics_match_numpy(batch_norm):
    x = dense_input()
    stack = DeepSCS([6, 6], layer_type="dense", batch_norm=batch_norm)
    stack(x)
    w1, w2 = random_weights(D, 6), random_weights(6, 6)
    stack.scs_layers[0].set_weights(w1)
    stack.scs_layers[1].set_weights(w2)
    proj = stack.shortcuts["0"]
    wp, bp = proj.get_weights()
    h1 = ref.dense_forward(x.astype("float64"), *w1)[0]
    shortcut = x @ wp + bp
    if batch_norm:  # BN at initialisation, inference mode: x / sqrt(1 + eps)
        eps = stack.norms["output"][0].epsilon
        h1 = h1 / np.sqrt(1 + eps)
        shortcut = shortcut / np.sqrt(1 + eps)
    h2 = ref.dense_forward(h1, *w2)[0]
    if batch_norm:
        h2 = h2 / np.sqrt(1 + eps)
    expected = h2 + np.maximum(shortcut, 0)
    np.testing.assert_allclose(stack(x, training=False), expected, atol=1e-5)


def test_decoupled_streams_match_numpy_through_the_stack():
    x = dense_input()
    stack = DeepSCS([D, D], layer_type="dense", residual=False, decoupled=True)
    stack(x)
    w1, w2 = random_weights(D, D), random_weights(D, D)
    stack.scs_layers[0].set_weights(w1)
    stack.scs_layers[1].set_weights(w2)
    out = stack(x, training=False)
    x64 = x.astype("float64")
    h1 = ref.dense_forward(x64, *w1)[0]
    sigma1, tau1 = ref.dense_streams(x64, *w1)
    np.testing.assert_allclose(out["output"], ref.dense_forward(h1, *w2)[0], atol=1e-5)
    np.testing.assert_allclose(out["spatial"], ref.dense_streams(sigma1, *w2)[0], atol=1e-5)
    np.testing.assert_allclose(out["temporal"], ref.dense_streams(tau1, *w2)[1], atol=1e-5)
    # The coupled stream is the same function as without decoupling.
    plain = DeepSCS([D, D], layer_type="dense", residual=False)
    plain(x)
    plain.set_weights(stack.get_weights())
    np.testing.assert_allclose(plain(x), out["output"], atol=1e-6)


def test_single_layer_call_streams_and_strided_conv_streams():
    x = dense_input()
    layer = SCS(D, return_sequences=True)
    w = random_weights(D, D)
    layer(x)
    layer.set_weights(w)
    h, sigma, tau = layer.call_streams(tf.constant(x))
    sigma_ref, tau_ref = ref.dense_streams(x.astype("float64"), *w)
    np.testing.assert_allclose(sigma, sigma_ref, atol=1e-5)
    np.testing.assert_allclose(tau, tau_ref, atol=1e-5)
    np.testing.assert_allclose(h, layer(x), atol=1e-6)
    c0 = RNG.uniform(0, 1, (B, D)).astype("float32")
    h0, _, tau0 = layer.call_streams(tf.constant(x), initial_state=[c0])
    np.testing.assert_allclose(h0, layer(x, initial_state=[c0]), atol=1e-6)
    np.testing.assert_allclose(tau0, tau, atol=0)  # the temporal-only stream always starts at zero

    frames = RNG.normal(0, 1, (2, 3, 8, 8, 2)).astype("float32")
    conv = DeepSCS([3, 5], strides=[2, 1], decoupled=True, return_sequences=False)
    out = conv(frames)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        s: (2, 4, 4, 5) for s in ("output", "spatial", "temporal")}
    assert np.all(out["temporal"].numpy() >= 0)  # relu


def test_decoupled_stacks_chain_through_a_dict_of_streams():
    x = dense_input()
    whole = DeepSCS([D, D, D, D], layer_type="dense", decoupled=True)
    whole(x)
    first = DeepSCS([D, D], layer_type="dense", decoupled=True)
    second = DeepSCS([D, D], layer_type="dense", decoupled=True)
    second(first(x))
    first.set_weights(whole.get_weights()[:len(first.weights)])
    second.set_weights(whole.get_weights()[len(first.weights):])
    chained, direct = second(first(x)), whole(x)
    for stream in ("output", "spatial", "temporal"):
        np.testing.assert_allclose(chained[stream], direct[stream], atol=1e-6)
    with pytest.raises(ValueError, match="decoupled=True"):
        DeepSCS([D], layer_type="dense")(first(x))


def test_masking_passes_through_the_stack():
    x = dense_input()
    x[0, -2:] = 0.0
    inputs = keras.Input((T, D))
    masked = keras.layers.Masking(0.0)(inputs)
    stack = DeepSCS([3, 3], layer_type="dense", return_sequences=False)
    model = keras.Model(inputs, stack(masked))
    # Sample 0's last two steps are masked: same output as the cut sequence.
    np.testing.assert_allclose(model(x)[0], stack(x[:1, :-2])[0], atol=1e-5)


def test_serialization_round_trip(tmp_path):
    x = RNG.normal(0, 1, (2, 3, 8, 8, 2)).astype("float32")
    inputs = keras.Input((3, 8, 8, 2))
    streams = DeepSCS([3, 4, 4], strides=[1, 2, 1], batch_norm=True,
                      decoupled=True, seed=1)(inputs)
    model = keras.Model(inputs, [streams["output"], streams["spatial"]])
    path = tmp_path / "deep.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(loaded(x), model(x)):
        np.testing.assert_allclose(a, b, atol=0)
    layer = model.layers[1]
    assert DeepSCS.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": []}, "filters"),
        ({"filters": [4, 0]}, "filters"),
        ({"filters": [4, 4], "strides": [1]}, "strides"),
        ({"filters": [4], "layer_type": "lstm"}, "layer_type"),
        ({"filters": [4], "layer_type": "dense", "strides": 2}, "strides"),
        ({"filters": [4], "truncation_rate": 3}, "truncation_rate"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DeepSCS(**kwargs)


def _randomise_batch_norm_statistics(layer):
    """Moving statistics far from their initial values, so that a round trip
    that drops them changes the inference output."""
    rng = np.random.default_rng(5)
    for variable in layer.non_trainable_variables:
        if "moving_" in variable.path:
            variable.assign(rng.uniform(0.5, 2.0, variable.shape))
    assert sum("moving_" in v.path for v in layer.non_trainable_variables) > 0


@pytest.mark.parametrize("decoupled", [False, True])
def test_batch_norm_stack_round_trips_through_saved_model_and_keras(
        tmp_path, decoupled):
    # The batch norms of every layer and every shortcut must be tracked, so
    # that tf.saved_model.save sees their moving statistics and .keras files
    # keep them.
    x = RNG.normal(0, 1, (2, 3, 4, 4, 2)).astype("float32")
    inputs = keras.Input((3, 4, 4, 2))
    stack = DeepSCS([3, 4, 4], strides=[1, 2, 1], batch_norm=True,
                    decoupled=decoupled, seed=1)
    out = stack(inputs)
    model = keras.Model(inputs, out["output"] if decoupled else out)
    _randomise_batch_norm_statistics(stack)
    expected = model(x, training=False).numpy()

    tf.saved_model.save(model, str(tmp_path / "saved"))
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    serve = restored.signatures["serving_default"]
    (served,) = serve(tf.constant(x)).values()
    np.testing.assert_allclose(served, expected, atol=1e-5)

    model.save(tmp_path / "deep.keras")
    loaded = keras.models.load_model(tmp_path / "deep.keras")
    np.testing.assert_allclose(loaded(x, training=False), expected, atol=1e-6)
    # The views keep their shape.
    assert sorted(stack.norms) == (sorted(["output", "spatial", "temporal"])
                                   if decoupled else ["output"])
    assert all(len(norms) == 3 for norms in stack.norms.values())
    assert list(stack.shortcut_norms) == ["0"]


@pytest.mark.parametrize("decoupled", [False, True])
def test_dropout_reaches_every_layer_of_a_stack_in_training_only(decoupled):
    x = dense_input()
    kwargs = dict(layer_type="dense", residual=False, decoupled=decoupled, seed=2)
    plain = DeepSCS([D, D], **kwargs)
    dropped = DeepSCS([D, D], layer_kwargs={"dropout": 0.5, "recurrent_dropout": 0.5},
                      **kwargs)
    plain(x)
    dropped(x)
    dropped.set_weights(plain.get_weights())
    pick = (lambda v: v["output"]) if decoupled else (lambda v: v)
    np.testing.assert_allclose(pick(dropped(x, training=False)),
                               pick(plain(x, training=False)), atol=1e-6)
    assert not np.allclose(pick(dropped(x, training=True)),
                           pick(plain(x, training=True)), atol=1e-3)
    if decoupled:  # the auxiliary pure streams are not dropped
        for stream in ("spatial", "temporal"):
            np.testing.assert_allclose(dropped(x, training=True)[stream],
                                       plain(x, training=True)[stream], atol=1e-6)
    assert all(layer.dropout == 0.5 for layer in dropped.scs_layers)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_step_frame_by_frame_equals_the_whole_sequence(batch_norm):
    # Three strided conv layers: a projection shortcut over the first pair
    # (width and resolution change), then a layer outside any block.
    x = RNG.random((2, 4, 8, 8, 3)).astype("float32")
    stack = DeepSCS([4, 6, 6], strides=[1, 2, 1], batch_norm=batch_norm, return_sequences=True)
    full = stack(x, training=False)
    if batch_norm:  # statistics away from the identity, so the norms matter
        for norm in stack.norm_layers + list(stack.shortcut_norm_layers.values()):
            gamma, beta, mean, var = norm.get_weights()
            norm.set_weights([gamma * 1.5, beta + 0.2, mean + 0.1, var * 2.0])
        full = stack(x, training=False)
    assert sorted(stack.shortcuts) == ["0"]
    states = [s for layer in stack.scs_layers for s in layer.cell.get_initial_state(2)]
    for t in range(x.shape[1]):
        out, states = stack.step(x[:, t], states)
        np.testing.assert_allclose(out, full[:, t], atol=1e-5, err_msg=f"step {t}")
    assert len(states) == 3 and states[1].shape == (2, 8, 8, 6)  # gates at the input size
    with pytest.raises(ValueError, match="needs 3 state tensors"):
        stack.step(x[:, 0], states[:2])
