"""The action model's serving view and its SavedModel export.

``serving_default`` takes ``frames``, float32 ``(None, T, H, W, 3)`` on
[0, 1] (the batch dimension is free; ``T`` too when exported with
``num_frames=None``), and returns ``frame_probabilities`` ``(None, T, C)``
and ``clip_probabilities`` ``(None, C)``.  It loads and runs with TensorFlow
alone.  A TF Serving REST client sends ``{"instances": [<T×H×W×3 nested
lists>]}`` to ``/v1/models/action_recognition:predict``.
"""

from __future__ import annotations

import os
from typing import Optional

import keras

from scs_keras.export import export_for_serving
from scs_keras.utils.validation import image_hw

__all__ = ["DEFAULT_EXPORT_DIR", "INPUT_NAME", "OUTPUT_NAMES", "serving_model",
           "export_action_model"]

#: Base folder of the versioned exports (``<base>/<version>/``).
DEFAULT_EXPORT_DIR = os.path.join("saved_models", "action_recognition")
INPUT_NAME = "frames"
OUTPUT_NAMES = ("frame_probabilities", "clip_probabilities")


def serving_model(model: keras.Model) -> keras.Model:
    """The inference view of a built action model, for export.

    Args:
        model: A model from one of the builders.

    Returns:
        A functional ``keras.Model`` sharing ``model``'s layers, with outputs
        ``"frame_probabilities"`` ``(B, T, C)`` (per-frame softmax) and
        ``"clip_probabilities"`` ``(B, C)`` (softmax of the clip score, i.e.
        the normalised geometric mean of the per-frame probabilities; its
        argmax is the clip prediction).

    Example:

    >>> serving = serving_model(build_cnn_action_model(4, (8, 32, 32, 3)))
    >>> sorted(serving.output_names)
    ['clip_probabilities', 'frame_probabilities']
    """
    frame_probs = model.get_layer("frame_probs").output
    clip = model.get_layer("clip").output
    clip_probs = keras.layers.Activation("softmax", name="clip_probabilities")(clip)
    frame_probs = keras.layers.Identity(name="frame_probabilities")(frame_probs)
    return keras.Model(model.inputs[0],
                       {"frame_probabilities": frame_probs,
                        "clip_probabilities": clip_probs},
                       name=f"{model.name}_serving")


def export_action_model(model: keras.Model, num_frames: Optional[int], image_size,
                        base_dir: str = DEFAULT_EXPORT_DIR,
                        version: Optional[int] = None) -> str:
    """Exports ``<base_dir>/<version>/`` with a ``serving_default`` signature.

    Signature: input ``frames`` ``(None, num_frames, H, W, 3)`` float32 in
    ``[0, 1]``; outputs ``frame_probabilities`` ``(None, T, C)`` and
    ``clip_probabilities`` ``(None, C)`` (see
    :func:`serving_model`).
    It loads and runs with TensorFlow alone::

        loaded = tf.saved_model.load("saved_models/action_recognition/1")
        out = loaded.signatures["serving_default"](frames=clips)
        out["clip_probabilities"]

    Args:
        model: A model from the builders.
        num_frames: Frames per clip of the signature (``None``: any).
        image_size: ``(H, W)`` or an int.
        base_dir: The model's folder for TF Serving.
        version: Integer version; default the next free one.

    Returns:
        The written version folder.
    """
    h, w = image_hw("image_size", image_size)
    return export_for_serving(
        serving_model(model), base_dir, input_name="frames", version=version,
        input_shape=(None, num_frames, h, w, 3))
