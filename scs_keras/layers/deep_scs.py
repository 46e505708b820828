"""Deep residual SCS stacks."""

import keras
import tensorflow as tf

from scs_keras.layers.conv_scs import ConvSCS1D, ConvSCS2D, ConvSCS3D
from scs_keras.layers.frames import per_frame
from scs_keras.layers.recurrence import require_tensorflow_backend, swap_batch_time
from scs_keras.layers.scs import SCS
from scs_keras.layers.truncation import validate_truncation
from scs_keras.utils.validation import check_int, int_sequence, is_int, one_of

_SCS_LAYERS = {"dense": SCS, "conv1d": ConvSCS1D, "conv2d": ConvSCS2D,
               "conv3d": ConvSCS3D}
_PROJECTIONS = {"conv1d": keras.layers.Conv1D, "conv2d": keras.layers.Conv2D,
                "conv3d": keras.layers.Conv3D}
STREAMS = ("output", "spatial", "temporal")


def _last_valid_step(x, mask):
    """``x[:, -1]``, or with a mask each sample's last unmasked step.

    The SCS layers repeat their last valid output over masked steps, but the
    shortcuts add the (padded) inputs there, so the stack's result must be
    read at the last valid step itself.
    """
    if mask is None:
        return x[:, -1]
    mask = tf.cast(mask, tf.int32)
    steps = tf.shape(mask)[1]
    positions = tf.range(steps)[None, :] * mask - (1 - mask)
    last = tf.maximum(tf.reduce_max(positions, axis=1), 0)
    return tf.gather(x, last, axis=1, batch_dims=1)


