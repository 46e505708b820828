"""Data of the precipitation task: generated radar events, pipelines, targets.

* :func:`generated_data` writes (once, cached) a synthetic radar data set in
  the reader's real formats (HKO-7-style PNG event folders, or HDF5) with
  separate train and test events;
* :func:`split_data_dir` finds the train and test parts of a real data set;
* :func:`load_datasets` builds the training and test pipelines with
  :func:`scs_keras.data.precipitation.make_precipitation_dataset`;
* :func:`with_output_names` attaches the targets of every model output.
"""

from __future__ import annotations

import os

import tensorflow as tf

from scs_keras.data.contract import DataError
from scs_keras.data.precipitation import make_precipitation_dataset
from scs_keras.layers.frames import per_frame
from scs_keras.tasks.generated import cached_data_set
from scs_keras.tasks.precipitation.models import NEXT_FRAME
from scs_keras.utils.validation import one_of, positive_int, check_float

__all__ = ["FORMATS", "write_generated_data", "generated_data", "split_paths", "split_data_dir", "load_datasets",
           "with_output_names"]

#: On-disk formats of the generated data.
FORMATS = ("png", "hdf5")


def write_generated_data(folder, fmt="png", image_size=32, train_events=24, test_events=8,
                         frames_per_event=30, seed=0, progress=False):
    """Writes a synthetic radar data set with train and test events into ``folder``.

    Train and test events come from different seeds.  The result is read by
    :func:`split_data_dir` and :func:`load_datasets` as a real data set is.

    Args:
        folder: Output folder (created if needed).
        fmt: ``"png"`` (HKO-7-style event folders ``train/`` and ``test/``)
            or ``"hdf5"`` (``train.h5`` and ``test.h5``, read through
            tensorflow-io).
        image_size: Frame height and width.
        train_events, test_events: Events per split.
        frames_per_event: Frames per event (6 minutes apart).
        seed: Base seed (test events use ``seed + 1000``).
        progress: Show tqdm bars while writing.

    Returns:
        ``{"train": path, "test": path}``.
    """
    from scs_keras.data.synthetic.rain import write_hdf5, write_png_events

    one_of("fmt", fmt, FORMATS)
    config = dict(height=positive_int("image_size", image_size),
                  width=image_size,
                  frames_per_event=positive_int("frames_per_event", frames_per_event),
                  progress=progress)
    os.makedirs(folder, exist_ok=True)
    paths = split_paths(folder, fmt)
    writer = write_png_events if fmt == "png" else write_hdf5
    for split, events, split_seed in (("train", train_events, seed),
                                      ("test", test_events, seed + 1000)):
        writer(paths[split], num_events=positive_int(f"{split}_events", events),
               seed=split_seed, **config)
    return paths


def generated_data(root=os.path.join("generated_data", "precipitation"), fmt="png",
                   image_size=32, train_events=24, test_events=8, frames_per_event=30,
                   seed=0, progress=False):
    """Writes (or reuses) a synthetic radar data set with train/test events.

    The configuration's folder under ``root`` is reused when it is complete
    (:func:`scs_keras.tasks.generated.cached_data_set`).

    Args:
        root: Cache folder (git-ignored ``generated_data/precipitation``).
        fmt, image_size, train_events, test_events, frames_per_event, seed,
        progress: As for :func:`write_generated_data`.

    Returns:
        ``{"train": path, "test": path, "root": folder, "cached": bool}``.

    Example:

    >>> paths = generated_data("/tmp/rain", "hdf5", image_size=16,
    ...                        train_events=2, test_events=1, frames_per_event=12)
    >>> sorted(paths)
    ['cached', 'root', 'test', 'train']
    """
    params = dict(fmt=fmt, px=image_size, frames=frames_per_event, train=train_events,
                  test=test_events, seed=seed)
    folder, cached = cached_data_set(root, params, lambda f: write_generated_data(
        f, fmt, image_size, train_events, test_events, frames_per_event, seed, progress))
    return {**split_paths(folder, fmt), "root": folder, "cached": cached}


def split_paths(folder, fmt):
    """``{"train", "test"}`` paths of a data set written by :func:`write_generated_data`."""
    suffix = "" if fmt == "png" else ".h5"
    return {split: os.path.join(folder, split + suffix) for split in ("train", "test")}


