"""SCS cells and layers, and the frame-wise layers the task models share."""

from scs_keras.layers.conv_scs import (
    ConvSCS1D,
    ConvSCS1DCell,
    ConvSCS2D,
    ConvSCS2DCell,
    ConvSCS3D,
    ConvSCS3DCell,
)
from scs_keras.layers.deep_scs import DeepSCS
from scs_keras.layers.frames import (
    DropLastFrame,
    FrameStandardization,
    FrameWise,
    RepeatLastFrame,
    per_frame,
)
from scs_keras.layers.scs import SCS, SCSCell
