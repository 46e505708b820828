"""tf.data readers for radar-echo precipitation nowcasting (HKO-7 style data).

A nowcasting model observes ``N`` radar frames and forecasts the next ``M``.
Two on-disk formats are accepted, both yielding sliding windows of ``N``
observed and ``M`` future frames:

**PNG event folders (HKO-7 style).** ``root/<event>/<frame>.png``: one
sub-folder per event (a folder that holds PNG files directly is read as a
single event).  Frames are grayscale 8-bit PNGs.  The time of a frame is taken
from its file name; accepted names (the *stem* is the name without ``.png``):

- ``RADyymmddHHMMSS.png`` -- the HKO-7 naming (``yy`` is the year - 2000),
  e.g. ``RAD180601120000.png``;
- a stem ending in 12 digits ``YYYYMMDDHHMM`` (``<anything>_201806011200.png``)
  or 14 digits ``YYYYMMDDHHMMSS``;
- a stem ending in an index of at most 9 digits (``0007.png``,
  ``frame_7.png``); consecutive frames then differ by 1 and are assumed to be
  ``interval_minutes`` apart.

Times are naive and read as UTC.  Frames are ordered by the parsed time or
index (not lexically), and all frames of one event must use the same kind of
name.

**HDF5.** One file holding a frame dataset (``frames`` by default) of shape
``(T, H, W)`` or ``(T, H, W, 1)`` and a ``timestamps`` dataset ``(T,)`` of
seconds since the epoch (int64).  An optional ``events`` dataset ``(T,)`` of
integer ids splits the file into events: windows never cross an event
boundary and the time step is not checked across one.  The frame values are
interpreted by ``units`` (argument, else the frame dataset's ``units``
attribute, else ``"pixel"``): ``"pixel"`` HKO-7 grey levels 0..255,
``"dBZ"`` reflectivity, ``"unit"`` values already on the [0, 1] scale.  Frames
are streamed with tensorflow-io (``tfio.IOTensor.from_hdf5`` slices a window
per read), so an archive is never loaded whole; h5py reads only shapes,
attributes and the timestamps.

**Scaling.** Every output is float32 on the [0, 1] scale ``x = pixel / 255``,
which is linear in reflectivity through the HKO-7 mapping
``dBZ = pixel * 70 / 255 - 10``, i.e. ``dBZ = 70 x - 10``.  The conversions
(to dBZ, grey levels, rain rate through Z = 200 R^1.6) are in
:mod:`scs_keras.units`.  dBZ input from HDF5 is mapped to [0, 1] and clipped
(-10..60 dBZ); PNG frames and uint8 HDF5 frames are exact multiples of 1/255.

**Validation.** Before the pipeline is built every frame is checked:

- ``"gap"``: the step to the previous frame differs from ``interval_minutes``
  (a missing frame, a duplicate or an out-of-order time);
- ``"missing"``: an index-named frame whose predecessor index is absent;
- ``"name"``: a PNG whose name holds no time or index (it is left out);
- ``"corrupt"``: a PNG that cannot be decoded (truncated, empty, not a PNG);
- ``"format"``: a PNG that is not 8-bit grayscale;
- ``"shape"``: a frame whose size differs from the rest of the data set;
- ``"nan"``: an HDF5 frame holding NaN or Inf.

**The reader contract** (:mod:`scs_keras.data.contract`).
:func:`make_precipitation_dataset` returns ``(dataset, report)``.
``on_bad="raise"`` (default) raises a :class:`~scs_keras.data.contract.DataError`
that names the file and the frame index.  ``on_bad="skip"`` drops every window
touching a bad frame (or spanning a gap), logs a warning and lists the
problems in the :class:`PrecipitationReport`.  Nothing is ever filled in.  No
usable window is a ``DataError`` whatever ``on_bad``.  The pipeline also runs
``tf.debugging.check_numerics`` on every window, so even with
``validate=False`` a NaN can never pass silently.

**Windows.** In every event, window ``k`` covers frames
``[k * stride, k * stride + N + M)``; the grid is fixed, so a skipped window
is not replaced by a shifted one.  An event of ``T`` frames gives
``(T - N - M) // stride + 1`` windows when ``T >= N + M``, else none.

Example:
    >>> ds, report = make_precipitation_dataset(
    ...     "data/radar", input_frames=5, target_frames=10, stride=5,
    ...     batch_size=4, on_bad="skip")
    >>> print(report.summary())
    >>> inputs, targets = next(iter(ds))     # (4, 5, H, W, 1), (4, 10, H, W, 1)
    >>> dbz = scs_keras.units.unit_to_dbz(targets.numpy())   # back to reflectivity
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as _dt
import logging
import os
import re
from collections import Counter
from typing import Iterable

import numpy as np
import tensorflow as tf

from scs_keras.data.contract import DataError, DataProblem, DataReport, check_on_bad
from scs_keras.units import VALUE_UNITS, unit_bounds
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_float, positive_int

logger = logging.getLogger(__name__)

#: Nominal time between radar frames.
DEFAULT_INTERVAL_MINUTES = 6.0

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")


# ----------------------------------------------------------------------------
# Report objects.
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class FrameProblem(DataProblem):
    """One bad frame (or one discontinuity before a frame).

    Attributes:
        path: The PNG file, or the HDF5 file.
        kind: ``"gap"``, ``"missing"``, ``"name"``, ``"corrupt"``,
            ``"format"``, ``"shape"`` or ``"nan"``.
        message: A human-readable description.
        index: Position of the frame in its event (PNG, 0-based in time
            order) or row of the frame dataset (HDF5); ``None`` for a PNG whose
            name gives no position.
        event: Event folder name (PNG) or event id (HDF5) as a string.
    """

    event: str = ""

    def __str__(self) -> str:
        where = f" at frame index {self.index}" if self.index is not None else ""
        return f"{self.kind}{where} in {self.path!r}: {self.message}"


@dataclasses.dataclass
class PrecipitationReport(DataReport):
    """What a reader found: sizes, problems and window counts.

    Attributes:
        source: The folder or file that was read.
        num_samples: Windows in the data set (also :attr:`num_windows`).
        problems: Every :class:`FrameProblem` found.
        format: ``"png"`` or ``"hdf5"``.
        num_events: Events with at least one frame.
        num_frames: Frames in all events.
        frame_shape: ``(H, W)`` of the frames (None if unknown).
        window_length: ``N + M``.
        stride: The window stride.
        num_candidate_windows: Windows on the stride grid before validation.
        short_events: Names of events shorter than one window.

    Example:
        >>> _, report = make_precipitation_dataset(path, 5, 10)
        >>> report.num_windows, report.num_skipped_windows, report.bad_paths
    """

    format: str = ""
    num_events: int = 0
    num_frames: int = 0
    frame_shape: tuple | None = None
    window_length: int = 0
    stride: int = 1
    num_candidate_windows: int = 0
    short_events: list = dataclasses.field(default_factory=list)

    @property
    def num_windows(self) -> int:
        """Windows in the data set (the same number as ``num_samples``)."""
        return self.num_samples

    @property
    def num_skipped_windows(self) -> int:
        """Candidate windows dropped for touching a problem."""
        return self.num_candidate_windows - self.num_samples

    def summary(self) -> str:
        """One line, as logged by the readers: sizes, window counts, problems."""
        return (f"{self.format} data, {self.num_events} event(s), {self.num_frames} frame(s) "
                f"of {self.frame_shape}, windows of {self.window_length} (stride "
                f"{self.stride}), {self.num_skipped_windows} of {self.num_candidate_windows} "
                f"skipped: " + super().summary())


# ----------------------------------------------------------------------------
# Shared helpers.
# ----------------------------------------------------------------------------


def _check_window_arguments(input_frames, target_frames, stride, batch_size, on_bad,
                            interval_minutes):
    """Validated ``(N, M, stride, batch_size, on_bad, interval_minutes)``."""
    return (positive_int("input_frames", input_frames),
            positive_int("target_frames", target_frames),
            positive_int("stride", stride),
            positive_int("batch_size", batch_size),
            check_on_bad(on_bad),
            check_float("interval_minutes", interval_minutes, 0.0, min_inclusive=False))


def _check_value_units(units):
    """The ``units`` argument: one of ``VALUE_UNITS`` (any case) or None."""
    if units is not None and str(units).lower() not in VALUE_UNITS:
        raise ValueError(f"units must be one of 'pixel', 'dBZ', 'unit' (or None to read the "
                         f"file's attribute); received {units!r}.")


def _to_unit(x, units: str):
    """Stored frame values (float32 tensor) on the [0, 1] scale (not clipped)."""
    low, high = unit_bounds(units)
    return (x - low) / (high - low)


def window_starts(
    num_frames: int,
    window_length: int,
    stride: int,
    bad_frames: Iterable[int] = (),
    breaks: Iterable[int] = (),
):
    """Window start positions on the stride grid, minus those touching a problem.

    Args:
        num_frames: frames in the event.
        window_length: ``N + M``.
        stride: distance between consecutive window starts.
        bad_frames: positions of unusable frames.
        breaks: positions ``i`` where frames ``i - 1`` and ``i`` are not
            consecutive (a window may not contain both).

    Returns:
        ``(starts, num_candidates)``: int64 array of valid starts, and the
        number of windows on the grid before dropping.

    Example:
        >>> window_starts(10, 4, 3, bad_frames=[7])
        (array([0, 3]), 3)
    """
    if num_frames < window_length:
        return np.zeros((0,), np.int64), 0
    starts = np.arange(0, num_frames - window_length + 1, stride, dtype=np.int64)
    bad = np.zeros(num_frames + 1, np.int64)
    brk = np.zeros(num_frames + 1, np.int64)
    for i in bad_frames:
        bad[int(i)] = 1
    for i in breaks:
        if 0 < int(i) < num_frames:
            brk[int(i)] = 1
    # Prefix sums: bad frames in [s, s+L) and breaks in (s, s+L) in O(1) each,
    # so scanning long HDF5 archives stays linear.
    cb = np.concatenate([[0], np.cumsum(bad[:num_frames])])
    ck = np.concatenate([[0], np.cumsum(brk[:num_frames])])
    n_bad = cb[starts + window_length] - cb[starts]
    n_brk = ck[starts + window_length] - ck[starts + 1]
    return starts[(n_bad == 0) & (n_brk == 0)], len(starts)


def _finish_report(report: PrecipitationReport, on_bad: str) -> None:
    """Raise on problems (``"raise"``), log skips, refuse an empty data set."""
    if report.problems and on_bad == "raise":
        first = report.problems[0]
        more = len(report.problems) - 1
        where = f" at frame index {first.index}" if first.index is not None else ""
        raise DataError(
            first.path,
            f"{first.kind}{where}: {first.message}"
            + (f" (and {more} more problem(s))" if more else "")
            + ". Pass on_bad='skip' to drop the windows touching bad frames and list them "
              "in the report.")
    if report.problems:
        logger.warning("Skipped %d window(s): %s", report.num_skipped_windows, report.summary())
    if report.num_windows == 0:
        reasons = []
        if report.num_candidate_windows == 0:
            reasons.append(
                f"no event has {report.window_length} frames "
                f"(events shorter than a window: {report.short_events[:5]}"
                + (" ..." if len(report.short_events) > 5 else "") + ")"
            )
        if report.num_skipped_windows:
            reasons.append(f"all {report.num_skipped_windows} candidate window(s) touch bad frames")
        raise DataError(report.source,
                        f"no usable window of {report.window_length} frames: "
                        + "; ".join(reasons))


def _window_pipeline(ds, load_fn, input_frames, batch_size, shuffle, seed,
                     num_windows, drop_remainder, num_parallel_calls, prefetch):
    """Shuffle window keys, load them in parallel, split, batch and prefetch."""
    if shuffle:
        # Only the (small) window keys are shuffled, with a full buffer, so the
        # order is uniformly random without holding any frames.
        ds = ds.shuffle(max(num_windows, 1), seed=seed, reshuffle_each_iteration=True)

    def split(window):
        # A NaN must never reach a model silently, even with validate=False.
        window = tf.debugging.check_numerics(window, "precipitation window")
        return window[:input_frames], window[input_frames:]

    ds = ds.map(lambda key: split(load_fn(key)), num_parallel_calls=num_parallel_calls,
                deterministic=not shuffle)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if prefetch is not None:
        ds = ds.prefetch(prefetch)
    return ds


# ----------------------------------------------------------------------------
# PNG event folders.
# ----------------------------------------------------------------------------

_HKO_RE = re.compile(r"RAD(\d{12})$", re.IGNORECASE)
_TRAILING_DIGITS_RE = re.compile(r"(\d+)$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parse_frame_name(filename: str):
    """Parse the time or index encoded in a PNG frame name.

    Args:
        filename: a file name or path (``.png``).

    Returns:
        ``("time", seconds_since_epoch)`` or ``("index", int)``.

    Raises:
        DataError: the name matches none of the accepted patterns (see the
            module docstring) or encodes an impossible date; the message names
            the file.

    Example:
        >>> parse_frame_name("event_201806011206.png")
        ('time', 1527854760)
        >>> parse_frame_name("0007.png")
        ('index', 7)
    """
    stem = os.path.splitext(os.path.basename(filename))[0]
    m = _HKO_RE.search(stem)
    try:
        if m:
            d = m.group(1)
            t = _dt.datetime(2000 + int(d[0:2]), int(d[2:4]), int(d[4:6]), int(d[6:8]),
                             int(d[8:10]), int(d[10:12]), tzinfo=_dt.timezone.utc)
            return "time", int(t.timestamp())
        m = _TRAILING_DIGITS_RE.search(stem)
        if m is None:
            raise ValueError("it does not end in a timestamp or an index")
        d = m.group(1)
        if len(d) in (12, 14):
            sec = int(d[12:14]) if len(d) == 14 else 0
            t = _dt.datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]),
                             int(d[10:12]), sec, tzinfo=_dt.timezone.utc)
            return "time", int(t.timestamp())
        if len(d) <= 9:
            return "index", int(d)
        raise ValueError(f"a trailing number of {len(d)} digits is neither a 12/14-digit "
                         "YYYYMMDDHHMM[SS] timestamp nor an index of at most 9 digits")
    except ValueError as err:
        raise DataError(
            filename,
            f"cannot read a time or index from the frame name: {err}. Accepted: "
            "'<anything>YYYYMMDDHHMM.png', '<anything>YYYYMMDDHHMMSS.png', "
            "'RADyymmddHHMMSS.png' (HKO-7) or '<anything><index>.png'"
        ) from None


def _list_events(root: str):
    """Return [(event_name, folder, [png names])], events in name order."""
    if not os.path.exists(root):
        raise FileNotFoundError(f"Precipitation data folder not found: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"Expected a folder of event sub-folders, got a file: {root!r}")

    def pngs(folder):
        return [n for n in os.listdir(folder)
                if n.lower().endswith(".png") and os.path.isfile(os.path.join(folder, n))]

    events = []
    direct = pngs(root)
    subdirs = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
    if direct:
        if any(pngs(os.path.join(root, s)) for s in subdirs):
            raise DataError(root, "holds PNG frames and event sub-folders with PNG frames; "
                                  "put every event in its own sub-folder")
        events.append((os.path.basename(os.path.normpath(root)), root, direct))
    else:
        for s in subdirs:
            folder = os.path.join(root, s)
            names = pngs(folder)
            if names:
                events.append((s, folder, names))
            else:
                logger.info("Ignoring sub-folder without PNG frames: %s", folder)
    if not events:
        raise DataError(root, "no PNG frames in the folder or its sub-folders "
                              "(expected root/<event>/<frame>.png): empty data set")
    return events


def _png_header_problem(path: str):
    """Check the PNG signature and IHDR: 8-bit grayscale (colour type 0)."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return "corrupt", "not a PNG file (bad signature or header)"
    bit_depth, colour_type = head[24], head[25]
    if bit_depth != 8 or colour_type != 0:
        return "format", (f"expected an 8-bit grayscale PNG, got bit depth {bit_depth}, "
                          f"colour type {colour_type}")
    return None


