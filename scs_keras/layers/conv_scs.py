"""Convolutional SCS cells and fused layers (1D, 2D, 3D)."""

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
from scs_keras.utils.validation import int_sequence, is_int, one_of, positive_int

_EQUATIONS = """
        s_t = act(spatial_kernel * x_t + spatial_bias)        stride `strides`
        g_t = rec_act(temporal_kernel * x_t + recurrent_kernel * c_{t-1}
                      + temporal_bias)                        stride 1
        h_t = s_t ⊙ maxpool(g_t),   c_t = g_t

    with ``*`` a convolution.  The gate and the state live at the input
    resolution: a strided cell keeps its state at input resolution and
    max-pools the gate (window 3, stride ``strides``, ``"same"`` padding)
    down to the output resolution before the product (``maxpool`` is the
    identity when ``strides`` is 1).  The recurrent convolution always uses
    ``"same"`` padding so that the state keeps its shape."""


def _conv_output_length(length, kernel, padding, stride, dilation):
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return -(-length // stride)
    return -(-(length - effective + 1) // stride)


def _conv_tuple(name, value, rank):
    """An int or ``rank`` ints >= 1 as a tuple of ``rank`` Python ints."""
    values = int_sequence(name, (value,) * rank if is_int(value) else value)
    if len(values) != rank:
        raise ValueError(f"{name} must be an int or a tuple of {rank} ints; "
                         f"received {value!r}.")
    return values


def _conv_args_doc(rank):
    sizes = "Int" if rank == 1 else f"Int or tuple of {rank} ints"
    return f"""
        strides: {sizes}, stride of the spatial
            convolution (and of the gate's max-pool).  Default 1.
        padding: ``"same"`` (default) or ``"valid"``, padding of the two
            input convolutions.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        dilation_rate: {sizes}, dilation of the input
            convolutions (must be 1 when ``strides > 1``)."""


class _ConvSCSCell(SCSCellBase):
    """N-D convolutional SCS cell: the base of ``ConvSCS{1,2,3}DCell``.

    Private: the public cells fix ``rank`` (so their configs need none).
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="same",
                 data_format=None, dilation_rate=1, **kwargs):
        super().__init__(**kwargs)
        self.rank = one_of("rank", rank, (1, 2, 3))
        self.filters = positive_int("filters", filters)
        self.kernel_size = _conv_tuple("kernel_size", kernel_size, rank)
        self.strides = _conv_tuple("strides", strides, rank)
        self.dilation_rate = _conv_tuple("dilation_rate", dilation_rate, rank)
        self.padding = one_of("padding", str(padding).lower(), ("same", "valid"))
        self.data_format = one_of(
            "data_format",
            keras.config.image_data_format() if data_format is None
            else str(data_format).lower(),
            ("channels_last", "channels_first"),
        )
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "strides > 1 is incompatible with dilation_rate > 1; received "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}."
            )
        self.state_size = -1  # Conv states are tensors; see compute_state_shape.

    @property
    def sequence_ndim(self):
        return self.rank + 3

    @property
    def sequence_layout(self):
        if self.data_format == "channels_first":
            return "(batch, time, channels, *spatial)"
        return "(batch, time, *spatial, channels)"

    # -- shapes ----------------------------------------------------------

    def _spatial_dims(self, input_shape):
        if self.data_format == "channels_first":
            return tuple(input_shape[2:]), input_shape[1]
        return tuple(input_shape[1:-1]), input_shape[-1]

    def _state_dims(self, dims):
        return tuple(
            _conv_output_length(d, k, self.padding, 1, r)
            for d, k, r in zip(dims, self.kernel_size, self.dilation_rate)
        )

    def _output_dims(self, dims):
        return tuple(
            _conv_output_length(d, k, self.padding, s, r)
            for d, k, s, r in zip(
                dims, self.kernel_size, self.strides, self.dilation_rate
            )
        )

    def _format(self, batch, dims):
        if self.data_format == "channels_first":
            return (batch, self.filters) + tuple(dims)
        return (batch,) + tuple(dims) + (self.filters,)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self.__class__.__name__} expects steps of rank "
                f"{self.rank + 2} (batch, *spatial, channels), i.e. sequences "
                f"of rank {self.rank + 3}; received step shape "
                f"{tuple(input_shape)}."
            )
        dims, channels = self._spatial_dims(input_shape)
        if None in dims or channels is None:
            raise ValueError(
                f"{self.__class__.__name__} needs static spatial and channel "
                f"dimensions; received step shape {tuple(input_shape)}."
            )
        if min(self._state_dims(dims)) <= 0:
            raise ValueError(
                f"Input spatial size {dims} is smaller than the kernel "
                f"{self.kernel_size} with padding='valid'."
            )
        self.input_spatial_dims = dims
        self.input_dim = channels
        self._add_scs_weights(
            self.kernel_size + (channels, self.filters),
            self.kernel_size + (self.filters, self.filters),
            (self.filters,),
        )
        self.built = True

    def compute_output_shape(self, input_shape):
        dims, _ = self._spatial_dims(input_shape)
        return self._format(input_shape[0], self._output_dims(dims))

    def compute_state_shape(self, input_shape):
        dims, _ = self._spatial_dims(input_shape)
        return self._format(input_shape[0], self._state_dims(dims))

    def get_initial_state(self, batch_size=None):
        shape = self._format(batch_size, self._state_dims(self.input_spatial_dims))
        return [keras.ops.zeros(shape, dtype=self.compute_dtype)]

    # -- layout ----------------------------------------------------------

    def _perm_to_last(self, rank):
        return [0] + list(range(2, rank)) + [1]

    def _perm_to_first(self, rank):
        return [0, rank - 1] + list(range(1, rank - 1))

    def to_channels_last(self, x):
        if self.data_format == "channels_last":
            return x
        return keras.ops.transpose(x, self._perm_to_last(len(x.shape)))

    def from_channels_last(self, x):
        if self.data_format == "channels_last":
            return x
        return keras.ops.transpose(x, self._perm_to_first(len(x.shape)))

    def to_channels_last_sequence(self, x):
        if self.data_format == "channels_last":
            return x
        rank = len(x.shape)  # (B, T, C, *spatial) -> (B, T, *spatial, C)
        return keras.ops.transpose(x, [0, 1] + list(range(3, rank)) + [2])

    def from_channels_last_sequence(self, x):
        if self.data_format == "channels_last":
            return x
        rank = len(x.shape)
        return keras.ops.transpose(x, [0, 1, rank - 1] + list(range(2, rank - 1)))

    # -- projections (channels-last, any leading batch; keras.ops: the cell
    #    runs on any backend) ---------------------------------------------

    def _conv(self, x, kernel, strides, padding, dilation):
        return keras.ops.conv(
            x, kernel, strides=strides, padding=padding,
            data_format="channels_last", dilation_rate=dilation,
        )

    def _input_conv(self, x, kernel, bias, strides):
        y = self._conv(x, self._weight(kernel, x), strides, self.padding,
                       self.dilation_rate)
        return y if bias is None else keras.ops.add(y, self._weight(bias, x))

    def spatial_projection(self, x):
        return self._input_conv(x, self.spatial_kernel, self.spatial_bias,
                                self.strides)

    def gate_input_projection(self, x):
        return self._input_conv(x, self.temporal_kernel, self.temporal_bias, 1)

    def recurrent_projection_with(self, c, kernel):
        return self._conv(c, kernel, 1, "same", 1)

    # -- the fused layer's hand-written gradient (TensorFlow only) ---------

    def recurrent_input_gradient_fn(self, kernel):
        # The recurrent conv is stride 1, "same", filters -> filters.  With
        # odd kernel sizes "same" pads symmetrically, so its transpose is a
        # plain convolution with the kernel flipped in space and its two
        # channel axes swapped, which oneDNN runs faster than a transposed
        # convolution at small channel counts (and exactly equal).
        if all(k % 2 == 1 for k in self.kernel_size):
            axes = list(range(self.rank))
            flipped = tf.transpose(
                tf.reverse(kernel, axes), axes + [self.rank + 1, self.rank]
            )
            return lambda dz: self._conv(dz, flipped, 1, "same", 1)
        return lambda dz: tf.nn.conv_transpose(
            dz, kernel, output_shape=tf.shape(dz), strides=1, padding="SAME"
        )

    def recurrent_kernel_gradient(self, c, dz, kernel):
        if self.rank == 1:  # as a 2D convolution with a height of one
            grad = tf.raw_ops.Conv2DBackpropFilter(
                input=c[:, None], filter_sizes=tf.shape(kernel[None]),
                out_backprop=dz[:, None], strides=[1, 1, 1, 1], padding="SAME",
            )
            return grad[0]
        if self.rank == 2:
            return tf.raw_ops.Conv2DBackpropFilter(
                input=c, filter_sizes=tf.shape(kernel), out_backprop=dz,
                strides=[1, 1, 1, 1], padding="SAME",
            )
        return tf.raw_ops.Conv3DBackpropFilterV2(
            input=c, filter_sizes=tf.shape(kernel), out_backprop=dz,
            strides=[1, 1, 1, 1, 1], padding="SAME",
        )

    def pool_gate(self, g):
        if max(self.strides) == 1:
            return g
        return keras.ops.max_pool(
            g, pool_size=3, strides=self.strides, padding="same",
            data_format="channels_last",
        )

    def get_config(self):
        config = {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCS1DCell(_ConvSCSCell):
    __doc__ = f"""Cell class of the 1D convolutional Semi-Coupled Structure layer.

    For each time step::
{_EQUATIONS}

    In training, stochastic truncation cuts the gradient from the temporal
    (or, in ``"exclusive"`` mode, the spatial) stream into the layer below at
    randomly drawn steps; forward values never change.  Prefer the fused
    layer ``ConvSCS1D`` (faster, and usable in functional models:
    ``keras.layers.RNN`` runs this cell on tensors but cannot describe its
    image-shaped state on symbolic inputs, as for Keras' ConvLSTM cells).{CELL_BACKENDS_DOC}

    Args:
        filters: Positive int, number of output (and state) channels.
        kernel_size: Int, size of the three convolution
            kernels.{_conv_args_doc(1)}{docstrings.CELL_ARGS}
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: A 3D float tensor, one time step (see Input shape).
        states: A list holding the previous state (gate map).{docstrings.CELL_CALL_ARGS}

    Input shape:
        ``(batch, steps, channels)`` per step, or
        ``(batch, channels, steps)`` with ``data_format="channels_first"``.

    Output shape:
        ``(h_t, [c_t])``: ``h_t`` has ``filters`` channels at the output
        resolution (the input's divided by ``strides``); the state ``c_t``
        has ``filters`` channels at the input resolution (both less the
        kernel with ``padding="valid"``).

    Example:

    >>> import keras, numpy as np
    >>> from scs_keras import ConvSCS1DCell
    >>> cell = ConvSCS1DCell(8, 3, strides=2)
    >>> keras.layers.RNN(cell, return_sequences=True)(np.zeros((2, 5, 16, 3), "float32")).shape
    TensorShape([2, 5, 8, 8])
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        data_format=None,
        dilation_rate=1,
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
        super().__init__(1, **named_arguments(locals()), **kwargs)


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCS2DCell(_ConvSCSCell):
    __doc__ = f"""Cell class of the 2D convolutional Semi-Coupled Structure layer.

    For each time step::
{_EQUATIONS}

    In training, stochastic truncation cuts the gradient from the temporal
    (or, in ``"exclusive"`` mode, the spatial) stream into the layer below at
    randomly drawn steps; forward values never change.  Prefer the fused
    layer ``ConvSCS2D`` (faster, and usable in functional models:
    ``keras.layers.RNN`` runs this cell on tensors but cannot describe its
    image-shaped state on symbolic inputs, as for Keras' ConvLSTM cells).{CELL_BACKENDS_DOC}

    Args:
        filters: Positive int, number of output (and state) channels.
        kernel_size: Int or tuple of 2 ints, size of the three convolution
            kernels.{_conv_args_doc(2)}{docstrings.CELL_ARGS}
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: A 4D float tensor, one time step (see Input shape).
        states: A list holding the previous state (gate map).{docstrings.CELL_CALL_ARGS}

    Input shape:
        ``(batch, rows, cols, channels)`` per step, or
        ``(batch, channels, rows, cols)`` with ``data_format="channels_first"``.

    Output shape:
        ``(h_t, [c_t])``: ``h_t`` has ``filters`` channels at the output
        resolution (the input's divided by ``strides``); the state ``c_t``
        has ``filters`` channels at the input resolution (both less the
        kernel with ``padding="valid"``).

    Example:

    >>> import keras, numpy as np
    >>> from scs_keras import ConvSCS2DCell
    >>> cell = ConvSCS2DCell(8, 3, strides=2)
    >>> keras.layers.RNN(cell, return_sequences=True)(np.zeros((2, 5, 16, 16, 3), "float32")).shape
    TensorShape([2, 5, 8, 8, 8])
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        data_format=None,
        dilation_rate=1,
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
        super().__init__(2, **named_arguments(locals()), **kwargs)


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCS3DCell(_ConvSCSCell):
    __doc__ = f"""Cell class of the 3D convolutional Semi-Coupled Structure layer.

    For each time step::
{_EQUATIONS}

    In training, stochastic truncation cuts the gradient from the temporal
    (or, in ``"exclusive"`` mode, the spatial) stream into the layer below at
    randomly drawn steps; forward values never change.  Prefer the fused
    layer ``ConvSCS3D`` (faster, and usable in functional models:
    ``keras.layers.RNN`` runs this cell on tensors but cannot describe its
    image-shaped state on symbolic inputs, as for Keras' ConvLSTM cells).{CELL_BACKENDS_DOC}

    Args:
        filters: Positive int, number of output (and state) channels.
        kernel_size: Int or tuple of 3 ints, size of the three convolution
            kernels.{_conv_args_doc(3)}{docstrings.CELL_ARGS}
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: A 5D float tensor, one time step (see Input shape).
        states: A list holding the previous state (gate map).{docstrings.CELL_CALL_ARGS}

    Input shape:
        ``(batch, dim1, dim2, dim3, channels)`` per step, or
        ``(batch, channels, dim1, dim2, dim3)`` with ``data_format="channels_first"``.

    Output shape:
        ``(h_t, [c_t])``: ``h_t`` has ``filters`` channels at the output
        resolution (the input's divided by ``strides``); the state ``c_t``
        has ``filters`` channels at the input resolution (both less the
        kernel with ``padding="valid"``).

    Example:

    >>> import keras, numpy as np
    >>> from scs_keras import ConvSCS3DCell
    >>> cell = ConvSCS3DCell(8, 3, strides=2)
    >>> keras.layers.RNN(cell, return_sequences=True)(np.zeros((1, 3, 8, 8, 8, 2), "float32")).shape
    TensorShape([1, 3, 4, 4, 4, 8])
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        data_format=None,
        dilation_rate=1,
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
        super().__init__(3, **named_arguments(locals()), **kwargs)


class _ConvSCS(SCSRNNBase):
    """Base of the fused ``ConvSCS{1,2,3}D`` layers (private: each public
    layer fixes its cell class, hence the rank)."""

    cell_name = "conv_scs_cell"

    @property
    def filters(self):
        return self.cell.filters


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCS1D(_ConvSCS):
    __doc__ = f"""1D convolutional Semi-Coupled Structure layer (fused).

    Shaped like ``keras.layers.ConvLSTM1D``.  For each time step::
{_EQUATIONS}

    Both input convolutions run once over all ``time × batch`` frames; the
    loop holds only ``recurrent_kernel * c``.  Given the same weights the
    result equals ``keras.layers.RNN(ConvSCS1DCell(...))``.  Weights:
    ``spatial_kernel`` and ``temporal_kernel`` ``(k, in_channels,
    filters)``, ``recurrent_kernel`` ``(k, filters, filters)``,
    ``spatial_bias`` and ``temporal_bias`` ``(filters,)``.
    {fused_backend_doc("ConvSCS1DCell")}

    Args:
        filters: Positive int, number of output (and state) channels.
        kernel_size: Int, size of the three convolution
            kernels.{_conv_args_doc(1)}{docstrings.CELL_ARGS}{docstrings.LAYER_ARGS}

    Call arguments:{docstrings.layer_call_args(
        "A 4D float tensor (see Input shape).")}

    Use ``call_streams`` to also get the decoupled spatial-only and
    temporal-only streams of a decoupled stack (``DeepSCS(decoupled=True)``).

    Input shape:
        ``(batch, time, steps, channels)``, or
        ``(batch, time, channels, steps)`` with
        ``data_format="channels_first"``.

    Output shape:
        With ``return_sequences``
        ``(batch, time, new_steps, filters)`` (channels last), else the
        same without ``time``; the new sizes are the input's divided by
        ``strides`` (less the kernel with ``padding="valid"``).  With
        ``return_state`` a list ``[output, c_T]``; the state ``c_T`` has
        ``filters`` channels at the input resolution (less the kernel with
        ``padding="valid"``).

    Example:

    >>> import numpy as np
    >>> from scs_keras import ConvSCS1D
    >>> layer = ConvSCS1D(8, 3, strides=2, return_sequences=True)
    >>> x = np.random.rand(2, 5, 16, 3).astype("float32")
    >>> layer(x).shape
    TensorShape([2, 5, 8, 8])
    >>> layer(x, stream="spatial").shape
    TensorShape([2, 5, 8, 8])
    """

    cell_class = ConvSCS1DCell

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        data_format=None,
        dilation_rate=1,
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


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCS2D(_ConvSCS):
    __doc__ = f"""2D convolutional Semi-Coupled Structure layer (fused).

    Shaped like ``keras.layers.ConvLSTM2D``.  For each time step::
{_EQUATIONS}

    Both input convolutions run once over all ``time × batch`` frames; the
    loop holds only ``recurrent_kernel * c``.  Given the same weights the
    result equals ``keras.layers.RNN(ConvSCS2DCell(...))``.  Weights:
    ``spatial_kernel`` and ``temporal_kernel`` ``(kh, kw, in_channels,
    filters)``, ``recurrent_kernel`` ``(kh, kw, filters, filters)``,
    ``spatial_bias`` and ``temporal_bias`` ``(filters,)``.
    {fused_backend_doc("ConvSCS2DCell")}

    Args:
        filters: Positive int, number of output (and state) channels.
        kernel_size: Int or tuple of 2 ints, size of the three convolution
            kernels.{_conv_args_doc(2)}{docstrings.CELL_ARGS}{docstrings.LAYER_ARGS}

    Call arguments:{docstrings.layer_call_args(
        "A 5D float tensor (see Input shape).")}

    Use ``call_streams`` to also get the decoupled spatial-only and
    temporal-only streams of a decoupled stack (``DeepSCS(decoupled=True)``).

    Input shape:
        ``(batch, time, rows, cols, channels)``, or
        ``(batch, time, channels, rows, cols)`` with
        ``data_format="channels_first"``.

    Output shape:
        With ``return_sequences``
        ``(batch, time, new_rows, new_cols, filters)`` (channels last), else the
        same without ``time``; the new sizes are the input's divided by
        ``strides`` (less the kernel with ``padding="valid"``).  With
        ``return_state`` a list ``[output, c_T]``; the state ``c_T`` has
        ``filters`` channels at the input resolution (less the kernel with
        ``padding="valid"``).

    Example:

    >>> import numpy as np
    >>> from scs_keras import ConvSCS2D
    >>> layer = ConvSCS2D(8, 3, strides=2, return_sequences=True)
    >>> x = np.random.rand(2, 5, 16, 16, 3).astype("float32")
    >>> layer(x).shape
    TensorShape([2, 5, 8, 8, 8])
    >>> layer(x, stream="spatial").shape
    TensorShape([2, 5, 8, 8, 8])
    """

    cell_class = ConvSCS2DCell

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        data_format=None,
        dilation_rate=1,
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


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCS3D(_ConvSCS):
    __doc__ = f"""3D convolutional Semi-Coupled Structure layer (fused).

    Shaped like ``keras.layers.ConvLSTM3D``.  For each time step::
{_EQUATIONS}

    Both input convolutions run once over all ``time × batch`` frames; the
    loop holds only ``recurrent_kernel * c``.  Given the same weights the
    result equals ``keras.layers.RNN(ConvSCS3DCell(...))``.  Weights:
    ``spatial_kernel`` and ``temporal_kernel`` ``(k1, k2, k3, in_channels,
    filters)``, ``recurrent_kernel`` ``(k1, k2, k3, filters, filters)``,
    ``spatial_bias`` and ``temporal_bias`` ``(filters,)``.
    {fused_backend_doc("ConvSCS3DCell")}

    Args:
        filters: Positive int, number of output (and state) channels.
        kernel_size: Int or tuple of 3 ints, size of the three convolution
            kernels.{_conv_args_doc(3)}{docstrings.CELL_ARGS}{docstrings.LAYER_ARGS}

    Call arguments:{docstrings.layer_call_args(
        "A 6D float tensor (see Input shape).")}

    Use ``call_streams`` to also get the decoupled spatial-only and
    temporal-only streams of a decoupled stack (``DeepSCS(decoupled=True)``).

    Input shape:
        ``(batch, time, dim1, dim2, dim3, channels)``, or
        ``(batch, time, channels, dim1, dim2, dim3)`` with
        ``data_format="channels_first"``.

    Output shape:
        With ``return_sequences``
        ``(batch, time, new_dim1, new_dim2, new_dim3, filters)`` (channels last), else the
        same without ``time``; the new sizes are the input's divided by
        ``strides`` (less the kernel with ``padding="valid"``).  With
        ``return_state`` a list ``[output, c_T]``; the state ``c_T`` has
        ``filters`` channels at the input resolution (less the kernel with
        ``padding="valid"``).

    Example:

    >>> import numpy as np
    >>> from scs_keras import ConvSCS3D
    >>> layer = ConvSCS3D(8, 3, strides=2, return_sequences=True)
    >>> x = np.random.rand(1, 3, 8, 8, 8, 2).astype("float32")
    >>> layer(x).shape
    TensorShape([1, 3, 4, 4, 4, 8])
    >>> layer(x, stream="spatial").shape
    TensorShape([1, 3, 4, 4, 4, 8])
    """

    cell_class = ConvSCS3DCell

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        data_format=None,
        dilation_rate=1,
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
