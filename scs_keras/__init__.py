"""scs_keras: Semi-Coupled Structure (SCS) recurrent layers for Keras 3.

The method is described in SCS_SPEC.md (shared with the project); the README
shows usage.  Public API:

* cells and layers: ``SCSCell``, ``SCS``, ``ConvSCS{1,2,3}DCell``,
  ``ConvSCS{1,2,3}D``, ``DeepSCS``;
* training: ``SCSModel``, ``STSGD``, ``ASTSGD``, ``OverlapCoherence``;
* analysis: ``expected_chains`` (expected intact back-propagation chains).
"""

import os

# The fused layers use TensorFlow ops directly (tf.scan, custom gradients).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from scs_keras.analysis.chains import (  # noqa: E402
    expected_chains,
    expected_chains_by_length,
    truncation_probabilities,
)
from scs_keras.layers import (  # noqa: E402
    SCS,
    ConvSCS,
    ConvSCS1D,
    ConvSCS1DCell,
    ConvSCS2D,
    ConvSCS2DCell,
    ConvSCS3D,
    ConvSCS3DCell,
    ConvSCSCell,
    DeepSCS,
    SCSCell,
)
from scs_keras.training import (  # noqa: E402
    ASTSGD,
    STSGD,
    OverlapCoherence,
    SCSModel,
    TruncationSchedule,
)

__version__ = "0.1.0"
