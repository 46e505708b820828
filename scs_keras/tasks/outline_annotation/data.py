"""Data of the outline task: generated street scenes, pipelines, targets.

The path is *Cityscapes layout on disk -> tf.data -> model*:
:func:`generated_outline_data` writes (once, cached) synthetic scenes with
:func:`scs_keras.data.synthetic.outlines.write_cityscapes_like`;
:func:`load_datasets` reads them, or real Cityscapes, with
:func:`scs_keras.data.cityscapes.make_polygon_dataset`; :func:`training_targets`
picks the targets of the two model outputs.  Evaluation reads the reader's
own targets (the unquantised polygons and the class labels).
"""

from __future__ import annotations

import os

from scs_keras.data.cityscapes import make_polygon_dataset
from scs_keras.data.synthetic.outlines import write_cityscapes_like
from scs_keras.tasks.generated import cached_data_set
from scs_keras.tasks.outline_annotation.models import FIRST_VERTEX, VERTICES, grid_size_for
from scs_keras.utils.validation import image_hw, positive_int

__all__ = ["DEFAULT_DATA_DIR", "TEST_SPLIT", "write_generated_data", "generated_outline_data",
           "load_datasets", "training_targets"]

#: Where generated data is cached (git-ignored).
DEFAULT_DATA_DIR = os.path.join("generated_data", "outline_annotation")
#: The split scored: Cityscapes' test annotations are not public, so (as in
#: the Polygon-RNN papers) the validation split is the test set.
TEST_SPLIT = "val"


def write_generated_data(folder, train_images=48, test_images=16, image_size=(64, 128), seed=0,
                         progress=False):
    """Writes synthetic scenes in the Cityscapes layout: ``train`` and ``val`` splits.

    Returns:
        ``folder``.
    """
    write_cityscapes_like(folder, splits={"train": positive_int("train_images", train_images),
                                          TEST_SPLIT: positive_int("test_images", test_images)},
                          image_size=image_hw("image_size", image_size), seed=seed,
                          progress=progress)
    return folder


def generated_outline_data(cache_dir=DEFAULT_DATA_DIR, train_images=48, test_images=16,
                           image_size=(64, 128), seed=0, progress=False):
    """Writes (or reuses) a generated data set; returns ``(root, cached)``.

    Each configuration gets its own folder under ``cache_dir``
    (:func:`scs_keras.tasks.generated.cached_data_set`).

    Example:

    >>> root, cached = generated_outline_data("/tmp/outlines", 4, 2)  # doctest: +SKIP
    """
    height, width = image_hw("image_size", image_size)
    params = dict(train=train_images, test=test_images, size=[height, width], seed=seed)
    return cached_data_set(cache_dir, params, lambda folder: write_generated_data(
        folder, train_images, test_images, (height, width), seed, progress))


def load_datasets(root, crop_size=64, max_vertices=16, batch_size=16, seed=0, on_bad="raise",
                  test_split=TEST_SPLIT):
    """Training and test pipelines of object crops and vertex sequences.

    Training crops get the reader's augmentation (random context and start
    vertex) and are shuffled; test crops use the fixed evaluation crop and
    the top-left start.

    Args:
        root: Folder holding ``gtFine/`` and ``leftImg8bit/``.
        crop_size: Crop side (a multiple of 8; the grid is ``crop_size / 8``).
        max_vertices: Longest polygon.
        batch_size: Objects per batch.
        seed: Shuffle and augmentation seed.
        on_bad: ``"raise"`` or ``"skip"``.
        test_split: The split scored.

    Returns:
        ``(train_ds, test_ds, info)``; ``info`` holds ``crop_size``,
        ``grid_size``, ``max_vertices``, ``train_objects``, ``test_objects``
        and ``reports`` (the readers' reports).
    """
    grid = grid_size_for(crop_size)
    common = dict(crop_size=crop_size, grid_size=grid, max_vertices=max_vertices,
                  batch_size=batch_size, seed=seed, on_bad=on_bad)
    train, report = make_polygon_dataset(root, "train", training=True, **common)
    test, test_report = make_polygon_dataset(root, test_split, training=False, **common)
    info = dict(crop_size=crop_size, grid_size=grid, max_vertices=max_vertices,
                train_objects=report.num_samples, test_objects=test_report.num_samples,
                reports=[report, test_report])
    return train, test, info


def training_targets(dataset):
    """``(inputs, reader targets)`` -> ``(inputs, {"first_vertex", "vertices"})``.

    The first-vertex loss reads the whole token sequence; the decoder's
    steps score tokens ``1..L - 1`` (token 0 is the first vertex, an input).
    """
    return dataset.map(lambda x, y: (x, {FIRST_VERTEX: y["vertices"],
                                         VERTICES: y["vertices"][:, 1:]}))
