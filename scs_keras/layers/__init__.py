"""SCS cells and layers."""

from scs_keras.layers.conv_scs import (
    ConvSCS,
    ConvSCS1D,
    ConvSCS1DCell,
    ConvSCS2D,
    ConvSCS2DCell,
    ConvSCS3D,
    ConvSCS3DCell,
    ConvSCSCell,
)
from scs_keras.layers.scs import SCS, SCSCell
from scs_keras.layers.deep_scs import DeepSCS
