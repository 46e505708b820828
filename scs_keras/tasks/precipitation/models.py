"""Encoder–forecaster models and the loss for precipitation nowcasting (SPEC §8d).

Two models share one topology, so that a comparison measures the recurrent
layer and nothing else (:func:`build_scs_forecaster`,
:func:`build_convlstm_forecaster`):

* **Input.**  Frames on the readers' [0, 1] scale are mapped to [-1, 1]
  before every recurrent layer (:func:`_centering` explains why SCS needs
  it: radar frames are mostly zeros).
* **Encoder.**  A stack of ``L`` recurrent conv layers (``ConvSCS2D`` or
  ``ConvLSTM2D``) with widths ``widths`` and strides ``strides`` (default 2:
  every layer halves the resolution) reads the ``N`` observed frames.
* **Forecaster.**  A second stack with the *same* layer configuration, each
  layer started from the final state of its encoder twin through
  ``initial_state`` (Shi et al. 2015).  Twin layers have the same
  configuration, so their states have the same shape, for SCS (state = gate
  map at the layer's *input* resolution, SPEC §2) as for ConvLSTM
  (``(h, c)`` at the output resolution).  It is autoregressive: step ``t``
  reads the frame forecast at ``t - 1`` (the last observation at ``t = 0``)
  and carries every layer's state to the next step.  (Feeding the last
  observation at every step, our first design, left SCS unable to move
  rain: its output ``s ⊙ g`` can only gate the spatial features of a
  static input.)
* **Decoder** (shared by every step and head).  Frame by frame, a
  U-Net-like upsampling path: transposed convolutions undo the strides one
  level at a time, each concatenated with the recurrent output of that
  level; the previous frame is concatenated before the output convolution
  (an easy path to persistence), and a sigmoid gives frames on [0, 1].
* **One-step head** (``next_frame_head``, on by default in the example and
  the comparison, for both models).  The decoder applied to the *encoder's*
  outputs at observed steps ``1..N-1`` predicts frames ``2..N``
  (teacher-forced), output ``"next_frame"``.  Without it the SCS encoder
  learns only through the state handed to the forecaster and, in our runs,
  never learned to use the history (the forecast did not change when the
  history was replaced by copies of the last frame); with it, it does.

The SCS model also has a **T¹ (spatial-only) head** for ASTSGD (SPEC §3, §5):
the forecaster's spatial-only stream, ``σ_l = act(W_s,l * σ_{l-1} + b_s,l)``
(the forecaster's own spatial weights, no gate, no recurrence) applied to
the last observed frame, then *the same decoder* (shared weights).  It is a
per-frame CNN that sees one frame and cannot know the motion, so its
forecast is the same for every lead time.  Its loss ``L_s`` is what ASTSGD
compares with the main loss ``L``; it also trains the shared spatial weights
as an auxiliary loss (``spatial_loss_weight`` in :func:`compile_forecaster`).

Outputs are dicts: ``{"forecast": (B, M, H, W, 1), "spatial": (B, M, H, W, 1)}``
for SCS (plus ``"next_frame": (B, N-1, H, W, 1)`` with the one-step head),
``{"forecast": ...}`` for ConvLSTM.  :func:`forecast_only` gives a
single-output view (shared weights) for prediction and export.

The loss (:class:`NowcastingLoss`) is MSE + MAE, optionally weighted by rain
intensity with the HKO-7 benchmark's balanced weights (Shi et al. 2017).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from scs_keras.layers.conv_scs import ConvSCS2D
from scs_keras.metrics.nowcasting import threshold_to_unit
from scs_keras.training import ASTSGD, STSGD, SCSModel, TruncationSchedule

#: Output names of the models built here.
FORECAST = "forecast"
SPATIAL = "spatial"
NEXT_FRAME = "next_frame"

#: HKO-7 balanced-loss weights: rain rate (mm/h) bucket edges and weights.
DEFAULT_RAIN_THRESHOLDS = (2.0, 5.0, 10.0, 30.0)
DEFAULT_RAIN_WEIGHTS = (1.0, 2.0, 5.0, 10.0, 30.0)

_PACKAGE = "scs_keras.precipitation"


# ----------------------------------------------------------------------------
# Argument checks.
# ----------------------------------------------------------------------------


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int; received {value!r}.")
    return int(value)


def _image_hw(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise ValueError(
            f"image_size must be an int or a pair (height, width); received {image_size!r}."
        )
    return tuple(_positive_int("image_size", v) for v in image_size)


def _topology(image_size, widths, strides, kernel_size):
    h, w = _image_hw(image_size)
    if not isinstance(widths, (list, tuple)) or not widths:
        raise ValueError(f"widths must be a non-empty list of positive ints; received {widths!r}.")
    widths = [_positive_int("widths", v) for v in widths]
    if strides is None:
        strides = [2] * len(widths)
    elif isinstance(strides, (int, np.integer)) and not isinstance(strides, bool):
        strides = [int(strides)] * len(widths)
    if not isinstance(strides, (list, tuple)) or len(strides) != len(widths):
        raise ValueError(
            f"strides must be an int or a list with one int per layer ({len(widths)}); "
            f"received {strides!r}."
        )
    strides = [_positive_int("strides", v) for v in strides]
    kernel_size = _positive_int("kernel_size", kernel_size)
    factor = math.prod(strides)
    if h % factor or w % factor:
        raise ValueError(
            f"image_size {(h, w)} must be divisible by the product of the strides "
            f"({factor}, strides={strides})."
        )
    return (h, w), widths, strides, kernel_size


# ----------------------------------------------------------------------------
# Layers.
# ----------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FrameWise(keras.layers.Layer):
    """Applies a per-image layer to every frame of ``(batch, time, ...)``.

    Unlike ``keras.layers.TimeDistributed`` (a Python loop over time in
    Keras 3) it folds time into the batch with one reshape, so the inner
    layer runs once per call.

    Args:
        layer: A Keras layer taking ``(batch, H, W, C)``.
        **kwargs: Base ``Layer`` arguments (``name``...).

    Example:

    >>> import numpy as np
    >>> FrameWise(keras.layers.Conv2D(4, 3, padding="same"))(
    ...     np.zeros((2, 5, 8, 8, 1), "float32")).shape
    TensorShape([2, 5, 8, 8, 4])
    """

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"layer must be a Keras layer; received {layer!r}.")
        self.layer = layer

    def build(self, input_shape):
        if not self.layer.built:  # a reloaded inner layer is built already
            self.layer.build((None,) + tuple(input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        shape = tf.shape(inputs)
        frames = tf.reshape(inputs, tf.concat([[-1], shape[2:]], 0))
        out = self.layer(frames, training=training)
        return tf.reshape(out, tf.concat([shape[:2], tf.shape(out)[1:]], 0))

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


@keras.saving.register_keras_serializable(package=_PACKAGE)
class RepeatLastFrame(keras.layers.Layer):
    """``(B, N, H, W, C) -> (B, steps, H, W, C)``: the last frame, repeated.

    Args:
        steps: Positive int, number of copies.

    Example:

    >>> import numpy as np
    >>> RepeatLastFrame(3)(np.zeros((2, 5, 4, 4, 1), "float32")).shape
    TensorShape([2, 3, 4, 4, 1])
    """

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = _positive_int("steps", steps)

    def call(self, inputs):
        last = inputs[:, -1:]
        return tf.repeat(last, self.steps, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DropLastFrame(keras.layers.Layer):
    """``(B, T, ...) -> (B, T - 1, ...)``: all frames but the last.

    Example:

    >>> import numpy as np
    >>> DropLastFrame()(np.zeros((2, 5, 4, 4, 1), "float32")).shape
    TensorShape([2, 4, 4, 4, 1])
    """

    def call(self, inputs):
        return inputs[:, :-1]

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] - 1
        return (input_shape[0], steps) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StreamConvSCS2D(ConvSCS2D):
    """``ConvSCS2D`` that can also run its spatial-only (T¹) stream alone.

    ``layer(x)`` is the ordinary coupled SCS layer.  ``layer(x,
    stream="spatial")`` returns the T¹ stream of SPEC §3 computed with the
    *same* weights: the sequence ``act(W_s * x_t + b_s)``, frame by frame,
    with no gate, no recurrence, no truncation and no state (whatever
    ``return_state`` says).  Calling one layer both ways in a functional
    model shares its weights between the main path and a T¹ head.

    Arguments are those of ``ConvSCS2D``; ``stream="spatial"`` needs
    ``return_sequences=True``.

    Example:

    >>> import numpy as np
    >>> layer = StreamConvSCS2D(4, 3, strides=2, return_sequences=True)
    >>> x = np.zeros((1, 3, 8, 8, 1), "float32")
    >>> layer(x).shape == layer(x, stream="spatial").shape
    True
    """

    def call(self, sequences, initial_state=None, mask=None, training=False,
             stream="coupled"):
        if stream == "coupled":
            return super().call(sequences, initial_state=initial_state, mask=mask,
                                training=training)
        self._check_stream(stream)
        cell = self.cell
        x = cell.to_channels_last_sequence(sequences)
        shape = tf.shape(x)
        frames = tf.reshape(x, tf.concat([[-1], shape[2:]], 0))
        y = cell.activation(cell.spatial_projection(frames))
        y = tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0))
        return cell.from_channels_last_sequence(y)

    def _check_stream(self, stream):
        if stream not in ("coupled", "spatial"):
            raise ValueError(f"stream must be 'coupled' or 'spatial'; received {stream!r}.")
        if stream == "spatial" and not self.return_sequences:
            raise ValueError("stream='spatial' needs return_sequences=True.")

    def compute_output_spec(self, sequences, initial_state=None, mask=None, training=False,
                            stream="coupled"):
        if stream == "coupled":
            return super().compute_output_spec(sequences, initial_state=initial_state,
                                               mask=mask, training=training)
        self._check_stream(stream)
        step = (sequences.shape[0],) + tuple(sequences.shape[2:])
        out = self.cell.compute_output_shape(step)
        return keras.KerasTensor((sequences.shape[0], sequences.shape[1]) + tuple(out[1:]),
                                 dtype=self.compute_dtype)


# ----------------------------------------------------------------------------
# Builders.
# ----------------------------------------------------------------------------


class _Decoder:
    """The frame-wise upsampling path; called once per step and stream
    (shared weights)."""

    def __init__(self, widths, strides, kernel_size, output_bias):
        self.ups = []
        # Level l (0-based) outputs at resolution R_{l+1}; going down from the
        # top, upsample by the level's stride to R_l and concatenate.
        for level in range(len(widths) - 1, -1, -1):
            out_width = widths[level - 1] if level > 0 else widths[0]
            self.ups.append(FrameWise(
                keras.layers.Conv2DTranspose(
                    out_width, kernel_size, strides=strides[level], padding="same",
                    activation="relu"),
                name=f"decoder_up_{level}"))
        self.output = FrameWise(
            keras.layers.Conv2D(
                1, kernel_size, padding="same", activation="sigmoid",
                bias_initializer=keras.initializers.Constant(output_bias)),
            name="decoder_output")

    def __call__(self, level_outputs, last_frame):
        levels = len(level_outputs)
        d = level_outputs[-1]
        for i, up in enumerate(self.ups):
            level = levels - 1 - i
            d = up(d)
            skip = level_outputs[level - 1] if level > 0 else last_frame
            d = keras.ops.concatenate([d, skip], axis=-1)
        return self.output(d)


def _check_common(input_frames, target_frames, image_size, widths, strides, kernel_size,
                  next_frame_head=False):
    input_frames = _positive_int("input_frames", input_frames)
    if next_frame_head and input_frames < 2:
        raise ValueError(f"next_frame_head needs input_frames >= 2; received {input_frames}.")
    target_frames = _positive_int("target_frames", target_frames)
    return (input_frames, target_frames) + _topology(image_size, widths, strides, kernel_size)


def _centering():
    """[0, 1] frames -> [-1, 1] inputs of the recurrent layers.

    Radar frames are mostly empty (0).  An SCS output ``s ⊙ g`` vanishes
    wherever ``s = tanh(W_s * x + b_s)`` does, and at initialisation
    ``tanh(W_s * 0 + 0) = 0``: with [0, 1] inputs the gates, hence the
    encoder's states, get almost no gradient in rain-free areas (we measured
    encoder gradients 10-400x smaller than a ConvLSTM's; centring raised
    them 3-20x).  Centred inputs remove that dead zone; both models get
    them.
    """
    return keras.layers.Rescaling(2.0, offset=-1.0, name="centre")


def _encoder_forecaster(inputs, target_frames, encoders, forecasters, decoder,
                        next_frame_head):
    """Wires the shared topology.

    ``encoders`` and ``forecasters`` are lists of recurrent layers built with
    ``return_sequences=True, return_state=True``; twin layers have the same
    configuration, so their states have the same shapes.

    Returns:
        ``(forecast, next_frame)``: ``(B, M, H, W, 1)`` and, with
        ``next_frame_head``, the decoder's one-step predictions of observed
        frames ``2..N`` from the encoder's outputs (else ``None``).
    """
    center = _centering()
    x, states, encoded = center(inputs), [], []
    for layer in encoders:
        x, *state = layer(x)
        states.append(state)
        encoded.append(x)
    next_frame = None
    if next_frame_head:
        # Teacher-forced one-step predictions over the observed frames: the
        # encoder's output at step t, through the shared decoder, predicts
        # frame t + 1.
        next_frame = decoder([DropLastFrame()(e) for e in encoded], DropLastFrame()(inputs))
    # Autoregressive forecaster: step t reads the frame forecast at t - 1
    # (the last observation at t = 0), one frame at a time, with every
    # layer's state carried from the previous step (from the encoder at 0).
    previous = RepeatLastFrame(1, name="last_frame")(inputs)
    frames = []
    for _ in range(target_frames):
        y, levels, new_states = center(previous), [], []
        for layer, state in zip(forecasters, states):
            y, *state = layer(y, initial_state=state)
            levels.append(y)
            new_states.append(state)
        states = new_states
        previous = decoder(levels, previous)
        frames.append(previous)
    if len(frames) == 1:
        return frames[0], next_frame
    return keras.layers.Concatenate(axis=1, name="forecast_frames")(frames), next_frame


class _ForecasterGraph(NamedTuple):
    """What :func:`_build_forecaster_graph` wires, for the builders to finish."""

    inputs: keras.KerasTensor
    forecasters: list
    decoder: _Decoder
    outputs: dict


def _build_forecaster_graph(input_frames, target_frames, height, width, widths, strides,
                            kernel_size, output_bias, next_frame_head, make_layer):
    """The encoder–forecaster graph both builders share, from a layer factory.

    ``make_layer(role, level)`` builds the recurrent layer of ``role``
    (``"encoder"`` or ``"forecaster"``) at ``level``; only that factory
    differs between the SCS model and its ConvLSTM twin.

    Returns:
        A :class:`_ForecasterGraph`: the ``frames`` input, the forecaster
        layers and decoder (the SCS builder reuses them for its T¹ head) and
        the outputs ``"forecast"`` (plus ``"next_frame"`` with
        ``next_frame_head``).
    """
    inputs = keras.Input((input_frames, height, width, 1), name="frames")
    encoders = [make_layer("encoder", level) for level in range(len(widths))]
    forecasters = [make_layer("forecaster", level) for level in range(len(widths))]
    decoder = _Decoder(widths, strides, kernel_size, output_bias)
    forecast, next_frame = _encoder_forecaster(inputs, target_frames, encoders, forecasters,
                                               decoder, next_frame_head)
    outputs = {FORECAST: keras.layers.Identity(name=FORECAST)(forecast)}
    if next_frame_head:
        outputs[NEXT_FRAME] = keras.layers.Identity(name=NEXT_FRAME)(next_frame)
    return _ForecasterGraph(inputs, forecasters, decoder, outputs)


def build_scs_forecaster(
    input_frames,
    target_frames,
    image_size,
    widths=(16, 32),
    strides=None,
    kernel_size=3,
    truncation_rate=0.5,
    truncation_mode="temporal",
    spatial_head=True,
    next_frame_head=False,
    output_bias=-2.0,
    seed=None,
    name="scs_forecaster",
):
    """SCS encoder–forecaster (see the module docstring for the topology).

    Args:
        input_frames: ``N``, observed frames.
        target_frames: ``M``, forecast frames.
        image_size: Int or ``(H, W)``; must be divisible by the product of
            ``strides``.
        widths: Channels of each encoder (and forecaster) layer; the depth
            is ``len(widths)``.  Default ``(16, 32)``.
        strides: Int or one int per layer (default 2 for each): the spatial
            stride of each SCS cell (its gate is max-pooled, SPEC §2).
        kernel_size: Kernel size of every convolution.  Default 3.
        truncation_rate: Rate of every SCS cell when no schedule is compiled
            (``SCSModel.compile(truncation=...)`` overrides it in training).
        truncation_mode: ``"temporal"`` (default), ``"exclusive"`` or
            ``"none"`` (SPEC §4).
        spatial_head: Add the T¹ head (output ``"spatial"``) needed by
            ASTSGD.  Default ``True``.
        next_frame_head: Add the one-step head (output ``"next_frame"``,
            ``(None, N-1, H, W, 1)``, targets: observed frames ``2..N``).
            Needs ``N >= 2``.  Default ``False``.
        output_bias: Initial bias of the sigmoid output (default -2: an
            initial forecast of about 0.12, near the mean of radar frames,
            which are mostly empty).
        seed: Optional int for reproducible truncation draws.
        name: Model name.

    Returns:
        An ``SCSModel`` with input ``(None, N, H, W, 1)`` named ``frames``
        and a dict output ``{"forecast", "spatial"}`` (``"spatial"`` only
        with ``spatial_head``), each ``(None, M, H, W, 1)`` in [0, 1], plus
        ``"next_frame"`` with ``next_frame_head``.

    Raises:
        ValueError: bad sizes, widths, strides or truncation arguments.

    Example:

    >>> model = build_scs_forecaster(5, 10, 32, widths=(16, 32))
    >>> model.output["forecast"].shape, sorted(model.output)
    ((None, 10, 32, 32, 1), ['forecast', 'spatial'])
    """
    n, m, (h, w), widths, strides, kernel_size = _check_common(
        input_frames, target_frames, image_size, widths, strides, kernel_size, next_frame_head)

    def make(role, level):
        return StreamConvSCS2D(
            widths[level], kernel_size, strides=strides[level], return_sequences=True,
            return_state=True, truncation_rate=truncation_rate,
            truncation_mode=truncation_mode,
            seed=None if seed is None else seed + (0 if role == "encoder" else 100) + level,
            name=f"{role}_{level}")

    graph = _build_forecaster_graph(n, m, h, w, widths, strides, kernel_size, output_bias,
                                    next_frame_head, make)
    outputs = graph.outputs
    if spatial_head:
        # T¹: the forecaster's spatial-only stream on the last frame, then
        # the shared decoder; with no time it is the same at every lead.
        last = RepeatLastFrame(1, name="last_frame_t1")(graph.inputs)
        sigma, sigmas = keras.layers.Rescaling(2.0, offset=-1.0, name="centre_t1")(last), []
        for layer in graph.forecasters:
            sigma = layer(sigma, stream="spatial")
            sigmas.append(sigma)
        outputs[SPATIAL] = RepeatLastFrame(m, name=SPATIAL)(graph.decoder(sigmas, last))
    return SCSModel(graph.inputs, outputs, name=name)


def build_convlstm_forecaster(
    input_frames,
    target_frames,
    image_size,
    widths=(16, 32),
    strides=None,
    kernel_size=3,
    next_frame_head=False,
    output_bias=-2.0,
    name="convlstm_forecaster",
):
    """ConvLSTM encoder–forecaster (Shi et al. 2015), the SCS model's twin.

    Same depth, widths, strides, kernel size, autoregressive forecaster and
    decoder as :func:`build_scs_forecaster`; each ``ConvSCS2D`` is replaced
    by a ``keras.layers.ConvLSTM2D`` (whose strided input convolution puts
    its states ``(h, c)`` at the output resolution).  It has no T¹ head: a
    ConvLSTM has no spatial-only stream.

    Args:
        input_frames, target_frames, image_size, widths, strides,
        kernel_size, next_frame_head, output_bias, name: as for
        :func:`build_scs_forecaster`.

    Returns:
        A ``keras.Model``: input ``(None, N, H, W, 1)`` named ``frames``,
        output ``{"forecast": (None, M, H, W, 1)}`` (plus ``"next_frame"``
        with ``next_frame_head``).

    Example:

    >>> model = build_convlstm_forecaster(5, 10, 32, widths=(16, 32))
    >>> model.output["forecast"].shape
    (None, 10, 32, 32, 1)
    """
    n, m, (h, w), widths, strides, kernel_size = _check_common(
        input_frames, target_frames, image_size, widths, strides, kernel_size, next_frame_head)

    def make(role, level):
        return keras.layers.ConvLSTM2D(
            widths[level], kernel_size, strides=strides[level], padding="same",
            return_sequences=True, return_state=True, name=f"{role}_{level}")

    graph = _build_forecaster_graph(n, m, h, w, widths, strides, kernel_size, output_bias,
                                    next_frame_head, make)
    return keras.Model(graph.inputs, graph.outputs, name=name)


def forecast_only(model):
    """A single-output view ``frames -> forecast`` of a model built here.

    The view shares the model's layers and weights; use it for prediction
    and for :func:`scs_keras.export.export_for_serving` (the T¹ head is a
    training device, not a product).

    Args:
        model: A model from :func:`build_scs_forecaster` or
            :func:`build_convlstm_forecaster`.

    Returns:
        A ``keras.Model`` with one output ``(None, M, H, W, 1)``.

    Example:

    >>> predictor = forecast_only(build_scs_forecaster(5, 5, 16))
    >>> predictor.output_shape
    (None, 5, 16, 16, 1)
    """
    outputs = model.outputs
    names = list(getattr(model, "output_names", None) or [])
    if isinstance(model.output, dict):
        out = model.output[FORECAST]
    elif FORECAST in names:
        out = outputs[names.index(FORECAST)]
    elif len(outputs) == 1:
        out = outputs[0]
    else:
        raise ValueError(f"Model {model.name!r} has no output named {FORECAST!r}; "
                         f"its outputs are {names}.")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, out, name=f"{model.name}_forecast")


# ----------------------------------------------------------------------------
# Loss.
# ----------------------------------------------------------------------------


def rain_intensity_weights(y_true, thresholds=DEFAULT_RAIN_THRESHOLDS,
                           weights=DEFAULT_RAIN_WEIGHTS):
    """Per-pixel weights from the observed rain rate (HKO-7 balanced loss).

    A pixel's weight is ``weights[k]`` where ``k`` is the number of
    ``thresholds`` (mm/h, via Z = 200 R^1.6) its observed value reaches
    (``>=``).  Defaults: 1 below 2 mm/h, 2, 5, 10 from 2, 5, 10 mm/h, 30 from
    30 mm/h (Shi et al. 2017).

    Args:
        y_true: Targets on the [0, 1] scale (``dBZ = 70 x - 10``), any shape.
        thresholds: Increasing rain rates in mm/h.
        weights: ``len(thresholds) + 1`` weights.

    Returns:
        A float32 tensor shaped like ``y_true``.

    Example:

    >>> w = rain_intensity_weights(np.array([0.0, 0.6, 1.0], "float32"))
    >>> [float(v) for v in w]
    [1.0, 2.0, 30.0]
    """
    thresholds, weights = _check_weighting(thresholds, weights)
    y = tf.cast(y_true, tf.float32)
    out = tf.fill(tf.shape(y), weights[0])
    for t, wgt in zip(thresholds, weights[1:]):
        out = tf.where(y >= threshold_to_unit(t, "mm/h"), wgt, out)
    return out


def _check_weighting(thresholds, weights):
    thresholds = tuple(float(t) for t in thresholds)
    weights = tuple(float(v) for v in weights)
    if len(weights) != len(thresholds) + 1:
        raise ValueError(f"weights needs len(thresholds) + 1 = {len(thresholds) + 1} "
                         f"values; received {len(weights)}.")
    if any(t <= 0 for t in thresholds) or list(thresholds) != sorted(set(thresholds)):
        raise ValueError(f"thresholds must be increasing positive rain rates (mm/h); "
                         f"received {thresholds}.")
    if any(v < 0 for v in weights):
        raise ValueError(f"weights must be >= 0; received {weights}.")
    return thresholds, weights


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NowcastingLoss(keras.losses.Loss):
    """MSE + MAE on [0, 1] radar frames, optionally rain-intensity weighted.

    Per sample: ``mean(w · (mse_weight · (y - ŷ)² + mae_weight · |y - ŷ|))``
    over lead times and pixels, with ``w = 1`` or, when
    ``intensity_weighted``, :func:`rain_intensity_weights` of the target
    (the weights are not normalised: weighted losses are larger).

    Args:
        mse_weight: Factor of the squared error.  Default 1.
        mae_weight: Factor of the absolute error.  Default 1.
        intensity_weighted: Weight pixels by observed rain rate.
        thresholds: Rain-rate bucket edges (mm/h) for the weights.
        weights: Bucket weights (one more than ``thresholds``).
        name, reduction: As for ``keras.losses.Loss``.

    Example:

    >>> loss = NowcastingLoss()
    >>> float(loss(np.ones((1, 2, 4, 4, 1)), np.zeros((1, 2, 4, 4, 1))))
    2.0
    """

    def __init__(self, mse_weight=1.0, mae_weight=1.0, intensity_weighted=False,
                 thresholds=DEFAULT_RAIN_THRESHOLDS, weights=DEFAULT_RAIN_WEIGHTS,
                 name="nowcasting_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.mse_weight = float(mse_weight)
        self.mae_weight = float(mae_weight)
        if self.mse_weight < 0 or self.mae_weight < 0 or self.mse_weight + self.mae_weight == 0:
            raise ValueError("mse_weight and mae_weight must be >= 0 and not both 0; "
                             f"received {mse_weight}, {mae_weight}.")
        self.intensity_weighted = bool(intensity_weighted)
        self.thresholds, self.weights = _check_weighting(thresholds, weights)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.cast(y_true, y_pred.dtype)
        err = y_pred - y_true
        per_pixel = self.mse_weight * tf.square(err) + self.mae_weight * tf.abs(err)
        if self.intensity_weighted:
            per_pixel = per_pixel * tf.cast(
                rain_intensity_weights(y_true, self.thresholds, self.weights), per_pixel.dtype)
        rank = len(per_pixel.shape)
        return tf.reduce_mean(per_pixel, axis=list(range(1, rank)))

    def get_config(self):
        return {**super().get_config(), "mse_weight": self.mse_weight,
                "mae_weight": self.mae_weight, "intensity_weighted": self.intensity_weighted,
                "thresholds": list(self.thresholds), "weights": list(self.weights)}


# ----------------------------------------------------------------------------
# Compilation.
# ----------------------------------------------------------------------------


def persistence_loss(dataset, loss=None, max_batches=None):
    """The loss of the persistence forecast on ``dataset`` (mean over batches).

    A natural ASTSGD threshold ``θ`` on the loss's own scale: the T¹ head
    sees one frame only, so persistence is about the best it can reach; once
    it does, the rate has relaxed to ``q0``.

    Args:
        dataset: Iterable of ``(inputs, targets)`` batches (targets may be a
            dict holding ``"forecast"``).
        loss: A loss callable (default :class:`NowcastingLoss`).
        max_batches: Stop after this many batches (default all).

    Returns:
        A Python float.

    Example:

    >>> theta = persistence_loss(train_ds, NowcastingLoss(), max_batches=8)
    """
    loss = loss or NowcastingLoss()
    total, count = 0.0, 0
    for i, (x, y) in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        if isinstance(y, dict):
            y = y[FORECAST]
        m = y.shape[1]
        pred = tf.repeat(x[:, -1:], m, axis=1)
        total += float(loss(y, pred))
        count += 1
    if not count:
        raise ValueError("persistence_loss() got no batches.")
    return total / count


def compile_forecaster(model, learning_rate=2e-3, loss=None, truncation="auto",
                       threshold=None, truncation_rate=0.5, spatial_loss_weight=0.5,
                       clip_norm=1.0, metrics=None, warmup_steps=10):
    """Compiles a model of this module with the task's defaults.

    Args:
        model: From :func:`build_scs_forecaster` or
            :func:`build_convlstm_forecaster`.
        learning_rate: Adam learning rate.  Default 2e-3.
        loss: Loss for every output (default :class:`NowcastingLoss`).
        truncation: ``"auto"`` (default): ``"astsgd"`` for an SCS model with
            a T¹ head, else ``None``.  ``"astsgd"``: ``ASTSGD`` with
            ``q0 = truncation_rate``, ``θ = threshold``, ``L0`` measured
            over ``warmup_steps`` steps, ``α = 1``.  ``"stsgd"``: the
            constant rate ``truncation_rate``.  ``"none"``: no truncation
            (``STSGD(0)`` for an SCS model).  Or an ``ASTSGD``/``STSGD``
            instance (SCS models only), or ``None``: no schedule, every SCS
            cell keeps the ``truncation_rate`` it was built with.
        threshold: ASTSGD's ``θ`` on the loss's scale.  Required for
            ``"astsgd"`` (e.g. :func:`persistence_loss` of the training data;
            the library default θ = 1 is far above an MSE + MAE on [0, 1]
            frames and would pin the rate at ``q0``).
        truncation_rate: ASTSGD's ``q0`` or STSGD's constant rate.
            Default 0.5.
        spatial_loss_weight: Weight of the T¹ head's loss in the training
            loss (0 still lets ASTSGD read it).  Default 0.5.
        clip_norm: Global gradient-norm clip (None: no clipping).
        metrics: Metrics of the ``"forecast"`` output (default none).
        warmup_steps: ASTSGD warm-up steps (measuring ``L0``).

    Returns:
        The model (compiled in place).

    Raises:
        ValueError: ``"astsgd"`` without a ``threshold``, a schedule on a
            model without SCS cells, or ASTSGD on a model without T¹ head.

    Example:

    >>> model = build_scs_forecaster(5, 5, 32)
    >>> compile_forecaster(model, threshold=0.05)  # doctest: +ELLIPSIS
    <...>
    """
    loss = loss or NowcastingLoss()
    names = list(model.output.keys()) if isinstance(model.output, dict) else []
    has_t1 = SPATIAL in names
    is_scs = isinstance(model, SCSModel)
    if isinstance(truncation, str):
        key = truncation.lower()
        if key == "auto":
            key = "astsgd" if (is_scs and has_t1) else "cells"
        if key == "cells":
            truncation = None
        elif key == "astsgd":
            if threshold is None:
                raise ValueError("truncation='astsgd' needs threshold= (θ on the loss's scale, "
                                 "e.g. persistence_loss(train_ds)).")
            truncation = ASTSGD(initial_rate=truncation_rate, threshold=float(threshold),
                                initial_loss=None,
                                alpha=1.0, main_output=FORECAST, spatial_output=SPATIAL,
                                warmup_steps=warmup_steps)
        elif key == "stsgd":
            truncation = STSGD(truncation_rate)
        elif key == "none":
            # No truncation at all (rate 0), not the cells' own rates.
            truncation = STSGD(0.0) if is_scs else None
        else:
            raise ValueError(f"truncation must be 'astsgd', 'stsgd', 'none', a schedule or "
                             f"None; received {truncation!r}.")
    if truncation is not None and not isinstance(truncation, TruncationSchedule):
        raise ValueError(f"truncation must be a string, an ASTSGD/STSGD instance or None; "
                         f"received {truncation!r}.")
    if truncation is not None and not is_scs:
        raise ValueError(f"Model {model.name!r} has no SCS cells; use truncation=None.")
    if isinstance(truncation, ASTSGD) and not has_t1:
        raise ValueError(f"ASTSGD needs the T¹ head (output {SPATIAL!r}); build the model "
                         "with spatial_head=True.")
    optimizer = keras.optimizers.Adam(learning_rate)
    losses = {name: loss for name in names} if names else loss
    loss_weights = None
    if len(names) > 1:
        loss_weights = {n: (float(spatial_loss_weight) if n == SPATIAL else 1.0) for n in names}
    metric_arg = {FORECAST: list(metrics)} if (metrics and names) else metrics
    kwargs = dict(optimizer=optimizer, loss=losses, loss_weights=loss_weights,
                  metrics=metric_arg)
    if is_scs:
        model.compile(truncation=truncation, clip_norm=clip_norm, **kwargs)
    else:
        if clip_norm is not None:
            kwargs["optimizer"] = keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm)
        model.compile(**kwargs)
    return model


__all__ = [
    "FORECAST", "SPATIAL", "NEXT_FRAME", "FrameWise", "RepeatLastFrame", "DropLastFrame",
    "StreamConvSCS2D",
    "build_scs_forecaster", "build_convlstm_forecaster", "forecast_only",
    "rain_intensity_weights", "NowcastingLoss", "persistence_loss", "compile_forecaster",
]
