"""Convolutional SCS cells and fused layers (1D, 2D, 3D; SPEC §2)."""

import keras
import tensorflow as tf
from keras.src.backend.config import standardize_data_format
from keras.src.utils.argument_validation import standardize_tuple

from scs_keras.layers.base import SCSCellBase, SCSRNNBase
from scs_keras.layers.scs import _CELL_DOC_ARGS


def _conv_output_length(length, kernel, padding, stride, dilation):
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return -(-length // stride)
    return -(-(length - effective + 1) // stride)


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCSCell(SCSCellBase):
    __doc__ = f"""N-D convolutional SCS cell (base of ``ConvSCS{{1,2,3}}DCell``).

    For each time step (SPEC §2), with ``*`` a convolution::

        s_t = act(spatial_kernel * x_t + spatial_bias)        stride `strides`
        g_t = rec_act(temporal_kernel * x_t + recurrent_kernel * c_{{t-1}}
                      + temporal_bias)                        stride 1
        h_t = s_t ⊙ maxpool3x3,stride(g_t),   c_t = g_t

    The gate and the state live at the input resolution; with ``strides > 1``
    the gate is max-pooled (3×3 window, same padding) to the output
    resolution before the product.  The recurrent convolution always uses
    ``"same"`` padding so the state keeps its shape.

    Args:
        rank: 1, 2 or 3.
        filters: Positive int, number of output (and state) channels.
        kernel_size: Int or tuple of ``rank`` ints.
        strides: Int or tuple, stride of the spatial convolution (and of the
            gate's max-pool).
        padding: ``"same"`` or ``"valid"`` for the input convolutions.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        dilation_rate: Int or tuple; dilation of the input convolutions (must
            be 1 when ``strides > 1``).{_CELL_DOC_ARGS}

    Call arguments:
        inputs: A ``rank + 2`` float tensor ``(batch, *spatial, channels)``
            (channels first if so configured).
        states: A list holding the previous gate map.
        training: Python boolean; truncation is active only in training.
    """

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        data_format=None,
        dilation_rate=1,
        **kwargs,
    ):
        if rank not in (1, 2, 3):
            raise ValueError(f"rank must be 1, 2 or 3; received {rank!r}.")
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(
                "Received an invalid value for argument `filters`, expected a "
                f"positive integer, got {filters!r}."
            )
        super().__init__(**kwargs)
        self.rank = rank
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        padding = str(padding).lower()
        if padding not in ("same", "valid"):
            raise ValueError(
                f"padding must be 'same' or 'valid'; received {padding!r}."
            )
        self.padding = padding
        self.data_format = standardize_data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "strides > 1 is incompatible with dilation_rate > 1; received "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}."
            )
        self.state_size = -1  # Conv states are tensors; see compute_state_shape.

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
        return tf.transpose(x, self._perm_to_last(len(x.shape)))

    def from_channels_last(self, x):
        if self.data_format == "channels_last":
            return x
        return tf.transpose(x, self._perm_to_first(len(x.shape)))

    def to_channels_last_sequence(self, x):
        if self.data_format == "channels_last":
            return x
        rank = len(x.shape)  # (B, T, C, *spatial) -> (B, T, *spatial, C)
        return tf.transpose(x, [0, 1] + list(range(3, rank)) + [2])

    def from_channels_last_sequence(self, x):
        if self.data_format == "channels_last":
            return x
        rank = len(x.shape)
        return tf.transpose(x, [0, 1, rank - 1] + list(range(2, rank - 1)))

    # -- projections (channels-last, any leading batch) -------------------

    def _conv(self, x, kernel, strides, padding, dilation):
        return tf.nn.convolution(
            x, kernel, strides=strides, padding=padding.upper(),
            dilations=dilation,
        )

    def _input_conv(self, x, kernel, bias, strides):
        y = self._conv(x, self._weight(kernel, x), strides, self.padding,
                       self.dilation_rate)
        return y if bias is None else tf.nn.bias_add(y, self._weight(bias, x))

    def spatial_projection(self, x):
        return self._input_conv(x, self.spatial_kernel, self.spatial_bias,
                                self.strides)

    def gate_input_projection(self, x):
        return self._input_conv(x, self.temporal_kernel, self.temporal_bias, 1)

    def recurrent_projection_with(self, c, kernel):
        return self._conv(c, kernel, 1, "same", 1)

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
        return tf.nn.max_pool(
            g, ksize=3, strides=list(self.strides), padding="SAME"
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


def _make_cell_class(rank):
    class _Cell(ConvSCSCell):
        def __init__(self, filters, kernel_size, **kwargs):
            super().__init__(rank, filters, kernel_size, **kwargs)

        def get_config(self):
            config = super().get_config()
            config.pop("rank", None)
            return config

    _Cell.__name__ = _Cell.__qualname__ = f"ConvSCS{rank}DCell"
    _Cell.__doc__ = (
        f"{rank}D convolutional SCS cell; see ``ConvSCSCell`` for the "
        f"equations and arguments (``rank`` is fixed to {rank})."
    )
    return keras.saving.register_keras_serializable(package="scs_keras")(_Cell)


ConvSCS1DCell = _make_cell_class(1)
ConvSCS2DCell = _make_cell_class(2)
ConvSCS3DCell = _make_cell_class(3)


@keras.saving.register_keras_serializable(package="scs_keras")
class ConvSCS(SCSRNNBase):
    """N-D convolutional SCS layer with a fused whole-sequence path.

    Input ``(batch, time, *spatial, channels)`` like ``keras.layers.ConvLSTM2D``.
    Both input convolutions run once over all ``time × batch`` frames; the
    loop holds only ``recurrent_kernel * c``.  Given the same weights the
    result equals ``keras.layers.RNN``-style stepping of the cell.  Arguments
    are those of ``ConvSCSCell`` plus ``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful`` and ``zero_output_for_mask``.
    """

    def __init__(self, rank, filters, kernel_size, **kwargs):
        super().__init__(
            lambda **cell_kwargs: ConvSCSCell(
                rank, filters, kernel_size, name="conv_scs_cell", **cell_kwargs
            ),
            ndim=rank + 3, layout="(batch, time, *spatial, channels)", **kwargs,
        )
        self.rank = rank

    @property
    def filters(self):
        return self.cell.filters

    def get_config(self):
        config = super().get_config()
        config.pop("rank", None)
        return config


def _make_layer_class(rank):
    class _Layer(ConvSCS):
        def __init__(self, filters, kernel_size, **kwargs):
            super().__init__(rank, filters, kernel_size, **kwargs)

    _Layer.__name__ = _Layer.__qualname__ = f"ConvSCS{rank}D"
    return keras.saving.register_keras_serializable(package="scs_keras")(_Layer)


ConvSCS1D = _make_layer_class(1)
ConvSCS2D = _make_layer_class(2)
ConvSCS3D = _make_layer_class(3)

ConvSCS2D.__doc__ = """2D convolutional Semi-Coupled Structure layer (fused).

    Shaped like ``keras.layers.ConvLSTM2D``: input
    ``(batch, time, rows, cols, channels)`` (or channels first).  Per step
    (SPEC §2)::

        s_t = act(spatial_kernel * x_t + spatial_bias)          stride strides
        g_t = rec_act(temporal_kernel * x_t + recurrent_kernel * c_{t-1}
                      + temporal_bias)                          input resolution
        h_t = s_t ⊙ maxpool3x3,strides(g_t),   c_t = g_t

    Weights: ``spatial_kernel`` and ``temporal_kernel`` (kh, kw, in, filters),
    ``recurrent_kernel`` (kh, kw, filters, filters), ``spatial_bias`` and
    ``temporal_bias`` (filters,).

    Args:
        filters: Positive int, number of output channels.
        kernel_size: Int or pair of ints.
        strides: Int or pair; the spatial convolution's stride.  The gate and
            state stay at the input resolution and the gate is max-pooled.
        padding: ``"same"`` (default) or ``"valid"``.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        dilation_rate: Int or pair (1 when strided).
        activation, recurrent_activation, use_bias, *_initializer,
        *_regularizer, *_constraint: as for ``keras.layers.ConvLSTM2D``.
        truncation_rate: Float in [0, 1], see ``SCSCell``.
        truncation_mode: ``"temporal"``, ``"exclusive"`` or ``"none"``.
        seed: Optional int for reproducible truncation draws.
        return_sequences, return_state, go_backwards, stateful: as for
            ``keras.layers.ConvLSTM2D``.
        fused: ``False`` runs Keras' per-step loop over the same cell.
        recompute_spatial: Recompute the spatial stream in the backward pass
            instead of keeping it (less memory, a little more time; see
            ``SCS``).
        unroll: ``None`` (default), ``True`` or ``False``: whether the fused
            path unrolls its time loop (see ``SCS``).

    Call arguments:
        sequences: A 5D float tensor.
        initial_state: Optional list with one state tensor.
        mask: Optional boolean ``(batch, time)``.
        training: Python boolean; truncation is active only in training.

    Use ``call_streams`` for the decoupled T¹/T² streams (SPEC §3).

    Example:

    >>> import numpy as np
    >>> from scs_keras import ConvSCS2D
    >>> x = np.random.rand(2, 5, 16, 16, 3).astype("float32")
    >>> ConvSCS2D(8, 3, strides=2, return_sequences=True)(x).shape
    TensorShape([2, 5, 8, 8, 8])
    """
