"""Dense SCS cell and fused layer: numerics, Keras integration, errors."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from scs_keras import SCS, SCSCell
from tests import numpy_reference as ref

RNG = np.random.default_rng(0)
B, T, D, U = 3, 6, 4, 5


def random_weights(d=D, u=U, rng=RNG):
    return [
        rng.normal(0, 0.5, (d, u)).astype("float32"),   # spatial_kernel
        rng.normal(0, 0.5, (d, u)).astype("float32"),   # temporal_kernel
        rng.normal(0, 0.5, (u, u)).astype("float32"),   # recurrent_kernel
        rng.normal(0, 0.1, (u,)).astype("float32"),     # spatial_bias
        rng.normal(0, 0.1, (u,)).astype("float32"),     # temporal_bias
    ]


def sequences(b=B, t=T, d=D):
    return RNG.normal(0, 1, (b, t, d)).astype("float32")


def built(layer, x, weights):
    layer(x)
    layer.set_weights(weights)
    return layer


def test_weights_are_exposed_by_name_and_shape():
    layer = built(SCS(U), sequences(), random_weights())
    cell = layer.cell
    assert [w.name for w in layer.weights] == [
        "spatial_kernel", "temporal_kernel", "recurrent_kernel",
        "spatial_bias", "temporal_bias",
    ]
    assert tuple(cell.spatial_kernel.shape) == (D, U)
    assert tuple(cell.temporal_kernel.shape) == (D, U)
    assert tuple(cell.recurrent_kernel.shape) == (U, U)
    assert tuple(cell.spatial_bias.shape) == (U,)
    assert layer.temporal_bias is cell.temporal_bias


@pytest.mark.parametrize("fused", [True, False])
def test_forward_matches_numpy_equations(fused):
    x, w = sequences(), random_weights()
    layer = built(SCS(U, return_sequences=True, return_state=True, fused=fused), x, w)
    h, state = layer(x)
    h_ref, g_ref, _ = ref.dense_forward(x.astype("float64"), *w)
    np.testing.assert_allclose(h, h_ref, atol=1e-5)
    np.testing.assert_allclose(state, g_ref[:, -1], atol=1e-5)


def test_cell_in_keras_rnn_matches_numpy():
    x, w = sequences(), random_weights()
    rnn = built(keras.layers.RNN(SCSCell(U), return_sequences=True), x, w)
    np.testing.assert_allclose(rnn(x), ref.dense_forward(x.astype("float64"), *w)[0],
                               atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True},
        {"go_backwards": True, "return_sequences": True},
        {"return_state": True},
        {"zero_output_for_mask": True, "return_sequences": True},
    ],
)
def test_fused_equals_rnn_of_cell_with_mask(options):
    x, w = sequences(), random_weights()
    mask = np.ones((B, T), bool)
    mask[0, 4:] = False  # padded tail
    mask[1, 2] = False   # hole in the middle
    mask[2, :2] = False  # padded head
    fused = built(SCS(U, **options), x, w)
    rnn = built(keras.layers.RNN(SCSCell(U), **options), x, w)
    got = tree_list(fused(x, mask=mask))
    want = tree_list(rnn(x, mask=mask))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-5)


def tree_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def test_initial_state_and_masking_layer():
    x, w = sequences(), random_weights()
    x[0, -2:] = 0.0
    c0 = RNG.uniform(0, 1, (B, U)).astype("float32")
    layer = built(SCS(U, return_sequences=True), x, w)
    out = layer(x, initial_state=[c0])
    np.testing.assert_allclose(out, ref.dense_forward(x.astype("float64"), *w, c0=c0)[0],
                               atol=1e-5)
    inputs = keras.Input((T, D))
    masked = keras.layers.Masking(0.0)(inputs)
    model = keras.Model(inputs, SCS(U, name="scs")(masked))
    model.get_layer("scs").set_weights(w)
    # Sample 0's last two steps are masked: its output is that of step T-3.
    expected = ref.dense_forward(x[:1, : T - 2].astype("float64"), *w)[0][:, -1]
    np.testing.assert_allclose(model(x)[0], expected[0], atol=1e-5)


def test_stateful_carries_state_between_calls():
    x, w = sequences(), random_weights()
    layer = SCS(U, stateful=True, return_sequences=True)
    layer(keras.ops.zeros((B, T, D)))
    layer.set_weights(w)
    layer.reset_state()
    first = layer(x[:, :3])
    second = layer(x[:, 3:])
    whole = ref.dense_forward(x.astype("float64"), *w)[0]
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, atol=1e-5)
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, 3:]),
                               ref.dense_forward(x[:, 3:].astype("float64"), *w)[0],
                               atol=1e-5)


def test_bidirectional_and_stacked_cells():
    x, w = sequences(), random_weights()
    bi = keras.layers.Bidirectional(SCS(U, return_sequences=True))
    bi(x)
    bi.forward_layer.set_weights(w)
    bi.backward_layer.set_weights(w)
    out = bi(x)
    fwd = ref.dense_forward(x.astype("float64"), *w)[0]
    bwd = ref.dense_forward(x[:, ::-1].astype("float64"), *w)[0][:, ::-1]
    np.testing.assert_allclose(out, np.concatenate([fwd, bwd], -1), atol=1e-5)

    w2 = random_weights(d=U, u=3)
    stacked = keras.layers.RNN([SCSCell(U), SCSCell(3)], return_sequences=True)
    stacked(x)
    stacked.set_weights(w + w2)
    h1 = ref.dense_forward(x.astype("float64"), *w)[0]
    np.testing.assert_allclose(stacked(x), ref.dense_forward(h1, *w2)[0], atol=1e-5)


def test_use_bias_false_has_three_weights():
    layer = SCS(U, use_bias=False)
    layer(sequences())
    assert [w.name for w in layer.weights] == [
        "spatial_kernel", "temporal_kernel", "recurrent_kernel"]


def test_serialization_round_trips(tmp_path):
    x, w = sequences(), random_weights()
    layer = built(SCS(U, return_sequences=True, truncation_rate=0.3,
                      truncation_mode="exclusive", seed=3,
                      kernel_regularizer="l2", activation="relu"), x, w)
    config = layer.get_config()
    clone = SCS.from_config(config)
    clone(x)
    clone.set_weights(w)
    np.testing.assert_allclose(clone(x), layer(x), atol=0)
    assert clone.get_config() == config
    assert clone.cell.truncation_mode == "exclusive"

    cell_clone = SCSCell.from_config(layer.cell.get_config())
    assert cell_clone.get_config() == layer.cell.get_config()

    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.RNN(SCSCell(U))(inputs))
    model.layers[-1].set_weights(w)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"units": 0}, ValueError, "units"),
        ({"units": -3}, ValueError, "units"),
        ({"units": 2.5}, TypeError, "units"),
        ({"units": True}, TypeError, "units"),
        ({"units": 4, "truncation_rate": 1.5}, ValueError, "truncation_rate"),
        ({"units": 4, "truncation_rate": -0.1}, ValueError, "truncation_rate"),
        ({"units": 4, "truncation_mode": "spatial"}, ValueError, "truncation_mode"),
        ({"units": 4, "seed": "x"}, TypeError, "seed"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, error, match):
    with pytest.raises(error, match=match):
        SCS(**kwargs)
    with pytest.raises(error, match=match):
        SCSCell(**kwargs)


def test_unknown_argument_is_refused():
    # Keras' Layer refuses what no signature takes, naming it.
    with pytest.raises(ValueError, match="filters"):
        SCS(4, filters=3)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="rank|ndim"):
        SCS(4)(np.zeros((2, 3, 4, 5), "float32"))
    with pytest.raises(TypeError, match="floating-point"):
        SCS(4)(tf.zeros((2, 3, 4), tf.int32))
    with pytest.raises(ValueError, match="SCSCell expects"):
        keras.layers.RNN(SCSCell(4))(np.zeros((2, 3, 4, 5), "float32"))
    with pytest.raises(ValueError, match="at least one time step"):
        SCS(4)(np.zeros((2, 0, 4), "float32"))


# -- the spatial-only stream: layer(x, stream="spatial") --------------------


@pytest.mark.parametrize("activation, act", [("tanh", np.tanh),
                                             ("relu", lambda v: np.maximum(v, 0.0))])
def test_spatial_stream_matches_numpy(activation, act):
    x, w = sequences(), random_weights()
    layer = built(SCS(U, activation=activation, return_sequences=True,
                      return_state=True), x, w)
    sigma = layer(x, stream="spatial", training=True)  # no truncation, no state
    np.testing.assert_allclose(sigma, act(x.astype("float64") @ w[0] + w[3]), atol=1e-5)
    # The same method gives call_streams' spatial-only output.
    _, from_streams, _ = layer.call_streams(tf.constant(x))
    np.testing.assert_array_equal(sigma, from_streams)
    assert np.asarray(layer(x, stream="coupled")[0]).shape == (B, T, U)


def test_spatial_stream_needs_sequences_and_a_known_stream():
    x = sequences()
    with pytest.raises(ValueError, match="return_sequences=True"):
        SCS(U)(x, stream="spatial")
    with pytest.raises(ValueError, match="stream must be one of"):
        SCS(U, return_sequences=True)(x, stream="temporal")
    with pytest.raises(ValueError, match="return_sequences=True"):
        SCS(U)(keras.Input((T, D)), stream="spatial")


def test_one_layer_called_both_ways_in_a_functional_model_shares_weights():
    x, w = sequences(), random_weights()
    layer = SCS(U, return_sequences=True, return_state=True, name="scs")
    inputs = keras.Input((T, D))
    coupled, state = layer(inputs)
    spatial = layer(inputs, stream="spatial")
    assert tuple(spatial.shape) == (None, T, U)
    head = keras.layers.Dense(2, name="head")
    model = keras.Model(inputs, {"out": head(coupled), "spatial": head(spatial),
                                 "state": state})
    layer.set_weights(w)
    # One set of SCS weights (5) and one head: nothing was duplicated.
    assert model.count_params() == layer.count_params() + head.count_params()
    assert layer.count_params() == 2 * D * U + U * U + 2 * U
    out = model(x)
    x64 = x.astype("float64")
    kernel, bias = (v.numpy() for v in head.weights)
    np.testing.assert_allclose(out["spatial"], np.tanh(x64 @ w[0] + w[3]) @ kernel + bias,
                               atol=1e-5)
    h_ref, g_ref, _ = ref.dense_forward(x64, *w)
    np.testing.assert_allclose(out["out"], h_ref @ kernel + bias, atol=1e-5)
    np.testing.assert_allclose(out["state"], g_ref[:, -1], atol=1e-5)


# -- errors that name the problem early -------------------------------------


@pytest.mark.parametrize("make", [lambda: SCS(U), lambda: SCS(U, fused=False),
                                  lambda: keras.layers.RNN(SCSCell(U))])
def test_wrong_initial_state_shape_names_expected_and_received(make):
    x = sequences()
    with pytest.raises(ValueError, match=r"\(3, 5\).*\[\(3, 4\)\]"):
        make()(x, initial_state=[np.zeros((B, D), "float32")])
    with pytest.raises(ValueError, match="one state"):
        make()(x, initial_state=[np.zeros((B, U), "float32")] * 2)
    # The right shape passes.
    assert make()(x, initial_state=[np.zeros((B, U), "float32")]).shape == (B, U)


def test_conv_layer_initial_state_shape_is_checked():
    from scs_keras import ConvSCS2D

    x = np.zeros((1, 2, 6, 6, 2), "float32")
    with pytest.raises(ValueError, match=r"\(1, 6, 6, 3\)"):
        ConvSCS2D(3, 3)(x, initial_state=[np.zeros((1, 3, 3, 3), "float32")])


@pytest.mark.parametrize("layer, shape", [
    ("SCS", (B, 0, D)), ("SCS-unfused", (B, 0, D)), ("ConvSCS2D", (1, 0, 6, 6, 2))])
def test_zero_time_steps_is_a_clear_error(layer, shape):
    # (keras.layers.RNN(SCSCell) slices the first step before the cell sees
    # the sequence: like keras.layers.LSTM it fails in that slice.)
    from scs_keras import ConvSCS2D

    make = {"SCS": lambda: SCS(U), "SCS-unfused": lambda: SCS(U, fused=False),
            "ConvSCS2D": lambda: ConvSCS2D(3, 3)}[layer]
    with pytest.raises(ValueError, match=r"at least one time step.*\(.*, 0, "):
        make()(np.zeros(shape, "float32"))


def test_unroll_true_on_a_long_sequence_warns():
    from scs_keras.layers.recurrence import UNROLL_WARN_STEPS

    layer = SCS(2, unroll=True)
    # Symbolic input: the warning comes at trace time, nothing is unrolled.
    with pytest.warns(UserWarning, match="unroll=True"):
        layer(keras.KerasTensor((1, UNROLL_WARN_STEPS + 1, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SCS(2, unroll=True)(np.zeros((1, 4, 3), "float32"))
        SCS(2)(keras.KerasTensor((1, UNROLL_WARN_STEPS + 1, 3)))


# -- dropout and recurrent dropout (keras.layers.LSTM semantics) -------------


def dropout_forward(x, ws, wx, u, bs, bg, input_mask, recurrent_mask):
    """NumPy SCS forward with one input mask on x_t (both projections) and
    one recurrent mask on c_{t-1} where it feeds U, the same at every step;
    the state carried on is the undropped gate."""
    x = x * input_mask[:, None]
    c = np.zeros((x.shape[0], ws.shape[1]))
    hs = []
    for t in range(x.shape[1]):
        g = ref.sigmoid(x[:, t] @ wx + (c * recurrent_mask) @ u + bg)
        hs.append(np.tanh(x[:, t] @ ws + bs) * g)
        c = g
    return np.stack(hs, 1)


def recording_masks(cell):
    """Records every dropout mask the cell draws."""
    drawn = []
    create = cell._create_dropout_mask

    def record(step_input, rate):
        mask = create(step_input, rate)
        drawn.append(mask.numpy())
        return mask

    cell._create_dropout_mask = record
    return drawn


DROPOUT_LAYERS = {
    "fused": lambda **kw: SCS(U, return_sequences=True, **kw),
    "per_step": lambda **kw: SCS(U, return_sequences=True, fused=False, **kw),
    "cell": lambda **kw: keras.layers.RNN(SCSCell(U, **kw), return_sequences=True),
}


@pytest.mark.parametrize("kind", ["fused", "per_step", "cell"])
@pytest.mark.parametrize("rates", [(0.4, 0.0), (0.0, 0.4), (0.3, 0.5)])
def test_dropout_in_training_matches_numpy_with_the_drawn_masks(kind, rates):
    x = sequences()
    w = random_weights()
    layer = built(DROPOUT_LAYERS[kind](dropout=rates[0], recurrent_dropout=rates[1],
                                       seed=7), x, w)
    drawn = recording_masks(layer.cell)
    got = layer(x, training=True).numpy()
    # One mask per active kind, drawn once for the whole sequence.
    assert len(drawn) == sum(r > 0 for r in rates)
    masks = iter(drawn)
    input_mask = next(masks) if rates[0] else np.ones((B, D))
    recurrent_mask = next(masks) if rates[1] else np.ones((B, U))
    for mask, rate in ((input_mask, rates[0]), (recurrent_mask, rates[1])):
        # Inverted dropout: 0 or 1 / (1 - rate).
        np.testing.assert_allclose(np.unique(mask)[-1], 1 / (1 - rate), rtol=1e-6)
        assert set(np.unique(mask)) <= {0.0, np.float32(1 / (1 - rate))}
    expected = dropout_forward(x.astype("float64"), *w, input_mask, recurrent_mask)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Fresh masks for the next sequence.
    layer(x, training=True)
    assert len(drawn) == 2 * sum(r > 0 for r in rates)
    assert not np.array_equal(drawn[0], drawn[len(drawn) // 2])


def test_fused_and_cell_paths_draw_the_same_masks_for_the_same_seed():
    x = sequences()
    w = random_weights()
    mask = np.ones((B, T), bool)
    mask[0, -2:] = False
    for kwargs in ({}, {"mask": mask}):
        outputs = [
            built(DROPOUT_LAYERS[kind](dropout=0.3, recurrent_dropout=0.3,
                                       seed=11), x, w)(
                x, training=True, **kwargs).numpy()
            for kind in ("fused", "per_step", "cell")
        ]
        np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
        np.testing.assert_allclose(outputs[0], outputs[2], atol=1e-6)


@pytest.mark.parametrize("kind", ["fused", "per_step", "cell"])
def test_dropout_is_inactive_in_inference_and_at_rate_zero(kind):
    x = sequences()
    w = random_weights()
    expected = ref.dense_forward(x.astype("float64"), *w)[0]
    layer = built(DROPOUT_LAYERS[kind](dropout=0.5, recurrent_dropout=0.5), x, w)
    np.testing.assert_allclose(layer(x, training=False), expected, atol=1e-5)
    layer = built(DROPOUT_LAYERS[kind](dropout=0.0, recurrent_dropout=0.0), x, w)
    np.testing.assert_allclose(layer(x, training=True), expected, atol=1e-5)


def test_input_dropout_keeps_the_expected_input():
    # Inverted dropout keeps E[x * mask] = x: over many sequences the mean
    # spatial pre-activation with a linear spatial stream and a constant gate
    # (zero temporal weights: g = sigmoid(0) = 0.5) matches the undropped one.
    x = np.ones((400, 2, D), "float32")
    layer = SCS(U, return_sequences=True, activation="linear", dropout=0.5, seed=3)
    layer(x)
    ws = RNG.normal(0, 1, (D, U)).astype("float32")
    zeros = np.zeros((D, U), "float32")
    layer.set_weights([ws, zeros, np.zeros((U, U), "float32"),
                       np.zeros(U, "float32"), np.zeros(U, "float32")])
    got = layer(x, training=True).numpy().mean(axis=(0, 1))
    np.testing.assert_allclose(got, 0.5 * ws.sum(0), atol=0.25)
    assert layer(x, training=True).numpy().std() > 0.1  # masks differ per sample


def test_dropout_is_serialised_and_validated():
    layer = SCS(U, dropout=0.25, recurrent_dropout=0.125)
    config = layer.get_config()
    assert (config["dropout"], config["recurrent_dropout"]) == (0.25, 0.125)
    clone = SCS.from_config(config)
    assert (clone.dropout, clone.recurrent_dropout) == (0.25, 0.125)
    cell = SCSCell.from_config(SCSCell(U, recurrent_dropout=0.5).get_config())
    assert cell.recurrent_dropout == 0.5
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="recurrent_dropout"):
            SCS(U, recurrent_dropout=bad)
        with pytest.raises(ValueError, match="dropout"):
            SCSCell(U, dropout=bad)
    with pytest.raises(TypeError, match="dropout"):
        SCS(U, dropout="0.5")
