"""Convolutional SCS cells and fused layers: numerics, layouts, errors."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import scs_keras
from scs_keras import (
    SCS,
    ConvSCS1D,
    ConvSCS1DCell,
    ConvSCS2D,
    ConvSCS2DCell,
    ConvSCS3D,
    ConvSCS3DCell,
    SCSCell,
)
from tests import numpy_reference as ref

RNG = np.random.default_rng(1)
B, T, H, W, C, F = 2, 4, 7, 6, 3, 4


def random_weights(k=3, c=C, f=F):
    return [
        RNG.normal(0, 0.3, (k, k, c, f)).astype("float32"),
        RNG.normal(0, 0.3, (k, k, c, f)).astype("float32"),
        RNG.normal(0, 0.3, (k, k, f, f)).astype("float32"),
        RNG.normal(0, 0.1, (f,)).astype("float32"),
        RNG.normal(0, 0.1, (f,)).astype("float32"),
    ]


def frames():
    return RNG.normal(0, 1, (B, T, H, W, C)).astype("float32")


@pytest.mark.parametrize(
    "stride, padding", [(1, "same"), (2, "same"), (1, "valid"), (2, "valid")]
)
@pytest.mark.parametrize("fused", [True, False])
def test_conv_layer_matches_numpy(stride, padding, fused):
    x, w = frames(), random_weights()
    layer = ConvSCS2D(F, 3, strides=stride, padding=padding,
                      return_sequences=True, return_state=True, fused=fused)
    layer(x)
    layer.set_weights(w)
    h, state = layer(x)
    h_ref, c_ref = ref.conv_forward(x.astype("float64"), *w, stride=stride,
                                    padding=padding)
    assert h.shape == h_ref.shape
    assert state.shape == c_ref.shape  # state at the input resolution
    np.testing.assert_allclose(h, h_ref, atol=1e-5)
    np.testing.assert_allclose(state, c_ref, atol=1e-5)


def test_cell_step_by_step_matches_fused_layer():
    x, w = frames(), random_weights()
    layer = ConvSCS2D(F, 3, strides=2, return_sequences=True)
    layer(x)
    layer.set_weights(w)
    cell = ConvSCS2DCell(F, 3, strides=2)
    cell.build((B, H, W, C))
    cell.set_weights(w)
    state = cell.get_initial_state(B)
    outputs = []
    for t in range(T):
        h, state = cell(x[:, t], state)
        outputs.append(h)
    np.testing.assert_allclose(np.stack(outputs, 1), layer(x), atol=1e-5)


def test_channels_first_equals_channels_last():
    x, w = frames(), random_weights()
    last = ConvSCS2D(F, 3, strides=2, return_sequences=True, return_state=True)
    last(x)
    last.set_weights(w)
    first = ConvSCS2D(F, 3, strides=2, return_sequences=True, return_state=True,
                      data_format="channels_first")
    x_first = np.transpose(x, (0, 1, 4, 2, 3))
    first(x_first)
    first.set_weights(w)
    h_last, c_last = last(x)
    h_first, c_first = first(x_first)
    np.testing.assert_allclose(np.transpose(h_first, (0, 1, 3, 4, 2)), h_last, atol=1e-5)
    np.testing.assert_allclose(np.transpose(c_first, (0, 2, 3, 1)), c_last, atol=1e-5)
    for fused in (True, False):
        first.fused = fused
        np.testing.assert_allclose(first(x_first)[0], h_first, atol=1e-5)


def test_mask_go_backwards_and_convlstm_like_shapes():
    x, w = frames(), random_weights()
    mask = np.ones((B, T), bool)
    mask[1, 2:] = False
    kwargs = dict(return_sequences=True, go_backwards=True)
    fused = ConvSCS2D(F, 3, **kwargs)
    loop = ConvSCS2D(F, 3, fused=False, **kwargs)
    for layer in (fused, loop):
        layer(x)
        layer.set_weights(w)
    np.testing.assert_allclose(fused(x, mask=mask), loop(x, mask=mask), atol=1e-5)
    lstm = keras.layers.ConvLSTM2D(F, 3, padding="same", return_sequences=True)
    assert tuple(lstm.compute_output_shape(x.shape)) == tuple(
        fused.compute_output_shape(x.shape))
    assert tuple(fused(x).shape) == tuple(lstm(x).shape)


def test_conv_1d_and_3d_shapes_and_steps():
    x1 = RNG.normal(0, 1, (2, 3, 9, 2)).astype("float32")
    layer1 = ConvSCS1D(5, 3, strides=2, return_sequences=True, return_state=True)
    out, state = layer1(x1)
    assert out.shape == (2, 3, 5, 5) and state.shape == (2, 9, 5)
    x3 = RNG.normal(0, 1, (1, 2, 4, 4, 4, 2)).astype("float32")
    out3 = ConvSCS3D(3, 3, return_sequences=False)(x3)
    assert out3.shape == (1, 4, 4, 4, 3)
    # 1D fused vs per-step loop on the same weights.
    loop = ConvSCS1D(5, 3, strides=2, return_sequences=True, return_state=True,
                     fused=False)
    loop(x1)
    loop.set_weights(layer1.get_weights())
    for a, b in zip(loop(x1), layer1(x1)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_serialization_round_trips(tmp_path):
    x, w = frames(), random_weights()
    layer = ConvSCS2D(F, 3, strides=2, return_sequences=True,
                      truncation_rate=0.25, seed=7)
    layer(x)
    layer.set_weights(w)
    clone = ConvSCS2D.from_config(layer.get_config())
    clone(x)
    clone.set_weights(w)
    np.testing.assert_allclose(clone(x), layer(x), atol=0)
    assert clone.get_config() == layer.get_config()
    cell = ConvSCS2DCell(F, (3, 3), strides=2)
    assert ConvSCS2DCell.from_config(cell.get_config()).get_config() == cell.get_config()

    inputs = keras.Input((T, H, W, C))
    model = keras.Model(inputs, ConvSCS2D(F, 3, name="conv_scs")(inputs))
    model.get_layer("conv_scs").set_weights(w)
    path = tmp_path / "conv.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0, "kernel_size": 3}, "filters"),
        ({"filters": 4, "kernel_size": 3, "padding": "full"}, "padding"),
        ({"filters": 4, "kernel_size": 3, "truncation_rate": 2}, "truncation_rate"),
        ({"filters": 4, "kernel_size": 3, "truncation_mode": "x"}, "truncation_mode"),
        ({"filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
         "dilation_rate"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvSCS2D(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="rank|ndim"):
        ConvSCS2D(4, 3)(np.zeros((2, 3, 8, 3), "float32"))
    with pytest.raises(TypeError, match="floating-point"):
        ConvSCS2D(4, 3)(tf.zeros((1, 2, 5, 5, 1), tf.uint8))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        ConvSCS2D(4, 5, padding="valid")(np.zeros((1, 2, 3, 3, 1), "float32"))


# -- the spatial-only stream: layer(x, stream="spatial") --------------------


def numpy_spatial_stream(x, ws, bs, stride, padding):
    """act(W_s * x_t + b_s) frame by frame, from the NumPy convolution."""
    return np.stack([np.tanh(ref.conv2d(x[:, t], ws, stride, padding) + bs)
                     for t in range(x.shape[1])], 1)


@pytest.mark.parametrize("stride, padding", [(1, "same"), (2, "same"), (2, "valid")])
def test_spatial_stream_matches_numpy(stride, padding):
    x, w = frames(), random_weights()
    layer = ConvSCS2D(F, 3, strides=stride, padding=padding, return_sequences=True,
                      return_state=True)
    layer(x)
    layer.set_weights(w)
    sigma = layer(x, stream="spatial", training=True)
    expected = numpy_spatial_stream(x.astype("float64"), w[0], w[3], stride, padding)
    assert sigma.shape == expected.shape == layer(x)[0].shape
    np.testing.assert_allclose(sigma, expected, atol=1e-5)
    _, from_streams, _ = layer.call_streams(tf.constant(x))
    np.testing.assert_array_equal(sigma, from_streams)


def test_spatial_stream_channels_first():
    x, w = frames(), random_weights()
    layer = ConvSCS2D(F, 3, strides=2, return_sequences=True, data_format="channels_first")
    x_first = np.transpose(x, (0, 1, 4, 2, 3))
    layer(x_first)
    layer.set_weights(w)
    expected = numpy_spatial_stream(x.astype("float64"), w[0], w[3], 2, "same")
    np.testing.assert_allclose(np.transpose(layer(x_first, stream="spatial"), (0, 1, 3, 4, 2)),
                               expected, atol=1e-5)


def test_spatial_stream_in_1d_and_3d_has_the_coupled_shape():
    x1 = RNG.normal(0, 1, (2, 3, 9, 2)).astype("float32")
    x3 = RNG.normal(0, 1, (1, 2, 4, 4, 4, 2)).astype("float32")
    for layer, x in ((ConvSCS1D(5, 3, strides=2, return_sequences=True), x1),
                     (ConvSCS3D(3, 3, strides=2, return_sequences=True), x3)):
        sigma = layer(x, stream="spatial")
        assert sigma.shape == layer(x).shape
        np.testing.assert_array_equal(sigma, layer.call_streams(tf.constant(x))[1])


def test_strided_conv_functional_model_shares_weights_between_streams():
    x, w = frames(), random_weights()
    layer = ConvSCS2D(F, 3, strides=2, return_sequences=True, name="conv_scs")
    inputs = keras.Input((T, H, W, C))
    coupled = layer(inputs)
    spatial = layer(inputs, stream="spatial")
    assert tuple(spatial.shape) == tuple(coupled.shape) == (None, T, 4, 3, F)
    model = keras.Model(inputs, [coupled, spatial])
    layer.set_weights(w)
    assert model.count_params() == layer.count_params() == sum(v.size for v in w)
    out_coupled, out_spatial = model(x)
    x64 = x.astype("float64")
    np.testing.assert_allclose(out_spatial, numpy_spatial_stream(x64, w[0], w[3], 2, "same"),
                               atol=1e-5)
    np.testing.assert_allclose(out_coupled, ref.conv_forward(x64, *w, stride=2)[0], atol=1e-5)


# -- public API: signatures, docstrings, round trips ------------------------

PUBLIC_CELLS = [SCSCell, ConvSCS1DCell, ConvSCS2DCell, ConvSCS3DCell]
PUBLIC_LAYERS = [SCS, ConvSCS1D, ConvSCS2D, ConvSCS3D]


@pytest.mark.parametrize("cls", PUBLIC_CELLS + PUBLIC_LAYERS, ids=lambda c: c.__name__)
def test_every_argument_is_in_the_signature_and_documented(cls):
    params = inspect.signature(cls).parameters
    names = [n for n, p in params.items() if p.kind is not p.VAR_KEYWORD]
    expected = ["activation", "recurrent_activation", "use_bias", "kernel_initializer",
                "recurrent_initializer", "bias_initializer", "kernel_regularizer",
                "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                "recurrent_constraint", "bias_constraint", "truncation_rate",
                "truncation_mode", "seed", "dropout", "recurrent_dropout"]
    if cls.__name__.startswith("Conv"):
        expected += ["filters", "kernel_size", "strides", "padding", "data_format",
                     "dilation_rate"]
    else:
        expected += ["units"]
    if cls in PUBLIC_LAYERS:
        expected += ["activity_regularizer", "return_sequences", "return_state",
                     "go_backwards", "stateful", "zero_output_for_mask", "unroll",
                     "fused", "recompute_spatial"]
    assert sorted(names) == sorted(expected)
    doc = cls.__doc__
    for section in ("Args:", "Call arguments:", "Input shape:", "Output shape:", "Example:"):
        assert section in doc, f"{cls.__name__} docstring lacks {section}"
    for name in names:
        assert f"        {name}: " in doc, f"{cls.__name__} does not document {name}"
    assert "SPEC" not in doc
    if cls in PUBLIC_LAYERS:
        assert "        stream: " in doc


def test_generic_conv_bases_are_private():
    for name in ("ConvSCS", "ConvSCSCell"):
        assert not hasattr(scs_keras, name)
        assert not hasattr(scs_keras.layers, name)


CONV_INPUTS = {1: (2, 3, 9, 2), 2: (2, 3, 7, 6, 2), 3: (1, 2, 5, 4, 4, 2)}


def _instances():
    """One non-default instance of every public cell and layer, with inputs."""
    options = dict(truncation_rate=0.3, truncation_mode="exclusive", seed=4,
                   activation="relu", kernel_regularizer="l2", dropout=0.25,
                   recurrent_dropout=0.125)
    out = [(SCSCell(3, **options), (2, 4, 5)),
           (SCS(3, return_sequences=True, unroll=False, recompute_spatial=True,
                activity_regularizer="l1", **options), (2, 4, 5))]
    for rank, (cell_cls, layer_cls) in enumerate(
            [(ConvSCS1DCell, ConvSCS1D), (ConvSCS2DCell, ConvSCS2D),
             (ConvSCS3DCell, ConvSCS3D)], start=1):
        out.append((cell_cls(3, 3, strides=2, padding="valid", **options),
                    CONV_INPUTS[rank]))
        out.append((layer_cls(3, 3, strides=2, return_sequences=True, return_state=True,
                              go_backwards=True, **options), CONV_INPUTS[rank]))
    return out


@keras.saving.register_keras_serializable(package="scs_keras_tests")
class CellSequence(keras.layers.Layer):
    """``keras.layers.RNN(cell, return_sequences=True)`` with its output shape
    given: ``keras.layers.RNN`` cannot describe a conv cell's tensor-shaped
    state symbolically, so a functional model cannot hold it directly."""

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        self.rnn = keras.layers.RNN(cell, return_sequences=True)

    def build(self, input_shape):
        self.rnn.build(input_shape)
        self.built = True

    def call(self, x):
        return self.rnn(x)

    def compute_output_shape(self, input_shape):
        step = self.rnn.cell.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(step[1:])

    def get_config(self):
        return {**super().get_config(),
                "cell": keras.saving.serialize_keras_object(self.rnn.cell)}


@pytest.mark.parametrize("index", range(8), ids=lambda i: type(_instances()[i][0]).__name__)
def test_every_public_class_round_trips(index, tmp_path):
    obj, shape = _instances()[index]
    config = obj.get_config()
    assert "rank" not in config
    clone = type(obj).from_config(config)
    assert type(clone) is type(obj)
    assert clone.get_config() == config

    is_cell = isinstance(obj, tuple(PUBLIC_CELLS))
    x = RNG.normal(0, 1, shape).astype("float32")
    inputs = keras.Input(shape[1:])
    layer = CellSequence(obj) if is_cell else obj
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "public.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    reloaded = loaded.layers[-1].rnn.cell if is_cell else loaded.layers[-1]
    assert type(reloaded) is type(obj)
    assert reloaded.get_config() == obj.get_config()
    assert len(loaded.weights) == len(model.weights) == 5
    for a, b in zip(keras.tree.flatten(loaded(x)), keras.tree.flatten(model(x))):
        np.testing.assert_allclose(a, b, atol=0)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_dropout_fused_equals_cell_path_and_numpy(data_format, stride):
    x, w = frames(), random_weights()
    to_layout = ((lambda v: np.moveaxis(v, -1, 2)) if data_format == "channels_first"
                 else (lambda v: v))
    xl = to_layout(x)
    outputs, masks = [], []
    for fused in (True, False):
        layer = ConvSCS2D(F, 3, strides=stride, return_sequences=True, fused=fused,
                          data_format=data_format, dropout=0.4,
                          recurrent_dropout=0.3, seed=5)
        layer(xl)
        layer.set_weights(w)
        drawn = []
        create = layer.cell._create_dropout_mask
        layer.cell._create_dropout_mask = lambda v, r: drawn.append(create(v, r)) or drawn[-1]
        outputs.append(layer(xl, training=True).numpy())
        masks.append([m.numpy() for m in drawn])
        # Inference ignores dropout: NumPy without masks.
        np.testing.assert_allclose(
            layer(xl, training=False),
            to_layout(ref.conv_forward(x.astype("float64"), *w, stride=stride)[0]),
            atol=1e-5)
    # Same seed, same masks: one per sequence for the input and the state
    # (filters channels at the input resolution), in the layer's layout.
    state_shape = (B, F, H, W) if data_format == "channels_first" else (B, H, W, F)
    assert [m.shape for m in masks[0]] == [xl.shape[:1] + xl.shape[2:], state_shape]
    np.testing.assert_array_equal(masks[0][0], masks[1][0])
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)
    # With input dropout only, the fused layer is the NumPy layer on x * mask.
    layer = ConvSCS2D(F, 3, strides=stride, return_sequences=True, dropout=0.4,
                      data_format=data_format, seed=5)
    layer(xl)
    layer.set_weights(w)
    drawn = []
    create = layer.cell._create_dropout_mask
    layer.cell._create_dropout_mask = lambda v, r: drawn.append(create(v, r)) or drawn[-1]
    got = layer(xl, training=True).numpy()
    mask = drawn[0].numpy()
    if data_format == "channels_first":
        mask = np.moveaxis(mask, 1, -1)
    expected = ref.conv_forward((x * mask[:, None]).astype("float64"), *w, stride=stride)[0]
    np.testing.assert_allclose(got, to_layout(expected), atol=1e-5)
