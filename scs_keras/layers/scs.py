"""The dense SCS cell and its fused layer."""

import keras
import tensorflow as tf

from scs_keras.layers import docstrings
from scs_keras.layers.base import (
    CELL_BACKENDS_DOC,
    SCSCellBase,
    SCSRNNBase,
    fused_backend_doc,
    named_arguments,
)
from scs_keras.utils.validation import positive_int

_EQUATIONS = """
        s_t = act(x_t @ spatial_kernel + spatial_bias)            spatial
        g_t = rec_act(x_t @ temporal_kernel + c_{t-1} @ recurrent_kernel
                      + temporal_bias)                            temporal gate
        h_t = s_t * g_t,  c_t = g_t"""


@keras.saving.register_keras_serializable(package="scs_keras")
class SCSCell(SCSCellBase):
    __doc__ = f"""Cell class of the Semi-Coupled Structure layer (dense).

    For each time step::
{_EQUATIONS}

    In training, stochastic truncation cuts the gradient from the temporal
    (or, in ``"exclusive"`` mode, the spatial) stream into the layer below at
    randomly drawn steps; forward values never change.  Use it inside
    ``keras.layers.RNN``; for speed prefer the fused layer ``SCS``.{CELL_BACKENDS_DOC}

    Args:
        units: Positive int, dimensionality of the output and of the state.{docstrings.CELL_ARGS}
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: A 2D float tensor ``(batch, features)``, one time step.
        states: A list holding the previous state (gate) ``(batch, units)``.{docstrings.CELL_CALL_ARGS}

    Input shape:
        ``(batch, features)`` per step.

    Output shape:
        ``(h_t, [c_t])``, both ``(batch, units)``.

    Example:

    >>> import keras, numpy as np
    >>> from scs_keras import SCSCell
    >>> layer = keras.layers.RNN(SCSCell(8), return_sequences=True)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 8])
    """

    sequence_ndim = 3
    sequence_layout = "(batch, time, features)"

    def __init__(
        self,
        units,
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
        arguments = named_arguments(locals())
        units = positive_int("units", arguments.pop("units"))
        super().__init__(**arguments, **kwargs)
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

    # The projections (keras.ops: the cell runs on any backend).
    def _dense(self, x, kernel, bias):
        y = keras.ops.matmul(x, self._weight(kernel, x))
        return y if bias is None else keras.ops.add(y, self._weight(bias, x))

    def spatial_projection(self, x):
        return self._dense(x, self.spatial_kernel, self.spatial_bias)

    def gate_input_projection(self, x):
        return self._dense(x, self.temporal_kernel, self.temporal_bias)

    def recurrent_projection_with(self, c, kernel):
        return keras.ops.matmul(c, kernel)

    # The fused layer's hand-written gradient (TensorFlow only).
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

    Computes the same function as ``keras.layers.RNN(SCSCell(units, ...))``,
    for each time step::
{_EQUATIONS}

    but runs both input projections as single matrix products over all time
    steps, leaving only ``c_{{t-1}} @ recurrent_kernel`` in the loop.
    Weights: ``spatial_kernel`` and ``temporal_kernel`` ``(features, units)``,
    ``recurrent_kernel`` ``(units, units)``, ``spatial_bias`` and
    ``temporal_bias`` ``(units,)``.  {fused_backend_doc("SCSCell")}

    Args:
        units: Positive int, dimensionality of the output and of the state.{docstrings.CELL_ARGS}{docstrings.LAYER_ARGS}

    Call arguments:{docstrings.layer_call_args(
        "A 3D float tensor ``(batch, time, features)``.")}

    Use ``call_streams`` to also get the decoupled spatial-only and
    temporal-only streams of a decoupled stack (``DeepSCS(decoupled=True)``).

    Input shape:
        ``(batch, time, features)``.

    Output shape:
        ``(batch, time, units)`` with ``return_sequences``, else
        ``(batch, units)``; with ``return_state`` a list
        ``[output, c_T]``, ``c_T`` of shape ``(batch, units)``.

    Example:

    >>> import numpy as np
    >>> from scs_keras import SCS
    >>> x = np.random.rand(4, 10, 6).astype("float32")
    >>> SCS(16, return_sequences=True)(x).shape
    TensorShape([4, 10, 16])
    >>> SCS(16, return_sequences=True)(x, stream="spatial").shape
    TensorShape([4, 10, 16])
    """

    cell_class = SCSCell
    cell_name = "scs_cell"

    def __init__(
        self,
        units,
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
        activity_regularizer=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        zero_output_for_mask=False,
        unroll=None,
        fused=True,
        recompute_spatial=False,
        **kwargs,
    ):
        super().__init__(named_arguments(locals()), **kwargs)

    @property
    def units(self):
        return self.cell.units
