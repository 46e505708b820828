"""Seeded synthetic street scenes written in the Cityscapes polygon layout.

:func:`write_cityscapes_like` writes what :mod:`scs_keras.data.cityscapes`
reads::

    <out>/gtFine/<split>/<city>/<city>_<seq>_000019_gtFine_polygons.json
    <out>/leftImg8bit/<split>/<city>/<city>_<seq>_000019_leftImg8bit.png

Each scene is lit by a brightness gradient in a random direction, and every
region is filled with a colour modulated by smooth and fine noise: a ``sky``
band, ``building`` blocks on the horizon and a ``road`` below it
(non-instance labels the reader must leave out), then a few objects of the
eight instance classes standing on the road.  Every class has its own
outline, jittered per object: people and riders are non-convex figures with
a head, arms and legs, cars a body with a cabin and wheel notches, trucks an
L-shaped box and cab, buses and trains near-convex boxes, motorcycles smooth
random blobs and bicycles spiky stars.  Objects are drawn far to near (by the
bottom of their box), so nearer ones partly hide farther ones; as in
Cityscapes, the JSON keeps every full polygon, lists objects in drawing order
(later ones in front) and writes integer ``[x, y]`` pixel points with
``json.dump(..., indent=4)``.  Half of the polygons are written
anticlockwise, so readers must fix the orientation themselves.

Every image draws from its own generator seeded by ``(seed, split, index)``:
the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import zlib

import numpy as np

from scs_keras.data.cityscapes import INSTANCE_CLASSES, dedup_cyclic, signed_area
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_int, image_hw, int_sequence, is_int, positive_int

__all__ = ["BACKGROUND_LABELS", "render_scene", "write_cityscapes_like"]

#: Non-instance labels written before the objects.
BACKGROUND_LABELS = ("sky", "building", "road")

# Outlines in a unit box (x right, y down), clockwise on screen.
_TEMPLATES = {
    "person": [(0.5, 0.0), (0.62, 0.04), (0.64, 0.12), (0.58, 0.18), (0.85, 0.24), (0.9, 0.55),
               (0.75, 0.56), (0.72, 0.36), (0.68, 0.58), (0.7, 1.0), (0.54, 1.0), (0.5, 0.66),
               (0.46, 1.0), (0.3, 1.0), (0.32, 0.58), (0.28, 0.36), (0.25, 0.56), (0.1, 0.55),
               (0.15, 0.24), (0.42, 0.18), (0.36, 0.12), (0.38, 0.04)],
    "rider": [(0.45, 0.0), (0.58, 0.05), (0.56, 0.15), (0.8, 0.22), (0.82, 0.5), (0.95, 0.6),
              (1.0, 0.8), (0.9, 1.0), (0.65, 0.95), (0.5, 0.8), (0.35, 0.95), (0.1, 1.0),
              (0.0, 0.8), (0.05, 0.6), (0.2, 0.5), (0.25, 0.22), (0.36, 0.15), (0.33, 0.05)],
    "car": [(0.0, 0.45), (0.22, 0.4), (0.32, 0.05), (0.72, 0.05), (0.84, 0.4), (1.0, 0.48),
            (1.0, 0.85), (0.85, 0.85), (0.8, 1.0), (0.68, 1.0), (0.63, 0.85), (0.37, 0.85),
            (0.32, 1.0), (0.2, 1.0), (0.15, 0.85), (0.0, 0.85)],
    "truck": [(0.0, 0.0), (0.68, 0.0), (0.68, 0.3), (0.9, 0.32), (1.0, 0.55), (1.0, 1.0),
              (0.0, 1.0)],
    "bus": [(0.03, 0.0), (0.97, 0.0), (1.0, 0.06), (1.0, 1.0), (0.0, 1.0), (0.0, 0.06)],
    "train": [(0.0, 0.05), (0.8, 0.0), (0.95, 0.2), (1.0, 0.55), (1.0, 1.0), (0.0, 1.0)],
}
# Width / height of each class's box, and its height as a fraction of the image.
_ASPECT = {"person": 0.45, "rider": 0.8, "car": 2.0, "truck": 1.6, "bus": 2.4, "train": 3.2,
           "motorcycle": 1.5, "bicycle": 1.5}
_HEIGHT = {"person": (0.3, 0.55), "rider": (0.3, 0.55), "car": (0.2, 0.35),
           "truck": (0.3, 0.45), "bus": (0.3, 0.45), "train": (0.25, 0.4),
           "motorcycle": (0.2, 0.35), "bicycle": (0.2, 0.35)}


def _radial_outline(rng, radii):
    """Points at evenly spread angles (clockwise on screen) and given radii, in a unit box."""
    angles = np.linspace(0, 2 * np.pi, len(radii), endpoint=False) + rng.uniform(0, 2 * np.pi)
    points = np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - low) / (high - low)


def _unit_outline(rng, label):
    """The class's outline, jittered, in a unit box."""
    if label == "motorcycle":  # a smooth blob: a few random harmonics of the radius
        angles = np.linspace(0, 2 * np.pi, 18, endpoint=False)
        radii = np.ones_like(angles)
        for k in (2, 3, 4):
            radii += rng.uniform(0.04, 0.18) * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
        return _radial_outline(rng, radii)
    if label == "bicycle":  # a star: spikes alternating with inner corners
        spikes = int(rng.integers(6, 10))
        radii = np.tile([1.0, 0.0], spikes) + np.tile([0.0, 1.0], spikes) * rng.uniform(
            0.45, 0.65, 2 * spikes)
        return _radial_outline(rng, radii)
    template = np.asarray(_TEMPLATES[label], np.float64)
    return np.clip(template + rng.normal(0, 0.015, template.shape), 0, 1)


