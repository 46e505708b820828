"""Steering models: an SCS network over frames and its baselines.

Every model maps a clip ``(B, T, H, W, 3)`` of frames on [0, 1] to the
steering angle of its **last** frame, in degrees, output ``"angle"``
``(B,)``.  They are built from named parts, so that a clip can also be fed
one frame at a time (:mod:`.streaming`) with the same weights:

``"front"``
    a per-frame network (``FrameWise``), no state;
``"core"`` / ``"core_<i>"``
    the recurrent layers, in order (their last step goes on);
``"head"``
    the regression head on the last step's features: ``Flatten`` →
    ``Dense`` → ``Dense(1)`` → a fixed ``Rescaling`` to degrees (the
    training angles' standard deviation and mean, so the dense layers work
    on a unit scale), then ``"angle"`` drops the last axis.

Models (:data:`MODEL_NAMES`):

``"scs"``
    front (``[0, 1] → [-1, 1]``, ``Conv2D`` 5×5/2 ELU) → ``DeepSCS`` of
    ``ConvSCS2D`` layers (``widths``, each stride 2, ``decoupled=True``) →
    head.  The decoupled stack also runs the spatial-only stream T¹ (every
    layer's ``act(W_s * x + b_s)``: a per-frame CNN with the SCS spatial
    weights) and the temporal-only stream T² (every layer's gate recurrence
    without the spatial factor); each gets a head of its own, outputs
    ``"spatial"`` and ``"temporal"`` (auxiliary losses; ASTSGD reads the
    ``"spatial"`` loss).  An :class:`~scs_keras.SCSModel`.
``"comma_cnn"``
    comma.ai's single-frame research CNN on the last frame:
    ``2x - 1`` → Conv 16 8×8/4 ELU → Conv 32 5×5/2 ELU → Conv 64 5×5/2 →
    Flatten → Dropout 0.2 → ELU → Dense 512 → Dropout 0.5 → ELU → Dense 1
    (its own head, then the same rescaling to degrees).
``"cnn_lstm"``
    the same front, then per-frame ``Conv2D`` layers of the SCS widths and
    strides, flattened, → ``LSTM(lstm_units)`` → head.
``"convlstm"``
    the same front → ``ConvLSTM2D`` layers of the SCS widths and strides →
    head.
"""

from __future__ import annotations

import keras

from scs_keras.layers.deep_scs import DeepSCS
from scs_keras.layers.frames import FrameWise, RepeatLastFrame
from scs_keras.training import SCSModel
from scs_keras.utils.validation import check_float, image_hw, int_sequence, positive_int

__all__ = ["MODEL_NAMES", "ANGLE", "SPATIAL", "TEMPORAL", "build_model"]

MODEL_NAMES = ("scs", "comma_cnn", "cnn_lstm", "convlstm")
#: Output names.
ANGLE, SPATIAL, TEMPORAL = "angle", "spatial", "temporal"


def _front(width, more=()):
    """``[0, 1] → [-1, 1]``, a 5×5/2 ELU convolution and ``more``, frame by frame."""
    return FrameWise(keras.Sequential([
        keras.layers.Rescaling(2.0, offset=-1.0),
        keras.layers.Conv2D(width, 5, strides=2, padding="same", activation="elu"),
        *more,
    ], name="front_net"), name="front")


def _head(angle_mean, angle_std, hidden, name):
    """Flatten → Dense(hidden, ELU) → Dense(1) → degrees."""
    return keras.Sequential([
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="elu"),
        keras.layers.Dense(1),
        keras.layers.Rescaling(angle_std, offset=angle_mean),
    ], name=name)


def _angle(x, name=ANGLE):
    return keras.layers.Reshape((), name=name)(x)


