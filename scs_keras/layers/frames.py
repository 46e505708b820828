"""Frame-wise helpers and layers for sequences of frames ``(batch, time, ...)``.

:func:`per_frame` is the one way the package applies a per-image op to every
frame of a sequence: it folds the time axis into the batch with a reshape, so
the op runs once on all ``batch × time`` frames (``keras.layers.TimeDistributed``
instead loops over time in Python in Keras 3).  The SCS layers use it for
their input projections, :class:`FrameWise` wraps it as a layer, and
:class:`RepeatLastFrame`, :class:`DropLastFrame` and
:class:`FrameStandardization` are the small sequence layers the task models
share.
"""

import keras
import tensorflow as tf

from scs_keras.utils.backend import require_tensorflow_backend
from scs_keras.utils.validation import check_float, positive_int

__all__ = [
    "per_frame",
    "FrameWise",
    "RepeatLastFrame",
    "DropLastFrame",
    "FrameStandardization",
]


def per_frame(fn, x):
    """Applies a per-frame op to every frame of a sequence in one call.

    The two leading axes (``(batch, time)`` or, in the SCS layers' fused
    path, ``(time, batch)``) are merged into one batch axis for ``fn`` and
    split again afterwards; ``fn`` may change the trailing shape.

    Args:
        fn: Callable taking a batch of frames ``(frames, ...)`` and returning
            one output per frame ``(frames, ...)``.
        x: Tensor of rank >= 2.

    Returns:
        ``fn``'s output with the two leading axes of ``x`` restored.

    Example:

    >>> import tensorflow as tf
    >>> x = tf.ones((2, 3, 4))
    >>> per_frame(lambda f: tf.reduce_sum(f, -1, keepdims=True), x).shape
    TensorShape([2, 3, 1])
    """
    x = tf.convert_to_tensor(x)
    shape = tf.shape(x)
    y = fn(tf.reshape(x, tf.concat([[-1], shape[2:]], 0)))
    out = tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0))
    # Keep what is statically known (the reshape through dynamic shapes loses it).
    out.set_shape(x.shape[:2].concatenate(y.shape[1:]))
    return out


def _check_sequence_rank(layer, input_shape, minimum):
    if len(input_shape) < minimum:
        raise ValueError(
            f"{layer.__class__.__name__} expects sequences of rank >= {minimum} "
            f"(batch, time, ...); received shape {tuple(input_shape)}."
        )


