"""Shared machinery of the dense and convolutional SCS cells and layers.

An SCS cell computes, per time step, a spatial stream ``s = act(W_s * x + b_s)``
gated by a temporal stream ``g = rec_act(W_x * x + U * c + b_g)`` whose state
``c`` is the previous gate, ``h = s ⊙ pool(g)``.  It is defined by four
operations, which the concrete cells provide:

* ``spatial_projection(x)``      ``W_s * x + b_s``    (output resolution)
* ``gate_input_projection(x)``   ``W_x * x + b_g``    (state resolution)
* ``recurrent_projection(c)``    ``U * c``            (state resolution)
* ``pool_gate(g)``               identity, or 3x3 max-pool for strided cells

Everything else (the step equations, stochastic truncation, the fused
whole-sequence path, the spatial-only and temporal-only streams) is written
once, here, in terms of them.

The fused path (:class:`SCSRNNBase.inner_loop`) relies on the fact that only
``U * c`` is sequential: both input projections run as one batched op over all
``time × batch`` frames, the loop holds a single projection and activation per
step, and the output ``h = s ⊙ pool(g)`` is again one batched op.  The loop is
time-major (``tf.scan``), so no per-step slicing of batch-major tensors happens
(the gradient of ``x[:, t]`` would materialise a full-size tensor per step).
"""

import warnings

import keras
import tensorflow as tf
from keras import tree
from keras import activations, constraints, initializers, regularizers

# keras.layers.RNN draws the masks of cells of this (non-exported) class once
# per sequence before its loop and resets them after.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from scs_keras.layers.frames import per_frame as _per_frame
from scs_keras.layers.recurrence import (
    UNROLL_MAX_STEPS,
    UNROLL_WARN_STEPS,
    fused_sequence,
    fused_temporal_sequence,
    require_tensorflow_backend,
    supports_fused_sequence,
    swap_batch_time as _swap_batch_time,
)
from scs_keras.layers.truncation import (
    check_per_step_draws,
    keep_factors,
    loop_caller,
    mask_gradient,
    validate_truncation,
)
from scs_keras.utils.validation import check_float, check_int, one_of

#: The backends paragraph of the cells' docstrings.
CELL_BACKENDS_DOC = """

    The cell is written with ``keras.ops`` (tested on the TensorFlow and
    JAX backends).  On JAX, ``keras.layers.RNN`` traces its loop once for
    all steps unless ``unroll=True``, and a truncation decision drawn per
    step cannot change from step to step there: training with truncation
    on JAX needs ``unroll=True`` (otherwise the cell raises a ValueError)."""


def fused_backend_doc(cell_class):
    """The backends sentence of a fused layer's docstring."""
    return (f"Runs on the TensorFlow backend only; on other backends use "
            f"``keras.layers.RNN({cell_class}(...))``.")


#: What ``layer(x, stream=...)`` computes: the usual coupled SCS output, or
#: the spatial-only stream ``act(W_s * x_t + b_s)`` with the same weights.
LAYER_STREAMS = ("coupled", "spatial")


def named_arguments(init_locals):
    """The named parameters of an ``__init__`` from its ``locals()``.

    The public cells and layers spell out every argument in their signature
    (for ``help()``, IDEs and keyword checking) and forward them with
    ``named_arguments(locals())`` as the first statement of ``__init__``,
    instead of repeating each name in the call to the base class.  Drops
    ``self``, the ``__class__`` cell of ``super()`` and ``**kwargs``.
    """
    return {name: value for name, value in init_locals.items()
            if name not in ("self", "__class__", "kwargs")}


def check_state_shape(owner, states, expected):
    """Raises a ValueError naming the expected and received shapes unless
    ``states`` is one tensor (or a list of one) of shape ``expected`` (dims
    unknown on either side are not compared)."""
    states = list(states) if tree.is_nested(states) else [states]
    received = [tuple(getattr(s, "shape", ())) for s in states]
    if len(received) == 1 and len(received[0]) == len(expected) and all(
        r is None or e is None or r == e
        for r, e in zip(received[0], expected)
    ):
        return
    raise ValueError(
        f"{owner} expects initial_state to be a list with one state of shape "
        f"{tuple(expected)}; received shapes {received}."
    )