def _texture(rng, height, width, cells=4):
    """Zero-mean texture: smooth noise from a coarse grid plus fine pixel noise."""
    cv2 = optional_import("cv2", "drawing synthetic scenes")
    coarse = rng.normal(0, 1, (max(2, height // cells), max(2, width // cells)))
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return smooth * 0.12 + rng.normal(0, 0.04, (height, width))


def _fill(image, rng, polygon, colour):
    """Paints a textured colour inside a polygon (pixels under later fills are covered)."""
    cv2 = optional_import("cv2", "drawing synthetic scenes")
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.asarray(polygon, np.int32)], 1)
    shade = 1.0 + _texture(rng, height, width)
    painted = np.clip(np.asarray(colour)[None, None, :] * shade[..., None], 0, 255)
    image[mask > 0] = painted[mask > 0]


def _illumination(rng, height, width):
    """A brightness gradient in a random direction (0.7..1.15), lighting the scene."""
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width]
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(np.ptp(t), 1e-9)
    low, high = rng.uniform(0.7, 0.9), rng.uniform(0.95, 1.15)
    return low + (high - low) * t


def _background_objects(rng, height, width):
    """``(label, polygon, colour)`` of the sky, a few buildings and the road."""
    horizon = int(rng.uniform(0.3, 0.45) * height)
    right, bottom = width - 1, height - 1
    items = [("sky", [[0, 0], [right, 0], [right, horizon], [0, horizon]],
              rng.uniform([90, 140, 190], [150, 200, 250]))]
    for _ in range(int(rng.integers(1, 4))):
        left = int(rng.uniform(0, 0.8) * width)
        span = int(rng.uniform(0.1, 0.35) * width)
        top = int(rng.uniform(0.05, 0.8) * horizon)
        items.append(("building", [[left, top], [min(left + span, right), top],
                                   [min(left + span, right), horizon], [left, horizon]],
                      rng.uniform(60, 180, 3)))
    items.append(("road", [[0, horizon], [right, horizon], [right, bottom], [0, bottom]],
                  rng.uniform(70, 120) * np.ones(3)))
    return items, horizon


def _instance_polygon(rng, label, height, width, horizon):
    """Integer outline of one object standing on the road, or None if degenerate."""
    box_h = rng.uniform(*_HEIGHT[label]) * height
    box_w = box_h * _ASPECT[label] * rng.uniform(0.85, 1.15)
    shrink = min(1.0, 0.7 * width / box_w, (height - 1) / box_h)
    box_h, box_w = box_h * shrink, box_w * shrink
    bottom = rng.uniform(max(horizon, box_h), height - 1)
    left = rng.uniform(0, width - 1 - box_w)
    points = _unit_outline(rng, label) * [box_w, box_h] + [left, bottom - box_h]
    points = np.clip(np.rint(points), 0, [width - 1, height - 1]).astype(np.int64)
    points, _ = dedup_cyclic(points)
    if len(points) < 3 or abs(signed_area(points)) < 1.0:
        return None
    return points[::-1] if rng.random() < 0.5 else points


