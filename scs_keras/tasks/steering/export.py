"""The steering model's SavedModel: a whole-clip and a frame-by-frame signature.

Two signatures, both with a free batch dimension, loading and running with
TensorFlow alone:

``serving_default``
    input ``frames``: float32 ``(None, T, H, W, 3)`` on [0, 1] (``T`` is free
    too); output ``angle``: float32 ``(None,)``, the steering angle of the
    last frame of each clip, in degrees (positive: left).
``step``
    inputs ``frame``: float32 ``(None, H, W, 3)`` on [0, 1], and ``state``:
    float32 ``(None, S)``, every recurrent state of the model flattened and
    concatenated (zeros before a clip's first frame); outputs ``angle``
    ``(None,)`` and the new ``state`` ``(None, S)`` to send with the next
    frame.  Feeding a clip frame by frame gives the angle ``serving_default``
    gives for the whole clip.  ``S`` depends on the model and frame size
    (:func:`scs_keras.tasks.steering.streaming.state_size`; 0 for the
    single-frame comma.ai CNN).

With TensorFlow::

    loaded = tf.saved_model.load("saved_models/steering/1")
    angle = loaded.signatures["serving_default"](frames=clip)["angle"]
    state = tf.zeros((1, S))
    for frame in camera:                       # (1, H, W, 3) each
        out = loaded.signatures["step"](frame=frame, state=state)
        angle, state = out["angle"], out["state"]

TF Serving's REST API (``POST /v1/models/steering:predict``) takes, for a
whole clip::

    {"signature_name": "serving_default",
     "inputs": {"frames": [<T×H×W×3 nested lists>, ...]}}

and for one frame of a stream (``state``: the ``"state"`` of the previous
answer, or ``S`` zeros per stream at the start)::

    {"signature_name": "step",
     "inputs": {"frame": [<H×W×3 nested lists>, ...], "state": [[<S numbers>], ...]}}

and answers ``{"outputs": {"angle": [...], "state": [[...], ...]}}`` (only
``"angle"`` for ``serving_default``).
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from scs_keras.export import export_for_serving
from scs_keras.tasks.steering.models import ANGLE
from scs_keras.tasks.steering.streaming import state_size, step

__all__ = ["DEFAULT_EXPORT_DIR", "INPUT_NAME", "OUTPUT_NAMES", "STEP_SIGNATURE",
           "serving_model", "export_steering_model"]

#: Base folder of the versioned exports (``<base>/<version>/``).
DEFAULT_EXPORT_DIR = os.path.join("saved_models", "steering")
INPUT_NAME = "frames"
OUTPUT_NAMES = (ANGLE,)
#: Name of the frame-by-frame signature.
STEP_SIGNATURE = "step"


def serving_model(model):
    """``frames -> {"angle": (B,)}``: the exported whole-clip view (shared weights).

    The T¹ and T² heads of the SCS model are training devices and are left out.
    """
    return keras.Model(model.inputs[0], {ANGLE: model.get_layer(ANGLE).output},
                       name=f"{model.name}_serving")


def export_steering_model(model, base_dir=DEFAULT_EXPORT_DIR, version=None):
    """Writes ``<base_dir>/<version>/`` with the ``serving_default`` and ``step`` signatures.

    Args:
        model: A trained model from :mod:`.models`.
        base_dir: The model's TF Serving folder.
        version: Integer version (default: the next free one).

    Returns:
        The version folder's path.

    Raises:
        ValueError: the version folder exists.
    """
    frame_shape = (None,) + tuple(model.inputs[0].shape[2:])
    size = state_size(model)

    def one_frame(frame, state):
        angle, new_state = step(model, frame, state)
        return {ANGLE: tf.identity(angle, name=ANGLE), "state": tf.identity(new_state, "state")}

    step_signature = [tf.TensorSpec(frame_shape, tf.float32, "frame"),
                      tf.TensorSpec((None, size), tf.float32, "state")]
    return export_for_serving(
        serving_model(model), base_dir, input_name=INPUT_NAME, version=version,
        input_shape=(None,) + tuple(model.inputs[0].shape[1:]),
        extra_signatures={STEP_SIGNATURE: (one_frame, step_signature)})
