"""A non-learned reference for the outline models: the context square.

Every evaluation crop is centred on its object's box and is ``1 + context``
times the box's long side (:data:`scs_keras.data.cityscapes.EVAL_CONTEXT`,
0.15), so the crop alone says where the box's long side lies.  Drawing that
square for every object, whatever the image, is what a model gets from the
crop convention without looking at the object; its IoU (about 0.34 on the
generated scenes) is the floor a trained decoder must beat before its table
row means anything.  A decoder that has not learnt to close polygons scores
below it (degenerate polygons of one or two vertices have no area).
"""

from __future__ import annotations

import numpy as np

from scs_keras.data.cityscapes import EVAL_CONTEXT
from scs_keras.utils.validation import check_float, check_int, one_of

__all__ = ["BASELINE_NAMES", "context_square", "ContextSquare", "build_baseline"]

#: ``--model`` names of the non-learned references.
BASELINE_NAMES = ("square",)


def context_square(crop_size, context=EVAL_CONTEXT):
    """The square of the box's long side in a crop, clockwise from the top left.

    The crop is ``1 + context`` times the box's long side and centred on the
    box, so in crop pixels (centre ``(C - 1) / 2``: pixel ``u`` has its
    centre at ``u``) the long side spans ``C / (1 + context)`` pixels around
    the crop's centre.  The reader's rounding of the crop to whole image
    pixels is left out (it moves the square by less than one image pixel).

    Args:
        crop_size: Crop side ``C`` in pixels.
        context: The crop's context fraction.

    Returns:
        float64 ``(4, 2)`` crop points ``(x, y)``.

    Example:

    >>> context_square(64, 0.0).tolist()[:2]
    [[-0.5, -0.5], [63.5, -0.5]]
    """
    crop_size = check_int("crop_size", crop_size, minimum=1)
    context = check_float("context", context, minimum=0.0)
    centre = (crop_size - 1) / 2.0
    half = crop_size / (2.0 * (1.0 + context))
    low, high = centre - half, centre + half
    return np.array([[low, low], [high, low], [high, high], [low, high]])  # clockwise, y down


class ContextSquare:
    """The :func:`context_square` for every crop: a fixed polygon.

    Args:
        crop_size: Crop side ``C``.
        context: The evaluation crops' context fraction.
    """

    def __init__(self, crop_size, context=EVAL_CONTEXT):
        self.polygon = context_square(crop_size, context)

    def predict_polygons(self, images):
        """``N`` crops -> ``N`` copies of the square, like the models' predictors."""
        return [self.polygon.copy() for _ in range(len(images))]


def build_baseline(name, crop_size):
    """The baseline called ``name`` (one of :data:`BASELINE_NAMES`)."""
    one_of("name", name, BASELINE_NAMES)
    return ContextSquare(crop_size)