@keras.saving.register_keras_serializable(package="scs_keras")
class DeepSCS(keras.layers.Layer):
    """A deep residual stack of fused SCS layers.

    Layers are grouped in pairs; each pair gets a residual shortcut: the
    identity when shape is unchanged, else a 1×1 convolution (or a dense
    projection) with the pair's stride, followed by batch normalisation (when
    ``batch_norm=True``) and ReLU.  The shortcut's normalisation follows
    ``batch_norm`` because with short training budgets a batch norm's moving
    statistics lag far behind (Keras' momentum 0.99), which made
    un-normalised tanh stacks collapse at inference in our runs.  With an
    odd number of layers the last one has no shortcut.  Stochastic
    truncation is drawn independently in every layer.  Runs on the
    TensorFlow backend only (stack ``keras.layers.RNN`` layers of SCS cells
    on other backends).

    Args:
        filters: Sequence of positive ints (NumPy ints too), the width of
            each SCS layer (units for ``layer_type="dense"``).  15–17 layers
            are the paper's depths.
        strides: Int or list of ints (one per layer), the stride of each
            layer's spatial convolution.  Default 1.  Must be 1 for dense.
        kernel_size: Int (or a tuple of ints, one per spatial axis), kernel
            size of every conv layer.  Default 3.
        layer_type: ``"conv2d"`` (default), ``"conv1d"``, ``"conv3d"`` or
            ``"dense"``.
        activation: Spatial-stream activation: ``"tanh"`` (default) or
            ``"relu"`` (the paper's action network; combine it with
            ``batch_norm=True``).
        batch_norm: Whether to apply batch normalisation after each SCS layer.
        residual: Whether to add the shortcuts.  Default ``True``.
        truncation_rate: Float in [0, 1] for every layer (an ``SCSModel``
            schedule overrides it in training).
        truncation_mode: ``"temporal"``, ``"exclusive"`` or ``"none"``.
        decoupled: If ``True`` the layer also runs the spatial-only stream
            (every layer's ``act(W_s * x + b_s)``: a per-frame CNN with the
            stack's spatial weights) and the temporal-only stream (every
            layer's gate recurrence, without the spatial factor) through the
            whole stack and returns a dict ``{"output", "spatial",
            "temporal"}``.  It then also accepts such a dict as input, to
            chain stacks.  Each stream gets its own batch-norm statistics;
            weights are shared.
        return_sequences: Whether to return whole sequences (default) or the
            last step.
        seed: Optional int; layer ``i`` draws truncations with ``seed + i``.
        layer_kwargs: Optional dict of extra arguments for every SCS layer
            (initializers, regularizers, ``padding``, ``unroll``...).
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: ``(batch, time, *spatial, channels)`` (or ``(batch, time,
            features)`` for dense), floating point.
        mask: Optional boolean ``(batch, time)`` (not with ``decoupled``).
        training: Python boolean: truncation and batch-norm updates.

    Input shape:
        ``(batch, time, *spatial, channels)`` (``(batch, time, features)``
        for dense), or with ``decoupled`` a dict of three such streams.

    Output shape:
        ``(batch, time, *new_spatial, filters[-1])`` with
        ``return_sequences`` (the spatial sizes divided by the product of
        the strides), else the same without ``time``; with ``decoupled`` a
        dict of three such tensors.

    Example:

    >>> import numpy as np
    >>> from scs_keras import DeepSCS
    >>> stack = DeepSCS([8, 8, 16, 16], strides=[1, 1, 2, 1])
    >>> stack(np.zeros((2, 4, 16, 16, 3), "float32")).shape
    TensorShape([2, 4, 8, 8, 16])
    """

    def __init__(
        self,
        filters,
        strides=1,
        kernel_size=3,
        layer_type="conv2d",
        activation="tanh",
        batch_norm=False,
        residual=True,
        truncation_rate=0.5,
        truncation_mode="temporal",
        decoupled=False,
        return_sequences=True,
        seed=None,
        layer_kwargs=None,
        **kwargs,
    ):
        require_tensorflow_backend(
            "DeepSCS", "a stack of keras.layers.RNN(SCSCell(...)) or "
            "keras.layers.RNN(ConvSCS2DCell(...)) layers")
        super().__init__(**kwargs)
        layer_type = one_of("layer_type", layer_type, tuple(_SCS_LAYERS))
        filters = list(int_sequence("filters", filters))
        strides = list(int_sequence("strides", strides, length=len(filters),
                                    allow_scalar=True))
        if layer_type == "dense" and max(strides) > 1:
            raise ValueError(f"strides must be 1 for layer_type='dense'; received {strides}.")
        kernel_size = (check_int("kernel_size", kernel_size, minimum=1)
                       if is_int(kernel_size) else list(int_sequence("kernel_size", kernel_size)))
        truncation_rate, truncation_mode = validate_truncation(truncation_rate, truncation_mode)
        self.filters = filters
        self.strides = strides
        self.kernel_size = kernel_size
        self.layer_type = layer_type
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.residual = bool(residual)
        self.truncation_rate = truncation_rate
        self.truncation_mode = truncation_mode
        self.decoupled = bool(decoupled)
        self.return_sequences = bool(return_sequences)
        self.seed = None if seed is None else check_int("seed", seed)
        self.layer_kwargs = dict(layer_kwargs or {})
        self.supports_masking = not self.decoupled

        layer_cls = _SCS_LAYERS[layer_type]
        self.scs_layers = []
        for i, (width, stride) in enumerate(zip(filters, strides)):
            args = dict(self.layer_kwargs)
            # In a stack the other layers' work already overlaps each
            # layer's time loop, so unrolling gains no time here, while the
            # unrolled graph of 15 layers costs memory (15-layer benchmark:
            # time 0.34 of the ConvLSTM2D stack either way, peak memory 0.43
            # with while loops, 0.47 unrolled), so stacks keep while loops.
            args.setdefault("unroll", False)
            if layer_type != "dense":
                args.update(kernel_size=kernel_size, strides=stride)
            self.scs_layers.append(
                layer_cls(
                    width,
                    activation=activation,
                    truncation_rate=truncation_rate,
                    truncation_mode=truncation_mode,
                    seed=None if self.seed is None else self.seed + i,
                    return_sequences=True,
                    name=f"scs_{i}",
                    **args,
                )
            )
        # Sublayers live in flat lists and dicts of layers, which Keras and
        # TensorFlow both track (a dict of lists is invisible to
        # `tf.saved_model.save`); `norms` and `shortcut_norms` are views.
        self._streams = STREAMS if self.decoupled else STREAMS[:1]
        self.norm_layers = [
            keras.layers.BatchNormalization(name=f"bn_{stream}_{i}")
            for stream in self._streams
            for i in range(len(filters))
        ] if self.batch_norm else []
        self.shortcuts = {}  # block start index -> projection (None: identity)
        self.shortcut_norm_layers = {}  # "<index>/<stream>" -> batch norm

    @property
    def norms(self):
        """``{stream: [batch norm of layer i, ...]}`` (empty without
        ``batch_norm``)."""
        n = len(self.filters)
        return {stream: self.norm_layers[k * n:(k + 1) * n]
                for k, stream in enumerate(self._streams)
                if self.norm_layers}

    @property
    def shortcut_norms(self):
        """``{block start index (str): {stream: batch norm}}``."""
        views = {}
        for key, norm in self.shortcut_norm_layers.items():
            index, stream = key.split("/")
            views.setdefault(index, {})[stream] = norm
        return views

    def build(self, input_shape):
        if isinstance(input_shape, dict):  # streams of a previous stack
            input_shape = input_shape["output"]
        if len(input_shape) < 3:
            raise ValueError(
                "DeepSCS expects sequences (batch, time, ...); received shape "
                f"{tuple(input_shape)}."
            )
        shape = tuple(input_shape)
        streams = self._streams
        for i, layer in enumerate(self.scs_layers):
            if self.residual and i % 2 == 0 and i + 1 < len(self.scs_layers):
                block_stride = self.strides[i] * self.strides[i + 1]
                width = self.filters[i + 1]
                if block_stride != 1 or shape[-1] != width:
                    self.shortcuts[str(i)] = self._projection(width, block_stride, i)
                    self.shortcuts[str(i)].build(
                        (None,) + shape[2:]
                    )
                    if self.batch_norm:
                        for s in streams:
                            self.shortcut_norm_layers[f"{i}/{s}"] = (
                                keras.layers.BatchNormalization(
                                    name=f"shortcut_bn_{s}_{i}"))
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
            if self.batch_norm:
                for s in streams:
                    self.norms[s][i].build(shape)
                    shortcut_norm = self.shortcut_norm_layers.get(f"{i - 1}/{s}")
                    if shortcut_norm is not None:
                        shortcut_norm.build(shape)
        self.built = True

    def _projection(self, width, stride, index):
        if self.layer_type == "dense":
            return keras.layers.Dense(width, name=f"shortcut_{index}")
        return _PROJECTIONS[self.layer_type](
            width, 1, strides=stride, padding="same",
            name=f"shortcut_{index}",
        )

    def _shortcut(self, x, index, stream, training):
        """Identity, or per-frame 1×1 conv (stride) [+ BN] + ReLU."""
        key = str(index)
        if key not in self.shortcuts:
            return x
        y = per_frame(self.shortcuts[key], x)
        norm = self.shortcut_norm_layers.get(f"{key}/{stream}")
        if norm is not None:
            y = norm(y, training=training)
        return tf.nn.relu(y)

    def call(self, inputs, mask=None, training=False):
        if isinstance(inputs, dict) and not self.decoupled:
            raise ValueError(
                "A dict of streams needs decoupled=True; pass a tensor otherwise."
            )
        if self.decoupled:
            return self._call_decoupled(inputs, training)
        time_major = mask is None and all(
            layer.supports_time_major() for layer in self.scs_layers
        )
        if time_major:
            # Every op between the layers (batch norm, shortcuts) is per
            # frame, so the whole stack can stay time-major: two transposes
            # for the stack instead of two per layer.
            x = self._run_stack(swap_batch_time(inputs), training,
                                lambda layer, x: layer.call_time_major(
                                    x, training=training))
            return swap_batch_time(x) if self.return_sequences else x[-1]
        x = self._run_stack(inputs, training, lambda layer, x: layer(
            x, mask=mask, training=training))
        if self.return_sequences:
            return x  # masked steps are don't-care values; the mask propagates
        return _last_valid_step(x, mask)

    def _run_stack(self, x, training, run_layer):
        """The coupled stream through all layers, norms and shortcuts."""
        return self._run_streams(
            {"output": x}, training,
            lambda layer, xs: (run_layer(layer, xs["output"]),))["output"]

    def _call_decoupled(self, inputs, training):
        # A tensor starts all three streams (the first stack of a network); a
        # dict continues the streams of a previous decoupled stack.
        if isinstance(inputs, dict):
            missing = [s for s in STREAMS if s not in inputs]
            if missing:
                raise ValueError(f"Missing streams {missing} in the input dict.")
            xs = {s: inputs[s] for s in STREAMS}
        else:
            xs = {s: inputs for s in STREAMS}
        if all(layer.supports_time_major() for layer in self.scs_layers):
            # As in `call`: every op between the layers is per frame, so the
            # streams stay time-major through the whole stack.
            xs = self._run_streams(
                {s: swap_batch_time(v) for s, v in xs.items()}, training,
                lambda layer, xs: layer.call_streams_time_major(
                    xs["output"], xs["spatial"], xs["temporal"],
                    training=training))
            if self.return_sequences:
                return {s: swap_batch_time(v) for s, v in xs.items()}
            return {s: v[-1] for s, v in xs.items()}
        xs = self._run_streams(xs, training, lambda layer, xs: layer.call_streams(
            xs["output"], xs["spatial"], xs["temporal"], training=training))
        if not self.return_sequences:
            xs = {s: v[:, -1] for s, v in xs.items()}
        return xs

    def _run_streams(self, xs, training, run_layer):
        """Streams ``{name: x}`` (in :data:`STREAMS` order) through all
        layers, norms and shortcuts; ``run_layer(layer, xs)`` returns the
        layer's outputs for them, in the same order."""
        block_inputs = None
        for i, layer in enumerate(self.scs_layers):
            if i % 2 == 0:
                block_inputs = dict(xs)
            xs = dict(zip(xs, run_layer(layer, xs)))
            if self.batch_norm:
                xs = {s: self.norms[s][i](v, training=training)
                      for s, v in xs.items()}
            if self.residual and i % 2 == 1:
                xs = {
                    s: v + self._shortcut(block_inputs[s], i - 1, s, training)
                    for s, v in xs.items()
                }
        return xs

    def step(self, x, states, training=False):
        """One frame through the coupled stream, from the layers' states.

        Runs each layer's **cell** once, with the batch norms and residual
        shortcuts of :meth:`call`, so that feeding a sequence frame by frame
        from zero states gives :meth:`call`'s output at every step (a
        streaming client steps frames as they arrive instead of re-running
        the whole sequence).  Inference only: no truncation, no decoupled
        streams.

        Args:
            x: One frame of the stack's input, ``(batch, ...)`` (no time axis).
            states: The layers' states in layer order (each cell's
                ``get_initial_state`` list, concatenated); zeros before the
                first frame.
            training: Passed to the cells and batch norms.

        Returns:
            ``(output, new_states)``: the top layer's output for this frame
            and the new states, in the same order as ``states``.

        Example:

        >>> import numpy as np
        >>> stack = DeepSCS([4, 4], layer_type="dense")
        >>> seq = np.random.rand(2, 3, 5).astype("float32")
        >>> full = stack(seq)
        >>> states = [s for layer in stack.scs_layers
        ...           for s in layer.cell.get_initial_state(2)]
        >>> for t in range(3):
        ...     out, states = stack.step(seq[:, t], states)
        >>> bool(np.allclose(out, full[:, -1], atol=1e-5))
        True
        """
        states = list(states)
        counts = {id(layer): len(layer.cell.get_initial_state(1)) for layer in self.scs_layers}
        if len(states) != sum(counts.values()):
            raise ValueError(f"{self.name}: step needs {sum(counts.values())} state tensors "
                             f"(one list per layer, concatenated); received {len(states)}.")
        new_states = []

        def run_layer(layer, xs):
            # Frames travel as one-step sequences so that the norms and the
            # shortcuts of `_run_streams` apply unchanged.
            count = counts[id(layer)]
            own, states[:count] = states[:count], []
            y, carried = layer.cell(xs["output"][:, 0], own, training=training)
            new_states.extend(carried)
            return (y[:, None],)

        y = self._run_streams({"output": tf.convert_to_tensor(x)[:, None]}, training,
                              run_layer)["output"]
        return y[:, 0], new_states

    def compute_mask(self, inputs, mask=None):
        if self.decoupled or not self.return_sequences:
            return None
        return mask

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            input_shape = input_shape["output"]
        shape = tuple(input_shape)
        for layer in self.scs_layers:
            shape = layer.compute_output_shape(shape)
        if not self.return_sequences:
            shape = (shape[0],) + shape[2:]
        if self.decoupled:
            return {s: shape for s in STREAMS}
        return shape

    def get_config(self):
        config = {
            "filters": self.filters,
            "strides": self.strides,
            "kernel_size": self.kernel_size,
            "layer_type": self.layer_type,
            "activation": self.activation,
            "batch_norm": self.batch_norm,
            "residual": self.residual,
            "truncation_rate": self.truncation_rate,
            "truncation_mode": self.truncation_mode,
            "decoupled": self.decoupled,
            "return_sequences": self.return_sequences,
            "seed": self.seed,
            "layer_kwargs": self.layer_kwargs,
        }
        return {**super().get_config(), **config}