def _check_png(path: str):
    """Decode one frame exactly as the pipeline will; return (problem, shape)."""
    try:
        problem = _png_header_problem(path)
        if problem:
            return problem, None
        img = tf.io.decode_png(tf.io.read_file(path), channels=0, dtype=tf.uint8)
        return None, tuple(int(s) for s in img.shape[:2])
    except (tf.errors.OpError, OSError) as err:
        # Keep TensorFlow's reason ("Invalid PNG data, size 1016"), drop its
        # op-name decorations.
        msg = getattr(err, "message", None) or str(err)
        msg = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", msg)
        msg = re.sub(r"\s*\[Op:\w+\].*$", "", msg, flags=re.S).strip() or type(err).__name__
        return ("corrupt", f"cannot be decoded: {msg[:200]}"), None


def scan_png_events(
    root: str,
    window_length: int,
    stride: int = 1,
    *,
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
    validate: bool = True,
    num_workers: int | None = None,
):
    """Index a PNG event folder: frame order, problems and valid windows.

    Args:
        root: folder of event sub-folders (or one folder of frames).
        window_length: frames per window (``N + M``).
        stride: window stride.
        interval_minutes: expected time step between frames.
        validate: decode every frame to find corrupt / non-grayscale / odd
            sized frames (names and times are always checked).
        num_workers: threads for decoding (default: CPU count, at most 8).

    Returns:
        ``(paths, starts, report)``: ``paths`` lists every frame file, event
        after event, each in time order; window ``i`` is
        ``paths[starts[i]:starts[i] + window_length]`` (``starts`` is int64);
        ``report`` is a :class:`PrecipitationReport` (not yet checked against
        ``on_bad``).

    Example:
        >>> paths, starts, report = scan_png_events("data/radar", 15, stride=5)
        >>> first_window = paths[starts[0]:starts[0] + 15]
    """
    root = os.fspath(root)
    window_length = positive_int("window_length", window_length)
    stride = positive_int("stride", stride)
    events = _list_events(root)
    report = PrecipitationReport(source=str(root), format="png",
                                 window_length=window_length, stride=stride)
    interval_s = float(interval_minutes) * 60.0

    ordered = []  # (event, [paths], {pos: problem}, breaks, [unplaced-frame problems])
    for name, folder, names in events:
        parsed, unplaced = [], []
        for n in names:
            try:
                parsed.append((parse_frame_name(n), n))
            except DataError as err:
                # A file without a time has no place in the sequence: left out
                # (and listed); a frame that was really missing shows as a gap.
                unplaced.append(FrameProblem(os.path.join(folder, n), "name", err.reason,
                                             None, name))
        kinds = {k for (k, _), _ in parsed}
        if len(kinds) > 1:
            raise DataError(folder, "mixes timestamped and index-named frames; use one "
                                    "naming scheme per event")
        parsed.sort(key=lambda item: (item[0][1], item[1]))
        paths = [os.path.join(folder, n) for _, n in parsed]
        problems, breaks = {}, []
        for i in range(1, len(parsed)):
            (kind, prev), (_, cur) = parsed[i - 1][0], parsed[i][0]
            if kind == "time":
                step = cur - prev
                if step != interval_s:
                    breaks.append(i)
                    missing = int(round(step / interval_s)) - 1 if step > 0 else 0
                    detail = (f"; about {missing} missing frame(s)" if missing > 0
                              else " (duplicate or out-of-order time)" if step <= 0 else "")
                    problems[i] = FrameProblem(
                        paths[i], "gap",
                        f"time step {step / 60:g} min after {os.path.basename(paths[i - 1])!r}, "
                        f"expected {interval_minutes:g} min{detail}", i, name)
            elif cur - prev != 1:
                breaks.append(i)
                problems[i] = FrameProblem(
                    paths[i], "missing",
                    f"index {cur} follows index {prev} ({os.path.basename(paths[i - 1])!r}); "
                    f"{max(cur - prev - 1, 0)} frame(s) missing", i, name)
        ordered.append((name, paths, problems, breaks, unplaced))

    bad = {}  # (event_no, pos) -> problem from decoding
    if validate:
        flat = [(e, i, p) for e, (_, paths, *_) in enumerate(ordered)
                for i, p in enumerate(paths)]
        workers = num_workers or min(8, os.cpu_count() or 1)
        # tf.io decode ops release the GIL: threads overlap file I/O and decoding.
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda item: _check_png(item[2]), flat))
        shapes = Counter(shape for _, shape in results if shape is not None)
        common = shapes.most_common(1)[0][0] if shapes else None
        report.frame_shape = common
        for (e, i, p), (problem, shape) in zip(flat, results):
            if problem is not None:
                bad[(e, i)] = FrameProblem(p, problem[0], problem[1], i, ordered[e][0])
            elif shape != common:
                bad[(e, i)] = FrameProblem(
                    p, "shape", f"frame size {shape} differs from the data set's {common}",
                    i, ordered[e][0])

    # Windows are start offsets into one flat path list: memory grows with the
    # number of frames, not with windows x window length.
    all_paths, all_starts = [], []
    for e, (name, paths, problems, breaks, unplaced) in enumerate(ordered):
        bad_pos = [i for (ev, i) in bad if ev == e]
        starts, n_cand = window_starts(len(paths), window_length, stride, bad_pos, breaks)
        if len(paths) < window_length:
            report.short_events.append(name)
        report.num_candidate_windows += n_cand
        report.num_samples += len(starts)
        all_starts.append(starts + len(all_paths))
        all_paths.extend(paths)
        merged = dict(problems)
        merged.update({i: bad[(e, i)] for i in bad_pos})
        report.problems.extend(unplaced)
        report.problems.extend(merged[i] for i in sorted(merged))
        report.num_frames += len(paths)
    report.num_events = len(ordered)
    starts = np.concatenate(all_starts) if all_starts else np.zeros((0,), np.int64)
    return all_paths, starts.astype(np.int64), report


