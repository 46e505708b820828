"""Encoder–forecaster models for precipitation nowcasting.

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
  map at the layer's *input* resolution: a strided cell keeps its state at
  input resolution and max-pools the gate) as for ConvLSTM
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

The SCS model also has a **T¹ (spatial-only) head** for ASTSGD (which compares the losses of the full and the
spatial-only streams):
the forecaster's spatial-only stream, ``σ_l = act(W_s,l * σ_{l-1} + b_s,l)``
(the forecaster's own spatial weights, no gate, no recurrence) applied to
the last observed frame, then *the same decoder* (shared weights).  It is a
per-frame CNN that sees one frame and cannot know the motion, so its
forecast is the same for every lead time.  Its loss ``L_s`` is what ASTSGD
compares with the main loss ``L``; it also trains the shared spatial weights
as an auxiliary loss (``spatial_loss_weight`` in
:func:`scs_keras.tasks.precipitation.training.compile_forecaster`).

Outputs are dicts: ``{"forecast": (B, M, H, W, 1), "spatial": (B, M, H, W, 1)}``
for SCS (plus ``"next_frame": (B, N-1, H, W, 1)`` with the one-step head),
``{"forecast": ...}`` for ConvLSTM.  :func:`forecast_only` gives a
single-output view (shared weights) for prediction and export.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import keras

from scs_keras.layers.conv_scs import ConvSCS2D
from scs_keras.layers.frames import DropLastFrame, FrameWise, RepeatLastFrame
from scs_keras.tasks.sizing import widths_for_parameter_count
from scs_keras.training import SCSModel
from scs_keras.utils.validation import image_hw, int_sequence, one_of, positive_int

#: Output names of the models built here.
FORECAST = "forecast"
SPATIAL = "spatial"
NEXT_FRAME = "next_frame"


# ----------------------------------------------------------------------------
# Argument checks.
# ----------------------------------------------------------------------------


def level_strides(strides, levels, name="strides"):
    """One stride per level: ``None`` (2 for each), one int (for each), a
    sequence of ``levels`` ints, or a comma-separated string of one (for
    each, as ``--strides 1`` on the command line) or ``levels`` ints.

    >>> level_strides("1", 2), level_strides(None, 3), level_strides([1, 2], 2)
    ((1, 1), (2, 2, 2), (1, 2))
    """
    if isinstance(strides, str):
        strides = int_sequence(name, strides)
        if len(strides) == 1:
            strides = strides[0]
    return int_sequence(name, 2 if strides is None else strides, length=levels,
                        allow_scalar=True)


def _topology(image_size, widths, strides, kernel_size):
    h, w = image_hw("image_size", image_size)
    widths = list(int_sequence("widths", widths))
    strides = list(level_strides(strides, len(widths)))
    kernel_size = positive_int("kernel_size", kernel_size)
    factor = math.prod(strides)
    if h % factor or w % factor:
        raise ValueError(
            f"image_size {(h, w)} must be divisible by the product of the strides "
            f"({factor}, strides={strides})."
        )
    return (h, w), widths, strides, kernel_size


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
            if skip is not None:
                d = keras.ops.concatenate([d, skip], axis=-1)
        return self.output(d)


def _check_common(input_frames, target_frames, image_size, widths, strides, kernel_size,
                  next_frame_head=False, depth=None):
    input_frames = positive_int("input_frames", input_frames)
    if next_frame_head and input_frames < 2:
        raise ValueError(f"next_frame_head needs input_frames >= 2; received {input_frames}.")
    target_frames = positive_int("target_frames", target_frames)
    depth = None if depth is None else positive_int("depth", depth)
    return (input_frames, target_frames, depth) + _topology(image_size, widths, strides,
                                                            kernel_size)


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


class _Topology:
    """Which layers see what: the shared wiring of every step and stream.

    * **Pyramid** (``depth=None``): the recurrent layers themselves
      downsample (stride ``strides[l]``); the decoder's skips are their
      outputs, one per level.
    * **Deep** (``depth=L``): a frame-wise CNN encoder (``stem``: one strided
      ``Conv2D`` per entry of ``widths``) brings the frames down to a
      constant resolution, where ``L`` recurrent layers of width
      ``widths[-1]`` run at stride 1 with residual shortcuts between them
      (``x_l = x_{l-1} + layer_l(x_{l-1})`` from the second layer on, as in
      the deep SCS networks).  Depth is then free of the frame size.  The
      decoder upsamples the top recurrent output with no skip from the
      stem (only the previous frame, at full resolution, as in the
      pyramid): every path from the features to the forecast goes through
      the recurrent layers, so that a comparison measures them.  (The deep
      SCS forecaster settles near persistence with or without those
      shortcuts; docs/precipitation.md, "Depth study", has what was tried.)
    """

    def __init__(self, stem, decoder, residual):
        self.stem, self.decoder, self.residual = stem, decoder, residual
        self.center = _centering()

    def features(self, frames):
        """The recurrent stack's input: centred frames, through the stem if any."""
        x = self.center(frames)
        for conv in self.stem:
            x = conv(x)
        return x

    def run(self, layers, x, states=None, stream=None):
        """Runs a recurrent stack; returns ``(outputs per layer, states)``.

        ``states`` (one list per layer) start the layers (``initial_state``);
        ``stream="spatial"`` runs the spatial-only stream (no states).
        """
        outputs, new_states = [], []
        for i, layer in enumerate(layers):
            if stream is not None:
                y, state = layer(x, stream=stream), []
            elif states is None:
                y, *state = layer(x)
            else:
                y, *state = layer(x, initial_state=states[i])
            if self.residual and i > 0:
                y = keras.ops.add(x, y)
            outputs.append(y)
            new_states.append(state)
            x = y
        return outputs, new_states

    def decode(self, outputs, previous):
        """The decoder on one stack's outputs (pyramid: every layer's as
        skips; deep: the top output only), with the previous frame."""
        if self.stem:
            outputs = [None] * (len(self.stem) - 1) + [outputs[-1]]
        return self.decoder(outputs, previous)


