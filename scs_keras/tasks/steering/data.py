"""Data of the steering task: generated routes, the readers, targets.

The path is *files on disk → tf.data → model*: :func:`generated_routes`
writes (once, cached) synthetic drives in the comma.ai research layout
(:func:`scs_keras.data.synthetic.roads.write_comma_like`: ``camera/``,
``log/`` and per-route ``conditions/``); :func:`load_datasets` reads that
folder, or a real comma.ai folder, or a video + CSV folder, with the
package's readers (:func:`scs_keras.data.driving.make_comma_dataset`,
:func:`~scs_keras.data.driving.make_video_csv_dataset`).  Routes are split
by name: the last ``test_routes`` (sorted) are the test set, so no test clip
shares frames with a training clip.

Elements are ``(frames, {"steering_angle": (B,), ["condition": (B,)]})``;
:func:`model_targets` turns them into ``(frames, {output: angle})`` for every
output of a model (the T¹ and T² heads predict the same angle).
"""

from __future__ import annotations

import os

import numpy as np

from scs_keras.data.contract import DataError
from scs_keras.data.driving import (
    ANGLE_KEY,
    CONDITION_KEY,
    CONDITIONS_DIR,
    make_comma_dataset,
    make_video_csv_dataset,
)
from scs_keras.data.synthetic.roads import write_comma_like
from scs_keras.tasks.generated import cached_data_set
from scs_keras.utils.validation import image_hw, one_of, positive_int

__all__ = ["LAYOUTS", "generated_routes", "load_datasets", "model_targets", "angle_statistics"]

#: ``--layout`` values: the comma.ai HDF5 layout, or videos with CSV logs.
LAYOUTS = ("comma", "video_csv")
_READERS = {"comma": make_comma_dataset, "video_csv": make_video_csv_dataset}


def generated_routes(cache_dir, routes=16, frames_per_route=240, image_size=(40, 80),
                     segment_frames=60, seed=0, progress=True):
    """Writes (or reuses) generated routes in the comma.ai layout; returns the folder.

    Args:
        cache_dir: The task's cache folder; each configuration gets its own
            sub-folder (:func:`scs_keras.tasks.generated.cached_data_set`).
        routes: Routes to write.
        frames_per_route: Camera frames (20 Hz) per route.
        image_size: ``(H, W)`` of the frames.
        segment_frames: Frames per road-condition segment.
        seed: Generator seed.
        progress: Show a tqdm bar while writing.

    Returns:
        ``(folder, cached)``.
    """
    h, w = image_hw("image_size", image_size)
    params = dict(routes=positive_int("routes", routes),
                  frames=positive_int("frames_per_route", frames_per_route), size=[h, w],
                  segment=positive_int("segment_frames", segment_frames), seed=int(seed))
    return cached_data_set(cache_dir, params, lambda folder: write_comma_like(
        folder, num_routes=params["routes"], frames_per_route=params["frames"],
        image_size=(h, w), seed=params["seed"], segment_frames=params["segment"],
        progress=progress))


def load_datasets(root, layout="comma", length=8, image_size=(40, 80), batch_size=16,
                  stride=2, test_routes=3, seed=0, on_bad="raise"):
    """Training and test pipelines split by route.

    Road conditions are read when ``root/conditions/`` exists (the
    generated data has it; the published comma.ai data does not).

    Args:
        root: Data folder.
        layout: ``"comma"`` or ``"video_csv"``.
        length: Frames per clip (the angle is the last frame's).
        image_size: ``(H, W)`` the frames are resized to.
        batch_size: Clips per batch.
        stride: Frames between clip ends of a route.
        test_routes: Routes (the last, sorted by name) kept for testing.
        seed: Shuffle seed.
        on_bad: ``"raise"`` or ``"skip"`` bad routes.

    Returns:
        ``(train, test, info)``: ``info`` holds ``image_size``, ``length``,
        ``train_routes``, ``test_routes``, ``condition_names`` (empty without
        conditions), ``train_clips``, ``test_clips`` and ``reports`` (the
        readers' reports: the scan of every route, which lists the routes left
        out with ``on_bad="skip"``, then train and test).

    Raises:
        DataError: unreadable data, or fewer than ``test_routes + 1`` routes.
    """
    one_of("layout", layout, LAYOUTS)
    test_routes = positive_int("test_routes", test_routes)
    targets = (ANGLE_KEY,)
    if os.path.isdir(os.path.join(root, CONDITIONS_DIR)):
        targets += (CONDITION_KEY,)
    read = _READERS[layout]
    common = dict(length=length, batch_size=batch_size, stride=stride, image_size=image_size,
                  targets=targets, on_bad=on_bad)
    # A first scan (metadata only) names the usable routes.
    _, scan = read(root, **common)
    if len(scan.routes) <= test_routes:
        raise DataError(root, f"{len(scan.routes)} usable route(s); need more than "
                              f"test_routes={test_routes} to keep some for training")
    train_names, test_names = scan.routes[:-test_routes], scan.routes[-test_routes:]
    train, train_report = read(root, routes=train_names, shuffle=True, seed=seed, **common)
    test, test_report = read(root, routes=test_names, shuffle=False, **common)
    info = dict(image_size=tuple(image_hw("image_size", image_size)), length=length,
                train_routes=train_names, test_routes=test_names,
                condition_names=list(test_report.condition_names or scan.condition_names),
                train_clips=train_report.num_samples, test_clips=test_report.num_samples,
                reports=[scan, train_report, test_report])
    return train, test, info


def angle_statistics(dataset):
    """Mean and standard deviation (degrees) of the angles of ``dataset``.

    Returns:
        ``(mean, std)`` as floats (``std`` at least 1e-3).
    """
    angles = np.concatenate([np.asarray(t[ANGLE_KEY]).reshape(-1) for _, t in dataset])
    return float(angles.mean()), max(float(angles.std()), 1e-3)


def model_targets(dataset, output_names):
    """``(frames, targets)`` → ``(frames, {output: angle})`` for each model output."""
    names = list(output_names)
    return dataset.map(lambda frames, t: (frames, {n: t[ANGLE_KEY] for n in names}))
