"""The precipitation forecaster's serving model and its SavedModel export.

``serving_default`` takes ``frames``, float32 ``(None, N, H, W, 1)`` on
[0, 1] (the batch dimension is free), and returns ``{"forecast": (None, M, H,
W, 1)}``.  The T¹ and one-step heads are training devices and are not
exported.  The export loads and runs with TensorFlow alone::

    loaded = tf.saved_model.load("saved_models/precipitation/1")
    forecast = loaded.signatures["serving_default"](frames=x)["forecast"]

A TF Serving REST client sends ``{"instances": [<N×H×W×1 nested lists>]}``
to ``/v1/models/precipitation:predict`` and gets ``{"predictions": [...]}``.
"""

from __future__ import annotations

import os

import keras

from scs_keras.export import export_for_serving
from scs_keras.tasks.precipitation.models import FORECAST, forecast_only

__all__ = ["DEFAULT_EXPORT_DIR", "INPUT_NAME", "OUTPUT_NAMES", "serving_model",
           "export_forecaster"]

#: Base folder of the versioned exports (``<base>/<version>/``).
DEFAULT_EXPORT_DIR = os.path.join("saved_models", "precipitation")
INPUT_NAME = "frames"
OUTPUT_NAMES = (FORECAST,)


def serving_model(model):
    """``frames -> {"forecast": ...}``: the exported view of a trained model.

    It shares the model's layers and weights.

    Args:
        model: A model from :func:`~scs_keras.tasks.precipitation.models.build_model`.

    Returns:
        A ``keras.Model`` with one input and the dict output ``{"forecast"}``.
    """
    predictor = forecast_only(model)
    return keras.Model(predictor.inputs[0], {FORECAST: predictor.outputs[0]},
                       name=f"{model.name}_serving")


def export_forecaster(model, base_dir=DEFAULT_EXPORT_DIR, version=None):
    """Writes ``<base_dir>/<version>/``: a batched SavedModel for TF Serving.

    Args:
        model: A trained model from :mod:`.models`.
        base_dir: The model's TF Serving folder.
        version: Integer version (default: the next free one).

    Returns:
        The version folder's path.

    Example:

    >>> path = export_forecaster(model)   # doctest: +SKIP
    >>> tf.saved_model.load(path).signatures["serving_default"]  # doctest: +SKIP
    """
    serving = serving_model(model)
    shape = (None,) + tuple(serving.inputs[0].shape[1:])
    return export_for_serving(serving, base_dir, input_name=INPUT_NAME, version=version,
                              input_shape=shape)