def _encoder_forecaster(inputs, target_frames, encoders, forecasters, topology,
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
    encoded, states = topology.run(encoders, topology.features(inputs))
    next_frame = None
    if next_frame_head:
        # Teacher-forced one-step predictions over the observed frames: the
        # encoder's output at step t, through the shared decoder, predicts
        # frame t + 1.
        drop = DropLastFrame()
        next_frame = topology.decode([drop(e) for e in encoded], drop(inputs))
    # Autoregressive forecaster: step t reads the frame forecast at t - 1
    # (the last observation at t = 0), one frame at a time, with every
    # layer's state carried from the previous step (from the encoder at 0).
    previous = RepeatLastFrame(1, name="last_frame")(inputs)
    frames = []
    for _ in range(target_frames):
        levels, states = topology.run(forecasters, topology.features(previous), states)
        previous = topology.decode(levels, previous)
        frames.append(previous)
    if len(frames) == 1:
        return frames[0], next_frame
    return keras.layers.Concatenate(axis=1, name="forecast_frames")(frames), next_frame


class _ForecasterGraph(NamedTuple):
    """What :func:`_build_forecaster_graph` wires, for the builders to finish."""

    inputs: keras.KerasTensor
    forecasters: list
    topology: _Topology
    outputs: dict


def _build_forecaster_graph(input_frames, target_frames, height, width, widths, strides,
                            kernel_size, output_bias, next_frame_head, depth, make_layer,
                            residual=True):
    """The encoder–forecaster graph both builders share, from a layer factory.

    ``make_layer(role, level, filters, stride)`` builds the recurrent layer
    of ``role`` (``"encoder"`` or ``"forecaster"``) at ``level``; only that
    factory differs between the SCS model and its ConvLSTM twin.

    Returns:
        A :class:`_ForecasterGraph`: the ``frames`` input, the forecaster
        layers and topology (the SCS builder reuses them for its T¹ head)
        and the outputs ``"forecast"`` (plus ``"next_frame"`` with
        ``next_frame_head``).
    """
    inputs = keras.Input((input_frames, height, width, 1), name="frames")
    if depth is None:
        stem, layer_specs = [], list(zip(widths, strides))
    else:
        stem = [FrameWise(keras.layers.Conv2D(w, kernel_size, strides=s, padding="same",
                                              activation="relu"), name=f"stem_{i}")
                for i, (w, s) in enumerate(zip(widths, strides))]
        layer_specs = [(widths[-1], 1)] * depth
    encoders = [make_layer("encoder", level, w, s) for level, (w, s) in enumerate(layer_specs)]
    forecasters = [make_layer("forecaster", level, w, s)
                   for level, (w, s) in enumerate(layer_specs)]
    topology = _Topology(stem, _Decoder(widths, strides, kernel_size, output_bias),
                         residual=depth is not None and residual)
    forecast, next_frame = _encoder_forecaster(inputs, target_frames, encoders, forecasters,
                                               topology, next_frame_head)
    outputs = {FORECAST: keras.layers.Identity(name=FORECAST)(forecast)}
    if next_frame_head:
        outputs[NEXT_FRAME] = keras.layers.Identity(name=NEXT_FRAME)(next_frame)
    return _ForecasterGraph(inputs, forecasters, topology, outputs)


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
    depth=None,
    residual=True,
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
            stride of each SCS cell (its gate is max-pooled).
        kernel_size: Kernel size of every convolution.  Default 3.
        truncation_rate: Rate of every SCS cell when no schedule is compiled
            (``SCSModel.compile(truncation=...)`` overrides it in training).
        truncation_mode: ``"temporal"`` (default), ``"exclusive"`` or
            ``"none"`` (which stream's gradient into the layer below is cut).
        spatial_head: Add the T¹ head (output ``"spatial"``) needed by
            ASTSGD.  Default ``True``.
        next_frame_head: Add the one-step head (output ``"next_frame"``,
            ``(None, N-1, H, W, 1)``, targets: observed frames ``2..N``).
            Needs ``N >= 2``.  Default ``False``.
        output_bias: Initial bias of the sigmoid output (default -2: an
            initial forecast of about 0.12, near the mean of radar frames,
            which are mostly empty).
        seed: Optional int for reproducible truncation draws.
        depth: ``None`` (default) for the pyramid topology above, where
            ``widths`` are the recurrent layers and each downsamples.  An
            int ``L`` for the deep topology: ``widths``/``strides`` become a
            frame-wise CNN encoder (one strided ``Conv2D`` each) and ``L``
            recurrent layers of width ``widths[-1]`` run at that constant
            resolution with residual shortcuts, so depth no longer depends
            on the frame size.
        residual: The deep topology's residual shortcuts (``False``: a
            plain stack).  Default ``True``.
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
    n, m, depth, (h, w), widths, strides, kernel_size = _check_common(
        input_frames, target_frames, image_size, widths, strides, kernel_size, next_frame_head,
        depth)

    def make(role, level, filters, stride):
        return ConvSCS2D(
            filters, kernel_size, strides=stride, return_sequences=True,
            return_state=True, truncation_rate=truncation_rate,
            truncation_mode=truncation_mode,
            seed=None if seed is None else seed + (0 if role == "encoder" else 100) + level,
            name=f"{role}_{level}")

    graph = _build_forecaster_graph(n, m, h, w, widths, strides, kernel_size, output_bias,
                                    next_frame_head, depth, make, residual)
    outputs = graph.outputs
    if spatial_head:
        # T¹: the forecaster's spatial-only stream on the last frame, then
        # the shared decoder; with no time it is the same at every lead.
        topology = graph.topology
        last = RepeatLastFrame(1, name="last_frame_t1")(graph.inputs)
        sigmas, _ = topology.run(graph.forecasters, topology.features(last), stream="spatial")
        outputs[SPATIAL] = RepeatLastFrame(m, name=SPATIAL)(topology.decode(sigmas, last))
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
    depth=None,
    residual=True,
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
        kernel_size, next_frame_head, output_bias, depth, residual, name: as for
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
    n, m, depth, (h, w), widths, strides, kernel_size = _check_common(
        input_frames, target_frames, image_size, widths, strides, kernel_size, next_frame_head,
        depth)

    def make(role, level, filters, stride):
        return keras.layers.ConvLSTM2D(
            filters, kernel_size, strides=stride, padding="same",
            return_sequences=True, return_state=True, name=f"{role}_{level}")

    graph = _build_forecaster_graph(n, m, h, w, widths, strides, kernel_size, output_bias,
                                    next_frame_head, depth, make, residual)
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
# By name.
# ----------------------------------------------------------------------------

#: Neural models of the task (the non-neural ones are in :mod:`.baselines`):
#: the SCS forecaster, its ConvLSTM twin of the same widths, and a ConvLSTM
#: twin shrunk to the SCS model's parameter count.
MODEL_NAMES = ("scs", "convlstm", "convlstm_eq_params")


def equal_parameter_widths(widths, depth=None, kernel_size=3, strides=None):
    """Widths of a ConvLSTM forecaster with about the parameters of the SCS
    forecaster of ``widths`` (and ``depth``).

    Both models are sized at the smallest frames their strides allow
    (convolution weights do not depend on the frame size), with the one-step
    head, whose decoder they share.

    Returns:
        ``(widths, (scs_params, convlstm_params))``.

    Example:

    >>> ws, (scs, lstm) = equal_parameter_widths((16, 32))
    >>> ws[1] < 32 and abs(lstm - scs) / scs < 0.1
    True
    """
    widths = tuple(int_sequence("widths", widths))
    strides = level_strides(strides, len(widths))
    size = math.prod(strides)  # the smallest frame the strides allow

    def count(builder, ws):
        return builder(2, 1, size, widths=ws, strides=strides, kernel_size=kernel_size,
                       depth=depth, next_frame_head=True).count_params()

    target = count(build_scs_forecaster, widths)
    best, params = widths_for_parameter_count(
        widths, lambda ws: count(build_convlstm_forecaster, ws), target)
    return best, (target, params)


def build_model(name, input_frames, target_frames, image_size, widths=(16, 32),
                truncation_mode="temporal", truncation_rate=0.5, next_frame_head=True,
                seed=None, depth=None, residual=True, strides=None):
    """A forecaster by name, with the same sizes.

    Args:
        name: ``"scs"``, ``"convlstm"`` (the same widths) or
            ``"convlstm_eq_params"`` (widths scaled down so that it has
            about the SCS model's parameter count; see
            :func:`equal_parameter_widths`).
        input_frames, target_frames, image_size, widths, depth, residual, strides:
            Sizes and topology (see :func:`build_scs_forecaster`).
        truncation_mode, truncation_rate, seed: SCS only.
        next_frame_head: The one-step head, for every model.  Default ``True``.

    Returns:
        The model.

    Raises:
        ValueError: an unknown name.

    Example:

    >>> build_model("convlstm", 5, 5, 16).name
    'convlstm_forecaster'
    """
    one_of("model", name, MODEL_NAMES)
    sizes = dict(widths=widths, depth=depth, residual=residual, strides=strides,
                 next_frame_head=next_frame_head)
    if name == "scs":
        return build_scs_forecaster(input_frames, target_frames, image_size,
                                    truncation_rate=truncation_rate,
                                    truncation_mode=truncation_mode, seed=seed, **sizes)
    if name == "convlstm_eq_params":
        sizes["widths"], _ = equal_parameter_widths(widths, depth, strides=strides)
        return build_convlstm_forecaster(input_frames, target_frames, image_size,
                                         name="convlstm_eq_params_forecaster", **sizes)
    return build_convlstm_forecaster(input_frames, target_frames, image_size, **sizes)


__all__ = [
    "FORECAST", "SPATIAL", "NEXT_FRAME", "MODEL_NAMES", "build_model", "build_scs_forecaster",
    "build_convlstm_forecaster", "equal_parameter_widths", "forecast_only", "level_strides",
]