@keras.saving.register_keras_serializable(package="scs_keras")
class FrameWise(keras.layers.Layer):
    """Applies a per-frame layer to every frame of ``(batch, time, ...)``.

    Like ``keras.layers.TimeDistributed`` but with time folded into the batch
    by one reshape (:func:`per_frame`), so the inner layer runs once per call
    instead of once per time step.  The inner layer sees batches of frames
    ``(batch * time, ...)``; its weights are this layer's weights.

    Args:
        layer: A Keras layer taking one batch of frames, e.g.
            ``keras.layers.Conv2D`` on ``(batch, height, width, channels)``
            or ``keras.layers.Dense`` on ``(batch, features)``.
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: A tensor ``(batch, time, ...)``.
        training: Python boolean, passed to the inner layer (dropout, batch
            normalisation).

    Input shape:
        ``(batch, time, *frame_shape)``.

    Output shape:
        ``(batch, time, *inner_output_shape)``, with ``inner_output_shape``
        the inner layer's output shape for one frame.

    Example:

    >>> import keras, numpy as np
    >>> from scs_keras.layers import FrameWise
    >>> conv = FrameWise(keras.layers.Conv2D(4, 3, padding="same"))
    >>> conv(np.zeros((2, 5, 8, 8, 1), "float32")).shape
    TensorShape([2, 5, 8, 8, 4])
    """

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        require_tensorflow_backend("FrameWise", "keras.layers.TimeDistributed")
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"layer must be a Keras layer; received {layer!r}.")
        self.layer = layer

    def build(self, input_shape):
        _check_sequence_rank(self, input_shape, 3)
        if not self.layer.built:  # a reloaded inner layer is built already
            self.layer.build((None,) + tuple(input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        return per_frame(lambda frames: self.layer(frames, training=training), inputs)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def get_config(self):
        return {**super().get_config(),
                "layer": keras.saving.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="scs_keras")
class RepeatLastFrame(keras.layers.Layer):
    """The last frame of a sequence, repeated ``steps`` times.

    Args:
        steps: Positive int, the number of copies (the output's time length).
        **kwargs: Base ``Layer`` arguments.

    Call arguments:
        inputs: A tensor ``(batch, time, ...)`` with at least one frame.

    Input shape:
        ``(batch, time, *frame_shape)``.

    Output shape:
        ``(batch, steps, *frame_shape)``.

    Example:

    >>> import numpy as np
    >>> from scs_keras.layers import RepeatLastFrame
    >>> RepeatLastFrame(3)(np.zeros((2, 5, 4, 4, 1), "float32")).shape
    TensorShape([2, 3, 4, 4, 1])
    """

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        require_tensorflow_backend("RepeatLastFrame", "keras.ops.repeat(x[:, -1:], steps, 1)")
        self.steps = positive_int("steps", steps)

    def build(self, input_shape):
        _check_sequence_rank(self, input_shape, 2)
        if input_shape[1] == 0:
            raise ValueError("RepeatLastFrame needs at least one frame; received "
                             f"shape {tuple(input_shape)}.")
        self.built = True

    def call(self, inputs):
        return tf.repeat(inputs[:, -1:], self.steps, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="scs_keras")
class DropLastFrame(keras.layers.Layer):
    """All frames of a sequence but the last.

    Pairs the outputs at steps ``0..T-2`` with targets at steps ``1..T-1``
    (one-step-ahead prediction).

    Args:
        **kwargs: Base ``Layer`` arguments.

    Call arguments:
        inputs: A tensor ``(batch, time, ...)`` with at least two frames.

    Input shape:
        ``(batch, time, *frame_shape)``.

    Output shape:
        ``(batch, time - 1, *frame_shape)``.

    Example:

    >>> import numpy as np
    >>> from scs_keras.layers import DropLastFrame
    >>> DropLastFrame()(np.zeros((2, 5, 4, 4, 1), "float32")).shape
    TensorShape([2, 4, 4, 4, 1])
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        require_tensorflow_backend("DropLastFrame", "x[:, :-1]")

    def build(self, input_shape):
        _check_sequence_rank(self, input_shape, 2)
        if input_shape[1] is not None and input_shape[1] < 2:
            # One frame would leave an empty sequence.
            raise ValueError("DropLastFrame needs at least two frames; received "
                             f"shape {tuple(input_shape)}.")
        self.built = True

    def call(self, inputs):
        return inputs[:, :-1]

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] - 1
        return (input_shape[0], steps) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="scs_keras")
class FrameStandardization(keras.layers.Layer):
    """Standardises every frame on its own, per channel, over its pixels.

    ``(x - mean) / sqrt(var + epsilon)`` with the mean and variance of one
    channel of one frame, so the output at a frame depends on that frame
    only (causal; it gives a per-frame model no motion information).  It
    removes each video's global brightness and contrast, leaving edges and
    texture.

    Args:
        epsilon: Positive float added to the variance.
        **kwargs: Base ``Layer`` arguments.

    Call arguments:
        inputs: Channels-last frames ``(batch, time, height, width,
            channels)`` (or any ``(..., height, width, channels)``).

    Input shape:
        ``(..., height, width, channels)``, rank >= 3.

    Output shape:
        Same as the input.

    Example:

    >>> import numpy as np
    >>> from scs_keras.layers import FrameStandardization
    >>> x = np.random.rand(1, 2, 8, 8, 3).astype("float32")
    >>> y = np.asarray(FrameStandardization()(x))
    >>> bool(np.allclose(y.mean(axis=(2, 3)), 0.0, atol=1e-5))
    True
    """

    def __init__(self, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        require_tensorflow_backend("FrameStandardization", "keras.layers.Normalization")
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0, min_inclusive=False)

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "FrameStandardization expects frames (..., height, width, channels); "
                f"received shape {tuple(input_shape)}."
            )
        self.built = True

    def call(self, inputs):
        mean, var = tf.nn.moments(inputs, axes=[-3, -2], keepdims=True)
        return (inputs - mean) * tf.math.rsqrt(var + tf.cast(self.epsilon, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
