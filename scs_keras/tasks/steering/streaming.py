"""Feeding a steering model one frame at a time, with its recurrent state.

A car's camera delivers frames one by one; re-running the model on a whole
clip at every frame repeats ``T - 1`` frames of work.  :func:`step` runs one
frame through the model's named parts (see :mod:`.models`): the per-frame
``"front"``, each recurrent layer's **cell** for one step from the state it
is given (a ``DeepSCS`` stack steps its cells itself, with its batch norms
and residual shortcuts: :meth:`~scs_keras.DeepSCS.step`), then the
``"head"``.  A cell computes exactly one step of its
layer (the fused ``ConvSCS2D`` equals ``keras.layers.RNN`` of its cell), so
feeding a clip frame by frame from zero states gives the angle the model
gives for the whole clip.

The state is one float32 tensor ``(batch, S)``: every recurrent state
(``ConvSCS2D``: the gate map ``c``; ``ConvLSTM2D`` and ``LSTM``: ``h`` then
``c``), flattened and concatenated in layer order.  ``S`` is
:func:`state_size`; the first frame takes zeros.  The single-frame comma.ai
CNN has no state (``S = 0``).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from scs_keras.layers.deep_scs import DeepSCS

__all__ = ["recurrent_cells", "state_shapes", "state_size", "step", "zero_state"]


def _cores(model):
    """The recurrent layers ``"core"`` / ``"core_<i>"``, in order."""
    names = [layer.name for layer in model.layers if layer.name == "core"
             or (layer.name.startswith("core_") and layer.name[5:].isdigit())]
    return [model.get_layer(n) for n in sorted(names, key=lambda n: int(n[5:] or -1))]


def recurrent_cells(model):
    """The recurrent cells of ``model``, in the order the frame runs through them.

    A ``DeepSCS`` stack contributes its layers' cells (it steps them itself,
    with its batch norms and residual shortcuts: :meth:`DeepSCS.step`).
    """
    return [cell for core in _cores(model) for cell in _core_cells(core)]


def _core_cells(core):
    """The cells of one recurrent layer (several for a ``DeepSCS`` stack)."""
    if isinstance(core, DeepSCS):
        return [layer.cell for layer in core.scs_layers]
    return [core.cell]


def state_shapes(model):
    """Shapes (without batch) of every recurrent state, in state order."""
    return [tuple(s.shape[1:]) for cell in recurrent_cells(model)
            for s in cell.get_initial_state(1)]


def state_size(model):
    """``S``: the length of the flat state of :func:`step`.

    Example:

    >>> from scs_keras.tasks.steering.models import build_model
    >>> state_size(build_model("comma_cnn", (40, 80)))
    0
    """
    return sum(math.prod(shape) for shape in state_shapes(model))


def step(model, frame, state):
    """One frame through ``model``, from the flat ``state``.

    Args:
        model: A model from :func:`~scs_keras.tasks.steering.models.build_model`.
        frame: ``(batch, H, W, 3)`` float32 on [0, 1].
        state: ``(batch, S)`` float32 (zeros before the first frame).

    Returns:
        ``(angle, new_state)``: ``(batch,)`` degrees and ``(batch, S)``.
    """
    shapes = state_shapes(model)
    sizes = [math.prod(s) for s in shapes]
    batch = tf.shape(frame)[0]
    pieces = tf.split(state, sizes, axis=1) if sizes else []
    states = [tf.reshape(p, tf.concat([[batch], shape], 0)) for p, shape in zip(pieces, shapes)]
    x = model.get_layer("front").layer(frame, training=False)
    new_states = []
    for core in _cores(model):
        count = sum(len(cell.get_initial_state(1)) for cell in _core_cells(core))
        step_fn = core.step if isinstance(core, DeepSCS) else core.cell
        x, carried = step_fn(x, states[:count], training=False)
        states = states[count:]
        new_states.extend(carried)
    angle = tf.reshape(model.get_layer("head")(x, training=False), [-1])
    flat = [tf.reshape(s, [batch, -1]) for s in new_states]
    new_state = tf.concat(flat, axis=1) if flat else tf.zeros([batch, 0], state.dtype)
    return angle, new_state


def zero_state(model, batch):
    """The first state: zeros ``(batch, S)``."""
    return keras.ops.zeros((batch, state_size(model)), "float32")
