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

import os
import sys

__version__ = "0.1.0"

#: The commands that need neither Keras nor TensorFlow (the chain counts are
#: NumPy): ``python -m MODULE`` with its first argument, or the console
#: script with its first argument (``None``: any).
_KERAS_FREE_COMMANDS = {
    ("-m scs_keras.analysis.chains", None),
    ("-m scs_keras", "chains"),
    ("scs-keras", "chains"),
}


def _command(argv, orig_argv):
    """``(program, first argument)`` of this process.

    While ``python -m MODULE`` imports MODULE's parent packages (this one
    among them), ``sys.argv[0]`` is ``"-m"`` and ``sys.argv[1:]`` are the
    module's arguments, which end the interpreter's own command line; the
    token before them names the module (``MODULE`` or ``-mMODULE``).
    """
    first = argv[1] if len(argv) > 1 else None
    if argv[:1] == ["-m"] and len(orig_argv) >= len(argv):
        token = orig_argv[len(orig_argv) - len(argv)]
        return "-m " + (token[2:] if token.startswith("-m") else token), first
    return os.path.basename(argv[0]) if argv else "", first


def _runs_keras_free_command(argv=None, orig_argv=None):
    """Whether this process runs one of ``_KERAS_FREE_COMMANDS``."""
    program, first = _command(list(sys.argv if argv is None else argv),
                              list(getattr(sys, "orig_argv", [])
                                   if orig_argv is None else orig_argv))
    return ((program, None) in _KERAS_FREE_COMMANDS
            or (program, first) in _KERAS_FREE_COMMANDS)


# The public names by module.  Normally imported right here, which also
# registers the layers with Keras' serialization (`import scs_keras` is all
# `keras.models.load_model` needs); a Keras-free command skips that (Keras
# loads TensorFlow, seconds of start-up and log lines for a `--help`) and
# any name still loads on first use.  The chain counts are always loaded on
# first use: this package is imported before `python -m
# scs_keras.analysis.chains` runs the module as __main__, and a copy already
# imported by the package would make runpy warn on every run.
_LAZY = {
    "scs_keras.layers": (
        "SCS", "ConvSCS1D", "ConvSCS1DCell", "ConvSCS2D", "ConvSCS2DCell",
        "ConvSCS3D", "ConvSCS3DCell", "DeepSCS", "DropLastFrame",
        "FrameStandardization", "FrameWise", "RepeatLastFrame", "SCSCell"),
    "scs_keras.training": (
        "ASTSGD", "STSGD", "OverlapCoherence", "SCSModel",
        "TruncationSchedule"),
    "scs_keras.analysis.chains": (
        "expected_chains", "expected_chains_by_length",
        "truncation_probabilities"),
}

if not _runs_keras_free_command():
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


def __getattr__(name):
    for module, names in _LAZY.items():
        if name in names:
            import importlib

            return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'scs_keras' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()).union(*_LAZY.values()))