def _comma_cnn(inputs, angle_mean, angle_std):
    trunk = keras.Sequential([
        keras.layers.Rescaling(2.0, offset=-1.0),  # frames are on [0, 1]
        keras.layers.Conv2D(16, 8, strides=4, padding="same", activation="elu"),
        keras.layers.Conv2D(32, 5, strides=2, padding="same", activation="elu"),
        keras.layers.Conv2D(64, 5, strides=2, padding="same"),
        keras.layers.Flatten(),
    ], name="front_net")
    x = FrameWise(trunk, name="front")(RepeatLastFrame(1, name="last_frame")(inputs))
    x = keras.layers.Flatten(name="last_step")(x)  # (B, 1, F) -> (B, F)
    head = keras.Sequential([
        keras.layers.Dropout(0.2),
        keras.layers.Activation("elu"),
        keras.layers.Dense(512),
        keras.layers.Dropout(0.5),
        keras.layers.Activation("elu"),
        keras.layers.Dense(1),
        keras.layers.Rescaling(angle_std, offset=angle_mean),
    ], name="head")
    return keras.Model(inputs, {ANGLE: _angle(head(x))}, name="comma_cnn")


def build_model(name, image_size, length=None, widths=(16, 32), hidden=64, lstm_units=64,
                angle_mean=0.0, angle_std=1.0, truncation_rate=0.5,
                truncation_mode="temporal", seed=None, residual=False):
    """A fresh steering model.

    Args:
        name: One of :data:`MODEL_NAMES`.
        image_size: ``(H, W)`` of the frames.
        length: Frames per clip, or ``None`` (any).
        widths: Channels of the recurrent layers (``ConvSCS2D`` /
            ``ConvLSTM2D``; the CNN+LSTM's per-frame convolutions), each
            with stride 2; the front end has ``widths[0]`` channels.
        hidden: Units of the head's hidden layer.
        lstm_units: Units of the CNN+LSTM's LSTM.
        angle_mean, angle_std: The training angles' mean and standard
            deviation (degrees): the heads end with ``y * std + mean``.
        truncation_rate, truncation_mode, seed: Of the SCS layers.
        residual: Residual shortcuts over every pair of SCS layers (1×1
            strided projections, as the width and resolution change).

    Returns:
        A ``keras.Model`` (``SCSModel`` for ``"scs"``) with dict outputs
        ``{"angle": (B,)}`` (and ``"spatial"``, ``"temporal"`` for SCS).

    Raises:
        ValueError: an unknown name or bad sizes.

    Example:

    >>> m = build_model("scs", (40, 80), 4)
    >>> sorted(m.output_names)
    ['angle', 'spatial', 'temporal']
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown steering model {name!r}; choose from {MODEL_NAMES}.")
    h, w = image_hw("image_size", image_size)
    length = None if length is None else positive_int("length", length)
    widths = list(int_sequence("widths", widths))
    hidden, lstm_units = positive_int("hidden", hidden), positive_int("lstm_units", lstm_units)
    angle_mean = check_float("angle_mean", angle_mean)
    angle_std = check_float("angle_std", angle_std, 0.0, min_inclusive=False)
    inputs = keras.Input((length, h, w, 3), name="frames")
    if name == "comma_cnn":
        return _comma_cnn(inputs, angle_mean, angle_std)
    head = _head(angle_mean, angle_std, hidden, "head")
    if name == "cnn_lstm":
        # The per-frame convolutions belong to the stateless front.
        convs = [keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="elu")
                 for width in widths]
        x = _front(widths[0], convs + [keras.layers.Flatten()])(inputs)
        x = keras.layers.LSTM(lstm_units, name="core_0")(x)
        return keras.Model(inputs, {ANGLE: _angle(head(x))}, name=name)
    x = _front(widths[0])(inputs)
    if name == "scs":
        streams = DeepSCS(widths, strides=2, kernel_size=3, residual=bool(residual),
                          batch_norm=False, decoupled=True, return_sequences=False,
                          truncation_rate=truncation_rate, truncation_mode=truncation_mode,
                          seed=seed, name="core")(x)
        outputs = {ANGLE: _angle(head(streams["output"]))}
        for stream in (SPATIAL, TEMPORAL):
            outputs[stream] = _angle(
                _head(angle_mean, angle_std, hidden, f"{stream}_head")(streams[stream]), stream)
        return SCSModel(inputs, outputs, name="scs")
    for i, width in enumerate(widths):  # convlstm
        x = keras.layers.ConvLSTM2D(width, 3, strides=2, padding="same",
                                    return_sequences=i < len(widths) - 1, name=f"core_{i}")(x)
    return keras.Model(inputs, {ANGLE: _angle(head(x))}, name=name)
