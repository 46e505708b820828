"""tf.data readers for steering from driving video.

A sample is a *clip*: the last ``length`` consecutive camera frames of a
route, labelled with the values logged at the clip's last frame (the steering
angle in degrees and the speed, by default).  Two on-disk layouts are read.

**comma.ai research layout** (:func:`make_comma_dataset`)::

    data_dir/camera/<route>.h5   dataset "X": uint8 (N, 3, H, W), 20 Hz
                                 (160 x 320 in the published routes)
    data_dir/log/<route>.h5      1-D datasets with one row per log sample on a
                                 100 Hz time base: "steering_angle" (degrees),
                                 "speed" (m/s), "times" (s), "cam1_ptr", ...

A camera file and a log file form a route when they have the same name.
``cam1_ptr[i]`` is the index of the camera frame that log row ``i`` belongs
to (stored as a float in the published files; it must hold whole numbers).
Frames are aligned to the log through it exactly, by
:func:`align_log_to_frames`:

1. rows with ``|steering_angle| > max_abs_angle`` (200 degrees by default)
   are sensor glitches: they are dropped and counted in the report;
2. the target of frame ``k`` is taken from the **last** remaining row whose
   ``cam1_ptr`` equals ``k`` (the newest value logged while that frame was
   the current one);
3. a frame with no remaining row has no target and cannot end a clip
   (counted in the report); it can still appear earlier inside a clip.

**Video + CSV layout** (:func:`make_video_csv_dataset`, LiVi-style)::

    data_dir/<route>.mp4 or <route>.avi
    data_dir/<route>.csv         header with at least: timestamp,
                                 steering_angle, speed

CSV timestamps are seconds from the first video frame; frame ``k`` is at
``k / fps`` with the frame rate stored in the video.  Frames are aligned by
:func:`align_rows_by_time`: glitch rows are dropped as above, then each frame
takes the remaining row nearest in time when it is at most half a frame
interval away (a tie goes to the later row); a frame without one cannot end
a clip.  Videos are decoded with OpenCV (one seek and ``length`` reads per
clip).

**Clips.**  In a route, clip ends lie on the grid ``length - 1 + j * stride``
(:func:`clip_end_frames`); a grid frame without a target is skipped, not
replaced by a neighbour.  Clips never cross routes.

**Elements.**  Batches of ``(frames, targets)``: ``frames`` float32
``(batch, length, H, W, 3)`` on [0, 1] (``pixel / 255``, channels last, in
the channel order stored in the file), resized to ``image_size`` when given
(bilinear, antialiased); ``targets`` a dict with one ``(batch,)`` float32
entry per requested log column (``"steering_angle"`` in degrees, ``"speed"``
in m/s...).  The extra target ``"condition"`` gives an int32 index into
``report.condition_names`` read from ``data_dir/conditions/<route>.json``
(per-frame road-condition labels, see :func:`write_route_conditions`), for
scores per condition.

**Streaming.**  Only metadata and the small log arrays are read up front
(h5py).  Camera frames are read per clip with tensorflow-io
(``tfio.IOTensor.from_hdf5``: one hyperslab ``X[end - length + 1 : end + 1]``
per clip), so a camera file is never loaded whole.  Clip keys (route, end
frame and targets), not frames, are shuffled.

**Bad input**, reported per file (``on_bad="raise"`` raises a
:class:`~scs_keras.data.contract.DataError` naming it; ``"skip"`` leaves the
route out and lists it in ``report.problems``):

- ``"missing"``: a camera file without its log or a log without its camera
  file, a missing dataset or CSV column, a requested condition file absent;
- ``"corrupt"``: an HDF5 file or video that cannot be opened (truncated,
  not HDF5, undecodable), an unparsable CSV or condition file;
- ``"format"``: a camera dataset that is not uint8 ``(N, 3, H, W)``, log
  columns of different lengths or not 1-D, a non-integer ``cam1_ptr``, a
  video without frame rate, frames whose size differs from the other routes
  (pass ``image_size`` to resize them all);
- ``"nan"``: NaN or Inf in a log column that is used;
- ``"range"``: a ``cam1_ptr`` outside the camera's frames, CSV times
  outside the video;
- ``"order"``: a decreasing ``cam1_ptr`` or CSV timestamps not increasing;
- ``"conditions"``: a condition file that does not cover the frames.

Glitch rows and frames without a target are expected in real logs: they are
counted (``num_glitch_rows``, ``num_frames_without_target``), not problems.
No usable clip at all is always a ``DataError``.

Example:

>>> ds, report = make_comma_dataset("comma/", length=8, batch_size=16,
...                                 image_size=(80, 160))      # doctest: +SKIP
>>> frames, targets = next(iter(ds))  # doctest: +SKIP
>>> # frames: (16, 8, 80, 160, 3); targets: {"steering_angle": (16,), "speed": (16,)}
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os

import numpy as np
import tensorflow as tf

from scs_keras.data.contract import DataError, DataReport, check_on_bad, raise_or_record
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_float, image_hw, positive_int

__all__ = [
    "ANGLE_KEY",
    "CONDITION_KEY",
    "DEFAULT_TARGETS",
    "DEFAULT_MAX_ABS_ANGLE",
    "VIDEO_SUFFIXES",
    "DrivingDataReport",
    "align_log_to_frames",
    "align_rows_by_time",
    "clip_end_frames",
    "write_route_conditions",
    "read_route_conditions",
    "make_comma_dataset",
    "make_video_csv_dataset",
]

#: Log column holding the steering angle (degrees); glitches are judged on it.
ANGLE_KEY = "steering_angle"
#: Log column mapping each log row to its camera frame (comma.ai layout).
FRAME_POINTER_KEY = "cam1_ptr"
#: CSV column of row times in seconds from the first video frame.
TIMESTAMP_KEY = "timestamp"
#: Extra target: per-frame road-condition index into ``report.condition_names``.
CONDITION_KEY = "condition"
DEFAULT_TARGETS = (ANGLE_KEY, "speed")
#: Angles beyond this magnitude (degrees) are sensor glitches.
DEFAULT_MAX_ABS_ANGLE = 200.0
#: Video containers read by :func:`make_video_csv_dataset`.
VIDEO_SUFFIXES = (".mp4", ".avi")
#: Folder (under the data folder) of the per-route condition files.
CONDITIONS_DIR = "conditions"
_CONDITIONS_FORMAT = "scs_keras.road_conditions.v1"
_PIXEL_MAX = 255.0


# ----------------------------------------------------------------------------
# Report.
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class DrivingDataReport(DataReport):
    """What a driving reader read and what it left out.

    Attributes:
        layout: ``"comma"`` or ``"video_csv"``.
        length: Frames per clip.
        stride: Frames between consecutive clip ends.
        targets: Target names, in the order of the element dict.
        routes: Routes in the data set (bad routes left out with
            ``on_bad="skip"`` are only in ``problems``).
        clips_per_route: ``route -> number of clips``.
        frame_shape: ``(H, W)`` of the stored frames (of the first route).
        output_shape: ``(H, W)`` of the frames in the data set.
        num_frames: Camera frames in the routes.
        num_log_rows: Log (or CSV) rows in the routes.
        num_glitch_rows: Rows dropped as glitches (``|angle| > max_abs_angle``).
        num_frames_without_target: Frames with no log row left after dropping.
        num_candidate_clips: Clip ends on the stride grid (enough frames).
        num_skipped_clips: Grid clip ends dropped for lack of a target.
        condition_names: Condition labels, indexed by the ``"condition"``
            target (empty unless it was requested).
        num_samples: Clips in the data set.
    """

    layout: str = ""
    length: int = 0
    stride: int = 1
    targets: tuple = ()
    routes: list = dataclasses.field(default_factory=list)
    clips_per_route: dict = dataclasses.field(default_factory=dict)
    frame_shape: tuple | None = None
    output_shape: tuple | None = None
    num_frames: int = 0
    num_log_rows: int = 0
    num_glitch_rows: int = 0
    num_frames_without_target: int = 0
    num_candidate_clips: int = 0
    num_skipped_clips: int = 0
    condition_names: list = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        """One line: routes, clips, dropped rows and frames, problems."""
        text = super().summary()
        return (f"{text} [{self.layout}: {len(self.routes)} route(s), {self.num_frames} "
                f"frame(s), clips of {self.length} (stride {self.stride}), "
                f"{self.num_glitch_rows} glitch row(s) dropped, "
                f"{self.num_frames_without_target} frame(s) without target, "
                f"{self.num_skipped_clips} clip end(s) skipped]")


# ----------------------------------------------------------------------------
# Alignment (pure NumPy).
# ----------------------------------------------------------------------------


def align_log_to_frames(cam1_ptr, steering_angle, num_frames,
                        max_abs_angle=DEFAULT_MAX_ABS_ANGLE):
    """The log row that labels each camera frame, through ``cam1_ptr``.

    Rows with ``|steering_angle| > max_abs_angle`` are dropped as glitches;
    frame ``k`` then takes the last remaining row ``i`` (largest ``i``) with
    ``cam1_ptr[i] == k``.  The pointers are assumed checked (whole numbers in
    ``[0, num_frames)``); they need not be sorted.

    Args:
        cam1_ptr: ``(rows,)`` frame index of each log row (float or int).
        steering_angle: ``(rows,)`` logged angles (degrees).
        num_frames: Frames in the camera file.
        max_abs_angle: Largest plausible angle magnitude.

    Returns:
        ``(row_of_frame, num_glitch_rows)``: an int64 ``(num_frames,)`` array
        holding the row index for each frame, or -1 for a frame without one,
        and the number of dropped rows.

    Example:

    >>> rows, glitches = align_log_to_frames([0, 0, 1, 1, 3], [1, 2, 3, 999, 5], 4)
    >>> rows.tolist(), glitches
    ([1, 2, -1, 4], 1)
    """
    ptr = np.asarray(cam1_ptr).reshape(-1)
    angle = np.asarray(steering_angle, dtype=np.float64).reshape(-1)
    if ptr.shape != angle.shape:
        raise ValueError(f"{ptr.size} frame pointer(s) for {angle.size} angle(s).")
    keep = np.abs(angle) <= max_abs_angle
    rows = np.flatnonzero(keep)
    row_of_frame = np.full(int(num_frames), -1, dtype=np.int64)
    # maximum.at: with repeated pointers, a plain fancy assignment does not
    # say which row wins; the maximum is the last row by definition.
    np.maximum.at(row_of_frame, ptr[rows].astype(np.int64), rows)
    return row_of_frame, int(angle.size - rows.size)


def align_rows_by_time(frame_times, row_times, steering_angle, max_abs_angle=DEFAULT_MAX_ABS_ANGLE,
                       tolerance=None):
    """The CSV row that labels each video frame, by nearest timestamp.

    Rows with ``|steering_angle| > max_abs_angle`` are dropped as glitches;
    frame ``k`` then takes the remaining row nearest to ``frame_times[k]``
    if it is at most ``tolerance`` away (a tie goes to the later row).

    Args:
        frame_times: ``(frames,)`` frame times (s), increasing.
        row_times: ``(rows,)`` row times (s), increasing.
        steering_angle: ``(rows,)`` logged angles (degrees).
        max_abs_angle: Largest plausible angle magnitude.
        tolerance: Largest time difference (s); default half the first frame
            interval (``(frame_times[1] - frame_times[0]) / 2``).

    Returns:
        ``(row_of_frame, num_glitch_rows)`` as in :func:`align_log_to_frames`.

    Example:

    >>> rows, _ = align_rows_by_time([0.0, 0.1, 0.2], [0.01, 0.04, 0.16, 0.26], [0, 0, 0, 0])
    >>> rows.tolist()   # 0.1 s: the nearest rows are 0.06 s away, beyond 0.05
    [0, -1, 2]
    """
    frame_times = np.asarray(frame_times, dtype=np.float64).reshape(-1)
    row_times = np.asarray(row_times, dtype=np.float64).reshape(-1)
    angle = np.asarray(steering_angle, dtype=np.float64).reshape(-1)
    if row_times.shape != angle.shape:
        raise ValueError(f"{row_times.size} time(s) for {angle.size} angle(s).")
    if tolerance is None:
        if frame_times.size < 2:
            raise ValueError("give tolerance= when there are fewer than 2 frames.")
        tolerance = (frame_times[1] - frame_times[0]) / 2.0
    rows = np.flatnonzero(np.abs(angle) <= max_abs_angle)
    row_of_frame = np.full(frame_times.size, -1, dtype=np.int64)
    if rows.size:
        t = row_times[rows]
        after = np.clip(np.searchsorted(t, frame_times, side="left"), 0, rows.size - 1)
        before = np.clip(after - 1, 0, rows.size - 1)
        d_after = np.abs(t[after] - frame_times)
        d_before = np.abs(t[before] - frame_times)
        nearest = np.where(d_after <= d_before, after, before)  # tie: the later row
        close = np.minimum(d_after, d_before) <= tolerance
        row_of_frame[close] = rows[nearest[close]]
    return row_of_frame, int(angle.size - rows.size)


def clip_end_frames(has_target, length, stride=1):
    """The last frames of the clips of one route.

    Clip ends lie on the grid ``length - 1, length - 1 + stride, ...`` and
    are kept when that frame has a target.

    Args:
        has_target: ``(frames,)`` bool, whether each frame has a target.
        length: Frames per clip.
        stride: Frames between consecutive grid ends.

    Returns:
        ``(ends, num_candidates)``: int64 array of kept ends and the number
        of grid ends before dropping.

    Example:

    >>> ends, n = clip_end_frames([True, True, False, True, True], length=2)
    >>> ends.tolist(), n
    ([1, 3, 4], 4)
    """
    has_target = np.asarray(has_target, dtype=bool).reshape(-1)
    grid = np.arange(int(length) - 1, has_target.size, int(stride), dtype=np.int64)
    return grid[has_target[grid]], int(grid.size)


# ----------------------------------------------------------------------------
# Road-condition files.
# ----------------------------------------------------------------------------


def write_route_conditions(path, num_frames, segments, factors) -> str:
    """Writes the per-frame road conditions of one route as JSON.

    The file lists segments of consecutive frames that share one value of
    each factor::

        {"format": "scs_keras.road_conditions.v1", "num_frames": 120,
         "factors": ["lighting", "lane_markings", "weather"],
         "segments": [{"start": 0, "stop": 50, "lighting": "day",
                       "lane_markings": "lanes", "weather": "clear"}, ...]}

    Segments are half-open ``[start, stop)`` and must tile ``[0, num_frames)``
    in order.  The label of a frame is its factor values joined by ``"/"``
    in factor order (``"day/lanes/clear"``).  Real routes can be labelled by
    hand in the same format.

    Args:
        path: Output file (parent folders are created).
        num_frames: Frames of the route.
        segments: List of dicts with ``start``, ``stop`` and one value per factor.
        factors: Factor names, in label order.

    Returns:
        ``path``.
    """
    factors = [str(f) for f in factors]
    segments = [{"start": int(s["start"]), "stop": int(s["stop"]),
                 **{f: str(s[f]) for f in factors}} for s in segments]
    doc = {"format": _CONDITIONS_FORMAT, "num_frames": int(num_frames),
           "factors": factors, "segments": segments}
    _check_conditions_doc(doc)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
    return str(path)


def _check_conditions_doc(doc):
    """Raises ``ValueError`` unless ``doc`` is a valid condition document."""
    if not isinstance(doc, dict) or doc.get("format") != _CONDITIONS_FORMAT:
        raise ValueError(f"not a road-condition file (expected format {_CONDITIONS_FORMAT!r})")
    factors, segments, n = doc.get("factors"), doc.get("segments"), doc.get("num_frames")
    if not isinstance(factors, list) or not factors or not isinstance(segments, list):
        raise ValueError("'factors' and 'segments' must be non-empty lists")
    position = 0
    for i, seg in enumerate(segments):
        missing = [k for k in ["start", "stop", *factors] if k not in seg]
        if missing:
            raise ValueError(f"segment {i} lacks {missing}")
        if seg["start"] != position or seg["stop"] <= seg["start"]:
            raise ValueError(f"segment {i} covers [{seg['start']}, {seg['stop']}); the "
                             f"segments must tile the frames in order from {position}")
        position = seg["stop"]
    if position != n:
        raise ValueError(f"segments cover {position} frame(s), the file says num_frames={n}")


def read_route_conditions(path) -> np.ndarray:
    """Reads a condition file back as one label per frame.

    Args:
        path: A file written by :func:`write_route_conditions`.

    Returns:
        A ``(num_frames,)`` array of strings such as ``"night/no_lanes/rain"``.

    Raises:
        DataError: The file is unreadable or malformed (message names it).
    """
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        _check_conditions_doc(doc)
    except (OSError, ValueError) as err:
        raise DataError(path, f"bad road-condition file: {err}") from None
    labels = []
    for seg in doc["segments"]:
        label = "/".join(seg[f] for f in doc["factors"])
        labels.extend([label] * (seg["stop"] - seg["start"]))
    return np.asarray(labels, dtype=str)


# ----------------------------------------------------------------------------
# Route scanning (shared by both layouts).
# ----------------------------------------------------------------------------


class _BadRoute(Exception):
    """One problem with one file of a route (turned into a report entry)."""

    def __init__(self, path, kind, message, index=None):
        super().__init__(message)
        self.path, self.kind, self.message, self.index = str(path), kind, message, index


@dataclasses.dataclass
class _Route:
    """A checked route: where its frames are and what each frame is labelled."""

    name: str
    source: str            # camera file or video
    num_frames: int
    frame_shape: tuple     # (H, W)
    num_rows: int
    num_glitch_rows: int
    row_of_frame: np.ndarray
    columns: dict          # target name -> (rows,) values
    conditions: np.ndarray | None = None  # (frames,) labels


def _route_names(routes):
    if routes is None:
        return None
    routes = [routes] if isinstance(routes, str) else list(routes)
    if not routes or not all(isinstance(r, str) and r for r in routes):
        raise ValueError(f"routes must be a non-empty list of route names; received {routes!r}.")
    return routes


def _check_args(length, batch_size, stride, image_size, targets, max_abs_angle, on_bad):
    length = positive_int("length", length)
    batch_size = positive_int("batch_size", batch_size)
    stride = positive_int("stride", stride)
    image_size = None if image_size is None else image_hw("image_size", image_size)
    if isinstance(targets, str):
        targets = (targets,)
    targets = tuple(targets)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"targets must be a non-empty list of names; received {targets!r}.")
    if len(set(targets)) != len(targets):
        raise ValueError(f"targets must be distinct; received {list(targets)}.")
    max_abs_angle = check_float("max_abs_angle", max_abs_angle, minimum=0.0, min_inclusive=False)
    return length, batch_size, stride, image_size, targets, max_abs_angle, check_on_bad(on_bad)


def _pair_routes(first, second, names, report, on_bad, only=None):
    """``{route: (first_path, second_path)}`` for the names present in both maps.

    A route with only one of its two files is a ``"missing"`` problem on the
    file that is there; ``names`` says what the two kinds of file are.
    ``only`` restricts the routes to those names (each must exist).
    """
    found = set(first) | set(second)
    if only is not None:
        unknown = sorted(set(only) - found)
        if unknown:
            raise DataError(report.source, f"route(s) {unknown} not found; routes here: "
                                           f"{sorted(found)}")
        found = set(only)
    pairs = {}
    for route in sorted(found):
        if route in first and route in second:
            pairs[route] = (first[route], second[route])
            continue
        have, lack = (first, names[1]) if route in first else (second, names[0])
        raise_or_record(report, on_bad, have[route], "missing",
                        f"route {route!r} has no {lack}")
    return pairs


def _finite_column(path, name, values):
    values = np.asarray(values)
    if values.ndim != 1:
        raise _BadRoute(path, "format", f"column {name!r} must be 1-D; it has shape "
                                        f"{values.shape}")
    if not np.issubdtype(values.dtype, np.number):
        raise _BadRoute(path, "format", f"column {name!r} is not numeric ({values.dtype})")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise _BadRoute(path, "nan", f"column {name!r} holds NaN/Inf in {bad.size} row(s)",
                        int(bad[0]))
    return values


def _route_conditions(data_dir, name, num_frames):
    path = os.path.join(data_dir, CONDITIONS_DIR, f"{name}.json")
    if not os.path.isfile(path):
        raise _BadRoute(path, "missing", "road-condition file not found (needed for the "
                                         f"{CONDITION_KEY!r} target)")
    try:
        labels = read_route_conditions(path)
    except DataError as err:
        raise _BadRoute(path, "corrupt", err.reason) from None
    if labels.size != num_frames:
        raise _BadRoute(path, "conditions", f"labels {labels.size} frame(s); the route has "
                                            f"{num_frames}")
    return labels


def _collect_routes(pairs, scan_route, report, on_bad, image_size):
    """Scans every pair, records problems, keeps routes of one frame size."""
    routes = []
    for name, paths in pairs.items():
        try:
            route = scan_route(name, *paths)
            if image_size is None and routes and route.frame_shape != routes[0].frame_shape:
                raise _BadRoute(route.source, "format",
                                f"frames of {route.frame_shape}, the first route has "
                                f"{routes[0].frame_shape}; pass image_size to resize them")
        except _BadRoute as bad:
            raise_or_record(report, on_bad, bad.path, bad.kind, bad.message, bad.index)
            continue
        routes.append(route)
    return routes


def _clip_keys(routes, length, stride, targets, report):
    """Clip keys ``(route index, end frame, {target: value})`` and report counts."""
    condition_names = sorted({str(c) for r in routes if r.conditions is not None
                              for c in r.conditions})
    condition_index = {c: i for i, c in enumerate(condition_names)}
    route_ids, end_frames, values = [], [], {t: [] for t in targets}
    for i, route in enumerate(routes):
        has_target = route.row_of_frame >= 0
        ends, n_grid = clip_end_frames(has_target, length, stride)
        rows = route.row_of_frame[ends]
        route_ids.append(np.full(ends.size, i, np.int32))
        end_frames.append(ends)
        for t in targets:
            if t == CONDITION_KEY:
                values[t].append(np.asarray([condition_index[c] for c in route.conditions[ends]],
                                            np.int32).reshape(-1))
            else:
                values[t].append(np.asarray(route.columns[t], np.float32)[rows])
        report.routes.append(route.name)
        report.clips_per_route[route.name] = int(ends.size)
        report.num_frames += route.num_frames
        report.num_log_rows += route.num_rows
        report.num_glitch_rows += route.num_glitch_rows
        report.num_frames_without_target += int(np.sum(~has_target))
        report.num_candidate_clips += n_grid
        report.num_skipped_clips += n_grid - int(ends.size)
    report.condition_names = condition_names if CONDITION_KEY in targets else []
    report.num_samples = sum(report.clips_per_route.values())
    if routes:
        report.frame_shape = routes[0].frame_shape
    if report.num_samples == 0:
        why = (f"{len(routes)} usable route(s), {report.num_candidate_clips} clip end(s) with "
               f"{length} frames, {report.num_skipped_clips} without a target")
        raise DataError(report.source, f"no usable clip ({why}). {report.summary()}")
    return (np.concatenate(route_ids), np.concatenate(end_frames),
            {t: np.concatenate(v) for t, v in values.items()})


def _pipeline(keys, read_clip, length, image_size, batch_size, shuffle, seed, drop_remainder):
    """Shuffles clip keys, reads and scales the frames, batches, prefetches.

    ``read_clip(route, start)`` returns the uint8 ``(length, H, W, 3)`` clip.
    """
    ds = tf.data.Dataset.from_tensor_slices(keys)
    if shuffle:
        # Only the small keys are shuffled, with a full buffer: a uniform
        # order without holding frames.
        ds = ds.shuffle(len(keys[1]), seed=seed, reshuffle_each_iteration=True)

    def load(route, end, targets):
        frames = tf.cast(read_clip(route, end - (length - 1)), tf.float32) / _PIXEL_MAX
        if image_size is not None:
            frames = tf.clip_by_value(
                tf.image.resize(frames, image_size, method="bilinear", antialias=True), 0.0, 1.0)
        return frames, targets

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _list_by_stem(folder, suffixes):
    if not os.path.isdir(folder):
        return {}
    out = {}
    for fname in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(fname)
        path = os.path.join(folder, fname)
        if ext.lower() in suffixes and os.path.isfile(path):
            if stem in out:  # e.g. r.mp4 and r.avi: which one is the route?
                raise DataError(path, f"a second file for route {stem!r} (also {out[stem]})")
            out[stem] = path
    return out


def _check_data_dir(data_dir):
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise DataError(data_dir, "data folder not found")
    return data_dir


# ----------------------------------------------------------------------------
# comma.ai layout.
# ----------------------------------------------------------------------------


def _open_hdf5(h5py, path):
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise _BadRoute(path, "corrupt", f"cannot open as HDF5 ({err})") from None


def _scan_comma_route(data_dir, name, camera_path, log_path, targets, max_abs_angle):
    h5py = optional_import("h5py", "reading comma.ai HDF5 routes")
    with _open_hdf5(h5py, camera_path) as cam:
        if "X" not in cam or not isinstance(cam["X"], h5py.Dataset):
            raise _BadRoute(camera_path, "missing", "no dataset 'X'")
        shape, dtype = cam["X"].shape, cam["X"].dtype
    if len(shape) != 4 or shape[1] != 3 or dtype != np.uint8 or 0 in shape:
        raise _BadRoute(camera_path, "format", f"dataset 'X' must be uint8 (N, 3, H, W) with "
                                               f"N, H, W > 0; it is {dtype} {shape}")
    num_frames = int(shape[0])
    wanted = [ANGLE_KEY, FRAME_POINTER_KEY] + [t for t in targets
                                               if t not in (ANGLE_KEY, CONDITION_KEY)]
    columns = {}
    with _open_hdf5(h5py, log_path) as log:
        for key in wanted:
            if key not in log or not isinstance(log[key], h5py.Dataset):
                raise _BadRoute(log_path, "missing", f"no dataset {key!r}")
            try:
                columns[key] = _finite_column(log_path, key, log[key][()])
            except OSError as err:  # data blocks past a truncation
                raise _BadRoute(log_path, "corrupt", f"cannot read {key!r} ({err})") from None
    num_rows = columns[ANGLE_KEY].size
    for key, values in columns.items():
        if values.size != num_rows:
            raise _BadRoute(log_path, "format", f"{key!r} has {values.size} row(s), "
                                                f"{ANGLE_KEY!r} has {num_rows}")
    ptr = columns[FRAME_POINTER_KEY]
    fractional = np.flatnonzero(ptr != np.round(ptr))
    if fractional.size:
        raise _BadRoute(log_path, "format", f"{FRAME_POINTER_KEY!r} must hold whole frame "
                                            f"numbers; row {fractional[0]} holds "
                                            f"{ptr[fractional[0]]}", int(fractional[0]))
    outside = np.flatnonzero((ptr < 0) | (ptr >= num_frames))
    if outside.size:
        raise _BadRoute(log_path, "range", f"{FRAME_POINTER_KEY!r} points to frame "
                                           f"{ptr[outside[0]]:g} but {camera_path} has "
                                           f"{num_frames} frame(s)", int(outside[0]))
    backwards = np.flatnonzero(np.diff(ptr) < 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        raise _BadRoute(log_path, "order", f"{FRAME_POINTER_KEY!r} decreases at row {i} "
                                           f"({ptr[i - 1]:g} -> {ptr[i]:g})", i)
    row_of_frame, glitches = align_log_to_frames(ptr, columns[ANGLE_KEY], num_frames,
                                                 max_abs_angle)
    conditions = (_route_conditions(data_dir, name, num_frames)
                  if CONDITION_KEY in targets else None)
    return _Route(name, camera_path, num_frames, (int(shape[2]), int(shape[3])), num_rows,
                  glitches, row_of_frame, columns, conditions)


def make_comma_dataset(data_dir, length, batch_size=32, stride=1, image_size=None,
                       shuffle=False, seed=None, targets=DEFAULT_TARGETS,
                       max_abs_angle=DEFAULT_MAX_ABS_ANGLE, on_bad="raise",
                       drop_remainder=False, routes=None):
    """Clips of camera frames and their logged targets, comma.ai layout.

    See the module docstring for the layout, the alignment through
    ``cam1_ptr``, the checks and the element structure.

    Args:
        data_dir: Folder holding ``camera/`` and ``log/``.
        length: Frames per clip; the targets are those of the last frame.
        batch_size: Clips per batch.
        stride: Frames between consecutive clip ends of a route.
        image_size: ``(H, W)`` (or an int) to resize frames to; ``None``
            keeps the stored size (160 x 320 for the published routes).
        shuffle: Shuffle the clips (every epoch).
        seed: Shuffle seed.
        targets: Log columns to return (1-D datasets of the log files), and
            optionally ``"condition"``.
        max_abs_angle: Rows with a larger ``|steering_angle|`` are glitches.
        on_bad: ``"raise"`` or ``"skip"`` (see the module docstring).
        drop_remainder: Drop a last partial batch.
        routes: Route names to read (e.g. a train or validation split);
            ``None`` reads every route of the folder.

    Returns:
        ``(dataset, report)``: batches of ``(frames, targets)`` with frames
        float32 ``(batch, length, H, W, 3)`` on [0, 1] and targets a dict of
        ``(batch,)`` tensors (float32; int32 for ``"condition"``), and a
        :class:`DrivingDataReport`.

    Raises:
        DataError: A bad file with ``on_bad="raise"``, a missing folder, or no
            usable clip.

    Example:

    >>> ds, report = make_comma_dataset("comma/", length=4, batch_size=8)  # doctest: +SKIP
    >>> print(report.summary())                                           # doctest: +SKIP
    """
    length, batch_size, stride, image_size, targets, max_abs_angle, on_bad = _check_args(
        length, batch_size, stride, image_size, targets, max_abs_angle, on_bad)
    data_dir = _check_data_dir(data_dir)
    only = _route_names(routes)
    cameras = _list_by_stem(os.path.join(data_dir, "camera"), (".h5",))
    logs = _list_by_stem(os.path.join(data_dir, "log"), (".h5",))
    if not cameras and not logs:
        raise DataError(data_dir, "no camera/<route>.h5 or log/<route>.h5 files")
    report = DrivingDataReport(source=data_dir, layout="comma", length=length, stride=stride,
                               targets=targets)
    pairs = _pair_routes(cameras, logs, ("camera file", "log file"), report, on_bad, only)
    routes = _collect_routes(
        pairs, lambda name, cam, log: _scan_comma_route(data_dir, name, cam, log, targets,
                                                        max_abs_angle),
        report, on_bad, image_size)
    keys = _clip_keys(routes, length, stride, targets, report)
    report.output_shape = routes[0].frame_shape if image_size is None else image_size

    tfio = optional_import("tensorflow_io", "streaming comma.ai camera files")
    cameras_io = [tfio.IOTensor.from_hdf5(r.source)("/X") for r in routes]

    def read_clip(route, start):
        def reader(frames, shape):
            # One hyperslab read per clip; (length, 3, H, W) -> channels last.
            return lambda: tf.transpose(
                tf.reshape(frames[start:start + length], (length, 3) + shape), (0, 2, 3, 1))
        # One branch per camera file: tensorflow-io binds a file when its
        # IOTensor is made, so the route picks among them.
        branches = [reader(f, r.frame_shape) for f, r in zip(cameras_io, routes)]
        return tf.switch_case(route, branches) if len(branches) > 1 else branches[0]()

    ds = _pipeline(keys, read_clip, length, image_size, batch_size, shuffle, seed, drop_remainder)
    return ds, report


# ----------------------------------------------------------------------------
# Video + CSV layout.
# ----------------------------------------------------------------------------


def _read_csv_columns(path, wanted):
    """Float columns ``wanted`` of a CSV file with a header row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in wanted if c not in header]
            if missing:
                raise _BadRoute(path, "missing", f"no column(s) {missing}; header: {header}")
            where = [header.index(c) for c in wanted]
            rows = []
            for line, record in enumerate(reader, start=2):
                if not record or all(not v.strip() for v in record):
                    continue
                try:
                    rows.append([float(record[j]) for j in where])
                except (ValueError, IndexError):
                    raise _BadRoute(path, "corrupt", f"line {line}: cannot read numbers from "
                                                     f"{record!r}", line) from None
    except (OSError, UnicodeDecodeError) as err:
        raise _BadRoute(path, "corrupt", f"cannot read CSV ({err})") from None
    if not rows:
        raise _BadRoute(path, "corrupt", "no data rows")
    table = np.asarray(rows, dtype=np.float64)
    return {c: _finite_column(path, c, table[:, j]) for j, c in enumerate(wanted)}