def png_window_dataset(
    root: str,
    input_frames: int,
    target_frames: int,
    stride: int = 1,
    batch_size: int = 8,
    *,
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
    on_bad: str = "raise",
    validate: bool = True,
    shuffle: bool = False,
    seed: int | None = None,
    drop_remainder: bool = False,
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
):
    """Sliding-window dataset over PNG event folders (see the module docstring).

    Args:
        root: folder of event sub-folders holding grayscale 8-bit PNG frames.
        input_frames: observed frames per window (N).
        target_frames: future frames per window (M).
        stride: frames between consecutive window starts within an event.
        batch_size: windows per batch.
        interval_minutes: expected time step (default 6).
        on_bad: ``"raise"`` or ``"skip"`` (see the module docstring).
        validate: decode every frame up front (see :func:`scan_png_events`).
        shuffle: shuffle windows each epoch.
        seed: shuffle seed.
        drop_remainder: drop a last partial batch.
        num_parallel_calls: parallelism of the decoding map.
        prefetch: batches to prefetch (None: no prefetch).

    Returns:
        ``(dataset, report)``: the dataset yields ``(inputs, targets)`` float32
        batches of shape ``(B, N, H, W, 1)`` and ``(B, M, H, W, 1)`` on [0, 1].

    Raises:
        FileNotFoundError: ``root`` does not exist.
        TypeError, ValueError: bad arguments.
        DataError: no PNG frames, bad frames with ``on_bad="raise"``, or no
            usable window (the message names the file).

    Example:
        >>> ds, report = png_window_dataset("data/radar", 5, 10, stride=5)
    """
    input_frames, target_frames, stride, batch_size, on_bad, interval_minutes = \
        _check_window_arguments(input_frames, target_frames, stride, batch_size, on_bad,
                                interval_minutes)
    length = input_frames + target_frames
    paths, starts, report = scan_png_events(root, length, stride, interval_minutes=interval_minutes,
                                      validate=validate)
    _finish_report(report, on_bad)
    if report.frame_shape is None:
        # Without validation, the first frame fixes the static shape; a frame
        # of another size then fails loudly in tf.ensure_shape below.
        img = tf.io.decode_png(tf.io.read_file(paths[int(starts[0])]), channels=0)
        report.frame_shape = tuple(int(s) for s in img.shape[:2])
    h, w = report.frame_shape

    all_paths = tf.constant(paths, dtype=tf.string)

    def load(start):
        files = all_paths[start:start + length]
        frames = [tf.ensure_shape(tf.io.decode_png(tf.io.read_file(files[i]), channels=0,
                                                   dtype=tf.uint8), [h, w, 1])
                  for i in range(length)]
        return _to_unit(tf.cast(tf.stack(frames), tf.float32), "pixel")

    keys = tf.data.Dataset.from_tensor_slices(tf.constant(starts, dtype=tf.int64))
    ds = _window_pipeline(keys, load, input_frames, batch_size, shuffle, seed,
                          len(starts), drop_remainder, num_parallel_calls, prefetch)
    return ds, report


