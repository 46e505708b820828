"""Frame-wise helpers and layers (scs_keras.layers.frames) against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import scs_keras
from scs_keras.layers import (
    DropLastFrame,
    FrameStandardization,
    FrameWise,
    RepeatLastFrame,
    per_frame,
)

RNG = np.random.default_rng(7)


def frames(shape=(2, 3, 5, 4, 2)):
    return RNG.normal(0, 1, shape).astype("float32")


def test_per_frame_applies_the_op_to_every_frame():
    x = frames()
    got = per_frame(lambda f: tf.reduce_max(f, axis=[1, 2]), x)  # (B*T, H, W, C) -> (B*T, C)
    np.testing.assert_array_equal(got, x.max(axis=(2, 3)))
    assert got.shape == (2, 3, 2)
    # Time-major input: the two leading axes are treated alike.
    tm = np.transpose(x, (1, 0, 2, 3, 4))
    np.testing.assert_array_equal(per_frame(lambda f: f * 2.0, tm), tm * 2.0)


def test_per_frame_keeps_static_shapes_in_graphs():
    @tf.function(input_signature=[tf.TensorSpec((None, 4, 6), tf.float32)])
    def run(x):
        y = per_frame(lambda f: tf.matmul(f, tf.ones((6, 3))), x)
        assert y.shape.as_list() == [None, 4, 3]
        return y

    x = frames((2, 4, 6))
    np.testing.assert_allclose(run(x), x @ np.ones((6, 3)), rtol=1e-6)


def test_frame_wise_conv_matches_numpy():
    x = frames()
    conv = keras.layers.Conv2D(3, 1, use_bias=True)
    layer = FrameWise(conv)
    out = layer(x)
    kernel, bias = (w.numpy() for w in conv.weights)
    expected = np.einsum("bthwc,cf->bthwf", x, kernel[0, 0]) + bias
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert layer.compute_output_shape((None, 3, 5, 4, 2)) == (None, 3, 5, 4, 3)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]


def test_frame_wise_passes_training_to_the_inner_layer():
    x = np.ones((2, 3, 8), "float32")
    layer = FrameWise(keras.layers.Dropout(0.5, seed=1))
    np.testing.assert_array_equal(layer(x, training=False), x)
    dropped = np.asarray(layer(x, training=True))
    assert set(np.unique(dropped)) <= {0.0, 2.0} and (dropped == 0).any()


def test_frame_wise_refuses_non_layers_and_non_sequences():
    with pytest.raises(TypeError, match="layer"):
        FrameWise(lambda f: f)
    with pytest.raises(ValueError, match="rank >= 3"):
        FrameWise(keras.layers.Dense(2))(np.zeros((2, 3), "float32"))


def test_repeat_and_drop_last_frame_match_numpy():
    x = frames()
    np.testing.assert_array_equal(RepeatLastFrame(4)(x), np.repeat(x[:, -1:], 4, axis=1))
    np.testing.assert_array_equal(DropLastFrame()(x), x[:, :-1])
    assert RepeatLastFrame(np.int64(2)).steps == 2
    assert DropLastFrame().compute_output_shape((None, None, 5)) == (None, None, 5)
    with pytest.raises(ValueError, match="steps"):
        RepeatLastFrame(0)
    with pytest.raises(TypeError, match="steps"):
        RepeatLastFrame(2.0)
    with pytest.raises(ValueError, match="at least two frames"):
        DropLastFrame()(x[:, :1])


def test_frame_standardization_matches_numpy():
    x = frames((2, 3, 6, 5, 3)) * 4.0 + 2.0
    eps = 1e-3
    mean = x.mean(axis=(2, 3), keepdims=True, dtype=np.float64)
    var = x.var(axis=(2, 3), keepdims=True, dtype=np.float64)
    expected = (x - mean) / np.sqrt(var + eps)
    np.testing.assert_allclose(FrameStandardization(eps)(x), expected, atol=1e-4)
    # Each frame on its own: changing one frame leaves the others alone.
    y = x.copy()
    y[0, 1] *= 10.0
    out_x, out_y = FrameStandardization()(x), FrameStandardization()(y)
    np.testing.assert_array_equal(np.asarray(out_x)[0, 0], np.asarray(out_y)[0, 0])
    with pytest.raises(ValueError, match="epsilon"):
        FrameStandardization(0.0)


LAYERS = [
    lambda: FrameWise(keras.layers.Conv2D(3, 3, padding="same"), name="fw"),
    lambda: RepeatLastFrame(2, name="repeat"),
    lambda: DropLastFrame(name="drop"),
    lambda: FrameStandardization(1e-2, name="std"),
]


@pytest.mark.parametrize("make", LAYERS)
def test_config_and_keras_file_round_trips(make, tmp_path):
    layer = make()
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    x = frames((2, 3, 6, 6, 2))
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, make()(inputs))
    path = tmp_path / "frames.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    # By name: until the task modules drop their own copy of
    # FrameStandardization, importing them re-registers that name.
    assert type(loaded.layers[-1]).__name__ == type(layer).__name__
    np.testing.assert_allclose(loaded(x), model(x), atol=0)


def test_frame_layers_are_exported():
    for name in ("FrameWise", "RepeatLastFrame", "DropLastFrame", "FrameStandardization"):
        assert getattr(scs_keras, name) is getattr(scs_keras.layers, name)
        assert keras.saving.get_registered_name(getattr(scs_keras, name)) == f"scs_keras>{name}"
