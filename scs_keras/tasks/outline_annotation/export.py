"""The outline model's serving view (greedy decoding inside) and its SavedModel.

``serving_default`` takes ``image``, float32 ``(None, C, C, 3)`` object crops
in [0, 1] (the batch dimension is free), and returns ``vertices``, float32
``(None, max_vertices, 2)``, the polygon in crop pixels ``(x, y)`` (cell
centres of the ``C/8`` grid, clockwise, zeros after the last vertex), and
``num_vertices``, int32 ``(None,)``.  The whole greedy decoding loop is in
the graph, so TensorFlow alone runs it::

    loaded = tf.saved_model.load("saved_models/outline_annotation/1")
    out = loaded.signatures["serving_default"](image=crops)
    polygon_0 = out["vertices"][0, :out["num_vertices"][0]]

Map the points back to the image with
:func:`scs_keras.data.cityscapes.crop_to_image` and the crop's box.  A TF
Serving REST client sends ``{"instances": [<C x C x 3 nested lists>]}`` to
``/v1/models/outline_annotation:predict`` and gets ``{"predictions":
[{"vertices": [...], "num_vertices": n}, ...]}``.
"""

from __future__ import annotations

import os

import keras

from scs_keras.export import export_for_serving
from scs_keras.tasks.outline_annotation.decoding import GreedyPolygonDecoder

__all__ = ["DEFAULT_EXPORT_DIR", "INPUT_NAME", "OUTPUT_NAMES", "serving_model",
           "export_outline_model"]

#: Base folder of the versioned exports (``<base>/<version>/``).
DEFAULT_EXPORT_DIR = os.path.join("saved_models", "outline_annotation")
INPUT_NAME = "image"
OUTPUT_NAMES = ("vertices", "num_vertices")


def serving_model(model):
    """``image -> {"vertices", "num_vertices"}``: greedy decoding of a trained model.

    Args:
        model: A training model from
            :func:`~scs_keras.tasks.outline_annotation.models.build_model`;
            the serving model shares its layers and weights.

    Returns:
        A one-input ``keras.Model`` with dict outputs.
    """
    decoder = GreedyPolygonDecoder(model, name="greedy_decoding")
    image = keras.Input((decoder.crop_size, decoder.crop_size, 3), name=INPUT_NAME)
    return keras.Model(image, decoder(image), name=f"{model.name}_serving")


def export_outline_model(model, base_dir=DEFAULT_EXPORT_DIR, version=None):
    """Writes ``<base_dir>/<version>/``: a batched SavedModel for TF Serving.

    Returns:
        The version folder's path.
    """
    serving = serving_model(model)
    shape = (None,) + tuple(serving.inputs[0].shape[1:])
    return export_for_serving(serving, base_dir, input_name=INPUT_NAME, version=version,
                              input_shape=shape)
