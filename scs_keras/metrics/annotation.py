"""Mask IoU of polygons, averaged per class, for outline annotation.

* :func:`rasterize_polygon` - the pixels a polygon covers, in plain NumPy.
* :func:`polygon_iou` - IoU of two polygons rasterised on the same grid.
* :class:`PolygonIoU` - accumulates IoUs over batches and reports the mean of
  the per-class means (the figure published for Polygon-RNN and its
  successors on the eight Cityscapes instance classes) and the mean over
  instances.

Rasterisation: pixel (row ``i``, column ``j``) belongs to a polygon when its
centre, the point ``(x=j, y=i)``, is inside by the even-odd rule (a ray to the
right crosses the outline an odd number of times).  A centre exactly on the
outline counts when it lies on a left or top edge and not on a right or bottom
edge, the usual half-open rule: a polygon with integer vertices and
axis-parallel edges covers exactly its area in pixels (the square
``(0, 0)-(10, 10)`` covers columns and rows 0..9) and two polygons sharing an
edge never claim the same pixel.  Self-intersecting polygons follow the
even-odd rule; fewer than three distinct vertices cover nothing.

Two empty masks count as a perfect match (IoU 1.0): nothing to find, nothing
found.  An empty mask against a non-empty one scores 0.
"""

from __future__ import annotations

import numpy as np

from scs_keras.data.cityscapes import INSTANCE_CLASSES
from scs_keras.utils.validation import image_hw

__all__ = ["rasterize_polygon", "mask_iou", "polygon_iou", "PolygonIoU"]


def rasterize_polygon(polygon, height, width) -> np.ndarray:
    """The pixels covered by a polygon (see the module docstring for the rule).

    Args:
        polygon: ``(N, 2)`` points ``(x, y)`` in pixels (``N`` may be 0).
        height: Rows of the mask.
        width: Columns of the mask.

    Returns:
        bool ``(height, width)`` mask.

    Raises:
        ValueError: the points are not an ``(N, 2)`` array of finite numbers.

    Example:

    >>> int(rasterize_polygon([[1, 1], [4, 1], [4, 3], [1, 3]], 6, 6).sum())
    6
    """
    height, width = image_hw("(height, width)", (height, width))
    p = np.asarray(polygon, np.float64)
    if p.size == 0:
        return np.zeros((height, width), bool)
    if p.ndim != 2 or p.shape[1] != 2 or not np.all(np.isfinite(p)):
        raise ValueError(f"a polygon must be an (N, 2) array of finite (x, y) points; "
                         f"received shape {p.shape}.")
    x1, y1 = p[:, 0], p[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    # Edge e crosses the rows i with min(y) <= i < max(y) (half-open, so a
    # vertex shared by two edges is counted once and horizontal edges never).
    first = np.clip(np.ceil(np.minimum(y1, y2)), 0, height).astype(np.int64)
    last = np.clip(np.ceil(np.maximum(y1, y2)), 0, height).astype(np.int64)
    counts = last - first
    edge = np.repeat(np.arange(len(p)), counts)
    rows = first[edge] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    crossing = x1[edge] + (rows - y1[edge]) * (x2[edge] - x1[edge]) / (y2[edge] - y1[edge])
    # A crossing at x toggles the pixels of its row with centre j < x.
    reach = np.clip(np.ceil(crossing), 0, width).astype(np.int64)
    hist = np.bincount(rows * (width + 1) + reach, minlength=height * (width + 1))
    hist = hist.reshape(height, width + 1)
    to_the_right = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # crossings with reach >= j
    return (to_the_right[:, 1:] % 2) == 1


def mask_iou(pred, true) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    union = np.count_nonzero(pred | true)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & true) / union


def polygon_iou(pred, true, height, width) -> float:
    """Mask IoU of two polygons rasterised on a ``height`` x ``width`` grid.

    Args:
        pred: ``(N, 2)`` points ``(x, y)`` in pixels (the prediction).
        true: ``(M, 2)`` points ``(x, y)`` (the ground truth).
        height: Rows of the grid (the crop or image height).
        width: Columns of the grid.

    Returns:
        IoU in [0, 1]; 1.0 when both polygons cover no pixel.

    Example:

    >>> polygon_iou([[0, 0], [20, 0], [20, 10], [0, 10]],
    ...             [[10, 0], [30, 0], [30, 10], [10, 10]], 16, 32)
    0.3333333333333333
    """
    return mask_iou(rasterize_polygon(pred, height, width), rasterize_polygon(true, height, width))