# ----------------------------------------------------------------------------
# HDF5 arrays.
# ----------------------------------------------------------------------------


def _h5_key(name: str) -> str:
    return "/" + name.lstrip("/")


def scan_hdf5(
    path: str,
    window_length: int,
    stride: int = 1,
    *,
    dataset_name: str = "frames",
    timestamps_name: str | None = "timestamps",
    events_name: str | None = "events",
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
    units: str | None = None,
    validate: bool = True,
    scan_batch: int = 64,
):
    """Index an HDF5 radar archive: problems and valid window start rows.

    Metadata (shape, dtype, attributes, timestamps, event ids) is read with
    h5py; the NaN scan streams the frames through ``tfio.IODataset.from_hdf5``
    in batches of ``scan_batch`` frames, so memory stays bounded.

    Args:
        path: the ``.h5`` / ``.hdf5`` file.
        window_length: frames per window (``N + M``).
        stride: window stride.
        dataset_name: frame dataset, ``(T, H, W)`` or ``(T, H, W, 1)``.
        timestamps_name: ``(T,)`` seconds since the epoch; None if the file
            has none (frames are then assumed consecutive).
        events_name: optional ``(T,)`` integer event ids (ignored if absent).
        interval_minutes: expected time step.
        units: ``"pixel"``, ``"dBZ"`` or ``"unit"`` (default: the frame
            dataset's ``units`` attribute, else ``"pixel"``).
        validate: scan float frames for NaN / Inf.
        scan_batch: frames per read in the NaN scan.

    Returns:
        ``(starts, units, report)``: int64 array of valid window start rows,
        the resolved units (lower case) and a :class:`PrecipitationReport`.

    Example:
        >>> starts, units, report = scan_hdf5("radar.h5", 15, stride=5)
    """
    # h5py reads metadata only; frame data is streamed through tensorflow-io.
    h5py = optional_import("h5py", "reading HDF5 radar archives")

    path = os.fspath(path)
    window_length = positive_int("window_length", window_length)
    stride = positive_int("stride", stride)
    _check_value_units(units)
    if not os.path.exists(path):
        raise FileNotFoundError(f"HDF5 file not found: {path!r}")
    report = PrecipitationReport(source=str(path), format="hdf5",
                                 window_length=window_length, stride=stride)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(path, f"cannot be opened as HDF5: {err}") from None
    with f:
        names = []
        f.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset) else None)
        if dataset_name.strip("/") not in names:
            raise DataError(path, f"no dataset {dataset_name!r}; datasets: {names}")
        dset = f[dataset_name]
        shape = dset.shape
        if not (len(shape) == 3 or (len(shape) == 4 and shape[-1] == 1)):
            raise DataError(path, f"dataset {dataset_name!r} must be (T, H, W) or "
                                  f"(T, H, W, 1), got shape {shape}")
        if not (np.issubdtype(dset.dtype, np.integer) or np.issubdtype(dset.dtype, np.floating)):
            raise DataError(path, f"dataset {dataset_name!r} has unsupported dtype {dset.dtype}")
        attr_units = dset.attrs.get("units")
        if isinstance(attr_units, bytes):
            attr_units = attr_units.decode()
        resolved = str(units or attr_units or "pixel").lower()
        if resolved not in VALUE_UNITS:
            raise DataError(path, f"the units attribute {attr_units!r} of {dataset_name!r} is "
                                  "none of 'pixel', 'dBZ', 'unit'; pass units= to override it")
        n = int(shape[0])
        report.frame_shape = (int(shape[1]), int(shape[2]))
        if n == 0:
            raise DataError(path, f"dataset {dataset_name!r} holds no frames: empty data set")
        if timestamps_name is not None:
            if timestamps_name.strip("/") not in names:
                raise DataError(path, f"no timestamps dataset {timestamps_name!r} (datasets: "
                                      f"{names}); pass timestamps_name=None to assume "
                                      "consecutive frames")
            times = np.asarray(f[timestamps_name][...]).reshape(-1)
            if times.shape[0] != n:
                raise DataError(path, f"{times.shape[0]} timestamps for {n} frames")
        else:
            times = None
        if events_name is not None and events_name.strip("/") in names:
            event_ids = np.asarray(f[events_name][...]).reshape(-1)
            if event_ids.shape[0] != n:
                raise DataError(path, f"{event_ids.shape[0]} event ids for {n} frames")
        else:
            event_ids = np.zeros((n,), np.int64)
        is_float = np.issubdtype(dset.dtype, np.floating)
        tf_dtype = tf.as_dtype(dset.dtype)

    problems = []
    if validate and is_float:
        tfio = optional_import("tensorflow_io", "reading HDF5 radar archives")

        frames = tfio.IODataset.from_hdf5(path, dataset=_h5_key(dataset_name), spec=tf_dtype)
        flags = frames.batch(scan_batch).map(lambda x: tf.reduce_any(
            ~tf.math.is_finite(tf.reshape(x, [tf.shape(x)[0], -1])), axis=1))
        nonfinite = np.concatenate([b.numpy() for b in flags]) if n else np.zeros(0, bool)
        for i in np.flatnonzero(nonfinite):
            problems.append(FrameProblem(
                str(path), "nan", f"frame {int(i)} of {dataset_name!r} holds NaN/Inf values",
                int(i), str(event_ids[i])))
    bad_rows = {p.index for p in problems}

    # Events are contiguous runs of equal ids; each gets its own stride grid.
    bounds = np.flatnonzero(np.diff(event_ids) != 0) + 1
    segments = np.split(np.arange(n), bounds)
    interval_s = float(interval_minutes) * 60.0
    all_starts = []
    for seg in segments:
        lo, hi = int(seg[0]), int(seg[-1]) + 1
        breaks = []
        if times is not None:
            steps = np.diff(times[lo:hi].astype(np.float64))
            for j in np.flatnonzero(steps != interval_s):
                row = lo + int(j) + 1
                breaks.append(int(j) + 1)
                problems.append(FrameProblem(
                    str(path), "gap",
                    f"time step {steps[j] / 60:g} min before frame {row} "
                    f"(timestamp {int(times[row])}), expected {interval_minutes:g} min",
                    row, str(event_ids[lo])))
        bad = [r - lo for r in bad_rows if lo <= r < hi]
        starts, n_cand = window_starts(hi - lo, window_length, stride, bad, breaks)
        if hi - lo < window_length:
            report.short_events.append(str(event_ids[lo]))
        report.num_candidate_windows += n_cand
        report.num_samples += len(starts)
        all_starts.append(starts + lo)
    problems.sort(key=lambda p: p.index)
    report.problems = problems
    report.num_events = len(segments)
    report.num_frames = n
    return np.concatenate(all_starts).astype(np.int64), resolved, report


