"""Seeded synthetic radar-echo data in the readers' real on-disk formats.

Rain cells are anisotropic Gaussian blobs (a convective core plus a broad,
weak stratiform halo) with a texture that moves with each cell.  They advect
under a smooth, divergence-free motion field (a uniform steering flow plus a
few large-scale stream-function modes whose phases drift slowly in time),
and they are born, grow and decay over their lifetime.  Intensities are built
in rain rate (peaks of 3..150 mm/h), summed, and converted to reflectivity
through Z = 200 R^1.6, which gives peaks of about 30..60 dBZ; the field is
clipped to the HKO-7 range -10..60 dBZ (grey levels 0..255).  Frames are
6 minutes apart by default.  Because the future depends on the motion, a
forecaster must use the sequence, not the last frame alone.

Two writers produce exactly what :mod:`scs_keras.data.precipitation` reads:

- :func:`write_png_events`: ``out/<event>/<event>_YYYYMMDDHHMM.png``, 8-bit
  grayscale, ``pixel = round((dBZ + 10) * 255 / 70)``
  (:func:`scs_keras.units.dbz_to_uint8`);
- :func:`write_hdf5`: one file with ``frames`` ``(T, H, W)`` (float32 dBZ,
  attribute ``units="dBZ"``, or uint8 grey levels with ``units="pixel"``),
  ``timestamps`` ``(T,)`` int64 seconds since the epoch and ``events``
  ``(T,)`` int32 event ids; chunked one frame per chunk so windows can be
  read as hyperslabs.

Helpers write the bad cases the readers must catch: :func:`truncate_file`
(a corrupt PNG), :func:`remove_frame` (a missing frame, i.e. a time gap),
:func:`inject_nan` and :func:`shift_timestamps` (HDF5 NaNs and gaps).  The
writers' ``corrupt=`` option applies them at fixed places and records what it
did in the returned manifest.

CLI::

    python -m scs_keras.data.synthetic.rain --out DIR --format png \\
        --events 8 --frames 20 --size 64 --seed 0
    python -m scs_keras.data.synthetic.rain --out DIR/rain.h5 --format hdf5
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import os
import sys

import numpy as np

from scs_keras.data.progress import progress_bar
from scs_keras.units import DBZ_MAX, DBZ_MIN, dbz_to_uint8, rainrate_to_dbz
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import positive_int
#: Start of the first synthetic event (UTC).
BASE_TIME = _dt.datetime(2018, 6, 1, 0, 0, tzinfo=_dt.timezone.utc)


@dataclasses.dataclass
class RainEvent:
    """One synthetic event.

    Attributes:
        name: folder / event name, e.g. ``"event_000"``.
        dbz: float32 reflectivity ``(T, H, W)`` in -10..60 dBZ.
        timestamps: int64 ``(T,)`` seconds since the epoch (UTC).
    """

    name: str
    dbz: np.ndarray
    timestamps: np.ndarray


class _MotionField:
    """u0 + curl of a few drifting Fourier modes: smooth and divergence-free."""

    def __init__(self, rng, height, width, speed):
        angle = rng.uniform(0, 2 * np.pi)
        mag = rng.uniform(0.5, 1.0) * speed
        self.u0, self.v0 = mag * np.cos(angle), mag * np.sin(angle)
        size = float(max(height, width))
        n_modes = 3
        # Wavelengths of one to two domain sizes keep the field smooth.
        self.k = rng.uniform(0.5, 1.0, size=(n_modes, 2)) * (2 * np.pi / size)
        self.k *= rng.choice([-1, 1], size=(n_modes, 2))
        self.phase = rng.uniform(0, 2 * np.pi, size=n_modes)
        # Slow drift: a mode's phase turns by well under a radian per frame.
        self.omega = rng.uniform(-0.05, 0.05, size=n_modes)
        kmag = np.linalg.norm(self.k, axis=1)
        # Perturbation speed about 40 % of the steering speed.
        self.amp = 0.4 * speed / kmag / np.sqrt(n_modes)

    def velocity(self, x, y, t):
        """Velocity (pixels per frame) at points x, y (arrays) and time t."""
        u = np.full_like(x, self.u0, dtype=np.float64)
        v = np.full_like(y, self.v0, dtype=np.float64)
        for (kx, ky), ph, om, a in zip(self.k, self.phase, self.omega, self.amp):
            c = np.cos(kx * x + ky * y + ph + om * t)
            # psi = a sin(k.x + ...); u = d psi / dy, v = -d psi / dx.
            u += a * ky * c
            v -= a * kx * c
        return u, v


class _Cell:
    """A rain cell: position, shape, life cycle and a texture fixed in its frame."""

    def __init__(self, rng, x, y, birth, size):
        self.x, self.y, self.birth = float(x), float(y), float(birth)
        self.lifetime = rng.uniform(10, 30)
        self.peak = float(np.exp(rng.uniform(np.log(3.0), np.log(150.0))))  # mm/h
        self.sigma = rng.uniform(0.05, 0.11) * size
        self.aspect = rng.uniform(0.5, 1.0)
        self.theta = rng.uniform(0, np.pi)
        n = 4
        # Texture wavelengths of one to a few sigma: structure inside a cell,
        # not pixel noise.
        self.tk = rng.normal(size=(n, 2)) * (2 * np.pi / (2.0 * self.sigma))
        self.tph = rng.uniform(0, 2 * np.pi, size=n)

    def envelope(self, t):
        """Grow then decay: a half sine over the lifetime (0 outside it)."""
        s = (t - self.birth) / self.lifetime
        return float(np.sin(np.pi * s)) if 0.0 < s < 1.0 else 0.0

    def rain(self, gx, gy, t):
        env = self.envelope(t)
        if env <= 0:
            return 0.0
        dx, dy = gx - self.x, gy - self.y
        c, s = np.cos(self.theta), np.sin(self.theta)
        a, b = c * dx + s * dy, -s * dx + c * dy
        sigma = self.sigma * (0.6 + 0.4 * env)  # cells swell as they mature
        q = (a / sigma) ** 2 + (b / (sigma * self.aspect)) ** 2
        tex = np.zeros_like(gx)
        for (kx, ky), ph in zip(self.tk, self.tph):
            tex += np.sin(kx * dx + ky * dy + ph)
        tex /= np.sqrt(len(self.tph) / 2.0)  # roughly unit variance
        core = _compact_gaussian(q) * np.clip(1.0 + 0.35 * tex, 0.2, None)
        # A 1.7x wider, weak stratiform halo around the convective core.
        halo = 0.06 * _compact_gaussian(q / 2.89)
        return self.peak * env * (core + halo)


def _compact_gaussian(q, cut=2.5):
    """exp(-q/2) shifted to reach 0 at r = cut sigma (q = r^2 / sigma^2).

    In dBZ a plain Gaussian's tail stays visible far out (100 mm/h falls to
    0.1 mm/h only at 3.7 sigma), which floods the image with weak echo; the
    compact support gives cells a finite edge, as real echoes have.
    """
    floor = np.exp(-0.5 * cut * cut)
    return np.maximum(np.exp(-0.5 * q) - floor, 0.0) / (1.0 - floor)


def rain_to_dbz(rain):
    """Rain rate (mm/h) to reflectivity, clipped to the HKO-7 range -10..60 dBZ.

    :func:`scs_keras.units.rainrate_to_dbz` (``Z = 200 R^1.6``), then clipped,
    so no rain (``-inf`` dBZ) becomes -10 dBZ, grey level 0.

    Args:
        rain: rain-rate array (>= 0).

    Returns:
        float32 dBZ array.

    Example:
        >>> float(rain_to_dbz(np.array(0.0)))
        -10.0
    """
    return np.clip(rainrate_to_dbz(rain), DBZ_MIN, DBZ_MAX).astype(np.float32)


def generate_event(
    frames: int = 20,
    height: int = 64,
    width: int = 64,
    *,
    seed: int | np.random.Generator = 0,
    speed: float | None = None,
    interval_minutes: float = 6.0,
    start_time: _dt.datetime | None = None,
    name: str = "event_000",
) -> RainEvent:
    """Simulate one event of advecting, growing and decaying rain cells.

    Args:
        frames: number of frames.
        height: rows.
        width: columns.
        seed: int seed or a numpy Generator.
        speed: steering speed in pixels per frame (default: 4 % of the image
            size, at least 1; about 2.5 px per 6 min on 64 px, like a storm
            at 25 km/h on a 1 km radar grid).
        interval_minutes: time between frames.
        start_time: time of the first frame (UTC; default BASE_TIME).
        name: event name.

    Returns:
        A :class:`RainEvent`.

    Example:
        >>> ev = generate_event(10, 32, 32, seed=1)
        >>> ev.dbz.shape, float(ev.dbz.max()) > 20
        ((10, 32, 32), True)
    """
    for n, v in (("frames", frames), ("height", height), ("width", width)):
        positive_int(n, v)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    size = float(max(height, width))
    speed = float(speed) if speed is not None else max(1.0, 0.04 * size)
    motion = _MotionField(rng, height, width, speed)
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float64)

    def spawn(birth):
        # Anywhere in a margin around the image, so cells also drift in.
        x = rng.uniform(-0.15 * width, 1.15 * width)
        y = rng.uniform(-0.15 * height, 1.15 * height)
        return _Cell(rng, x, y, birth, size)

    area_scale = max(1.0, (height * width) / 4096.0)
    n0 = int(rng.integers(3, 6) * area_scale)
    # Initial cells are at random stages of life so frame 0 already has echoes.
    cells = [spawn(-rng.uniform(0, 10)) for _ in range(n0)]
    spawn_rate = 0.25 * area_scale
    out = np.empty((frames, height, width), np.float32)
    for t in range(frames):
        rain = np.zeros((height, width))
        for cell in cells:
            r = cell.rain(gx, gy, t)
            if np.ndim(r):
                rain += r
        out[t] = rain_to_dbz(rain)
        # Advance: Lagrangian move of every cell, then births.
        for cell in cells:
            u, v = motion.velocity(np.array(cell.x), np.array(cell.y), t)
            cell.x += float(u)
            cell.y += float(v)
        cells = [c for c in cells if t + 1 < c.birth + c.lifetime]
        for _ in range(rng.poisson(spawn_rate)):
            cells.append(spawn(t + 1 - rng.uniform(0, 2)))
    start = start_time or BASE_TIME
    t0 = int(start.timestamp())
    step = int(round(interval_minutes * 60))
    times = t0 + step * np.arange(frames, dtype=np.int64)
    return RainEvent(name=name, dbz=out, timestamps=times)


def generate_events(
    num_events: int = 4,
    frames_per_event: int = 20,
    height: int = 64,
    width: int = 64,
    *,
    seed: int = 0,
    interval_minutes: float = 6.0,
):
    """Yield ``num_events`` independent :class:`RainEvent`\\ s, reproducibly.

    Event ``e`` starts on day ``e`` after BASE_TIME at a seeded time of day on
    the 6-minute grid; its randomness comes from ``seed`` and ``e`` only.

    Args:
        num_events: number of events.
        frames_per_event: frames per event.
        height, width: frame size.
        seed: base seed.
        interval_minutes: time between frames.

    Returns:
        A generator of :class:`RainEvent`.

    Example:
        >>> [e.name for e in generate_events(2, 5, 16, 16)]
        ['event_000', 'event_001']
    """
    positive_int("num_events", num_events)
    for e in range(num_events):
        rng = np.random.default_rng([seed, e])
        start = BASE_TIME + _dt.timedelta(days=e, minutes=6 * int(rng.integers(0, 200)))
        yield generate_event(frames_per_event, height, width, seed=rng,
                             interval_minutes=interval_minutes, start_time=start,
                             name=f"event_{e:03d}")


# ----------------------------------------------------------------------------
# Corruption helpers (bad cases for the readers' tests).
# ----------------------------------------------------------------------------


def truncate_file(path: str, keep_fraction: float = 0.5) -> str:
    """Cut a file short, e.g. to make an undecodable PNG.

    Args:
        path: file to truncate in place.
        keep_fraction: fraction of the bytes to keep (0 gives an empty file).

    Returns:
        ``path``.

    Example:
        >>> truncate_file("data/event_000/event_000_201806010030.png")
    """
    if not 0.0 <= keep_fraction < 1.0:
        raise ValueError(f"keep_fraction must be in [0, 1), got {keep_fraction}")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(int(size * keep_fraction))
    return path


def remove_frame(event_dir: str, position: int) -> str:
    """Delete the ``position``-th frame (in name order) of an event folder.

    This leaves a gap of one interval in the event's timestamps.

    Args:
        event_dir: an event folder written by :func:`write_png_events`.
        position: 0-based frame position.

    Returns:
        The deleted file's path.

    Example:
        >>> remove_frame("data/event_000", 5)
    """
    names = sorted(n for n in os.listdir(event_dir) if n.lower().endswith(".png"))
    if not -len(names) <= position < len(names):
        raise IndexError(f"{event_dir!r} has {len(names)} frames, no position {position}")
    path = os.path.join(event_dir, names[position])
    os.remove(path)
    return path


def inject_nan(path: str, frame_index: int, dataset_name: str = "frames",
               fraction: float = 0.1, seed: int = 0) -> str:
    """Write NaNs into part of one frame of a float HDF5 frame dataset.

    Args:
        path: HDF5 file.
        frame_index: row to damage.
        dataset_name: frame dataset.
        fraction: fraction of the frame's pixels set to NaN (at least one).
        seed: which pixels.

    Returns:
        ``path``.

    Example:
        >>> inject_nan("rain.h5", 7)
    """
    h5py = optional_import("h5py", "writing HDF5 radar archives")

    with h5py.File(path, "r+") as f:
        d = f[dataset_name]
        if not np.issubdtype(d.dtype, np.floating):
            raise ValueError(f"Cannot store NaN in {dataset_name!r} of dtype {d.dtype}; "
                             "write the file with dtype='float32'")
        frame = d[frame_index]
        rng = np.random.default_rng(seed)
        mask = rng.random(frame.shape) < fraction
        mask.flat[0] = True
        frame[mask] = np.nan
        d[frame_index] = frame
    return path


def shift_timestamps(path: str, from_index: int, minutes: float = 6.0,
                     timestamps_name: str = "timestamps") -> str:
    """Add ``minutes`` to every timestamp from ``from_index`` on: a time gap.

    Args:
        path: HDF5 file.
        from_index: first row to shift.
        minutes: size of the added gap.
        timestamps_name: timestamps dataset.

    Returns:
        ``path``.

    Example:
        >>> shift_timestamps("rain.h5", 10)    # frames 9 -> 10 now 12 min apart
    """
    h5py = optional_import("h5py", "writing HDF5 radar archives")

    with h5py.File(path, "r+") as f:
        d = f[timestamps_name]
        t = d[...]
        t[from_index:] += int(round(minutes * 60))
        d[...] = t
    return path


# ----------------------------------------------------------------------------
# Writers.
# ----------------------------------------------------------------------------


def write_png_events(
    out_dir: str,
    num_events: int = 4,
    frames_per_event: int = 20,
    height: int = 64,
    width: int = 64,
    *,
    seed: int = 0,
    interval_minutes: float = 6.0,
    corrupt=(),
    progress: bool = True,
) -> dict:
    """Write synthetic events as HKO-7-style PNG folders.

    Layout: ``out_dir/event_XXX/event_XXX_YYYYMMDDHHMM.png`` (8-bit grayscale).

    Args:
        out_dir: output folder (created).
        num_events: events to write.
        frames_per_event: frames per event.
        height, width: frame size.
        seed: base seed (same seed, same files).
        interval_minutes: time between frames.
        corrupt: any of ``"truncate"`` (truncate the middle frame of event 0)
            and ``"gap"`` (delete frame ``frames_per_event // 2 + 2`` of
            event 0, if it exists).
        progress: show a tqdm bar.

    Returns:
        A manifest dict: ``root``, ``events`` (names), ``frames`` (per event),
        ``shape``, ``corrupted`` (list of ``(kind, path, position)``).

    Example:
        >>> m = write_png_events("/tmp/radar", num_events=2, frames_per_event=12,
        ...                      height=32, width=32, progress=False)
    """
    cv2 = optional_import("cv2", "writing PNG radar frames")

    corrupt = _check_corrupt(corrupt, {"truncate", "gap"})
    os.makedirs(out_dir, exist_ok=True)
    manifest = {"root": out_dir, "events": [], "frames": [], "shape": (height, width),
                "corrupted": []}
    with progress_bar(num_events * frames_per_event, progress, "rain png", "frame") as bar:
        for ev in generate_events(num_events, frames_per_event, height, width, seed=seed,
                                  interval_minutes=interval_minutes):
            folder = os.path.join(out_dir, ev.name)
            os.makedirs(folder, exist_ok=True)
            for frame, t in zip(ev.dbz, ev.timestamps):
                stamp = _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).strftime("%Y%m%d%H%M")
                path = os.path.join(folder, f"{ev.name}_{stamp}.png")
                if not cv2.imwrite(path, dbz_to_uint8(frame)):
                    raise OSError(f"Could not write {path!r}")
                bar.update(1)
            manifest["events"].append(ev.name)
            manifest["frames"].append(frames_per_event)
    folder0 = os.path.join(out_dir, manifest["events"][0])
    mid = frames_per_event // 2
    names0 = sorted(os.listdir(folder0))
    if "truncate" in corrupt:
        path = truncate_file(os.path.join(folder0, names0[mid]), 0.5)
        manifest["corrupted"].append(("truncate", path, mid))
    if "gap" in corrupt and mid + 2 < frames_per_event:
        path = remove_frame(folder0, mid + 2)
        manifest["corrupted"].append(("gap", path, mid + 2))
        manifest["frames"][0] -= 1
    return manifest


def write_hdf5(
    path: str,
    num_events: int = 4,
    frames_per_event: int = 20,
    height: int = 64,
    width: int = 64,
    *,
    seed: int = 0,
    interval_minutes: float = 6.0,
    dtype: str = "float32",
    dataset_name: str = "frames",
    compression: str | None = "gzip",
    corrupt=(),
    progress: bool = True,
) -> dict:
    """Write synthetic events into one HDF5 file (see the module docstring).

    Events are stored one after another; the ``events`` dataset tells the
    reader where one ends, so the day-long jumps in ``timestamps`` between
    events are not gaps.

    Args:
        path: output file (``.h5``); its folder is created.
        num_events: events to write.
        frames_per_event: frames per event.
        height, width: frame size.
        seed: base seed (same seed, same data as :func:`write_png_events`).
        interval_minutes: time between frames.
        dtype: ``"float32"`` (dBZ, ``units="dBZ"``) or ``"uint8"`` (grey
            levels, ``units="pixel"``).
        dataset_name: name of the frame dataset.
        compression: h5py compression filter (None for none).
        corrupt: any of ``"nan"`` (NaNs in frame ``frames_per_event // 2``)
            and ``"gap"`` (timestamps shifted by one interval from frame
            ``frames_per_event // 2 + 3`` within event 0).
        progress: show a tqdm bar.

    Returns:
        A manifest dict: ``path``, ``num_frames``, ``shape``, ``dtype``,
        ``corrupted`` (list of ``(kind, path, row)``).

    Example:
        >>> m = write_hdf5("/tmp/rain.h5", num_events=2, frames_per_event=12,
        ...                height=32, width=32, progress=False)
    """
    h5py = optional_import("h5py", "writing HDF5 radar archives")

    corrupt = _check_corrupt(corrupt, {"nan", "gap"})
    if dtype not in ("float32", "uint8"):
        raise ValueError(f"dtype must be 'float32' or 'uint8', got {dtype!r}")
    if "nan" in corrupt and dtype != "float32":
        raise ValueError("corrupt='nan' needs dtype='float32' (uint8 cannot hold NaN)")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    total = num_events * frames_per_event
    with h5py.File(path, "w") as f, progress_bar(total, progress, "rain hdf5", "frame") as bar:
        frames = f.create_dataset(dataset_name, shape=(total, height, width), dtype=dtype,
                                  chunks=(1, height, width), compression=compression)
        frames.attrs["units"] = "dBZ" if dtype == "float32" else "pixel"
        frames.attrs["description"] = "synthetic radar reflectivity (scs_keras.data.synthetic.rain)"
        stamps = f.create_dataset("timestamps", shape=(total,), dtype="int64")
        stamps.attrs["units"] = "seconds since 1970-01-01 00:00:00 UTC"
        events = f.create_dataset("events", shape=(total,), dtype="int32")
        f.attrs["interval_minutes"] = float(interval_minutes)
        for e, ev in enumerate(generate_events(num_events, frames_per_event, height, width,
                                               seed=seed, interval_minutes=interval_minutes)):
            lo = e * frames_per_event
            for j in range(frames_per_event):
                frames[lo + j] = ev.dbz[j] if dtype == "float32" else dbz_to_uint8(ev.dbz[j])
                bar.update(1)
            stamps[lo:lo + frames_per_event] = ev.timestamps
            events[lo:lo + frames_per_event] = e
    manifest = {"path": path, "num_frames": total, "shape": (height, width), "dtype": dtype,
                "corrupted": []}
    mid = frames_per_event // 2
    if "nan" in corrupt:
        inject_nan(path, mid, dataset_name)
        manifest["corrupted"].append(("nan", path, mid))
    if "gap" in corrupt and mid + 3 < frames_per_event:
        # Shift only the rest of event 0, so the gap stays inside one event.
        with h5py.File(path, "r+") as f:
            t = f["timestamps"][...]
            t[mid + 3:frames_per_event] += int(round(interval_minutes * 60))
            f["timestamps"][...] = t
        manifest["corrupted"].append(("gap", path, mid + 3))
    return manifest


def _check_corrupt(corrupt, allowed):
    if corrupt is None:
        return set()
    if isinstance(corrupt, str):
        corrupt = (corrupt,)
    corrupt = set(corrupt)
    unknown = corrupt - allowed
    if unknown:
        raise ValueError(f"Unknown corrupt option(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return corrupt


def main(argv=None) -> int:
    """Command-line entry point (see the module docstring).

    Args:
        argv: arguments (default ``sys.argv[1:]``).

    Returns:
        Exit status 0.
    """
    p = argparse.ArgumentParser(
        prog="python -m scs_keras.data.synthetic.rain",
        description="Write a synthetic radar-echo data set (PNG event folders or HDF5).")
    p.add_argument("--out", required=True,
                   help="output folder (png), or .h5 file / folder (hdf5: DIR/rain.h5)")
    p.add_argument("--format", choices=("png", "hdf5"), default="png")
    p.add_argument("--events", type=int, default=8, help="number of events")
    p.add_argument("--frames", type=int, default=20, help="frames per event")
    p.add_argument("--size", type=int, default=64, help="frame height and width")
    p.add_argument("--height", type=int, default=None, help="overrides --size")
    p.add_argument("--width", type=int, default=None, help="overrides --size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--interval", type=float, default=6.0, help="minutes between frames")
    p.add_argument("--dtype", choices=("float32", "uint8"), default="float32",
                   help="hdf5 frame dtype: float32 dBZ or uint8 grey levels")
    p.add_argument("--corrupt", action="append", default=[],
                   help="png: truncate|gap; hdf5: nan|gap (repeatable; for testing readers)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    h, w = a.height or a.size, a.width or a.size
    if a.format == "png":
        m = write_png_events(a.out, a.events, a.frames, h, w, seed=a.seed,
                             interval_minutes=a.interval, corrupt=a.corrupt,
                             progress=not a.no_progress)
        print(f"wrote {len(m['events'])} event folder(s) under {a.out}")
    else:
        out = a.out if a.out.lower().endswith((".h5", ".hdf5")) else os.path.join(a.out, "rain.h5")
        m = write_hdf5(out, a.events, a.frames, h, w, seed=a.seed, interval_minutes=a.interval,
                       dtype=a.dtype, corrupt=a.corrupt, progress=not a.no_progress)
        print(f"wrote {m['num_frames']} frame(s) to {out}")
    for kind, path, pos in m["corrupted"]:
        print(f"corrupted ({kind}): {path} at {pos}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