class PolygonIoU:
    """Polygon IoU accumulated over batches, averaged per class.

    Args:
        image_size: ``(height, width)`` (or one int for a square) of the grid
            the polygons are rasterised on, e.g. the crop size.
        class_names: Names of the class indices given to ``update_state``
            (default: the eight Cityscapes instance classes).

    ``update_state(pred_polygons, true_polygons, labels)`` takes sequences of
    ``(N_b, 2)`` point arrays and class indices (for padded targets slice
    ``polygon[b, :num_polygon_vertices[b]]``).  :meth:`result` is the mean of
    the per-class means over the classes seen at least once (the published
    convention: not weighted by instance count); :meth:`instance_mean` weighs
    every instance equally.  Both are NaN before any update.

    Example:

    >>> m = PolygonIoU(16, class_names=("a", "b"))
    >>> sq = [[0, 0], [8, 0], [8, 8], [0, 8]]
    >>> _ = m.update_state([sq, sq, [[0, 0], [4, 0], [4, 4], [0, 4]]],
    ...                    [sq, [[8, 8], [16, 8], [16, 16], [8, 16]], sq], [0, 0, 1])
    >>> m.result(), m.instance_mean()    # ((1 + 0) / 2 + 0.25) / 2, 1.25 / 3
    (0.375, 0.4166666666666667)
    """

    def __init__(self, image_size, class_names=INSTANCE_CLASSES):
        self.height, self.width = image_hw("image_size", image_size)
        self.class_names = tuple(str(c) for c in class_names)
        if not self.class_names:
            raise ValueError("class_names must name at least one class.")
        self.reset_state()

    def reset_state(self):
        """Forgets every accumulated IoU."""
        self._sums = np.zeros(len(self.class_names), np.float64)
        self._counts = np.zeros(len(self.class_names), np.int64)

    def update_state(self, pred_polygons, true_polygons, labels) -> np.ndarray:
        """Adds a batch of predictions.

        Args:
            pred_polygons: Sequence of ``(N_b, 2)`` predicted polygons.
            true_polygons: Sequence of ``(M_b, 2)`` ground-truth polygons.
            labels: Class index of each instance.

        Returns:
            float64 ``(B,)`` IoU of each instance.

        Raises:
            ValueError: the three sequences differ in length, or a label is
                out of range.
        """
        labels = np.asarray(labels).reshape(-1)
        if not len(pred_polygons) == len(true_polygons) == len(labels):
            raise ValueError(f"{len(pred_polygons)} predictions, {len(true_polygons)} ground "
                             f"truths and {len(labels)} labels: they must match.")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise ValueError(f"labels must lie in 0..{len(self.class_names) - 1}; "
                             f"received {labels.tolist()}.")
        ious = np.array([polygon_iou(p, t, self.height, self.width)
                         for p, t in zip(pred_polygons, true_polygons)], np.float64)
        np.add.at(self._sums, labels.astype(np.int64), ious)
        np.add.at(self._counts, labels.astype(np.int64), 1)
        return ious

    def per_class(self) -> dict:
        """Mean IoU of each class name (NaN for a class not seen)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self._sums / self._counts
        return {name: float(v) for name, v in zip(self.class_names, means)}

    def class_counts(self) -> dict:
        """Instances seen per class name."""
        return {name: int(n) for name, n in zip(self.class_names, self._counts)}

    def result(self) -> float:
        """Mean of the per-class means over the classes seen (NaN if none)."""
        seen = self._counts > 0
        if not seen.any():
            return float("nan")
        return float(np.mean(self._sums[seen] / self._counts[seen]))

    def instance_mean(self) -> float:
        """Mean IoU over all instances (NaN if none)."""
        total = self._counts.sum()
        return float(self._sums.sum() / total) if total else float("nan")

    def results(self) -> dict:
        """Everything at once: ``mean_iou``, ``instance_mean_iou``,
        ``per_class`` and ``counts``."""
        return {"mean_iou": self.result(), "instance_mean_iou": self.instance_mean(),
                "per_class": self.per_class(), "counts": self.class_counts()}