def hdf5_window_dataset(
    path: str,
    input_frames: int,
    target_frames: int,
    stride: int = 1,
    batch_size: int = 8,
    *,
    dataset_name: str = "frames",
    timestamps_name: str | None = "timestamps",
    events_name: str | None = "events",
    units: str | None = None,
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
    on_bad: str = "raise",
    validate: bool = True,
    shuffle: bool = False,
    seed: int | None = None,
    drop_remainder: bool = False,
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
):
    """Sliding-window dataset streamed from an HDF5 archive with tensorflow-io.

    Each window is one hyperslab read (``IOTensor[start:start + N + M]``), so
    only the frames of the windows in flight are in memory.

    Args:
        path: the ``.h5`` / ``.hdf5`` file.
        input_frames: observed frames per window (N).
        target_frames: future frames per window (M).
        stride: rows between consecutive window starts within an event.
        batch_size: windows per batch.
        dataset_name, timestamps_name, events_name, units, validate: see
            :func:`scan_hdf5`.
        interval_minutes: expected time step (default 6).
        on_bad: ``"raise"`` or ``"skip"``.
        shuffle, seed, drop_remainder, num_parallel_calls, prefetch: as in
            :func:`png_window_dataset`.

    Returns:
        ``(dataset, report)``; batches of ``(B, N, H, W, 1)`` and
        ``(B, M, H, W, 1)`` float32 on [0, 1].

    Raises:
        FileNotFoundError: the file does not exist.
        TypeError, ValueError: bad arguments.
        DataError: a malformed file, bad frames with ``on_bad="raise"``, or no
            usable window (the message names the file).

    Example:
        >>> ds, report = hdf5_window_dataset("radar.h5", 5, 10, stride=1)
    """
    tfio = optional_import("tensorflow_io", "reading HDF5 radar archives")

    path = os.fspath(path)
    input_frames, target_frames, stride, batch_size, on_bad, interval_minutes = \
        _check_window_arguments(input_frames, target_frames, stride, batch_size, on_bad,
                                interval_minutes)
    length = input_frames + target_frames
    starts, resolved, report = scan_hdf5(
        path, length, stride, dataset_name=dataset_name, timestamps_name=timestamps_name,
        events_name=events_name, interval_minutes=interval_minutes, units=units,
        validate=validate)
    _finish_report(report, on_bad)
    h, w = report.frame_shape
    frames = tfio.IOTensor.from_hdf5(path)(_h5_key(dataset_name))

    def load(start):
        x = tf.cast(frames[start:start + length], tf.float32)
        x = _to_unit(tf.reshape(x, [length, h, w, 1]), resolved)
        # Check before clipping: clipping must not be able to hide a NaN.
        x = tf.debugging.check_numerics(x, f"HDF5 window from {path}")
        return tf.clip_by_value(x, 0.0, 1.0)

    keys = tf.data.Dataset.from_tensor_slices(tf.constant(starts, dtype=tf.int64))
    ds = _window_pipeline(keys, load, input_frames, batch_size, shuffle, seed,
                          len(starts), drop_remainder, num_parallel_calls, prefetch)
    return ds, report