def render_scene(rng, height, width, num_objects):
    """Draws one scene.

    Args:
        rng: NumPy ``Generator``.
        height: Image height in pixels.
        width: Image width in pixels.
        num_objects: Instance objects to place (degenerate ones are dropped).

    Returns:
        ``(image, objects)``: uint8 RGB ``(height, width, 3)`` and the JSON
        ``objects`` list (``{"label", "polygon"}`` with integer points) in
        drawing order.
    """
    # The sky and the road cover the whole image; every fill is textured.
    image = np.zeros((height, width, 3), np.float64)
    background, horizon = _background_objects(rng, height, width)
    objects = []
    for label, polygon, colour in background:
        _fill(image, rng, polygon, colour)
        objects.append({"label": label, "polygon": polygon})
    instances = []
    for _ in range(num_objects):
        label = INSTANCE_CLASSES[int(rng.integers(len(INSTANCE_CLASSES)))]
        polygon = _instance_polygon(rng, label, height, width, horizon)
        if polygon is not None:
            instances.append((label, polygon))
    instances.sort(key=lambda item: item[1][:, 1].max())  # far (high on the image) first
    for label, polygon in instances:
        _fill(image, rng, polygon, rng.uniform(20, 235, 3))
        objects.append({"label": label, "polygon": polygon.tolist()})
    image *= _illumination(rng, height, width)[..., None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), objects


def _split_counts(splits, num_images):
    if isinstance(splits, dict):
        if num_images is not None:
            raise ValueError("give the number of images either in splits (a dict) or in "
                             "num_images (with splits a list of names), not both.")
        return {str(k): check_int(f"splits[{k!r}]", v, minimum=1) for k, v in splits.items()}
    if isinstance(splits, str):
        splits = [splits]
    count = 8 if num_images is None else positive_int("num_images", num_images)
    return {str(name): count for name in splits}


def write_cityscapes_like(out_dir, num_images=None, image_size=(64, 128), objects_per_image=(2, 5),
                          splits=("train", "val"), seed=0, cities=("synthtown", "synthville"),
                          progress=True):
    """Writes a synthetic data set in the Cityscapes polygon layout.

    Args:
        out_dir: Root folder (``gtFine/`` and ``leftImg8bit/`` go inside).
        num_images: Images per split when ``splits`` is a list of names
            (default 8).
        image_size: ``(height, width)`` of the images, each >= 16.
        objects_per_image: Instance objects per image: an int, or a
            ``(low, high)`` range drawn from uniformly (inclusive).
        splits: Split names (each gets ``num_images``), or a dict
            ``{split: number of images}``.
        seed: Seed; the same seed writes identical files.
        cities: City folder names; images are dealt to them in turn.
        progress: Show a tqdm progress bar.

    Returns:
        ``{split: [JSON paths]}`` in writing order.

    Raises:
        TypeError, ValueError: bad arguments.
        OSError: a file cannot be written.

    Example:

    >>> write_cityscapes_like("/tmp/outlines", splits={"train": 4, "val": 2},
    ...                       progress=False)  # doctest: +SKIP
    """
    cv2 = optional_import("cv2", "writing synthetic scenes")
    height, width = image_hw("image_size", image_size)
    if min(height, width) < 16:
        raise ValueError(f"image_size must be at least 16 x 16; received {(height, width)}.")
    if is_int(objects_per_image):
        low = high = check_int("objects_per_image", objects_per_image, minimum=0)
    else:
        low, high = int_sequence("objects_per_image", objects_per_image, length=2, minimum=0)
    if low > high:
        raise ValueError(f"objects_per_image must be (low, high) with low <= high; "
                         f"received {(low, high)}.")
    seed = check_int("seed", seed, minimum=0)
    cities = [cities] if isinstance(cities, str) else [str(c) for c in cities]
    if not cities:
        raise ValueError("cities must name at least one city.")
    counts = _split_counts(splits, num_images)
    bar = None
    if progress:
        bar = optional_import("tqdm", "progress bars").tqdm(
            total=sum(counts.values()), desc="outline scenes", unit="image")
    written = {}
    try:
        for split, count in counts.items():
            written[split] = []
            for index in range(count):
                rng = np.random.default_rng([seed, zlib.crc32(split.encode()), index])
                city = cities[index % len(cities)]
                stem = f"{city}_{index:06d}_000019"
                image, objects = render_scene(rng, height, width,
                                              int(rng.integers(low, high + 1)))
                gt_dir = os.path.join(out_dir, "gtFine", split, city)
                image_dir = os.path.join(out_dir, "leftImg8bit", split, city)
                os.makedirs(gt_dir, exist_ok=True)
                os.makedirs(image_dir, exist_ok=True)
                image_path = os.path.join(image_dir, stem + "_leftImg8bit.png")
                if not cv2.imwrite(image_path, image[..., ::-1]):
                    raise OSError(f"cannot write {image_path}")
                json_path = os.path.join(gt_dir, stem + "_gtFine_polygons.json")
                with open(json_path, "w") as f:
                    json.dump({"imgHeight": height, "imgWidth": width, "objects": objects}, f,
                              indent=4)
                written[split].append(json_path)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return written
