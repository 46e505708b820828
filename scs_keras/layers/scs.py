"""The dense SCS cell and its fused layer (SPEC §2, §4)."""

import keras
import tensorflow as tf

from scs_keras.layers.base import SCSCellBase, SCSRNNBase

_CELL_DOC_ARGS = """
        activation: Activation of the spatial stream (``act``). Default
            ``"tanh"``; the paper's action network uses ``"relu"``.
        recurrent_activation: Activation of the temporal gate (``rec_act``).
            Default ``"sigmoid"``.
        use_bias: Whether to use ``spatial_bias`` and ``temporal_bias``.
        kernel_initializer: Initializer of ``spatial_kernel`` and
            ``temporal_kernel``.
        recurrent_initializer: Initializer of ``recurrent_kernel``.
        bias_initializer: Initializer of both biases.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Optional regularizers of the corresponding weights.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Optional constraints of the corresponding weights.
        truncation_rate: Float in ``[0, 1]``: the probability ``p`` (mode
            ``"temporal"``) or ``q`` (mode ``"exclusive"``) of SPEC §4.
            ``SCSModel`` with an ``STSGD``/``ASTSGD`` schedule overrides it
            during training.
        truncation_mode: ``"temporal"`` (cut the temporal stream's input
            path with probability ``p``), ``"exclusive"`` (cut one of the two
            input paths, SPEC §4 table) or ``"none"``.
        seed: Optional int making the truncation draws reproducible."""


@keras.saving.register_keras_serializable(package="scs_keras")
class SCSCell(SCSCellBase):
    __doc__ = f"""Cell class of the Semi-Coupled Structure layer (dense).

    For each time step (SPEC §2)::

        s_t = act(x_t @ spatial_kernel + spatial_bias)            spatial
        g_t = rec_act(x_t @ temporal_kernel + c_{{t-1}} @ recurrent_kernel
                      + temporal_bias)                            temporal gate
        h_t = s_t * g_t,  c_t = g_t

    In training, stochastic truncation cuts the gradient from the temporal
    (or, in ``"exclusive"`` mode, the spatial) stream into the layer below at
    randomly drawn steps; forward values never change.  Use it inside
    ``keras.layers.RNN``; for speed prefer the fused layer ``SCS``.

    Args:
        units: Positive int, dimensionality of the output and of the state.{_CELL_DOC_ARGS}

    Call arguments:
        inputs: A 2D tensor ``(batch, features)``, floating point.
        states: A list holding the previous gate map ``(batch, units)``.
        training: Python boolean; truncation is active only in training.

    Example:

    >>> import keras, numpy as np
    >>> from scs_keras import SCSCell
    >>> layer = keras.layers.RNN(SCSCell(8), return_sequences=True)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, units, **kwargs):
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument `units`, expected a "
                f"positive integer, got {units!r}."
            )
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "SCSCell expects sequences of shape (batch, time, features), "
                f"i.e. steps of shape (batch, features); received step shape "
                f"{tuple(input_shape)}. For frames use ConvSCS2D."
            )
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                "The feature dimension of SCSCell inputs must be defined; "
                f"received shape {tuple(input_shape)}."
            )
        self._add_scs_weights(
            (input_dim, self.units), (self.units, self.units), (self.units,)
        )
        self.built = True

    def _dense(self, x, kernel, bias):
        y = tf.matmul(x, self._weight(kernel, x))
        return y if bias is None else tf.nn.bias_add(y, self._weight(bias, x))

    def spatial_projection(self, x):
        return self._dense(x, self.spatial_kernel, self.spatial_bias)

    def gate_input_projection(self, x):
        return self._dense(x, self.temporal_kernel, self.temporal_bias)

    def recurrent_projection_with(self, c, kernel):
        return tf.matmul(c, kernel)

    def recurrent_input_gradient_fn(self, kernel):
        return lambda dz: tf.matmul(dz, kernel, transpose_b=True)

    def recurrent_kernel_gradient(self, c, dz, kernel):
        return tf.matmul(c, dz, transpose_a=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def compute_state_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_initial_state(self, batch_size=None):
        return [keras.ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        return {"units": self.units, **super().get_config()}


@keras.saving.register_keras_serializable(package="scs_keras")
class SCS(SCSRNNBase):
    __doc__ = f"""Semi-Coupled Structure layer with a fused whole-sequence path.

    Computes the same function as ``keras.layers.RNN(SCSCell(units, ...))``
    but runs both input projections as single matrix products over all time
    steps, leaving only ``c_{{t-1}} @ recurrent_kernel`` in the loop.

    Args:
        units: Positive int, dimensionality of the output and of the state.{_CELL_DOC_ARGS}
        return_sequences: Whether to return the whole output sequence
            ``(batch, time, units)`` or only the last output.
        return_state: Whether to also return the last state ``c_T``.
        go_backwards: Whether to process the sequence backwards (and return
            the reversed sequence), as ``keras.layers.LSTM``.
        stateful: Whether the last state of each batch is the initial state
            of the next one (needs a fixed batch size).
        zero_output_for_mask: Whether masked steps output zeros (else they
            repeat the last valid output).  ``Bidirectional`` sets it.
        fused: ``True`` (default) runs the fused whole-sequence path;
            ``False`` runs ``keras.layers.RNN``'s per-step loop over the same
            cell (a reference, and what the benchmarks compare against).
        recompute_spatial: If ``True`` the fused path recomputes the spatial
            stream in the backward pass instead of keeping it: one
            projection more per training step, one full-size tensor less
            per layer held for the backward pass.
        unroll: ``None`` (default) unrolls the fused path's time loop for
            sequences of static length up to 128 steps, in 4 chunks whose
            batched work overlaps the loop (64x100x256 benchmark: about 15%
            faster than a ``tf.while_loop``); longer or dynamic-length
            sequences use a while loop.  ``True`` unrolls every static
            length, ``False`` never unrolls.  With ``fused=False`` it is
            ``keras.layers.RNN``'s ``unroll``.

    Call arguments:
        sequences: A 3D float tensor ``(batch, time, features)``.
        initial_state: Optional list with one tensor ``(batch, units)``.
        mask: Optional boolean ``(batch, time)``; masked steps keep the state.
        training: Python boolean; truncation is active only in training.

    Use ``call_streams`` to also get the decoupled T¹/T² streams (SPEC §3).

    Example:

    >>> import numpy as np
    >>> from scs_keras import SCS
    >>> x = np.random.rand(4, 10, 6).astype("float32")
    >>> SCS(16, return_sequences=True)(x).shape
    TensorShape([4, 10, 16])
    """

    def __init__(self, units, **kwargs):
        super().__init__(
            lambda **cell_kwargs: SCSCell(units, name="scs_cell", **cell_kwargs),
            ndim=3, layout="(batch, time, features)", **kwargs,
        )

    @property
    def units(self):
        return self.cell.units
