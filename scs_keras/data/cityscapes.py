"""Cityscapes polygon annotations as object crops and vertex sequences.

Reads the Cityscapes layout::

    <root>/gtFine/<split>/<city>/<stem>_gtFine_polygons.json
    <root>/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png

Each JSON holds ``imgHeight``, ``imgWidth`` and ``objects``, a list of
``{"label": str, "polygon": [[x, y], ...]}`` in pixels.  Every object of the
eight instance classes (:data:`INSTANCE_CLASSES`) becomes one sample: a crop
of the image around the object and the object's outline as a sequence of
cells of a ``grid_size`` x ``grid_size`` grid laid over the crop, the target
of a polygon-drawing recurrent model (Polygon-RNN).  Objects of other labels
(``road``, ``sky``, ``cargroup``...) are left out and counted in the report;
objects marked ``"deleted"`` (annotation-tool output) are counted and left out.

Coordinates
    ``x`` runs to the right and ``y`` **down**, as in the image; a point
    ``(x, y)`` is the centre of the pixel in column ``x``, row ``y`` (so a
    crop pixel ``(u, v)`` has its centre at ``(u, v)`` too).  Vertices outside
    the image are clamped onto its border, ``0..width - 1`` and
    ``0..height - 1`` (the visible object ends there).

Crop
    The object's box is ``[xmin, xmax] x [ymin, ymax]`` of its vertices; its
    long side ``L = max(xmax - xmin, ymax - ymin) + 1`` pixels.  The crop is
    the square of ``side = L * (1 + context)`` pixels (rounded half up)
    centred on the box centre, padded with black where it leaves the image,
    and resized to ``crop_size`` (area averaging when shrinking, bilinear
    when enlarging).  ``context`` is drawn uniformly from 0.10..0.20 in
    training and is 0.15 at evaluation.  The crop's left/top edge in image
    coordinates is ``(x0, y0)``: image point ``x`` is crop point
    ``u = (x - x0) * crop_size / side - 0.5`` (see :func:`image_to_crop`).

Vertex sequence
    1. The polygon is oriented **clockwise as seen on the screen** (y down),
       i.e. with a positive shoelace sum ``sum(x_i y_{i+1} - x_{i+1} y_i)``
       (:func:`signed_area`).
    2. Each vertex goes to the grid cell holding it,
       ``cell = floor((x - x0) * grid_size / side)`` (same for y).
    3. Consecutive duplicate cells are removed, including the last cell when
       it equals the first (the polygon is closed).
    4. Start vertex: at evaluation the **top-left-most cell** (smallest row,
       then smallest column); in training a random vertex (augmentation).
    5. Polygons longer than ``max_vertices`` keep ``max_vertices`` vertices
       taken evenly, ``floor(i * n / max_vertices)``, the start vertex first
       (then step 3 again: every k-th cell can repeat a neighbour).
    6. Cells are encoded ``y * grid_size + x``; :func:`end_token`
       ``grid_size ** 2`` follows the last vertex and :data:`PAD_INDEX` (-1)
       fills the rest.  ``tf.one_hot`` turns both -1 and, at depth
       ``grid_size ** 2``, the end token into all-zero maps.

Dataset elements
    ``(inputs, targets)`` batches, with ``B`` the batch size, ``C`` the crop
    size and ``L = max_vertices + 1``:

    - ``inputs["image"]``: float32 ``(B, C, C, 3)``, RGB in [0, 1];
    - ``inputs["vertices"]``: the target sequence again, for teacher forcing;
    - ``targets["vertices"]``: int32 ``(B, L)`` cell indices, end token, -1;
    - ``targets["num_vertices"]``: int32 ``(B,)`` vertices before the end token;
    - ``targets["polygon"]``: float32 ``(B, L, 2)`` the ground-truth polygon
      ``(x, y)`` in crop pixels, not quantised (for the IoU), clockwise,
      starting at the original vertex of the first cell, at most
      ``max_vertices`` vertices taken evenly, padded with zeros;
    - ``targets["num_polygon_vertices"]``: int32 ``(B,)`` its length;
    - ``targets["label"]``: int32 ``(B,)`` index into :data:`INSTANCE_CLASSES`;
    - ``targets["crop_box"]``: float32 ``(B, 3)`` ``(x0, y0, side)`` to map
      crop points back to the image (:func:`crop_to_image`).

Problems (reported by file, and by object index in ``objects``): ``"corrupt"``
(unreadable JSON), ``"schema"`` (missing or malformed fields), ``"missing_image"``
(no ``_leftImg8bit.png`` next to the JSON), ``"bad_image"`` (not a PNG, or its
size differs from ``imgHeight`` x ``imgWidth``), ``"few_vertices"`` (fewer than
3 vertices), ``"outside"`` (the polygon's box does not meet the image).  Objects smaller than
``min_area`` (default 100 px^2 of the original image, the polygon's shoelace
area after moving its vertices onto the image) are left out by convention, not
as errors: they never raise and are listed in ``report.filtered`` (kind
``"tiny"``).  Real Cityscapes holds many of them (distant people).

The per-object work (:func:`make_example` and the functions it chains) is
plain NumPy (OpenCV only to resize the crop); the ``tf.data`` part only
decodes images (OpenCV, in a parallel ``tf.numpy_function`` map) and batches.

Example:

>>> ds, report = make_polygon_dataset("data/cityscapes", "val", crop_size=224)  # doctest: +SKIP
>>> inputs, targets = next(iter(ds))                                            # doctest: +SKIP
>>> inputs["image"].shape, targets["vertices"].shape                            # doctest: +SKIP
(TensorShape([8, 224, 224, 3]), TensorShape([8, 61]))
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import struct
from collections import Counter

import numpy as np
import tensorflow as tf

from scs_keras.data.contract import (DataError, DataProblem, DataReport, check_on_bad,
                                     raise_or_record)
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_float, check_int, positive_int

__all__ = [
    "INSTANCE_CLASSES",
    "PAD_INDEX",
    "EVAL_CONTEXT",
    "TRAIN_CONTEXT",
    "DEFAULT_MIN_AREA",
    "PolygonRecord",
    "PolygonReport",
    "end_token",
    "signed_area",
    "orient_clockwise",
    "crop_box",
    "crop_image",
    "image_to_crop",
    "crop_to_image",
    "crop_to_cells",
    "cells_to_crop",
    "dedup_cyclic",
    "top_left_index",
    "subsample_evenly",
    "encode_vertices",
    "decode_vertices",
    "make_example",
    "scan_polygon_files",
    "make_polygon_dataset",
]

#: The eight Cityscapes instance classes, in label-index order.
INSTANCE_CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
#: Fills ``vertices`` after the end token.
PAD_INDEX = -1
#: Context factor at evaluation, and its range in training.
EVAL_CONTEXT = 0.15
TRAIN_CONTEXT = (0.10, 0.20)
#: Objects below this area (px^2 of the original image) are left out.
DEFAULT_MIN_AREA = 100.0

_JSON_SUFFIX = "_gtFine_polygons.json"
_IMAGE_SUFFIX = "_leftImg8bit.png"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------
# Geometry: one object, plain NumPy.
# ----------------------------------------------------------------------------


def end_token(grid_size) -> int:
    """The end-of-polygon token, ``grid_size ** 2`` (one past the last cell)."""
    return positive_int("grid_size", grid_size) ** 2


def signed_area(polygon) -> float:
    """Shoelace area of a closed polygon; positive when clockwise on screen.

    With ``y`` pointing down (image coordinates) a polygon that turns
    clockwise on the screen has a positive sum
    ``0.5 * sum(x_i y_{i+1} - x_{i+1} y_i)``.

    Args:
        polygon: ``(N, 2)`` points ``(x, y)``.

    Returns:
        The signed area (0 for fewer than 3 points).

    Example:

    >>> signed_area([[0, 0], [2, 0], [2, 1], [0, 1]])   # right, down, left
    2.0
    """
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return float(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def orient_clockwise(polygon) -> np.ndarray:
    """The polygon in clockwise order on screen (y down), first vertex kept first."""
    p = np.asarray(polygon)
    if signed_area(p) < 0:
        return p[np.r_[0, len(p) - 1:0:-1]]
    return p


def crop_box(polygon, context) -> np.ndarray:
    """The square crop around a polygon (see the module docstring).

    Args:
        polygon: ``(N, 2)`` image points ``(x, y)``.
        context: Enlargement of the box's long side (0.15: 15 % more).

    Returns:
        float64 ``(x0, y0, side)``: the crop's left and top edges in image
        coordinates (a half-integer: pixel ``x0 + 0.5`` is its first column)
        and its side in whole pixels.
    """
    p = np.asarray(polygon, np.float64)
    low, high = p.min(axis=0), p.max(axis=0)
    long_side = float(np.max(high - low)) + 1.0
    side = max(1, math.floor(long_side * (1.0 + context) + 0.5))
    centre = (low + high) / 2.0
    first_pixel = np.floor(centre - (side - 1) / 2.0 + 0.5)
    return np.array([first_pixel[0] - 0.5, first_pixel[1] - 0.5, side], np.float64)


def crop_image(image, box, crop_size) -> np.ndarray:
    """Cuts the crop ``box`` out of ``image`` (black outside it) and resizes it.

    Args:
        image: ``(H, W, C)`` array.
        box: ``(x0, y0, side)`` from :func:`crop_box`.
        crop_size: Output side in pixels.

    Returns:
        ``(crop_size, crop_size, C)`` array of the image's dtype: area
        averaging when shrinking, bilinear interpolation when enlarging.
    """
    image = np.asarray(image)
    side = int(box[2])
    left, top = int(round(box[0] + 0.5)), int(round(box[1] + 0.5))
    region = np.zeros((side, side) + image.shape[2:], image.dtype)
    h, w = image.shape[:2]
    y_from, y_to = max(top, 0), min(top + side, h)
    x_from, x_to = max(left, 0), min(left + side, w)
    if y_from < y_to and x_from < x_to:
        region[y_from - top:y_to - top, x_from - left:x_to - left] = image[y_from:y_to, x_from:x_to]
    if side == crop_size:
        return region
    cv2 = optional_import("cv2", "resizing object crops")
    interpolation = cv2.INTER_AREA if side > crop_size else cv2.INTER_LINEAR
    out = cv2.resize(region, (crop_size, crop_size), interpolation=interpolation)
    return out.reshape((crop_size, crop_size) + image.shape[2:])


def image_to_crop(points, box, crop_size) -> np.ndarray:
    """Image points to crop pixel coordinates: ``u = (x - x0) * C / side - 0.5``."""
    p = np.asarray(points, np.float64)
    return (p - box[:2]) * (crop_size / box[2]) - 0.5


def crop_to_image(points, box, crop_size) -> np.ndarray:
    """Crop pixel coordinates back to the image: ``x = x0 + (u + 0.5) * side / C``."""
    p = np.asarray(points, np.float64)
    return np.asarray(box[:2], np.float64) + (p + 0.5) * (float(box[2]) / crop_size)


def crop_to_cells(points, crop_size, grid_size) -> np.ndarray:
    """Crop points to the grid cells holding them, ``floor((u + 0.5) * G / C)``.

    Returns:
        int64 ``(N, 2)`` cells ``(x, y)`` clipped to ``0..grid_size - 1``.
    """
    p = np.asarray(points, np.float64)
    cells = np.floor((p + 0.5) * (grid_size / crop_size)).astype(np.int64)
    return np.clip(cells, 0, grid_size - 1)


def cells_to_crop(cells, crop_size, grid_size) -> np.ndarray:
    """Grid cells ``(x, y)`` to the crop coordinates of their centres."""
    c = np.asarray(cells, np.float64)
    return (c + 0.5) * (crop_size / grid_size) - 0.5


def dedup_cyclic(points):
    """Removes consecutive duplicate points of a closed polygon.

    The last point is removed too when it equals the first.

    Args:
        points: ``(N, 2)`` array.

    Returns:
        ``(kept_points, kept_index)``: the points left and, for each, its
        position in ``points`` (the first of its run).

    Example:

    >>> dedup_cyclic([[0, 0], [0, 0], [1, 0], [1, 1], [0, 0]])[1].tolist()
    [0, 2, 3]
    """
    p = np.asarray(points)
    if len(p) == 0:
        return p, np.zeros((0,), np.int64)
    new = np.ones(len(p), bool)
    new[1:] = np.any(p[1:] != p[:-1], axis=1)
    index = np.flatnonzero(new)
    # Consecutive kept points differ, so one check closes the polygon.
    if len(index) > 1 and np.array_equal(p[index[-1]], p[index[0]]):
        index = index[:-1]
    return p[index], index


def top_left_index(cells) -> int:
    """Position of the top-left-most cell: smallest row ``y``, then column ``x``."""
    c = np.asarray(cells)
    return int(np.lexsort((c[:, 0], c[:, 1]))[0])


def subsample_evenly(n, max_count) -> np.ndarray:
    """Indices of at most ``max_count`` of ``n`` items, evenly spread from 0.

    Example:

    >>> subsample_evenly(10, 4).tolist()
    [0, 2, 5, 7]
    """
    if n <= max_count:
        return np.arange(n)
    return (np.arange(max_count) * n) // max_count


def encode_vertices(cells, grid_size, length) -> np.ndarray:
    """Cells ``(x, y)`` to ``length`` tokens: ``y * G + x``..., end token, -1...

    Raises:
        ValueError: the cells and the end token do not fit in ``length``.
    """
    cells = np.asarray(cells, np.int64).reshape(-1, 2)
    if len(cells) + 1 > length:
        raise ValueError(f"{len(cells)} vertices and the end token do not fit in {length}.")
    tokens = np.full((length,), PAD_INDEX, np.int32)
    tokens[:len(cells)] = cells[:, 1] * grid_size + cells[:, 0]
    tokens[len(cells)] = grid_size * grid_size
    return tokens


def decode_vertices(tokens, grid_size) -> np.ndarray:
    """Tokens to cells ``(x, y)``, up to the first end token or padding.

    Works on a model's predicted sequence as well as on the targets.

    Returns:
        int64 ``(N, 2)`` cells; :func:`cells_to_crop` gives crop pixels.
    """
    t = np.asarray(tokens, np.int64).reshape(-1)
    stop = np.flatnonzero((t < 0) | (t >= grid_size * grid_size))
    t = t[:stop[0]] if len(stop) else t
    return np.stack([t % grid_size, t // grid_size], axis=1)


def make_example(image, polygon, label, crop_size, grid_size, max_vertices, rng=None) -> dict:
    """One sample from an image and an object polygon (module docstring, steps 1-6).

    Args:
        image: ``(H, W, 3)`` uint8 RGB image.
        polygon: ``(N, 2)`` image points ``(x, y)`` inside the image, N >= 3.
        label: Class index.
        crop_size: Crop side ``C`` in pixels.
        grid_size: Grid side ``G``.
        max_vertices: Longest vertex sequence kept.
        rng: ``None`` for evaluation (context 0.15, top-left start); a NumPy
            ``Generator`` for training (random context and start vertex).

    Returns:
        A dict of NumPy arrays for one object: ``image`` float32 ``(C, C, 3)``
        in [0, 1], ``vertices`` int32 ``(max_vertices + 1,)``,
        ``num_vertices``, ``polygon`` float32 ``(max_vertices + 1, 2)``,
        ``num_polygon_vertices``, ``label`` (int32) and ``crop_box`` float32
        ``(3,)``, as described in the module docstring.
    """
    length = max_vertices + 1
    points = orient_clockwise(np.asarray(polygon, np.float64))
    context = EVAL_CONTEXT if rng is None else rng.uniform(*TRAIN_CONTEXT)
    box = crop_box(points, context)
    crop_points = image_to_crop(points, box, crop_size)
    cells, origin = dedup_cyclic(crop_to_cells(crop_points, crop_size, grid_size))
    start = top_left_index(cells) if rng is None else int(rng.integers(len(cells)))
    cells = np.roll(cells, -start, axis=0)
    # Taking every k-th cell can bring two equal cells next to each other.
    cells, _ = dedup_cyclic(cells[subsample_evenly(len(cells), max_vertices)])
    crop_points = np.roll(crop_points, -int(origin[start]), axis=0)
    crop_points = crop_points[subsample_evenly(len(crop_points), max_vertices)]
    padded = np.zeros((length, 2), np.float32)
    padded[:len(crop_points)] = crop_points
    pixels = crop_image(image, box, crop_size)
    return {
        "image": pixels.astype(np.float32) / 255.0,
        "vertices": encode_vertices(cells, grid_size, length),
        "num_vertices": np.int32(len(cells)),
        "polygon": padded,
        "num_polygon_vertices": np.int32(len(crop_points)),
        "label": np.int32(label),
        "crop_box": box.astype(np.float32),
    }


# ----------------------------------------------------------------------------
# Scanning the files.
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class PolygonRecord:
    """One usable object.

    Attributes:
        image_path: Its ``_leftImg8bit.png``.
        json_path: Its ``_gtFine_polygons.json``.
        index: Its position in the JSON's ``objects``.
        label: Index into :data:`INSTANCE_CLASSES`.
        polygon: float64 ``(N, 2)`` image points, moved onto the image.
    """

    image_path: str
    json_path: str
    index: int
    label: int
    polygon: np.ndarray


@dataclasses.dataclass
class PolygonReport(DataReport):
    """What :func:`scan_polygon_files` read (``num_samples``: usable objects).

    Attributes:
        split: The split read.
        num_files: JSON files found.
        class_counts: Usable objects per instance class.
        other_labels: Objects of other labels, left out, per label.
        num_deleted: Objects marked ``"deleted"``, left out.
        filtered: :class:`~scs_keras.data.contract.DataProblem` entries (kind
            ``"tiny"``) for objects under ``min_area``, left out by convention.
    """

    split: str = ""
    num_files: int = 0
    class_counts: dict = dataclasses.field(default_factory=dict)
    other_labels: dict = dataclasses.field(default_factory=dict)
    num_deleted: int = 0
    filtered: list = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        """One line: the base summary plus the counts left out by convention."""
        extra = [f"{self.num_files} file(s)"]
        if self.filtered:
            extra.append(f"{len(self.filtered)} under the minimum area")
        if self.other_labels:
            extra.append(f"{sum(self.other_labels.values())} of other labels")
        if self.num_deleted:
            extra.append(f"{self.num_deleted} deleted")
        return super().summary() + " (" + ", ".join(extra) + ")"


class _Bad(Exception):
    """A problem found while reading one file or object: kind and message."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _read_annotation(path):
    """``(height, width, objects)`` of a polygons JSON, or :class:`_Bad`."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _Bad("corrupt", f"cannot be read as JSON: {e}") from None
    if not isinstance(data, dict):
        raise _Bad("schema", f"expected a JSON object, found {type(data).__name__}")
    size = [data.get(k) for k in ("imgHeight", "imgWidth")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise _Bad("schema", f"imgHeight and imgWidth must be positive integers; found {size}")
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise _Bad("schema", "'objects' must be a list")
    return size[0], size[1], objects


def _png_size(path):
    """``(height, width)`` from a PNG header (the file is not decoded here)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise _Bad("bad_image", f"{path} is not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _object_polygon(obj, height, width, min_area):
    """The object's polygon moved onto the image, or :class:`_Bad`."""
    points = obj.get("polygon")
    try:
        p = np.asarray(points, np.float64)
    except (TypeError, ValueError):
        p = None
    if p is None or p.ndim != 2 or p.shape[1] != 2 or not np.all(np.isfinite(p)):
        raise _Bad("schema", "'polygon' must be a list of [x, y] number pairs")
    if len(p) < 3:
        raise _Bad("few_vertices", f"a polygon needs 3 vertices; found {len(p)}")
    if (p[:, 0].max() < 0 or p[:, 0].min() > width - 1
            or p[:, 1].max() < 0 or p[:, 1].min() > height - 1):
        raise _Bad("outside", f"the polygon lies outside the {width}x{height} image")
    p = np.clip(p, 0, [width - 1, height - 1])
    area = abs(signed_area(p))
    if area < min_area:
        raise _Bad("tiny", f"area {area:g} px^2 is under min_area={min_area:g}")
    return p


def _image_for(json_path, gt_dir, image_dir):
    relative = os.path.relpath(json_path, gt_dir)
    return os.path.join(image_dir, relative[:-len(_JSON_SUFFIX)] + _IMAGE_SUFFIX)


def scan_polygon_files(root, split="train", min_area=DEFAULT_MIN_AREA, on_bad="raise"):
    """Lists the usable objects of a Cityscapes split (no image is decoded).

    Args:
        root: Folder holding ``gtFine/`` and ``leftImg8bit/``.
        split: ``"train"``, ``"val"``, ``"test"`` or any folder name there.
        min_area: Smallest object area kept, in px^2 of the original image.
        on_bad: ``"raise"`` or ``"skip"`` (see
            :mod:`scs_keras.data.contract`).

    Returns:
        ``(records, report)``: a list of :class:`PolygonRecord`, file after
        file (sorted by path), objects in file order, and a
        :class:`PolygonReport`.

    Raises:
        DataError: a folder is missing, no JSON file is found, a bad file or
            object with ``on_bad="raise"``, or no usable object.
    """
    on_bad = check_on_bad(on_bad)
    min_area = check_float("min_area", min_area, minimum=0.0)
    root = os.fspath(root)
    gt_dir = os.path.join(root, "gtFine", str(split))
    image_dir = os.path.join(root, "leftImg8bit", str(split))
    for folder in (root, gt_dir, image_dir):
        if not os.path.isdir(folder):
            raise DataError(folder, "folder not found (expected the Cityscapes layout "
                                    "<root>/gtFine/<split>/<city>/ and "
                                    "<root>/leftImg8bit/<split>/<city>/)")
    paths = sorted(glob.glob(os.path.join(gt_dir, "*", "*" + _JSON_SUFFIX)))
    if not paths:
        raise DataError(gt_dir, f"no <city>/*{_JSON_SUFFIX} file found")
    report = PolygonReport(source=root, split=str(split), num_files=len(paths))
    classes, others = Counter(), Counter()
    records = []
    for path in paths:
        image_path = _image_for(path, gt_dir, image_dir)
        try:
            height, width, objects = _read_annotation(path)
            if not os.path.isfile(image_path):
                raise _Bad("missing_image", f"its image {image_path} does not exist")
            image_size = _png_size(image_path)
            if image_size != (height, width):
                raise _Bad("bad_image", f"{image_path} is {image_size} (height, width); "
                                        f"the JSON says {(height, width)}")
        except _Bad as bad:
            raise_or_record(report, on_bad, path, bad.kind, str(bad))
            continue
        for index, obj in enumerate(objects):
            try:
                if not isinstance(obj, dict) or not isinstance(obj.get("label"), str):
                    raise _Bad("schema", "an object must be a dict with a string 'label'")
                if obj.get("deleted"):
                    report.num_deleted += 1
                    continue
                if obj["label"] not in INSTANCE_CLASSES:
                    others[obj["label"]] += 1
                    continue
                polygon = _object_polygon(obj, height, width, min_area)
            except _Bad as bad:
                if bad.kind == "tiny":  # a convention, not an error: never raises
                    report.filtered.append(DataProblem(path, bad.kind, str(bad), index))
                else:
                    raise_or_record(report, on_bad, path, bad.kind, str(bad), index)
                continue
            label = INSTANCE_CLASSES.index(obj["label"])
            classes[obj["label"]] += 1
            records.append(PolygonRecord(image_path, path, index, label, polygon))
    report.num_samples = len(records)
    report.class_counts = {name: classes[name] for name in INSTANCE_CLASSES}
    report.other_labels = dict(sorted(others.items()))
    if not records:
        raise DataError(gt_dir, "no usable object of the classes "
                                f"{', '.join(INSTANCE_CLASSES)}: {report.summary()}")
    return records, report


# ----------------------------------------------------------------------------
# tf.data.
# ----------------------------------------------------------------------------


def _read_rgb(path):
    cv2 = optional_import("cv2", "reading Cityscapes images")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(path, "the image cannot be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


_FIELDS = ("image", "vertices", "num_vertices", "polygon", "num_polygon_vertices", "label",
           "crop_box")


def make_polygon_dataset(root, split="train", crop_size=224, grid_size=None, max_vertices=60,
                         batch_size=8, training=None, shuffle=None, seed=None,
                         min_area=DEFAULT_MIN_AREA, on_bad="raise", drop_remainder=False):
    """Batches of object crops and vertex sequences from a Cityscapes split.

    Args:
        root: Folder holding ``gtFine/`` and ``leftImg8bit/``.
        split: Split folder name (``"train"``, ``"val"``...).
        crop_size: Side of the square crops in pixels.
        grid_size: Side of the vertex grid (default ``crop_size // 8``: 28 at
            224).
        max_vertices: Longest vertex sequence; longer polygons are
            subsampled evenly.  Sequences hold ``max_vertices + 1`` tokens.
        batch_size: Objects per batch.
        training: Random context and start vertex (default: ``split ==
            "train"``); otherwise the fixed evaluation crop and start.
        shuffle: Shuffle the objects each epoch (default: ``training``).
        seed: Seed of the shuffle and of the training augmentation (``None``:
            different every run).
        min_area: Smallest object area kept, px^2 of the original image.
        on_bad: ``"raise"`` or ``"skip"``.
        drop_remainder: Drop a last, smaller batch.

    Returns:
        ``(dataset, report)``: a ``tf.data.Dataset`` of ``(inputs, targets)``
        dicts as listed in the module docstring, and a :class:`PolygonReport`.

    Raises:
        DataError: see :func:`scan_polygon_files`; an image that cannot be
            decoded fails the iteration with a message naming it.
        TypeError, ValueError: bad arguments.

    Example:

    >>> ds, report = make_polygon_dataset("cityscapes", "val", batch_size=4)  # doctest: +SKIP
    >>> print(report.summary())                                              # doctest: +SKIP
    """
    crop_size = check_int("crop_size", crop_size, minimum=8)
    grid_size = crop_size // 8 if grid_size is None else check_int(
        "grid_size", grid_size, minimum=2, maximum=crop_size)
    max_vertices = check_int("max_vertices", max_vertices, minimum=3)
    batch_size = positive_int("batch_size", batch_size)
    training = (split == "train") if training is None else bool(training)
    shuffle = training if shuffle is None else bool(shuffle)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    records, report = scan_polygon_files(root, split, min_area, on_bad)
    length = max_vertices + 1

    def load(index, element_seed):
        record = records[int(index)]
        rng = np.random.default_rng(int(element_seed) & 0xFFFFFFFFFFFFFFFF) if training else None
        example = make_example(_read_rgb(record.image_path), record.polygon, record.label,
                               crop_size, grid_size, max_vertices, rng)
        return tuple(example[k] for k in _FIELDS)

    shapes = {"image": (crop_size, crop_size, 3), "vertices": (length,), "num_vertices": (),
              "polygon": (length, 2), "num_polygon_vertices": (), "label": (),
              "crop_box": (3,)}
    dtypes = {"image": tf.float32, "polygon": tf.float32, "crop_box": tf.float32}

    def to_element(index, element_seed):
        values = tf.numpy_function(load, [index, element_seed],
                                   [dtypes.get(k, tf.int32) for k in _FIELDS],
                                   name="cityscapes_object")
        item = {k: tf.ensure_shape(v, shapes[k]) for k, v in zip(_FIELDS, values)}
        inputs = {"image": item.pop("image"), "vertices": item["vertices"]}
        return inputs, item

    indices = tf.data.Dataset.range(len(records))
    if shuffle:
        indices = indices.shuffle(len(records), seed=seed, reshuffle_each_iteration=True)
    # One seed per element drawn in the pipeline: the augmentation is
    # reproducible with ``seed`` and differs from epoch to epoch.
    seeds = tf.data.Dataset.random(seed=None if seed is None else seed + 1,
                                   rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((indices, seeds))
    ds = ds.map(to_element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE), report
