"""Readers, validation and the synthetic generator for precipitation nowcasting."""

import datetime as dt
import os
import pathlib

import cv2
import h5py
import numpy as np
import pytest
import tensorflow as tf

from scs_keras.data import precipitation as P
from scs_keras.data.contract import DataError
from scs_keras.data.synthetic import rain as R

H = W = 16
T0 = dt.datetime(2018, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


# ----------------------------------------------------------------------------
# Helpers: write known arrays, count windows independently.
# ----------------------------------------------------------------------------


def stamp(i, interval=6):
    return (T0 + dt.timedelta(minutes=interval * i)).strftime("%Y%m%d%H%M")


def write_event(root, name, frames, stamps=None):
    """Write uint8 frames (T, H, W) as <name>/<name>_<YYYYMMDDHHMM>.png."""
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        s = stamps[i] if stamps is not None else stamp(i)
        p = os.path.join(folder, f"{name}_{s}.png")
        assert cv2.imwrite(p, f)
        paths.append(p)
    return paths


def known_frames(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, H, W), dtype=np.uint8)


def brute_force_windows(n, length, stride, bad=(), gap_before=()):
    """Independent window enumeration: explicit loops, no prefix sums."""
    out = []
    start = 0
    while start + length <= n:
        frames = list(range(start, start + length))
        ok = all(f not in bad for f in frames) and all(g not in frames[1:] for g in gap_before)
        if ok:
            out.append(start)
        start += stride
    return out


def collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def read_windows(*args, **kwargs):
    """All windows of make_precipitation_dataset(*args, **kwargs), as arrays."""
    ds, _ = P.make_precipitation_dataset(*args, **kwargs)
    return collect(ds)


def to_pixels(x):
    return np.rint(x * 255.0).astype(np.int64)


@pytest.fixture()
def png_root(tmp_path):
    """Two events: 9 and 7 frames of known random pixels."""
    root = str(tmp_path / "radar")
    a = known_frames(9, 1)
    b = known_frames(7, 2)
    pa = write_event(root, "ev_a", a)
    pb = write_event(root, "ev_b", b)
    return root, {"ev_a": (a, pa), "ev_b": (b, pb)}


def test_parse_frame_name_patterns():
    epoch = int(dt.datetime(2018, 6, 1, 12, 6, tzinfo=dt.timezone.utc).timestamp())
    assert P.parse_frame_name("x_201806011206.png") == ("time", epoch)
    assert P.parse_frame_name("/a/b/201806011206.png") == ("time", epoch)
    assert P.parse_frame_name("y-20180601120630.png") == ("time", epoch + 30)
    assert P.parse_frame_name("RAD180601120600.png") == ("time", epoch)  # HKO-7
    assert P.parse_frame_name("0012.png") == ("index", 12)
    assert P.parse_frame_name("frame_7.PNG") == ("index", 7)
    with pytest.raises(DataError, match="noidx.png"):
        P.parse_frame_name("noidx.png")
    with pytest.raises(DataError, match="201813011200"):
        P.parse_frame_name("bad_201813011200.png")  # month 13


@pytest.mark.parametrize("n,length,stride", [(9, 3, 1), (9, 3, 2), (10, 4, 3), (5, 5, 1),
                                             (4, 5, 1), (20, 6, 4)])
