"""scs_keras: Semi-Coupled Structure (SCS) recurrent layers for Keras 3.

An SCS layer (Pang et al., Nature Machine Intelligence 2020) splits a
recurrent layer into a spatial stream ``act(W_s * x_t + b_s)``, which sees
one frame, and a temporal gate with a recurrent state, multiplied together.
Trained with stochastic truncation (the gradient path of a stream into the
layer below is cut at randomly drawn time steps), deep stacks learn from
many short back-propagation chains.  The README shows usage.  Public API:

* cells and layers: ``SCSCell``, ``SCS``, ``ConvSCS{1,2,3}DCell``,
  ``ConvSCS{1,2,3}D``, ``DeepSCS``;
* frame-wise layers: ``FrameWise``, ``RepeatLastFrame``, ``DropLastFrame``,
  ``FrameStandardization`` (and the helper ``scs_keras.layers.per_frame``);
* training: ``SCSModel``, ``STSGD``, ``ASTSGD``, ``OverlapCoherence``,
  ``TruncationSchedule``;
* analysis: ``expected_chains``, ``expected_chains_by_length``,
  ``truncation_probabilities`` (expected intact back-propagation chains).
"""

from scs_keras.layers import (
    SCS,
    ConvSCS1D,
    ConvSCS1DCell,
    ConvSCS2D,
    ConvSCS2DCell,
    ConvSCS3D,
    ConvSCS3DCell,
    DeepSCS,
    DropLastFrame,
    FrameStandardization,
    FrameWise,
    RepeatLastFrame,
    SCSCell,
)
from scs_keras.training import (
    ASTSGD,
    STSGD,
    OverlapCoherence,
    SCSModel,
    TruncationSchedule,
)

__version__ = "0.1.0"

# The chain-count functions are loaded on first use rather than here: this
# package is imported before `python -m scs_keras.analysis.chains` runs the
# module as __main__, and a copy already imported by the package would make
# runpy warn on every run.
_ANALYSIS = ("expected_chains", "expected_chains_by_length",
             "truncation_probabilities")


def __getattr__(name):
    if name in _ANALYSIS:
        from scs_keras.analysis import chains

        return getattr(chains, name)
    raise AttributeError(f"module 'scs_keras' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ANALYSIS))