def split_data_dir(data_dir):
    """Finds the train and test parts of a real data set.

    ``data_dir`` may hold ``train`` and ``test`` (or ``valid``/``val``)
    entries, each a PNG event folder or an HDF5 file (``train.h5``...); else
    it is one data set (a folder of PNG events or an HDF5 file) that
    :func:`load_datasets` splits in time.

    Args:
        data_dir: Folder or HDF5 file.

    Returns:
        ``(train_path, test_path)``; ``test_path`` is ``None`` when there is
        no explicit split.

    Raises:
        DataError: ``data_dir`` does not exist or is an empty folder.

    Example:

    >>> train, test = split_data_dir("data/hko7")   # doctest: +SKIP
    """
    if not os.path.exists(data_dir):
        raise DataError(data_dir, "the data directory does not exist")
    if not os.path.isdir(data_dir):
        return data_dir, None
    if not os.listdir(data_dir):
        raise DataError(data_dir, "the data directory is empty")

    def find(stems):
        for stem in stems:
            for suffix in ("", ".h5", ".hdf5"):
                p = os.path.join(data_dir, stem + suffix)
                if os.path.exists(p):
                    return p
        return None

    train, test = find(("train",)), find(("test", "valid", "val"))
    if train and test:
        return train, test
    return data_dir, None


def _resize(size):
    def resize(frames):
        return tf.image.resize(frames, (size, size), method="area")

    return lambda x, y: (per_frame(resize, x), per_frame(resize, y))


def load_datasets(train_path, test_path=None, input_frames=5, target_frames=5,
                  batch_size=16, stride=2, test_fraction=0.2, resize=None, seed=0,
                  on_bad="raise"):
    """Training and test ``tf.data`` pipelines of ``(inputs, targets)``.

    Windows come from :func:`scs_keras.data.precipitation.make_precipitation_dataset`
    (PNG folders or HDF5 through tensorflow-io).  The training set is
    shuffled every epoch; the test set is not.  Without ``test_path`` the
    windows of ``train_path`` are split in time: the last ``test_fraction``
    of them (the latest events) are the test set.

    Args:
        train_path: PNG event folder or HDF5 file.
        test_path: Same, or ``None`` for a split in time.
        input_frames, target_frames: ``N`` and ``M``.
        batch_size: Windows per batch.
        stride: Frames between window starts.
        test_fraction: Share of windows held out without ``test_path``.
        resize: Optional int: frames are resized (area) to ``resize`` ×
            ``resize``; real radar frames are large.
        seed: Shuffle seed.
        on_bad: ``"raise"`` (default: a ``DataError`` naming the bad file) or
            ``"skip"`` (windows touching a bad frame are left out and listed
            in the reports).

    Returns:
        ``(train_ds, test_ds, info)`` with ``info`` holding ``image_size``,
        ``train_windows``, ``test_windows`` and the readers' reports.

    Example:

    >>> paths = generated_data(image_size=16, train_events=2, test_events=1,
    ...                        frames_per_event=12)            # doctest: +SKIP
    >>> train, test, info = load_datasets(paths["train"], paths["test"], 3, 2)  # doctest: +SKIP
    """
    test_fraction = check_float("test_fraction", test_fraction, 0.0, 1.0, min_inclusive=False,
                                max_inclusive=False)
    if resize is not None:
        resize = positive_int("resize", resize)
    common = dict(input_frames=input_frames, target_frames=target_frames, stride=stride,
                  on_bad=on_bad)
    info = {}
    if test_path is not None:
        train, report = make_precipitation_dataset(train_path, batch_size=batch_size,
                                                   shuffle=True, seed=seed, **common)
        test, test_report = make_precipitation_dataset(test_path, batch_size=batch_size,
                                                       **common)
        info.update(train_windows=report.num_windows, test_windows=test_report.num_windows,
                    reports=[report, test_report])
    else:
        windows, report = make_precipitation_dataset(train_path, batch_size=1, **common)
        total = report.num_windows
        n_test = max(1, int(round(total * test_fraction)))
        if total - n_test < 1:
            raise DataError(train_path, f"{total} window(s): too few to split into "
                                        "train and test")
        windows = windows.unbatch()
        train = (windows.take(total - n_test)
                 .shuffle(min(total - n_test, 512), seed=seed, reshuffle_each_iteration=True)
                 .batch(batch_size).prefetch(tf.data.AUTOTUNE))
        test = windows.skip(total - n_test).batch(batch_size).prefetch(tf.data.AUTOTUNE)
        info.update(train_windows=total - n_test, test_windows=n_test, reports=[report])
    size = report.frame_shape
    if resize is not None and tuple(size) != (resize, resize):
        train, test = train.map(_resize(resize)), test.map(_resize(resize))
        size = (resize, resize)
    info["image_size"] = tuple(size)
    return train, test, info


def with_output_names(dataset, names):
    """Maps ``(x, y)`` to ``(x, {name: y for name in names})``.

    Models here have dict outputs; every output (the forecast and the T¹
    head's) is scored against the same future frames.

    Args:
        dataset: ``tf.data.Dataset`` of ``(inputs, targets)``.
        names: Output names.

    Returns:
        The mapped dataset.

    Example:

    >>> ds = with_output_names(train_ds, ["forecast", "spatial"])  # doctest: +SKIP
    """
    names = list(names)

    def targets(x, y):
        # The one-step head predicts observed frames 2..N from frames 1..N-1.
        return x, {n: (x[:, 1:] if n == NEXT_FRAME else y) for n in names}

    return dataset.map(targets)