def test_window_starts_matches_brute_force(n, length, stride):
    rng = np.random.default_rng(n * 100 + length * 10 + stride)
    bad = set(rng.choice(n, size=min(2, n), replace=False).tolist())
    gaps = set(rng.choice(np.arange(1, n), size=1).tolist())
    starts, n_cand = P.window_starts(n, length, stride, bad, gaps)
    assert starts.tolist() == brute_force_windows(n, length, stride, bad, gaps)
    assert n_cand == len(brute_force_windows(n, length, stride))
    # Closed form for the candidate grid.
    assert n_cand == ((n - length) // stride + 1 if n >= length else 0)


# ----------------------------------------------------------------------------
# PNG reader.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_png_windows_round_trip_and_count(png_root, stride):
    root, events = png_root
    n_in, n_out = 2, 2
    ds, report = P.make_precipitation_dataset(root, n_in, n_out, stride=stride, batch_size=3)
    x, y = collect(ds)
    expected = []
    for name in ("ev_a", "ev_b"):
        frames, _ = events[name]
        for s in brute_force_windows(len(frames), n_in + n_out, stride):
            expected.append(frames[s:s + n_in + n_out])
    assert x.shape == (len(expected), n_in, H, W, 1) and y.shape == (len(expected), n_out, H, W, 1)
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0
    got = np.concatenate([x, y], axis=1)[..., 0]
    # Exact up to the 8-bit quantisation: x * 255 recovers the stored pixels.
    np.testing.assert_array_equal(to_pixels(got), np.stack(expected).astype(np.int64))
    assert report.num_windows == len(expected) and report.num_skipped_windows == 0
    assert report.num_frames == 16 and report.num_events == 2 and report.frame_shape == (H, W)


def test_png_batches_and_drop_remainder(png_root):
    root, _ = png_root
    # 9 + 7 frames, windows of 3, stride 1: 7 + 5 = 12 windows.
    ds, _ = P.make_precipitation_dataset(pathlib.Path(root), 2, 1, batch_size=5)
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert sizes == [5, 5, 2]
    ds, _ = P.make_precipitation_dataset(root, 2, 1, batch_size=5, drop_remainder=True)
    assert [int(x.shape[0]) for x, _ in ds] == [5, 5]
    assert ds.element_spec[0].shape.as_list() == [5, 2, H, W, 1]


def test_png_shuffle_keeps_the_same_windows(png_root):
    root, _ = png_root
    plain, _ = read_windows(root, 2, 1, batch_size=4)
    shuf, _ = read_windows(root, 2, 1, batch_size=4, shuffle=True, seed=3)
    key = lambda a: sorted(map(bytes, to_pixels(a).astype(np.uint8).reshape(len(a), -1)))
    assert key(plain) == key(shuf)
    assert not np.array_equal(plain, shuf)


def test_png_single_event_folder_and_index_names(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    frames = known_frames(6, 5)
    for i, f in enumerate(frames):
        # Unpadded indices: numeric order (1, 2, ..., 10) must win over lexical.
        cv2.imwrite(str(folder / f"frame_{i + 5}.png"), f)
    x, y = read_windows(str(folder), 3, 3, batch_size=2)
    assert x.shape[0] == 1
    np.testing.assert_array_equal(to_pixels(np.concatenate([x, y], 1)[0, ..., 0]), frames)


def test_png_corrupt_frame_raise_names_file(png_root):
    root, events = png_root
    bad_path = events["ev_a"][1][4]
    R.truncate_file(bad_path, 0.5)
    with pytest.raises(DataError) as info:
        P.make_precipitation_dataset(root, 2, 1)
    msg = str(info.value)
    assert info.value.path == bad_path
    assert bad_path in msg and "frame index 4" in msg and "corrupt" in msg


def test_png_corrupt_and_empty_frames_skip(png_root, caplog):
    root, events = png_root
    R.truncate_file(events["ev_a"][1][4], 0.5)
    R.truncate_file(events["ev_b"][1][0], 0.0)  # an empty file is corrupt too
    caplog.set_level("WARNING")
    ds, report = P.make_precipitation_dataset(root, 2, 1, stride=1, on_bad="skip")
    x, y = collect(ds)
    exp_a = brute_force_windows(9, 3, 1, bad={4})
    exp_b = brute_force_windows(7, 3, 1, bad={0})
    assert report.num_windows == len(exp_a) + len(exp_b) == x.shape[0]
    assert report.num_skipped_windows == (7 - len(exp_a)) + (5 - len(exp_b)) == 4
    assert sorted(p.kind for p in report.problems) == ["corrupt", "corrupt"]
    assert {p.path for p in report.problems} == {events["ev_a"][1][4], events["ev_b"][1][0]}
    assert sorted(report.bad_paths) == sorted([events["ev_a"][1][4], events["ev_b"][1][0]])
    assert report.num_samples == report.num_windows and report.num_candidate_windows == 12
    assert "Skipped 4 window(s)" in caplog.text
    # The surviving windows are exactly the expected frames.
    fa, fb = events["ev_a"][0], events["ev_b"][0]
    expected = [fa[s:s + 3] for s in exp_a] + [fb[s:s + 3] for s in exp_b]
    np.testing.assert_array_equal(to_pixels(np.concatenate([x, y], 1)[..., 0]), np.stack(expected))


def test_png_missing_frame_gap(png_root):
    root, events = png_root
    removed = R.remove_frame(os.path.join(root, "ev_a"), 5)
    after_gap = events["ev_a"][1][6]
    with pytest.raises(DataError) as info:
        P.make_precipitation_dataset(root, 2, 1)
    msg = str(info.value)
    assert "gap" in msg and os.path.basename(after_gap) in msg and "12 min" in msg
    assert "frame index 5" in msg  # position of the frame after the gap
    ds, report = P.make_precipitation_dataset(root, 2, 1, on_bad="skip")
    # ev_a now has 8 frames; the gap sits before position 5.
    exp_a = brute_force_windows(8, 3, 1, gap_before={5})
    assert report.num_windows == len(exp_a) + 5
    assert report.num_skipped_windows == 6 - len(exp_a) == 2
    assert [p.kind for p in report.problems] == ["gap"]
    assert not os.path.exists(removed)
    assert sum(int(x.shape[0]) for x, _ in ds) == report.num_windows


def test_png_index_names_missing_index(tmp_path):
    folder = tmp_path / "r" / "e"
    folder.mkdir(parents=True)
    for i in (0, 1, 2, 4, 5, 6):
        cv2.imwrite(str(folder / f"{i:04d}.png"), known_frames(1, i)[0])
    with pytest.raises(DataError, match=r"0004\.png: missing"):
        P.make_precipitation_dataset(str(tmp_path / "r"), 2, 1)
    _, report = P.make_precipitation_dataset(str(tmp_path / "r"), 2, 1, on_bad="skip")
    assert report.num_windows == 2 and report.problems[0].kind == "missing"


def test_png_wrong_format_and_shape(tmp_path):
    root = str(tmp_path / "r")
    paths = write_event(root, "e", known_frames(6, 0))
    rgb = np.zeros((H, W, 3), np.uint8)
    cv2.imwrite(paths[1], rgb)                                  # colour, not grayscale
    cv2.imwrite(paths[4], np.zeros((H + 2, W), np.uint8))       # odd size
    with pytest.raises(DataError, match="format at frame index 1"):
        P.make_precipitation_dataset(root, 1, 1)
    _, report = P.make_precipitation_dataset(root, 1, 1, on_bad="skip")
    assert [(p.kind, p.index) for p in report.problems] == [("format", 1), ("shape", 4)]
    assert report.num_windows == len(brute_force_windows(6, 2, 1, bad={1, 4})) == 1


def test_png_without_validation_fails_loudly_at_read_time(png_root):
    root, events = png_root
    R.truncate_file(events["ev_b"][1][3], 0.5)
    ds, _ = P.make_precipitation_dataset(root, 2, 1, validate=False, batch_size=64)
    with pytest.raises(tf.errors.InvalidArgumentError):
        collect(ds)


def test_png_empty_missing_and_too_short(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no PNG frames"):
        P.make_precipitation_dataset(str(empty), 2, 1)
    (empty / "sub").mkdir()
    with pytest.raises(DataError, match="no PNG frames"):
        P.make_precipitation_dataset(str(empty), 2, 1)
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        P.make_precipitation_dataset(missing, 2, 1)
    root = str(tmp_path / "short")
    write_event(root, "e", known_frames(3, 0))
    with pytest.raises(DataError, match="no usable window of 5 frames"):
        P.make_precipitation_dataset(root, 3, 2)


def test_png_all_windows_bad_raises_even_when_skipping(tmp_path):
    root = str(tmp_path / "r")
    paths = write_event(root, "e", known_frames(4, 0))
    R.truncate_file(paths[2], 0.3)
    with pytest.raises(DataError, match="all 1 candidate window"):
        P.make_precipitation_dataset(root, 2, 2, on_bad="skip")


def test_png_unreadable_name_raise_and_skip(png_root):
    root, events = png_root
    stray = os.path.join(root, "ev_b", "preview.png")
    assert cv2.imwrite(stray, known_frames(1, 9)[0])
    with pytest.raises(DataError, match="preview.png: name") as info:
        P.make_precipitation_dataset(root, 2, 1)
    assert info.value.path == stray
    ds, report = P.make_precipitation_dataset(root, 2, 1, on_bad="skip")
    # The stray file is left out; both events keep all their windows.
    assert report.bad_paths == [stray] and report.problems[0].index is None
    assert report.num_windows == 7 + 5 == collect(ds)[0].shape[0]


def test_bad_arguments(png_root, tmp_path):
    root, _ = png_root
    # Argument mistakes are plain ValueError / TypeError, not DataError.
    for kwargs, error, name in [(dict(stride=0), ValueError, "stride"),
                                (dict(on_bad="ignore"), ValueError, "on_bad"),
                                (dict(interval_minutes=0), ValueError, "interval_minutes"),
                                (dict(batch_size=True), TypeError, "batch_size"),
                                (dict(units="mm/h"), ValueError, "units")]:
        with pytest.raises(error, match=name) as info:
            P.make_precipitation_dataset(root, 2, 1, **kwargs)
        assert not isinstance(info.value, DataError)
    with pytest.raises(TypeError, match="input_frames"):
        P.make_precipitation_dataset(root, 2.5, 1)
    # NumPy integers are integers.
    _, report = P.make_precipitation_dataset(root, np.int64(2), np.int32(1))
    assert report.window_length == 3
    other = tmp_path / "data.nc"
    other.write_bytes(b"x")
    with pytest.raises(DataError, match="unsupported"):
        P.make_precipitation_dataset(str(other), 2, 1)


# ----------------------------------------------------------------------------
# HDF5 reader.
# ----------------------------------------------------------------------------


def write_h5(path, frames, times=None, events=None, units=None, name="frames"):
    with h5py.File(path, "w") as f:
        chunks = (1,) + frames.shape[1:] if len(frames) else None
        d = f.create_dataset(name, data=frames, chunks=chunks)
        if units:
            d.attrs["units"] = units
        if times is not False:
            t = times if times is not None else 1527854400 + 360 * np.arange(len(frames))
            f.create_dataset("timestamps", data=np.asarray(t, np.int64))
        if events is not None:
            f.create_dataset("events", data=np.asarray(events, np.int32))
    return path


def test_hdf5_uint8_round_trip_and_count(tmp_path):
    frames = known_frames(11, 7)
    path = write_h5(str(tmp_path / "a.h5"), frames)
    ds, report = P.make_precipitation_dataset(pathlib.Path(path), 3, 2, stride=2, batch_size=2)
    x, y = collect(ds)
    starts = brute_force_windows(11, 5, 2)
    assert report.num_windows == len(starts) == x.shape[0] == 4
    np.testing.assert_array_equal(to_pixels(np.concatenate([x, y], 1)[..., 0]),
                                  np.stack([frames[s:s + 5] for s in starts]))


def test_hdf5_float_dbz_units_and_events(tmp_path):
    rng = np.random.default_rng(0)
    dbz = rng.uniform(-10, 60, size=(12, H, W)).astype(np.float32)
    dbz[0, 0, 0] = 75.0    # above the scale: clipped to 1
    events = [0] * 7 + [1] * 5
    # Event 1 starts a day later: not a gap, because the event id changes.
    times = np.concatenate([1527854400 + 360 * np.arange(7), 1527940800 + 360 * np.arange(5)])
    path = write_h5(str(tmp_path / "b.hdf5"), dbz[..., None], times, events, units="dBZ")
    ds, report = P.make_precipitation_dataset(path, 2, 2, batch_size=8)
    x, y = collect(ds)
    starts = brute_force_windows(7, 4, 1) + [7 + s for s in brute_force_windows(5, 4, 1)]
    assert report.num_events == 2 and not report.problems and x.shape[0] == len(starts) == 6
    expected = np.clip((np.stack([dbz[s:s + 4] for s in starts]) + 10) / 70, 0, 1)
    np.testing.assert_allclose(np.concatenate([x, y], 1)[..., 0], expected, atol=1e-6)
    # Overriding the units attribute changes the scaling.
    x2, _ = read_windows(path, 2, 2, units="unit", batch_size=8)
    np.testing.assert_allclose(x2[1, 0, ..., 0], np.clip(dbz[1], 0, 1), atol=1e-6)


def test_hdf5_frames_are_streamed_not_read_with_h5py(tmp_path, monkeypatch):
    path = write_h5(str(tmp_path / "c.h5"), known_frames(8, 1))
    original = h5py.Dataset.__getitem__

    def guarded(self, key):
        assert self.name != "/frames", "frame data must be streamed by tensorflow-io"
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", guarded)
    x, _ = read_windows(path, 2, 2, batch_size=8)
    assert x.shape[0] == 5


def test_hdf5_nan_raise_and_skip(tmp_path):
    dbz = np.random.default_rng(1).uniform(-10, 60, size=(10, H, W)).astype(np.float32)
    path = write_h5(str(tmp_path / "nan.h5"), dbz, units="dBZ")
    R.inject_nan(path, 6)
    with pytest.raises(DataError) as info:
        P.make_precipitation_dataset(path, 2, 1)
    msg = str(info.value)
    assert path in msg and "frame index 6" in msg and "NaN" in msg
    ds, report = P.make_precipitation_dataset(path, 2, 1, on_bad="skip")
    exp = brute_force_windows(10, 3, 1, bad={6})
    assert report.num_windows == len(exp) == 5 and report.num_skipped_windows == 3
    x, y = collect(ds)
    assert np.isfinite(x).all() and np.isfinite(y).all() and x.shape[0] == len(exp)


def test_hdf5_nan_without_validation_is_not_silent(tmp_path):
    dbz = np.zeros((6, H, W), np.float32)
    path = write_h5(str(tmp_path / "nan2.h5"), dbz, units="dBZ")
    R.inject_nan(path, 2)
    ds, _ = P.make_precipitation_dataset(path, 2, 1, validate=False, batch_size=8)
    with pytest.raises(tf.errors.InvalidArgumentError):
        collect(ds)


def test_hdf5_timestamp_gap_raise_and_skip(tmp_path):
    path = write_h5(str(tmp_path / "gap.h5"), known_frames(10, 3))
    R.shift_timestamps(path, 4, minutes=6)
    with pytest.raises(DataError, match=r"gap\.h5: gap at frame index 4: .*12 min"):
        P.make_precipitation_dataset(path, 2, 1)
    _, report = P.make_precipitation_dataset(path, 2, 1, stride=2, on_bad="skip")
    exp = brute_force_windows(10, 3, 2, gap_before={4})
    assert report.num_windows == len(exp) and report.num_skipped_windows == 4 - len(exp)


def test_hdf5_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        P.make_precipitation_dataset(str(tmp_path / "absent.h5"), 2, 1)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file")
    with pytest.raises(DataError, match="junk.h5"):
        P.make_precipitation_dataset(str(junk), 2, 1)
    path = write_h5(str(tmp_path / "named.h5"), known_frames(5, 0), name="radar")
    with pytest.raises(DataError, match="no dataset 'frames'.*radar"):
        P.make_precipitation_dataset(path, 2, 1)
    _, report = P.make_precipitation_dataset(path, 2, 1, dataset_name="radar")
    assert report.num_windows == 3
    path = write_h5(str(tmp_path / "nots.h5"), known_frames(5, 0), times=False)
    with pytest.raises(DataError, match="timestamps"):
        P.make_precipitation_dataset(path, 2, 1)
    x, _ = read_windows(path, 2, 1, timestamps_name=None)
    assert x.shape[0] == 3
    path = write_h5(str(tmp_path / "badlen.h5"), known_frames(5, 0), times=np.arange(4))
    with pytest.raises(DataError, match="4 timestamps for 5 frames"):
        P.make_precipitation_dataset(path, 2, 1)
    path = write_h5(str(tmp_path / "empty.h5"), np.zeros((0, H, W), np.uint8), times=[])
    with pytest.raises(DataError, match="no frames"):
        P.make_precipitation_dataset(path, 2, 1)
    path = write_h5(str(tmp_path / "short.h5"), known_frames(3, 0))
    with pytest.raises(DataError, match="no usable window"):
        P.make_precipitation_dataset(path, 2, 2)


# ----------------------------------------------------------------------------
# Synthetic generator: both formats, same data, bad cases.
# ----------------------------------------------------------------------------


def test_synthetic_event_is_seeded_realistic_and_moving():
    a = R.generate_event(12, 32, 32, seed=4)
    b = R.generate_event(12, 32, 32, seed=4)
    c = R.generate_event(12, 32, 32, seed=5)
    np.testing.assert_array_equal(a.dbz, b.dbz)
    assert not np.array_equal(a.dbz, c.dbz)
    assert a.dbz.shape == (12, 32, 32) and a.dbz.dtype == np.float32
    assert a.dbz.min() >= -10.0 and a.dbz.max() <= 60.0
    assert a.dbz.max() > 35.0                     # convective cores
    assert 0.02 < np.mean(a.dbz > 20.0) < 0.9     # echoes, not a full sky
    assert np.all(np.diff(a.timestamps) == 360)   # 6-minute steps
    # Frames change over time (advection, growth, decay) but smoothly.
    step = np.abs(np.diff(a.dbz, axis=0)).mean()
    assert 0.1 < step < np.abs(a.dbz - a.dbz.mean()).mean()


def test_synthetic_png_and_hdf5_hold_the_same_data(tmp_path):
    m_png = R.write_png_events(str(tmp_path / "png"), 2, 8, 32, 32, seed=9, progress=False)
    m_h5 = R.write_hdf5(str(tmp_path / "h5" / "rain.h5"), 2, 8, 32, 32, seed=9, dtype="uint8",
                        progress=False)
    assert m_png["events"] == ["event_000", "event_001"] and m_h5["num_frames"] == 16
    xp, yp = read_windows(m_png["root"], 3, 2, stride=3, batch_size=4)
    xh, yh = read_windows(m_h5["path"], 3, 2, stride=3, batch_size=4)
    assert xp.shape == (4, 3, 32, 32, 1)
    np.testing.assert_array_equal(xp, xh)
    np.testing.assert_array_equal(yp, yh)
    # float32 dBZ HDF5 agrees with the 8-bit data up to the quantisation step.
    m_f = R.write_hdf5(str(tmp_path / "f.h5"), 2, 8, 32, 32, seed=9, progress=False)
    xf, _ = read_windows(m_f["path"], 3, 2, stride=3, batch_size=4)
    assert np.abs(xf - xp).max() <= 0.5 / 255 + 1e-6


def test_synthetic_corrupt_options_are_caught(tmp_path):
    m = R.write_png_events(str(tmp_path / "png"), 2, 10, 16, 16, seed=0,
                           corrupt=("truncate", "gap"), progress=False)
    kinds = {k: (p, pos) for k, p, pos in m["corrupted"]}
    with pytest.raises(DataError, match=os.path.basename(kinds["truncate"][0])):
        P.make_precipitation_dataset(m["root"], 2, 2)
    _, report = P.make_precipitation_dataset(m["root"], 2, 2, on_bad="skip")
    assert sorted(p.kind for p in report.problems) == ["corrupt", "gap"]
    # Event 0: 9 frames left, corrupt at 5, gap before position 6 (frame 7 removed).
    exp0 = brute_force_windows(9, 4, 1, bad={5}, gap_before={6})
    assert report.num_windows == len(exp0) + 7

    h = R.write_hdf5(str(tmp_path / "r.h5"), 2, 10, 16, 16, seed=0, corrupt=("nan", "gap"),
                     progress=False)
    with pytest.raises(DataError, match=r"r\.h5: nan at frame index 5"):
        P.make_precipitation_dataset(h["path"], 2, 2)
    _, report = P.make_precipitation_dataset(h["path"], 2, 2, on_bad="skip")
    assert [(p.kind, p.index) for p in report.problems] == [("nan", 5), ("gap", 8)]
    exp0 = brute_force_windows(10, 4, 1, bad={5}, gap_before={8})
    assert report.num_windows == len(exp0) + 7
    with pytest.raises(ValueError, match="uint8"):
        R.write_hdf5(str(tmp_path / "u.h5"), 1, 4, 8, 8, dtype="uint8", corrupt="nan",
                     progress=False)


def test_synthetic_cli(tmp_path, capsys):
    assert R.main(["--out", str(tmp_path / "p"), "--events", "1", "--frames", "4",
                   "--size", "16", "--no-progress"]) == 0
    assert len(os.listdir(tmp_path / "p" / "event_000")) == 4
    assert R.main(["--out", str(tmp_path / "h"), "--format", "hdf5", "--events", "2",
                   "--frames", "3", "--height", "8", "--width", "12", "--no-progress"]) == 0
    with h5py.File(tmp_path / "h" / "rain.h5", "r") as f:
        assert f["frames"].shape == (6, 8, 12) and f["frames"].attrs["units"] == "dBZ"
        assert f["events"][...].tolist() == [0, 0, 0, 1, 1, 1]
    assert "wrote" in capsys.readouterr().out