def _probe_video(path):
    """``(num_frames, (H, W), fps)`` of a video, counting frames exactly."""
    cv2 = optional_import("cv2", "reading driving videos")
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise _BadRoute(path, "corrupt", "OpenCV cannot open it")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        ok, frame = cap.read()
        if not ok or frame is None:
            raise _BadRoute(path, "corrupt", "no decodable frame")
        # The container's frame count can be wrong; a grab() pass is exact.
        num_frames = 1
        while cap.grab():
            num_frames += 1
    finally:
        cap.release()
    if not (math.isfinite(fps) and fps > 0):
        raise _BadRoute(path, "format", f"no usable frame rate ({fps}); frame times unknown")
    return num_frames, (int(frame.shape[0]), int(frame.shape[1])), fps


def _scan_video_route(data_dir, name, video_path, csv_path, targets, max_abs_angle):
    num_frames, shape, fps = _probe_video(video_path)
    wanted = [TIMESTAMP_KEY, ANGLE_KEY] + [t for t in targets
                                           if t not in (ANGLE_KEY, CONDITION_KEY)]
    columns = _read_csv_columns(csv_path, wanted)
    times = columns[TIMESTAMP_KEY]
    backwards = np.flatnonzero(np.diff(times) <= 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        raise _BadRoute(csv_path, "order", f"timestamps must increase; row {i} has "
                                           f"{times[i]:g} after {times[i - 1]:g}", i)
    half = 0.5 / fps
    last = (num_frames - 1) / fps
    outside = np.flatnonzero((times < -half) | (times > last + half))
    if outside.size:
        raise _BadRoute(csv_path, "range", f"timestamp {times[outside[0]]:g} s is outside the "
                                           f"video ({num_frames} frame(s) at {fps:g} fps: "
                                           f"0..{last:g} s)", int(outside[0]))
    frame_times = np.arange(num_frames, dtype=np.float64) / fps
    row_of_frame, glitches = align_rows_by_time(frame_times, times, columns[ANGLE_KEY],
                                                max_abs_angle, tolerance=half)
    conditions = (_route_conditions(data_dir, name, num_frames)
                  if CONDITION_KEY in targets else None)
    return _Route(name, video_path, num_frames, shape, int(times.size), glitches, row_of_frame,
                  columns, conditions)


def _decode_clip(path, start, length):
    """``length`` RGB frames from ``start``: one seek, then sequential reads."""
    cv2 = optional_import("cv2", "reading driving videos")
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise DataError(path, "OpenCV cannot open it")
        if start and not cap.set(cv2.CAP_PROP_POS_FRAMES, start):
            raise DataError(path, f"cannot seek to frame {start}")
        if int(round(cap.get(cv2.CAP_PROP_POS_FRAMES))) != start:
            raise DataError(path, f"seek to frame {start} landed elsewhere; "
                                  "the clip would be misaligned")
        frames = []
        for k in range(length):
            ok, frame = cap.read()
            if not ok or frame is None:
                raise DataError(path, f"frame {start + k} does not decode")
            frames.append(frame[:, :, ::-1])  # BGR -> RGB
    finally:
        cap.release()
    return np.ascontiguousarray(np.stack(frames))


def make_video_csv_dataset(data_dir, length, batch_size=32, stride=1, image_size=None,
                           shuffle=False, seed=None, targets=DEFAULT_TARGETS,
                           max_abs_angle=DEFAULT_MAX_ABS_ANGLE, on_bad="raise",
                           drop_remainder=False, routes=None):
    """Clips of video frames and their CSV targets (video + CSV layout).

    See the module docstring for the layout, the alignment by timestamp, the
    checks and the element structure.

    Args:
        data_dir: Folder of ``<route>.mp4``/``.avi`` and ``<route>.csv``.
        length: Frames per clip; the targets are those of the last frame.
        batch_size: Clips per batch.
        stride: Frames between consecutive clip ends of a route.
        image_size: ``(H, W)`` (or an int) to resize frames to; ``None``
            keeps the stored size (all routes must then share it).
        shuffle: Shuffle the clips (every epoch).
        seed: Shuffle seed.
        targets: CSV columns to return, and optionally ``"condition"``.
        max_abs_angle: Rows with a larger ``|steering_angle|`` are glitches.
        on_bad: ``"raise"`` or ``"skip"``.
        drop_remainder: Drop a last partial batch.
        routes: Route names to read (e.g. a train or validation split);
            ``None`` reads every route of the folder.

    Returns:
        ``(dataset, report)`` as :func:`make_comma_dataset`.

    Raises:
        DataError: A bad file with ``on_bad="raise"``, a missing folder, or no
            usable clip.

    Example:

    >>> ds, report = make_video_csv_dataset("livi/", length=4)  # doctest: +SKIP
    """
    length, batch_size, stride, image_size, targets, max_abs_angle, on_bad = _check_args(
        length, batch_size, stride, image_size, targets, max_abs_angle, on_bad)
    data_dir = _check_data_dir(data_dir)
    only = _route_names(routes)
    videos = _list_by_stem(data_dir, VIDEO_SUFFIXES)
    tables = _list_by_stem(data_dir, (".csv",))
    if not videos and not tables:
        raise DataError(data_dir, f"no <route>{'/'.join(VIDEO_SUFFIXES)} or <route>.csv files")
    report = DrivingDataReport(source=data_dir, layout="video_csv", length=length,
                               stride=stride, targets=targets)
    pairs = _pair_routes(videos, tables, ("video", "CSV file"), report, on_bad, only)
    routes = _collect_routes(
        pairs, lambda name, video, table: _scan_video_route(data_dir, name, video, table,
                                                            targets, max_abs_angle),
        report, on_bad, image_size)
    keys = _clip_keys(routes, length, stride, targets, report)
    report.output_shape = routes[0].frame_shape if image_size is None else image_size
    sources = [r.source for r in routes]
    shapes = [r.frame_shape for r in routes]

    def read_clip(route, start):
        clip = tf.numpy_function(lambda r, s: _decode_clip(sources[int(r)], int(s), length),
                                 [route, start], tf.uint8, name="decode_driving_clip")
        if image_size is None:  # every route has the first route's size
            return tf.ensure_shape(clip, (length,) + shapes[0] + (3,))
        return tf.ensure_shape(clip, (length, None, None, 3))

    ds = _pipeline(keys, read_clip, length, image_size, batch_size, shuffle, seed, drop_remainder)
    return ds, report