# ----------------------------------------------------------------------------
# Entry point.
# ----------------------------------------------------------------------------


def make_precipitation_dataset(
    path: str,
    input_frames: int,
    target_frames: int,
    stride: int = 1,
    batch_size: int = 8,
    *,
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
    on_bad: str = "raise",
    validate: bool = True,
    shuffle: bool = False,
    seed: int | None = None,
    drop_remainder: bool = False,
    dataset_name: str = "frames",
    timestamps_name: str | None = "timestamps",
    events_name: str | None = "events",
    units: str | None = None,
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
):
    """Build a windowed nowcasting dataset from PNG event folders or HDF5.

    A folder is read as PNG events (:func:`png_window_dataset`); a file ending
    in ``.h5``, ``.hdf5``, ``.hdf`` or ``.he5`` as HDF5
    (:func:`hdf5_window_dataset`).  See the module docstring for formats,
    scaling, validation and window arithmetic.

    Args:
        path: folder or HDF5 file.
        input_frames: observed frames per window (N).
        target_frames: future frames per window (M).
        stride: frames between window starts.
        batch_size: windows per batch.
        interval_minutes: expected time between frames (default 6).
        on_bad: ``"raise"`` (default): a bad frame raises a ``DataError``;
            ``"skip"``: windows touching it are dropped and it is listed in
            ``report.problems``.
        validate: check frame contents up front (PNG decode / HDF5 NaN scan).
        shuffle: shuffle windows every epoch.
        seed: shuffle seed.
        drop_remainder: drop a last partial batch.
        dataset_name, timestamps_name, events_name, units: HDF5 only.
        num_parallel_calls: parallelism of the loading map.
        prefetch: batches to prefetch (None: none).

    Returns:
        ``(dataset, report)``: a ``tf.data.Dataset`` of ``(inputs, targets)``,
        float32 on [0, 1], of shape ``(B, N, H, W, 1)`` and
        ``(B, M, H, W, 1)``, and the :class:`PrecipitationReport`
        (``report.num_samples`` windows, ``report.problems``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TypeError, ValueError: bad arguments.
        DataError: an unsupported file, bad data with ``on_bad="raise"``, or
            no usable window (whatever ``on_bad``); the message names the file
            and, for a bad frame, its index.

    Example:
        >>> ds, report = make_precipitation_dataset("radar.h5", 5, 10, batch_size=4)
        >>> for inputs, targets in ds.take(1):
        ...     print(inputs.shape, targets.shape)
    """
    path = os.fspath(path)
    _check_value_units(units)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Precipitation data not found: {path!r}")
    common = dict(interval_minutes=interval_minutes, on_bad=on_bad, validate=validate,
                  shuffle=shuffle, seed=seed, drop_remainder=drop_remainder,
                  num_parallel_calls=num_parallel_calls, prefetch=prefetch)
    if os.path.isdir(path):
        return png_window_dataset(path, input_frames, target_frames, stride, batch_size,
                                  **common)
    if path.lower().endswith(HDF5_SUFFIXES):
        return hdf5_window_dataset(
            path, input_frames, target_frames, stride, batch_size, dataset_name=dataset_name,
            timestamps_name=timestamps_name, events_name=events_name, units=units, **common)
    raise DataError(path, "unsupported precipitation data: expected a folder of PNG events "
                          f"or an HDF5 file ({', '.join(HDF5_SUFFIXES)})")


__all__ = [
    "DEFAULT_INTERVAL_MINUTES", "HDF5_SUFFIXES",
    "FrameProblem", "PrecipitationReport", "parse_frame_name", "window_starts",
    "scan_png_events", "png_window_dataset", "scan_hdf5", "hdf5_window_dataset",
    "make_precipitation_dataset",
]