class SCSCellBase(DropoutRNNCell, keras.layers.Layer):
    """Arguments, validation, truncation and the step equations of a cell.

    Subclasses build the five weights and implement the four projections
    listed in the module docstring; they work on tensors with any leading
    batch size, which is what lets the fused layers run them on
    ``time × batch`` frames at once.
    """

    def __init__(
        self,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        truncation_rate=0.5,
        truncation_mode="temporal",
        seed=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.truncation_rate, self.truncation_mode = validate_truncation(
            truncation_rate, truncation_mode
        )
        self.seed = None if seed is None else check_int("seed", seed)
        self.dropout = check_float("dropout", dropout, 0.0, 1.0,
                                   max_inclusive=False)
        self.recurrent_dropout = check_float(
            "recurrent_dropout", recurrent_dropout, 0.0, 1.0,
            max_inclusive=False)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # Set by SCSModel when a truncation schedule is compiled in: a
        # RateSource whose variable overrides `truncation_rate` in training.
        self._rate_source = None

    # -- weights ---------------------------------------------------------

    def _add_scs_weights(self, kernel_shape, recurrent_shape, bias_shape):
        """Creates the five SCS weights (names are part of the public API)."""
        self.spatial_kernel = self.add_weight(
            shape=kernel_shape,
            name="spatial_kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.temporal_kernel = self.add_weight(
            shape=kernel_shape,
            name="temporal_kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=recurrent_shape,
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.spatial_bias = self.add_weight(
                shape=bias_shape,
                name="spatial_bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            self.temporal_bias = self.add_weight(
                shape=bias_shape,
                name="temporal_bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.spatial_bias = None
            self.temporal_bias = None

    def _weight(self, weight, x):
        """``weight`` in ``x``'s dtype.  Keras casts variables to the compute
        dtype only inside ``call``; the fused path's backward pass reads them
        outside it (mixed precision would otherwise mix float32 kernels with
        float16/bfloat16 inputs)."""
        dtype = keras.backend.standardize_dtype(x.dtype)
        if weight is None or keras.backend.standardize_dtype(weight.dtype) == dtype:
            return weight
        return keras.ops.cast(weight, dtype)

    # -- hooks for subclasses -------------------------------------------

    #: Rank of the layer input ``(batch, time, ...)`` and its layout (for
    #: error messages).
    sequence_ndim = None
    sequence_layout = None

    def spatial_projection(self, x):
        raise NotImplementedError

    def gate_input_projection(self, x):
        raise NotImplementedError

    def recurrent_projection_with(self, c, kernel):
        """``kernel * c`` (the recurrent product with a given kernel)."""
        raise NotImplementedError

    def recurrent_input_gradient_fn(self, kernel):
        """``dz -> dc``, the vector-Jacobian product of ``kernel * c`` with
        respect to ``c``.  Built once per backward pass, so that preparing
        the kernel stays out of the time loop."""
        raise NotImplementedError

    def recurrent_kernel_gradient(self, c, dz, kernel):
        """``d(kernel)`` summed over all frames of ``c`` and ``dz``."""
        raise NotImplementedError

    def recurrent_projection(self, c):
        return self.recurrent_projection_with(
            c, self._weight(self.recurrent_kernel, c))

    def pool_gate(self, g):
        return g

    def spatial_stream(self, x):
        """``act(W_s * x_t + b_s)`` for every frame of a channels-last
        sequence with two leading axes (time and batch, in either order)."""
        return self.activation(_per_frame(self.spatial_projection, x))

    def to_channels_last(self, x):
        """Per-frame layout conversion; only conv cells override it."""
        return x

    def from_channels_last(self, x):
        return x

    def to_channels_last_sequence(self, x):
        """Whole-sequence layout conversion ``(B, T, ...)``."""
        return x

    def from_channels_last_sequence(self, x):
        return x

    # -- truncation -----------------------------------------------------

    def current_truncation_rate(self):
        if self._rate_source is not None:
            return self._rate_source.read()
        return self.truncation_rate

    def draw_keep_factors(self, num_steps, training, dtype="float32",
                          per_step=False):
        """Returns ``(temporal_keep, spatial_keep)`` for ``num_steps`` steps.

        Each is a vector of 0/1 in ``dtype`` or ``None`` when that path is
        never cut (inference, mode ``"none"``, or a constant rate of 0).
        ``per_step``: the draw is made inside one step of a loop (the cell
        path), where it must differ from step to step.
        """
        if not training or self.truncation_mode == "none":
            return None, None
        if self._rate_source is None and self.truncation_rate == 0.0:
            return None, None
        if per_step:
            check_per_step_draws(self.__class__.__name__, self._loop_caller)
        return keep_factors(
            self.current_truncation_rate(),
            self.truncation_mode,
            num_steps,
            self.seed_generator,
            dtype,
        )

    # -- one step (the cell path used by keras.layers.RNN) -------------

    def _check_float(self, inputs):
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "float" not in dtype:
            raise TypeError(
                f"{self.__class__.__name__} expects floating-point inputs; "
                f"received dtype {dtype}. Cast your data, e.g. "
                "`keras.ops.cast(x, 'float32')`."
            )

    # -- dropout ---------------------------------------------------------

    def dropout_masks(self, step_input, state, training):
        """``(input mask, recurrent mask)`` of the current sequence, each
        ``None`` when inactive (inference, or a rate of 0).

        Like ``keras.layers.LSTM``: drawn once per sequence (cached until
        ``reset_dropout_mask``/``reset_recurrent_dropout_mask``), scaled by
        ``1 / (1 - rate)``, shaped like one step of the input and of the
        state, in their data format.
        """
        if not training:
            return None, None
        # DropoutRNNCell's cache itself: this class's get_dropout_mask is
        # keras.layers.RNN's hook before the loop.
        input_mask = (super().get_dropout_mask(step_input)
                      if self.dropout > 0 else None)
        recurrent_mask = (self.get_recurrent_dropout_mask(state)
                          if self.recurrent_dropout > 0 else None)
        return input_mask, recurrent_mask

    def reset_dropout_masks(self):
        self.reset_dropout_mask()
        self.reset_recurrent_dropout_mask()

    # keras.layers.RNN calls get_dropout_mask once before its loop and
    # reset_dropout_mask after it: the loop's caller is noted there, for
    # `check_per_step_draws`.
    _loop_caller = None

    def get_dropout_mask(self, step_input):
        self._loop_caller = loop_caller()
        return super().get_dropout_mask(step_input)

    def reset_dropout_mask(self):
        self._loop_caller = None
        super().reset_dropout_mask()

    def call(self, inputs, states, training=False):
        self._check_float(inputs)
        check_state_shape(self.__class__.__name__, states,
                          self.compute_state_shape(tuple(inputs.shape)))
        c_prev = states[0]
        # Input dropout on x (feeding both projections), recurrent dropout
        # on c_{t-1} (feeding U only); the state passed on is not dropped.
        input_mask, recurrent_mask = self.dropout_masks(inputs, c_prev, training)
        if input_mask is not None:
            inputs = inputs * input_mask
        if recurrent_mask is not None:
            c_prev = c_prev * recurrent_mask
        x = self.to_channels_last(inputs)
        c_prev = self.to_channels_last(c_prev)
        keep_t, keep_s = self.draw_keep_factors(1, training, x.dtype,
                                                per_step=True)
        x_gate = x if keep_t is None else mask_gradient(x, keep_t)
        x_spatial = x if keep_s is None else mask_gradient(x, keep_s)
        s = self.activation(self.spatial_projection(x_spatial))
        g = self.recurrent_activation(
            self.gate_input_projection(x_gate) + self.recurrent_projection(c_prev)
        )
        h = self.from_channels_last(s * self.pool_gate(g))
        return h, [self.from_channels_last(g)]

    def get_config(self):
        config = {
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(
                self.recurrent_activation
            ),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "truncation_rate": self.truncation_rate,
            "truncation_mode": self.truncation_mode,
            "seed": self.seed,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
        }
        return {**super().get_config(), **config}


def _per_step(keep, x):
    """(T,) keep factors -> broadcastable against time-major ``(T, B, ...)``."""
    return tf.reshape(keep, [-1] + [1] * (len(x.shape) - 1))


def _input_paths(cell, x, training):
    """The time-major layer input as seen by the temporal and the spatial
    projection.

    Forward values are ``x`` for both; truncation only masks gradients.
    """
    keep_t, keep_s = cell.draw_keep_factors(tf.shape(x)[0], training, x.dtype)
    x_gate = x if keep_t is None else mask_gradient(x, _per_step(keep_t, x))
    x_spatial = x if keep_s is None else mask_gradient(x, _per_step(keep_s, x))
    return x_gate, x_spatial


class SCSRNNBase(keras.layers.RNN):
    """A ``keras.layers.RNN`` whose loop is replaced by the fused SCS path.

    ``keras.layers.RNN`` keeps handling what users rely on (initial and
    stateful states, ``return_state``, ``Bidirectional`` wrapping,
    serialization); only :meth:`inner_loop` is ours.  Given the same weights
    the result equals ``keras.layers.RNN(cell)``.

    ``layer(x, stream="spatial")`` instead returns the spatial-only stream
    ``act(W_s * x_t + b_s)`` of every frame with the same weights (no gate,
    no recurrence, no truncation, no state), eagerly or on symbolic inputs;
    :meth:`call_streams` uses the same computation for its spatial output.

    Subclasses set ``cell_class`` and ``cell_name`` and pass their named
    arguments on (see :func:`named_arguments`).
    """

    #: Set by subclasses: the cell class and the cell's name in the layer.
    cell_class = None
    cell_name = None

    # The layer's own options among a subclass's named arguments; the others
    # are the cell's.
    _LAYER_OPTIONS = ("return_sequences", "return_state", "go_backwards",
                      "stateful", "zero_output_for_mask", "unroll", "fused",
                      "recompute_spatial", "activity_regularizer")

    def __init__(self, arguments, **kwargs):
        """Builds the cell and the layer.

        Args:
            arguments: The subclass's named arguments
                (:func:`named_arguments`): the cell's and the layer options
                listed in ``_LAYER_OPTIONS``.
            **kwargs: Base ``Layer`` arguments (``name``, ``dtype``...).
        """
        require_tensorflow_backend(self.__class__.__name__,
                                   f"keras.layers.RNN({self.cell_class.__name__}(...))")
        arguments = dict(arguments)
        options = {k: arguments.pop(k) for k in self._LAYER_OPTIONS}
        unroll = one_of("unroll", options["unroll"], (None, True, False))
        cell = self.cell_class(
            **arguments,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=self.cell_name,
        )
        super().__init__(
            cell,
            return_sequences=options["return_sequences"],
            return_state=options["return_state"],
            go_backwards=options["go_backwards"],
            stateful=options["stateful"],
            zero_output_for_mask=options["zero_output_for_mask"],
            # keras.layers.RNN's own per-step path (fused=False) reads it as
            # a plain bool.
            unroll=bool(unroll),
            activity_regularizer=options["activity_regularizer"],
            **kwargs,
        )
        self.unroll = None if unroll is None else bool(unroll)
        self.fused = bool(options["fused"])
        self.recompute_spatial = bool(options["recompute_spatial"])
        self.input_spec = keras.layers.InputSpec(ndim=cell.sequence_ndim)

    # Overlap-coherence training (SCSModel) sets `_carry_in` to the states
    # to start from and reads the final states from `_carry_out`, within one
    # traced training step.
    _carry_in = None
    _carry_out = None

    def call(self, sequences, initial_state=None, mask=None, training=False,
             stream="coupled"):
        self._check_sequences(sequences)
        if self._validate_stream(stream) == "spatial":
            return self._spatial_stream(sequences)
        if initial_state is None and self._carry_in is not None:
            initial_state = self._carry_in
        if initial_state is not None:
            step_shape = (sequences.shape[0],) + tuple(sequences.shape[2:])
            check_state_shape(self.__class__.__name__, initial_state,
                              self.cell.compute_state_shape(step_shape))
        self._warn_if_unrolling_long(sequences.shape[1])
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def _validate_stream(self, stream):
        stream = one_of("stream", stream, LAYER_STREAMS)
        if stream == "spatial" and not self.return_sequences:
            raise ValueError(
                f"{self.name}: stream='spatial' returns a whole sequence and "
                "needs a layer built with return_sequences=True."
            )
        return stream

    def _spatial_stream(self, sequences):
        """The spatial-only stream ``act(W_s * x_t + b_s)`` of every frame of
        ``(B, T, ...)``: no gate, no recurrence, no truncation, no state."""
        cell = self.cell
        x = cell.to_channels_last_sequence(sequences)
        return cell.from_channels_last_sequence(cell.spatial_stream(x))

    def compute_output_spec(self, sequences, initial_state=None, mask=None,
                            training=False, stream="coupled"):
        if self._validate_stream(stream) == "coupled":
            self._warn_if_unrolling_long(sequences.shape[1])
            return super().compute_output_spec(
                sequences, initial_state=initial_state, mask=mask,
                training=training)
        batch, steps = sequences.shape[:2]
        step = self.cell.compute_output_shape((batch,) + tuple(sequences.shape[2:]))
        return keras.KerasTensor((batch, steps) + tuple(step[1:]),
                                 dtype=self.compute_dtype)

    def _check_sequences(self, sequences, time_axis=1):
        expected_rank = self.cell.sequence_ndim
        if len(sequences.shape) != expected_rank:
            raise ValueError(
                f"{self.__class__.__name__} expects inputs of rank "
                f"{expected_rank} {self.cell.sequence_layout}; received shape "
                f"{sequences.shape}."
            )
        if sequences.shape[time_axis] == 0:
            raise ValueError(
                f"{self.__class__.__name__} needs at least one time step; "
                f"received shape {sequences.shape}."
            )
        self.cell._check_float(sequences)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not getattr(self, "fused", True):
            # Reference per-step path (keras.layers.RNN's own loop).
            result = super().inner_loop(sequences, initial_state, mask, training)
            self._carry_out = list(result[2])
            return result
        cell = self.cell
        # The fused path is time-major (see recurrence.py): one transpose in,
        # one out.
        x = _swap_batch_time(cell.to_channels_last_sequence(sequences))
        if mask is not None:
            mask = tf.cast(mask, tf.bool)
            if len(mask.shape) > 2:  # (B, T, ...) from some masking layers
                mask = tf.reduce_any(
                    tf.reshape(mask, tf.concat([tf.shape(mask)[:2], [-1]], 0)),
                    axis=-1,
                )
            mask = tf.transpose(mask)
        if self.go_backwards:
            x = tf.reverse(x, [0])
            if mask is not None:
                mask = tf.reverse(mask, [0])
        c0 = cell.to_channels_last(initial_state[0])
        h, c_last = self._time_major_sequence(x, c0, mask, training)
        last_output = cell.from_channels_last(h[-1])
        outputs = cell.from_channels_last_sequence(_swap_batch_time(h))
        state = cell.from_channels_last(c_last)
        self._carry_out = [state]
        return last_output, outputs, [state]

    def _sequence_dropout(self, x, c0, training):
        """Channels-last dropout masks ``(input (B, ...), recurrent (B,
        ...))`` for the time-major sequence ``x`` (see
        ``SCSCellBase.dropout_masks``; ``keras.layers.RNN.call`` has drawn
        them already when it is the caller).  The cache is cleared here: a
        sequence is done once its masks are applied."""
        cell = self.cell
        masks = cell.dropout_masks(cell.from_channels_last(x[0]),
                                   cell.from_channels_last(c0), training)
        cell.reset_dropout_masks()
        return tuple(None if m is None else cell.to_channels_last(m)
                     for m in masks)

    def _time_major_sequence(self, x, c0, mask, training):
        """``(h, c_T)`` for channels-last, time-major ``x`` and ``mask``."""
        cell = self.cell
        input_mask, recurrent_mask = self._sequence_dropout(x, c0, training)
        if input_mask is not None:
            x = x * input_mask  # the same mask at every step
        x_gate, x_spatial = _input_paths(cell, x, training)
        # The fused path's hand-written gradient has no recurrent dropout;
        # with it (training only) the recurrence runs as a tf.scan.
        if (mask is None and recurrent_mask is None
                and supports_fused_sequence(cell)):
            return fused_sequence(
                cell, x_gate, x_spatial, c0, self.recompute_spatial,
                unroll=self._unrolls(x.shape[0]),
            )
        z = _per_frame(cell.gate_input_projection, x_gate)
        c = self._masked_recurrence(z, c0, mask, recurrent_mask)
        s = cell.spatial_stream(x_spatial)
        h = s * _per_frame(cell.pool_gate, c)
        if mask is not None:
            m = tf.reshape(mask, tf.concat([tf.shape(mask), [1] * (len(h.shape) - 2)], 0))
            if self.zero_output_for_mask:
                h = tf.where(m, h, tf.zeros_like(h))
            else:
                # Masked steps repeat the last valid output (keras.layers.RNN
                # semantics); zeros before the first valid step.
                h = tf.scan(
                    lambda prev, e: tf.where(e[1], e[0], prev),
                    (h, m),
                    initializer=tf.zeros_like(h[0]),
                )
        # Masked steps carry the state unchanged, so c[-1] is the last valid.
        return h, c[-1]

    def _warn_if_unrolling_long(self, steps):
        """``unroll=True`` on a long sequence builds one copy of the step per
        time step: warn, since nothing fails but memory and trace time."""
        if self.unroll and steps is not None and steps > UNROLL_WARN_STEPS:
            warnings.warn(
                f"{self.name}: unroll=True on a sequence of {steps} steps "
                f"(more than {UNROLL_WARN_STEPS}) builds a graph that grows "
                "with the length; use unroll=None or False for long "
                "sequences.", stacklevel=3)

    def _unrolls(self, steps):
        """Whether the fused path unrolls a sequence of ``steps`` steps."""
        if steps is None or self.unroll is False:
            return False
        if self.unroll is None:
            return steps <= UNROLL_MAX_STEPS
        return True

    def supports_time_major(self):
        """Whether :meth:`call_time_major` can run this layer."""
        return (
            self.fused
            and not self.stateful
            and not self.go_backwards
            and getattr(self.cell, "data_format", "channels_last") == "channels_last"
        )

    def call_time_major(self, x, training=False):
        """Runs the layer on a time-major ``(T, B, ...)`` channels-last input.

        For stacks that stay time-major between layers (``DeepSCS``), which
        saves the two transposes per layer that ``call`` needs.  No mask, no
        ``initial_state`` (zeros, or the overlap-coherence carry of
        ``SCSModel``); the layer must be built and
        :meth:`supports_time_major` true.

        Returns:
            The time-major output sequence ``(T, B, ...)``.
        """
        if not self.supports_time_major():
            raise ValueError(
                f"{self.name}: call_time_major needs a fused, non-stateful, "
                "forward, channels-last layer."
            )
        self._check_sequences(x, time_axis=0)
        self._warn_if_unrolling_long(x.shape[0])
        cell = self.cell
        if self._carry_in is not None:
            c0 = tf.convert_to_tensor(self._carry_in[0])
        else:
            c0 = cell.get_initial_state(tf.shape(x)[1])[0]
        h, c_last = self._time_major_sequence(x, c0, None, training)
        self._carry_out = [c_last]
        return h

    def _masked_recurrence(self, z, c0, mask_tm, recurrent_mask=None):
        """Time-major ``tf.scan`` of the recurrence (any activation, masks).

        Where the mask is off the state is carried unchanged; the output there
        is replaced by the caller, so returning the carried state is harmless.
        ``recurrent_mask`` (recurrent dropout) multiplies ``c_{t-1}`` where
        it feeds ``U``.
        """
        cell = self.cell
        rec_act = cell.recurrent_activation

        def recurrent(c):
            if recurrent_mask is not None:
                c = c * recurrent_mask
            return cell.recurrent_projection(c)

        if mask_tm is None:
            return tf.scan(
                lambda c, z_t: rec_act(z_t + recurrent(c)),
                z,
                initializer=c0,
            )
        m = tf.reshape(mask_tm, tf.concat([tf.shape(mask_tm), [1] * (len(z.shape) - 2)], 0))

        def step(c, elems):
            z_t, m_t = elems
            g = rec_act(z_t + recurrent(c))
            return tf.where(m_t, g, c)

        return tf.scan(step, (z, m), initializer=c0)

    def call_streams(self, inputs, spatial_inputs=None, temporal_inputs=None,
                     training=False, initial_state=None):
        """Runs the coupled stream and the decoupled spatial-only and
        temporal-only streams.

        A decoupled stack runs, next to the usual (coupled) SCS output, a
        spatial-only stream (each layer's ``act(W_s * x + b_s)`` on the
        spatial-only stream of the layer below: a per-frame CNN) and a
        temporal-only stream (each layer's gate recurrence on the
        temporal-only stream below, with no spatial factor).  Both use the
        layer's own weights; the adaptive truncation schedule compares the
        loss of a head on the spatial-only stream with the main loss.

        Args:
            inputs: The coupled stream from the layer below, ``(B, T, ...)``.
            spatial_inputs: The spatial-only stream from the layer below;
                defaults to ``inputs`` (the first layer of a stack).
            temporal_inputs: The temporal-only stream from the layer below;
                defaults to ``inputs``.
            training: Whether truncation is active (coupled stream only: the
                pure streams are auxiliary and are never truncated).
            initial_state: Optional list with the coupled stream's initial
                state (the pure temporal stream always starts from zeros).

        Returns:
            ``(output, spatial, temporal)`` sequences, each ``(B, T, ...)``:
            ``output = s ⊙ g`` (coupled), ``spatial = act(W_s * σ + b_s)``
            (no gate, no recurrence; the same computation as
            ``layer(spatial_inputs, stream="spatial")``) and
            ``temporal = relu(z)`` with
            ``z_t = W_x * τ_t + U * ĉ_{t-1} + b_g`` and ``ĉ_t = rec_act(z_t)``,
            max-pooled for strided cells.

        The spatial-only stream is one batched per-frame op.  On the fused
        path (``fused=True`` and a recurrent activation whose derivative
        follows from its output) the coupled stream is the layer's own
        fused computation and the temporal-only stream reuses its time
        loops and hand-written gradient (``fused_temporal_sequence``);
        otherwise both recurrences run in one ``tf.scan``.
        """
        if not self.built:
            self.build(tuple(inputs.shape))
        cell = self.cell
        spatial_inputs = inputs if spatial_inputs is None else spatial_inputs
        temporal_inputs = inputs if temporal_inputs is None else temporal_inputs
        if initial_state is None:
            initial_state = self._carry_in
        c0 = (None if initial_state is None
              else cell.to_channels_last(tf.convert_to_tensor(initial_state[0])))
        # Time-major inside, like the fused path: one transpose in and one
        # out per stream.
        x, sigma, tau = (
            _swap_batch_time(cell.to_channels_last_sequence(v))
            for v in (inputs, spatial_inputs, temporal_inputs)
        )
        streams = self._time_major_streams(x, sigma, tau, training, c0)
        return tuple(cell.from_channels_last_sequence(_swap_batch_time(v))
                     for v in streams)

    def call_streams_time_major(self, inputs, spatial_inputs, temporal_inputs,
                                training=False):
        """:meth:`call_streams` on time-major ``(T, B, ...)`` channels-last
        streams, for stacks that stay time-major (``DeepSCS``); the layer
        must be built and :meth:`supports_time_major` true.

        Returns:
            The time-major ``(output, spatial, temporal)`` sequences.
        """
        if not self.supports_time_major():
            raise ValueError(
                f"{self.name}: call_streams_time_major needs a fused, "
                "non-stateful, forward, channels-last layer."
            )
        self._check_sequences(inputs, time_axis=0)
        c0 = (None if self._carry_in is None
              else tf.convert_to_tensor(self._carry_in[0]))
        return self._time_major_streams(inputs, spatial_inputs,
                                        temporal_inputs, training, c0)

    def _time_major_streams(self, x, sigma_in, tau_in, training, c0):
        """``(h, σ, τ)`` for channels-last, time-major streams; ``c0`` is
        the coupled stream's initial state or ``None`` (zeros)."""
        cell = self.cell
        # The spatial-only stream has no recurrence: one batched op.
        sigma = cell.spatial_stream(sigma_in)
        zeros = cell.to_channels_last(self.get_initial_state(tf.shape(x)[1])[0])
        # Only the coupled stream carries state across clips in
        # overlap-coherence training; the auxiliary pure streams restart
        # from zeros.
        c0 = zeros if c0 is None else c0
        if not (self.fused and supports_fused_sequence(cell)):
            h, tau, c_last = self._streams_by_scan(x, tau_in, c0, zeros,
                                                   training)
        else:
            # Dropout and truncation act on the coupled stream only.
            h, c_last = self._time_major_sequence(x, c0, None, training)
            tau = fused_temporal_sequence(cell, tau_in, zeros,
                                          unroll=self._unrolls(x.shape[0]))
        self._carry_out = [cell.from_channels_last(c_last)]
        return h, sigma, tau

    def _streams_by_scan(self, x, tau_in, c0, zeros, training):
        """The coupled and temporal-only streams in one ``tf.scan`` with
        automatic differentiation: the reference path (``fused=False``, or
        a recurrent activation the fused paths cannot differentiate).

        Returns:
            ``(h, τ, c_T)``, time-major.
        """
        cell = self.cell
        # Dropout, like truncation, acts on the coupled stream only.
        input_mask, recurrent_mask = self._sequence_dropout(x, zeros, training)
        if input_mask is not None:
            x = x * input_mask
        x_gate, x_spatial = _input_paths(cell, x, training)
        s = cell.spatial_stream(x_spatial)
        z = _per_frame(cell.gate_input_projection, x_gate)
        z_pure = _per_frame(cell.gate_input_projection, tau_in)
        rec_act = cell.recurrent_activation

        def step(carry, elems):
            c, c_hat, _ = carry
            z_t, z_pure_t = elems
            # One recurrent projection for both streams: they share U.
            c_in = c if recurrent_mask is None else c * recurrent_mask
            both = cell.recurrent_projection(tf.concat([c_in, c_hat], 0))
            u_c, u_c_hat = tf.split(both, 2, axis=0)
            z_hat = z_pure_t + u_c_hat
            return rec_act(z_t + u_c), rec_act(z_hat), z_hat

        g, _, z_hat = tf.scan(step, (z, z_pure), initializer=(c0, zeros, zeros))
        h = s * _per_frame(cell.pool_gate, g)
        tau = _per_frame(cell.pool_gate, tf.nn.relu(z_hat))
        return h, tau, g[-1]

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size, steps = sequences_shape[0], sequences_shape[1]
        step_shape = (batch_size,) + tuple(sequences_shape[2:])
        output_shape = tuple(self.cell.compute_output_shape(step_shape))
        state_shape = tuple(self.cell.compute_state_shape(step_shape))
        out = (
            (batch_size, steps) + output_shape[1:]
            if self.return_sequences
            else output_shape
        )
        if self.return_state:
            return out, state_shape
        return out

    def get_config(self):
        # Flatten the cell's arguments into the layer's, like keras.layers.LSTM.
        config = {
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "zero_output_for_mask": self.zero_output_for_mask,
            "fused": self.fused,
            "recompute_spatial": self.recompute_spatial,
            "unroll": self.unroll,
        }
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        base = keras.layers.Layer.get_config(self)
        return {**base, **cell_config, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # Convenience accessors so users can port weights from the layer itself.
    @property
    def spatial_kernel(self):
        return self.cell.spatial_kernel

    @property
    def temporal_kernel(self):
        return self.cell.temporal_kernel

    @property
    def recurrent_kernel(self):
        return self.cell.recurrent_kernel

    @property
    def spatial_bias(self):
        return self.cell.spatial_bias

    @property
    def temporal_bias(self):
        return self.cell.temporal_bias

    @property
    def dropout(self):
        return self.cell.dropout

    @property
    def recurrent_dropout(self):
        return self.cell.recurrent_dropout
