"""Action-recognition networks: deep SCS and its baselines.

Every builder returns a Keras model with the same per-frame head and the same
named outputs, so the training, evaluation and export code treats them alike:

``"frames"``
    ``(B, T, C)`` per-frame **log**-probabilities (``log_softmax`` of a
    per-frame linear classifier on globally average-pooled features).  The
    loss :class:`ClipScoreLoss` reads this output.
``"frame_probs"``
    ``(B, T, C)`` the same as probabilities (``exp``).  The overlap-coherence
    loss (MSE between the overlapping frames' softmax probabilities) and the serving signature use
    it; it carries no loss of its own.
``"clip"``
    ``(B, C)`` the test-time clip score: the mean over *all* frames of the
    per-frame log-probabilities.  Metrics (top-1, top-5, mAP) are
    attached here; ``argmax`` is the prediction.
``"spatial"`` (SCS with ``aux_spatial_loss=True`` only)
    ``(B, T, C)`` log-probabilities of the *same* head applied to the
    spatial-only T¹ stream (the SCS layers' spatial weights alone): an auxiliary per-frame classifier that
    shares every SCS weight, trained with the same clip-score loss.
``"flow_<k>"`` (SCS with ``flow_heads`` only)
    ``(B, T, h_k, w_k, 2)`` optical flow regressed from the temporal-only T²
    stream after stage ``k`` (1-based) by a small 1×1 → 3×3 → 1×1 conv head.

Input frames are floats in ``[0, 1]``; by default each frame is standardised
on its own (per channel, over height and width: :class:`FrameStandardization`)
before the first layer.

Network shape (ResNet-18-like, as in the paper).  ``depth`` counts recurrent (or, for
the per-frame CNN, convolutional) layers: a stem layer (``stem_kernel``,
``stem_stride``, optional 3×3/2 max-pool) followed by ``depth - 1`` layers
split over the stages given by ``widths``; the first layer of every stage but
the first has stride 2.  Inside each stage layers are paired with residual
shortcuts (identity, or 1×1 conv + BN + ReLU when the shape changes) exactly as
:class:`scs_keras.DeepSCS` does.  :data:`RESNET18_SHAPE` is the paper's shape
(15 layers, widths 64–512, 7×7/2 stem + pool); the defaults are a small version
that trains on a CPU.

Baselines (same widths, strides, stages, depth, shortcuts and head):

* ``build_cnn_action_model``: a per-frame 2D CNN (``TimeDistributed``), which
  sees one frame at a time and so cannot use motion;
* ``build_cnn_lstm_action_model``: the per-frame CNN followed by an LSTM over
  the pooled per-frame features;
* ``build_convlstm_action_model``: a stack of ``ConvLSTM2D`` layers.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

import keras

from scs_keras.layers.deep_scs import DeepSCS
from scs_keras.layers.frames import FrameStandardization
from scs_keras.training.model import SCSModel
from scs_keras.utils.validation import check_int, int_sequence, positive_int

__all__ = [
    "RESNET18_SHAPE",
    "MODEL_NAMES",
    "stage_layout",
    "build_model",
    "build_scs_action_model",
    "build_cnn_action_model",
    "build_cnn_lstm_action_model",
    "build_convlstm_action_model",
    "flow_output_names",
]

#: The paper's action network (ResNet-18 shaped): pass as ``**RESNET18_SHAPE``.
RESNET18_SHAPE = dict(
    widths=(64, 128, 256, 512), depth=15, kernel_size=3,
    stem_kernel=7, stem_stride=2, stem_pool=True,
)

#: Model names accepted by :func:`build_action_model` (and ``--model``).
MODEL_NAMES = ("scs", "cnn", "cnn_lstm", "convlstm")




# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------


def stage_layout(depth, widths, stage_depths=None):
    """How ``depth`` layers are laid out: stem, then stages of ``widths``.

    Args:
        depth: Total number of layers (>= 1), stem included.
        widths: Width of each stage (the stem has ``widths[0]``).
        stage_depths: Optional layers per stage (summing to ``depth - 1``);
            default: ``depth - 1`` split as evenly as possible, earlier stages
            first (``depth=15`` with 4 widths gives ``[4, 4, 3, 3]``).  Stages
            that get no layer are dropped.

    Returns:
        A list of stages, each a list of ``(width, stride)`` per layer; the
        first stage is ``[(widths[0], None)]``, the stem (its stride is the
        ``stem_stride`` of the builders).  The first layer of every later
        stage except the first body stage has stride 2.

    Example:

    >>> stage_layout(6, (16, 32))
    [[(16, None)], [(16, 1), (16, 1), (16, 1)], [(32, 2), (32, 1)]]
    """
    depth = positive_int("depth", depth)
    widths = list(int_sequence("widths", widths))
    if not widths:
        raise ValueError("widths must name at least one stage width.")
    body = depth - 1
    if stage_depths is None:
        n = len(widths)
        stage_depths = [body // n + (1 if i < body % n else 0) for i in range(n)]
    else:
        stage_depths = list(int_sequence("stage_depths", stage_depths, minimum=0))
        if len(stage_depths) != len(widths) or sum(stage_depths) != body:
            raise ValueError(
                f"stage_depths must have one entry per width ({len(widths)}) and "
                f"sum to depth - 1 = {body}; received {stage_depths!r}."
            )
    stages = [[(widths[0], None)]]
    for i, (width, count) in enumerate(zip(widths, stage_depths)):
        if count == 0:
            continue
        first_stride = 1 if i == 0 else 2
        stages.append([(width, first_stride if j == 0 else 1) for j in range(count)])
    return stages


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------


INPUT_NORMS = ("scale", "frame")


def _input_and_normalise(input_shape, input_norm="frame", name="frames_in"):
    if len(input_shape) != 4 or input_shape[-1] != 3:
        raise ValueError(
            "input_shape must be (time, height, width, 3) (time may be None); "
            f"received {tuple(input_shape)!r}."
        )
    if input_shape[1] is None or input_shape[2] is None:
        raise ValueError(f"height and width must be known; received {tuple(input_shape)!r}.")
    inputs = keras.Input(tuple(input_shape), name=name)
    # Frames arrive in [0, 1] (the data pipeline and the serving signature).
    if input_norm == "scale":
        return inputs, keras.layers.Rescaling(2.0, offset=-1.0, name="to_symmetric")(inputs)
    if input_norm == "frame":
        return inputs, FrameStandardization(name="frame_standardization")(inputs)
    raise ValueError(f"input_norm must be one of {INPUT_NORMS}; received {input_norm!r}.")


class _Head:
    """The per-frame classifier shared by every model (and by the T¹ stream)."""

    def __init__(self, num_classes, dropout):
        self.pool = keras.layers.TimeDistributed(
            keras.layers.GlobalAveragePooling2D(), name="frame_pool")
        self.dropout = keras.layers.Dropout(dropout, name="head_dropout") if dropout else None
        self.dense = keras.layers.Dense(num_classes, name="frame_classifier")

    def __call__(self, features, name, pooled=False):
        h = features if pooled else self.pool(features)
        if self.dropout is not None:
            h = self.dropout(h)
        return keras.layers.Activation("log_softmax", name=name)(self.dense(h))


def _outputs(frames_logp, extra=None):
    outputs = {
        "frames": frames_logp,
        "frame_probs": keras.layers.Activation("exponential", name="frame_probs")(frames_logp),
        "clip": keras.layers.GlobalAveragePooling1D(name="clip")(frames_logp),
    }
    outputs.update(extra or {})
    return outputs


def _check_common(num_classes, dropout):
    check_int("num_classes", num_classes, minimum=2)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1); received {dropout!r}.")


def _set_bn_momentum(model, momentum):
    """Sets the momentum of every batch-norm layer (nested ones included).

    Keras' default 0.99 needs thousands of steps before the moving statistics
    used at inference match the batch statistics; short CPU runs evaluate far
    off (train accuracy 100 %, test at chance).  0.9 converges in ~50 steps.
    """
    momentum = float(momentum)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1); received {momentum!r}.")
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
    return model


def _frame_pool(x, name):
    return keras.layers.TimeDistributed(
        keras.layers.MaxPooling2D(3, strides=2, padding="same"), name=name)(x)


def flow_output_names(flow_heads, num_stages):
    """Output names of the T² flow heads for a ``flow_heads`` argument.

    Args:
        flow_heads: ``False``/``None`` (none), ``True`` (after every stage) or
            an iterable of 1-based stage indices.
        num_stages: Number of body stages of the network.

    Returns:
        A list like ``["flow_1", "flow_2"]``.
    """
    if not flow_heads:
        return []
    if flow_heads is True:
        stages = list(range(1, num_stages + 1))
    else:
        stages = sorted({int(s) for s in flow_heads})
        bad = [s for s in stages if not 1 <= s <= num_stages]
        if bad:
            raise ValueError(
                f"flow_heads stages must be in 1..{num_stages}; received {bad}."
            )
    return [f"flow_{s}" for s in stages]


def _flow_head(x, width, name):
    """1×1 → 3×3 → 1×1 per-frame conv head regressing 2-channel flow."""
    hidden = max(8, width // 2)
    h = keras.layers.Conv3D(hidden, (1, 1, 1), activation="relu", name=f"{name}_1x1a")(x)
    h = keras.layers.Conv3D(hidden, (1, 3, 3), padding="same", activation="relu",
                            name=f"{name}_3x3")(h)
    return keras.layers.Conv3D(2, (1, 1, 1), name=name)(h)


# ---------------------------------------------------------------------------
# Deep SCS
# ---------------------------------------------------------------------------


def build_scs_action_model(
    num_classes: int,
    input_shape: Sequence[Optional[int]],
    input_norm: str = "frame",
    widths: Sequence[int] = (16, 32),
    depth: int = 4,
    stage_depths: Optional[Sequence[int]] = None,
    kernel_size: int = 3,
    stem_kernel: int = 5,
    stem_stride: int = 2,
    stem_pool: bool = False,
    activation: str = "relu",
    batch_norm: bool = True,
    bn_momentum: float = 0.9,
    residual: bool = True,
    truncation_rate: float = 0.5,
    truncation_mode: str = "exclusive",
    aux_spatial_loss: bool = True,
    flow_heads: Union[bool, Iterable[int], None] = False,
    dropout: float = 0.0,
    seed: Optional[int] = None,
    name: str = "scs",
) -> SCSModel:
    """A deep residual SCS network with a per-frame classifier.

    Args:
        num_classes: Number of classes (>= 2).
        input_shape: ``(T, H, W, 3)``; ``T`` may be ``None`` (needed for
            overlap-coherence training, which feeds clips).  Frames are
            floats in ``[0, 1]``.
        input_norm: ``"frame"`` (default, :class:`FrameStandardization`:
            each frame standardised on its own) or ``"scale"`` (map
            ``[0, 1]`` to ``[-1, 1]``).  On the generated data ``"frame"``
            makes every model learn the motion several times faster (see
            docs/action_recognition.md).
        widths: Width of each stage (the stem uses ``widths[0]``).
        depth: Number of SCS layers, stem included (2, 6, 10, 15, 17 ...).
        stage_depths: Optional layers per stage (see :func:`stage_layout`).
        kernel_size: Kernel of the body layers.
        stem_kernel, stem_stride, stem_pool: The first cell (the paper: 7, 2
            and a 3×3/2 max-pool).
        activation: Spatial-stream activation (``"relu"``, the paper's).
        batch_norm: Batch normalisation after every SCS layer.
        bn_momentum: Momentum of the batch-norm moving statistics (0.9:
            short runs; Keras' default 0.99 suits long ones).
        residual: Residual shortcuts every two layers.
        truncation_rate: Initial truncation rate of every cell (an ``STSGD``
            schedule compiled into the model overrides it in training).
        truncation_mode: ``"exclusive"`` (the paper's action network),
            ``"temporal"`` or ``"none"``.
        aux_spatial_loss: Also run the T¹ spatial-only stream and return the
            shared head's prediction on it as output ``"spatial"``.
        flow_heads: ``False``, ``True`` (after every stage) or stage indices:
            conv heads on the T² stream regressing optical flow (outputs
            ``"flow_<k>"``).
        dropout: Dropout rate before the classifier.
        seed: Optional int: reproducible truncation draws.
        name: Model name.

    Returns:
        An :class:`scs_keras.SCSModel` with outputs ``"frames"``,
        ``"frame_probs"``, ``"clip"`` and, as requested, ``"spatial"`` and
        ``"flow_<k>"`` (see the module docstring).

    Example:

    >>> model = build_scs_action_model(4, (8, 32, 32, 3), widths=(8, 16), depth=4)
    >>> sorted(model.output_names)
    ['clip', 'frame_probs', 'frames', 'spatial']
    """
    _check_common(num_classes, dropout)
    stages = stage_layout(depth, widths, stage_depths)
    flow_names = flow_output_names(flow_heads, len(stages) - 1)
    decoupled = bool(aux_spatial_loss or flow_names)
    inputs, x = _input_and_normalise(input_shape, input_norm)
    common = dict(activation=activation, batch_norm=batch_norm, residual=residual,
                  truncation_rate=truncation_rate, truncation_mode=truncation_mode,
                  decoupled=decoupled)
    offset = 0

    def next_seed(count):
        nonlocal offset
        value = None if seed is None else seed + offset
        offset += count
        return value

    stem_width = stages[0][0][0]
    x = DeepSCS([stem_width], strides=[stem_stride], kernel_size=stem_kernel,
                      seed=next_seed(1), name="stem", **common)(x)
    if stem_pool:
        x = ({s: _frame_pool(v, f"stem_pool_{s}") for s, v in x.items()}
             if decoupled else _frame_pool(x, "stem_pool"))
    extra = {}
    for k, stage in enumerate(stages[1:], start=1):
        filters = [w for w, _ in stage]
        strides = [s for _, s in stage]
        x = DeepSCS(filters, strides=strides, kernel_size=kernel_size,
                          seed=next_seed(len(stage)), name=f"stage_{k}", **common)(x)
        if f"flow_{k}" in flow_names:
            extra[f"flow_{k}"] = _flow_head(x["temporal"], filters[-1], f"flow_{k}")
    head = _Head(num_classes, dropout)
    if decoupled:
        frames = head(x["output"], "frames")
        if aux_spatial_loss:
            extra["spatial"] = head(x["spatial"], "spatial")
    else:
        frames = head(x, "frames")
    model = SCSModel(inputs, _outputs(frames, extra), name=name)
    return _set_bn_momentum(model, bn_momentum)


# ---------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------


def _td(layer, name):
    return keras.layers.TimeDistributed(layer, name=name)


def _shortcut(x, width, stride, name):
    """Identity, or per-frame 1×1 conv (stride) + BN + ReLU when shapes change."""
    if stride == 1 and x.shape[-1] == width:
        return x
    y = _td(keras.layers.Conv2D(width, 1, strides=stride, padding="same"), f"{name}_proj")(x)
    y = keras.layers.BatchNormalization(name=f"{name}_bn")(y)
    return keras.layers.Activation("relu", name=f"{name}_relu")(y)


def _stack(x, stages, make_layer, kernel_size, stem_kernel, stem_stride, stem_pool,
           batch_norm, residual, prefix):
    """Stem + stages with paired residual shortcuts, like ``DeepSCS``."""
    x = make_layer(stages[0][0][0], stem_kernel, stem_stride, f"{prefix}stem")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{prefix}stem_bn")(x)
    if stem_pool:
        x = _frame_pool(x, f"{prefix}stem_pool")
    for k, stage in enumerate(stages[1:], start=1):
        block_input, block_stride = None, 1
        for i, (width, stride) in enumerate(stage):
            if i % 2 == 0:
                block_input, block_stride = x, stride
            name = f"{prefix}s{k}_l{i}"
            x = make_layer(width, kernel_size, stride, name)(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
            if residual and i % 2 == 1:
                total = block_stride * stride
                x = keras.layers.Add(name=f"{name}_add")(
                    [x, _shortcut(block_input, width, total, f"{name}_short")])
    return x


def _conv_layer(activation):
    def make(width, kernel, stride, name):
        return _td(keras.layers.Conv2D(width, kernel, strides=stride, padding="same",
                                       activation=activation), name)
    return make


def _baseline_args(num_classes, input_shape, input_norm, widths, depth, stage_depths,
                   dropout):
    _check_common(num_classes, dropout)
    stages = stage_layout(depth, widths, stage_depths)
    inputs, x = _input_and_normalise(input_shape, input_norm)
    return stages, inputs, x


def build_cnn_action_model(
    num_classes: int,
    input_shape: Sequence[Optional[int]],
    input_norm: str = "frame",
    widths: Sequence[int] = (16, 32),
    depth: int = 4,
    stage_depths: Optional[Sequence[int]] = None,
    kernel_size: int = 3,
    stem_kernel: int = 5,
    stem_stride: int = 2,
    stem_pool: bool = False,
    activation: str = "relu",
    batch_norm: bool = True,
    bn_momentum: float = 0.9,
    residual: bool = True,
    dropout: float = 0.0,
    name: str = "cnn",
) -> keras.Model:
    """Per-frame CNN baseline: the SCS network's shape with plain 2D convs.

    Each frame is classified on its own (``TimeDistributed`` convolutions);
    the clip score averages the per-frame log-probabilities like the SCS
    model's.  Arguments as :func:`build_scs_action_model` (no truncation, no
    decoupled streams).

    Returns:
        A ``keras.Model`` with outputs ``"frames"``, ``"frame_probs"``,
        ``"clip"``.

    Example:

    >>> model = build_cnn_action_model(4, (8, 32, 32, 3))
    >>> model.output_shape["frames"]
    (None, 8, 4)
    """
    stages, inputs, x = _baseline_args(num_classes, input_shape, input_norm, widths,
                                       depth, stage_depths, dropout)
    x = _stack(x, stages, _conv_layer(activation), kernel_size, stem_kernel,
               stem_stride, stem_pool, batch_norm, residual, "")
    frames = _Head(num_classes, dropout)(x, "frames")
    return _set_bn_momentum(keras.Model(inputs, _outputs(frames), name=name), bn_momentum)


def build_cnn_lstm_action_model(
    num_classes: int,
    input_shape: Sequence[Optional[int]],
    input_norm: str = "frame",
    widths: Sequence[int] = (16, 32),
    depth: int = 4,
    stage_depths: Optional[Sequence[int]] = None,
    kernel_size: int = 3,
    stem_kernel: int = 5,
    stem_stride: int = 2,
    stem_pool: bool = False,
    activation: str = "relu",
    batch_norm: bool = True,
    bn_momentum: float = 0.9,
    residual: bool = True,
    lstm_units: Optional[int] = None,
    dropout: float = 0.0,
    name: str = "cnn_lstm",
) -> keras.Model:
    """CNN+LSTM baseline: the per-frame CNN, then an LSTM over pooled features.

    Args:
        lstm_units: LSTM width; default the last stage width.
        Others: as :func:`build_cnn_action_model`.

    Returns:
        A ``keras.Model`` with outputs ``"frames"``, ``"frame_probs"``,
        ``"clip"``; the per-frame head reads the LSTM's output at each step.

    Example:

    >>> model = build_cnn_lstm_action_model(4, (8, 32, 32, 3))
    >>> model.output_shape["clip"]
    (None, 4)
    """
    stages, inputs, x = _baseline_args(num_classes, input_shape, input_norm, widths,
                                       depth, stage_depths, dropout)
    x = _stack(x, stages, _conv_layer(activation), kernel_size, stem_kernel,
               stem_stride, stem_pool, batch_norm, residual, "")
    head = _Head(num_classes, dropout)
    units = lstm_units or stages[-1][-1][0]
    h = keras.layers.LSTM(positive_int("lstm_units", units),
                          return_sequences=True, name="lstm")(head.pool(x))
    model = keras.Model(inputs, _outputs(head(h, "frames", pooled=True)), name=name)
    return _set_bn_momentum(model, bn_momentum)


def build_convlstm_action_model(
    num_classes: int,
    input_shape: Sequence[Optional[int]],
    input_norm: str = "frame",
    widths: Sequence[int] = (16, 32),
    depth: int = 4,
    stage_depths: Optional[Sequence[int]] = None,
    kernel_size: int = 3,
    stem_kernel: int = 5,
    stem_stride: int = 2,
    stem_pool: bool = False,
    batch_norm: bool = True,
    bn_momentum: float = 0.9,
    residual: bool = True,
    dropout: float = 0.0,
    name: str = "convlstm",
) -> keras.Model:
    """ConvLSTM baseline: ``depth`` ``ConvLSTM2D`` layers in the SCS shape.

    Same stem, stages, strides, batch normalisation, residual shortcuts and
    head as :func:`build_scs_action_model`, with each SCS layer replaced by a
    ``keras.layers.ConvLSTM2D`` of the same width (Keras defaults: ``tanh``
    and ``sigmoid``).

    Returns:
        A ``keras.Model`` with outputs ``"frames"``, ``"frame_probs"``,
        ``"clip"``.

    Example:

    >>> model = build_convlstm_action_model(4, (8, 32, 32, 3), depth=2)
    >>> model.output_shape["frame_probs"]
    (None, 8, 4)
    """
    stages, inputs, x = _baseline_args(num_classes, input_shape, input_norm, widths,
                                       depth, stage_depths, dropout)

    def make(width, kernel, stride, name):
        return keras.layers.ConvLSTM2D(width, kernel, strides=stride, padding="same",
                                       return_sequences=True, name=name)

    x = _stack(x, stages, make, kernel_size, stem_kernel, stem_stride, stem_pool,
               batch_norm, residual, "")
    frames = _Head(num_classes, dropout)(x, "frames")
    return _set_bn_momentum(keras.Model(inputs, _outputs(frames), name=name), bn_momentum)


_BUILDERS = {
    "scs": build_scs_action_model,
    "cnn": build_cnn_action_model,
    "cnn_lstm": build_cnn_lstm_action_model,
    "convlstm": build_convlstm_action_model,
}
_SCS_ONLY = ("truncation_rate", "truncation_mode",
             "aux_spatial_loss", "flow_heads", "seed")


def build_model(model: str, num_classes: int, input_shape, **kwargs) -> keras.Model:
    """Builds a model by name: ``"scs"``, ``"cnn"``, ``"cnn_lstm"`` or ``"convlstm"``.

    Arguments meant only for SCS (``truncation_rate``, ``truncation_mode``,
    ``aux_spatial_loss``, ``flow_heads``, ``seed``) are dropped for the
    baselines, and ``activation`` for the ConvLSTM, so one set of keyword
    arguments builds a same-budget family of models.

    Args:
        model: The model name.
        num_classes: Number of classes.
        input_shape: ``(T, H, W, 3)``.
        **kwargs: Builder arguments.

    Returns:
        The built model.

    Raises:
        ValueError: for an unknown name.

    Example:

    >>> build_model("cnn", 4, (8, 32, 32, 3), truncation_rate=0.5).name
    'cnn'
    """
    if model not in _BUILDERS:
        raise ValueError(f"Unknown model {model!r}; choose one of {list(MODEL_NAMES)}.")
    if model != "scs":
        kwargs = {k: v for k, v in kwargs.items() if k not in _SCS_ONLY}
        if model == "convlstm":
            kwargs.pop("activation", None)
    return _BUILDERS[model](num_classes, input_shape, **kwargs)
