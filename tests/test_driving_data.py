"""Driving readers: alignment by hand, streamed frames and targets, bad input."""

import csv
import os

import h5py
import numpy as np
import pytest

from scs_keras.data.contract import DataError
from scs_keras.data.driving import (
    align_log_to_frames,
    align_rows_by_time,
    clip_end_frames,
    make_comma_dataset,
    make_video_csv_dataset,
    read_route_conditions,
    write_route_conditions,
)

H, W = 4, 6

# A hand-made log of 13 rows for 8 frames.  Rows 4, 5 and 12 are glitches.
#   frame 0 <- rows 0, 1       -> row 1 (the last)
#   frame 1 <- rows 2, 3, 4    -> row 3 (row 4 is a glitch)
#   frame 2 <- row 5 (glitch)  -> none
#   frame 3 <- rows 6, 7       -> row 7
#   frame 4 <- no row          -> none
#   frame 5 <- rows 8, 9       -> row 9
#   frame 6 <- row 10          -> row 10
#   frame 7 <- rows 11, 12     -> row 11 (row 12 is a glitch)
PTR = [0, 0, 1, 1, 1, 2, 3, 3, 5, 5, 6, 7, 7]
GLITCHES = {4: 999.0, 5: -500.0, 12: 201.0}
ROW_OF_FRAME = [1, 3, -1, 7, -1, 9, 10, 11]


def _angle_of(row):
    """The (plausible, < 200 degrees) angle logged at ``row`` by default."""
    return 3.0 * row + 0.5


def _angles(num_rows, glitches=()):
    angle = _angle_of(np.arange(num_rows, dtype=np.float64))
    for row, value in dict(glitches).items():
        angle[row] = value
    return angle


def _frames(seed, num_frames, h=H, w=W):
    return np.random.default_rng(seed).integers(0, 256, (num_frames, 3, h, w), dtype=np.uint8)


def write_route(root, name, frames=None, ptr=None, angle=None, speed=None, camera=True, log=True,
                **extra):
    """Writes camera/<name>.h5 and log/<name>.h5; returns (frames, log dict)."""
    if frames is None:
        frames = _frames(len(name), 8)
    if ptr is None:
        ptr = np.repeat(np.arange(len(frames)), 5)
    ptr = np.asarray(ptr, dtype=np.float64)
    if angle is None:
        angle = _angles(ptr.size)
    if speed is None:
        speed = 100.0 + np.arange(ptr.size)
    columns = {"steering_angle": np.asarray(angle, np.float64), "speed": np.asarray(speed, float),
               "times": np.arange(ptr.size) / 100.0, "cam1_ptr": ptr, **extra}
    if camera:
        os.makedirs(os.path.join(root, "camera"), exist_ok=True)
        with h5py.File(os.path.join(root, "camera", f"{name}.h5"), "w") as f:
            f["X"] = frames
    if log:
        os.makedirs(os.path.join(root, "log"), exist_ok=True)
        with h5py.File(os.path.join(root, "log", f"{name}.h5"), "w") as f:
            for key, values in columns.items():
                f[key] = values
    return frames, columns


def collect(ds):
    frames, targets = [], {}
    for x, y in ds:
        frames.append(x.numpy())
        for k, v in y.items():
            targets.setdefault(k, []).append(v.numpy())
    return np.concatenate(frames), {k: np.concatenate(v) for k, v in targets.items()}


def as_pixels(frames):
    return np.rint(frames * 255.0).astype(np.int64)


# ----------------------------------------------------------------------------
# Pure alignment functions.
# ----------------------------------------------------------------------------


def test_align_log_to_frames_by_hand():
    rows, glitches = align_log_to_frames(PTR, _angles(13, GLITCHES), num_frames=8)
    assert rows.tolist() == ROW_OF_FRAME
    assert glitches == 3
    # The threshold is inclusive: 200 is kept, 201 is a glitch.
    rows, glitches = align_log_to_frames([0, 0], [200.0, 201.0], 1)
    assert rows.tolist() == [0] and glitches == 1
    # "Last" means the largest row index, even for unsorted pointers.
    rows, _ = align_log_to_frames(np.array([1.0, 0.0, 1.0, 0.0]), [1, 2, 3, 4], 3)
    assert rows.tolist() == [3, 2, -1]


def test_align_rows_by_time_by_hand():
    frames = [0.0, 0.25, 0.5, 0.75, 1.0]
    times = [0.0, 0.125, 0.375, 0.625, 1.2]
    angle = [1.0, 300.0, 1.0, 1.0, 1.0]          # row 1 is a glitch
    rows, glitches = align_rows_by_time(frames, times, angle, tolerance=0.125)
    # 0.25: row 1 dropped, row 2 is 0.125 away (inclusive); 0.5: rows 2 and 3
    # tie, the later wins; 1.0: row 4 is 0.2 away, too far.
    assert rows.tolist() == [0, 2, 3, 3, -1]
    assert glitches == 1
    # Default tolerance: half the frame interval.
    rows, _ = align_rows_by_time([0.0, 0.1], [0.049, 0.151], [0, 0])
    assert rows.tolist() == [0, -1]


def test_clip_end_frames_by_hand():
    has = [True, True, False, True, True, True, False, True]
    ends, n = clip_end_frames(has, length=3, stride=1)
    assert ends.tolist() == [3, 4, 5, 7] and n == 6
    ends, n = clip_end_frames(has, length=3, stride=2)      # grid 2, 4, 6
    assert ends.tolist() == [4] and n == 3
    ends, n = clip_end_frames(has, length=9)
    assert ends.tolist() == [] and n == 0


# ----------------------------------------------------------------------------
# comma.ai layout: frames and targets.
# ----------------------------------------------------------------------------


def test_comma_reader_streams_the_right_frames_and_targets(tmp_path):
    root = str(tmp_path)
    frames_a, log_a = write_route(root, "a_route", ptr=PTR, angle=_angles(13, GLITCHES))
    frames_b, log_b = write_route(root, "b_route", frames=_frames(7, 5))  # 5 rows per frame
    ds, report = make_comma_dataset(root, length=3, batch_size=3)
    x, y = collect(ds)

    # Route a: ends 3, 5, 6, 7 (frames 2 and 4 have no row); route b: ends 2, 3, 4.
    expected = [("a", 3, 7), ("a", 5, 9), ("a", 6, 10), ("a", 7, 11),
                ("b", 2, 14), ("b", 3, 19), ("b", 4, 24)]
    assert x.shape == (7, 3, H, W, 3) and x.dtype == np.float32
    assert set(y) == {"steering_angle", "speed"}
    for i, (route, end, row) in enumerate(expected):
        stored, log = (frames_a, log_a) if route == "a" else (frames_b, log_b)
        assert np.array_equal(as_pixels(x[i]), stored[end - 2:end + 1].transpose(0, 2, 3, 1)), i
        assert y["steering_angle"][i] == np.float32(log["steering_angle"][row])
        assert y["speed"][i] == np.float32(log["speed"][row])
    assert report.num_samples == 7
    assert report.routes == ["a_route", "b_route"]
    assert report.clips_per_route == {"a_route": 4, "b_route": 3}
    assert report.num_glitch_rows == 3
    assert report.num_frames_without_target == 2
    assert (report.num_candidate_clips, report.num_skipped_clips) == (9, 2)
    assert report.num_frames == 13 and report.num_log_rows == 13 + 25
    assert report.frame_shape == report.output_shape == (H, W)
    assert report.problems == []


def test_comma_reader_shuffle_stride_and_resize(tmp_path):
    root = str(tmp_path)
    constant = np.zeros((10, 3, H, W), np.uint8)
    constant[:, 0], constant[:, 1], constant[:, 2] = 51, 102, 204
    write_route(root, "r", frames=constant)
    ds, report = make_comma_dataset(root, length=2, stride=3, batch_size=4, image_size=(8, 5))
    x, y = collect(ds)
    # Grid ends 1, 4, 7; frame k's last row is 5k + 4.
    assert y["steering_angle"].tolist() == pytest.approx([_angle_of(5 * e + 4)
                                                          for e in (1, 4, 7)])
    assert x.shape == (3, 2, 8, 5, 3) and report.output_shape == (8, 5)
    # A constant image stays constant when resized.
    assert np.allclose(x, np.array([51, 102, 204]) / 255.0, atol=1e-6)

    first, _ = make_comma_dataset(root, length=2, batch_size=8, shuffle=True, seed=3)
    again, _ = make_comma_dataset(root, length=2, batch_size=8, shuffle=True, seed=3)
    order = collect(first)[1]["steering_angle"]
    assert order.tolist() == collect(again)[1]["steering_angle"].tolist()
    assert sorted(order.tolist()) == pytest.approx([_angle_of(5 * e + 4) for e in range(1, 10)])
    assert order.tolist() != sorted(order.tolist())


def test_condition_target_and_condition_files(tmp_path):
    root = str(tmp_path)
    write_route(root, "r", frames=_frames(1, 6))
    segments = [{"start": 0, "stop": 4, "light": "day", "rain": "dry"},
                {"start": 4, "stop": 6, "light": "night", "rain": "dry"}]
    path = write_route_conditions(os.path.join(root, "conditions", "r.json"), 6, segments,
                                  ["light", "rain"])
    assert read_route_conditions(path).tolist() == ["day/dry"] * 4 + ["night/dry"] * 2
    ds, report = make_comma_dataset(root, length=2, batch_size=8,
                                    targets=("steering_angle", "condition"))
    _, y = collect(ds)
    assert report.condition_names == ["day/dry", "night/dry"]
    assert y["condition"].dtype == np.int32
    assert y["condition"].tolist() == [0, 0, 0, 1, 1]          # ends 1..5
    with pytest.raises(ValueError, match="tile"):
        write_route_conditions(path, 6, [{"start": 0, "stop": 3, "light": "x", "rain": "y"},
                                         {"start": 4, "stop": 6, "light": "x", "rain": "y"}],
                               ["light", "rain"])


# ----------------------------------------------------------------------------
# comma.ai layout: bad input.
# ----------------------------------------------------------------------------


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _set_log(root, name, key, values):
    with h5py.File(os.path.join(root, "log", f"{name}.h5"), "a") as f:
        del f[key]
        if values is not None:
            f[key] = values


BAD_CASES = {
    "camera without log": (lambda r: write_route(r, "bad", log=False), "camera", "missing"),
    "log without camera": (lambda r: write_route(r, "bad", camera=False), "log", "missing"),
    "pointer past frames": (lambda r: write_route(r, "bad", ptr=[0, 1, 2, 8]), "log", "range"),
    "negative pointer": (lambda r: write_route(r, "bad", ptr=[-1, 0, 1]), "log", "range"),
    "fractional pointer": (lambda r: write_route(r, "bad", ptr=[0, 0.5, 1]), "log", "format"),
    "decreasing pointer": (lambda r: write_route(r, "bad", ptr=[0, 2, 1]), "log", "order"),
    "nan speed": (lambda r: write_route(r, "bad", speed=[1.0, np.nan, 1.0], ptr=[0, 1, 2]),
                  "log", "nan"),
    "column of other length": (lambda r: (write_route(r, "bad"),
                                          _set_log(r, "bad", "speed", [1.0])), "log", "format"),
    "missing column": (lambda r: (write_route(r, "bad"), _set_log(r, "bad", "speed", None)),
                       "log", "missing"),
    "truncated camera": (lambda r: (write_route(r, "bad"),
                                    _truncate(os.path.join(r, "camera", "bad.h5"))),
                         "camera", "corrupt"),
    "truncated log": (lambda r: (write_route(r, "bad"),
                                 _truncate(os.path.join(r, "log", "bad.h5"))), "log", "corrupt"),
    "camera channels last": (lambda r: write_route(
        r, "bad", frames=np.zeros((8, H, W, 3), np.uint8)), "camera", "format"),
    "camera float": (lambda r: write_route(
        r, "bad", frames=np.zeros((8, 3, H, W), np.float32)), "camera", "format"),
    "other frame size": (lambda r: write_route(r, "bad", frames=_frames(0, 8, h=H + 1)),
                         "camera", "format"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_comma_bad_input_raises_or_is_skipped(tmp_path, case):
    root = str(tmp_path)
    write_route(root, "a_good", frames=_frames(2, 8))   # sorts first: the size reference
    make_bad, folder, kind = BAD_CASES[case]
    make_bad(root)
    bad_file = os.path.join(root, folder, "bad.h5")
    with pytest.raises(DataError) as err:
        make_comma_dataset(root, length=2)
    assert err.value.path == bad_file and kind in str(err.value)
    ds, report = make_comma_dataset(root, length=2, on_bad="skip")
    assert [(p.path, p.kind) for p in report.problems] == [(bad_file, kind)]
    assert report.bad_paths == [bad_file]
    assert report.routes == ["a_good"] and report.num_samples == 7
    assert sum(x.shape[0] for x, _ in ds) == 7


def test_comma_missing_dataset_and_resize_rescues_other_size(tmp_path):
    root = str(tmp_path)
    write_route(root, "a_good")
    write_route(root, "b_other", frames=_frames(0, 8, h=2 * H, w=2 * W))
    ds, report = make_comma_dataset(root, length=2, image_size=(H, W))
    assert report.routes == ["a_good", "b_other"]
    assert next(iter(ds))[0].shape[2:] == (H, W, 3)
    with h5py.File(os.path.join(root, "log", "b_other.h5"), "a") as f:
        del f["cam1_ptr"]
    with pytest.raises(DataError, match="cam1_ptr"):
        make_comma_dataset(root, length=2, image_size=(H, W))


def test_comma_nan_in_unused_column_is_ignored_but_not_in_used(tmp_path):
    root = str(tmp_path)
    write_route(root, "r", extra_col=np.full(40, np.nan))
    _, report = make_comma_dataset(root, length=2)
    assert report.problems == []
    with pytest.raises(DataError, match="nan"):
        make_comma_dataset(root, length=2, targets=("steering_angle", "extra_col"))


def test_comma_empty_results_and_bad_arguments(tmp_path):
    root = str(tmp_path)
    with pytest.raises(DataError, match="not found"):
        make_comma_dataset(os.path.join(root, "nowhere"), length=2)
    with pytest.raises(DataError, match="no camera"):
        make_comma_dataset(root, length=2)
    write_route(root, "r")
    with pytest.raises(DataError, match="no usable clip"):
        make_comma_dataset(root, length=9)          # 8 frames
    with pytest.raises(DataError, match="no usable clip"):   # every row a glitch
        write_route(root, "r", angle=np.full(40, 1e3))
        make_comma_dataset(root, length=2)
    write_route(root, "r")
    with pytest.raises(DataError, match="road-condition"):
        make_comma_dataset(root, length=2, targets=("condition",))
    with pytest.raises(ValueError):
        make_comma_dataset(root, length=0)
    with pytest.raises(TypeError):
        make_comma_dataset(root, length=True)
    with pytest.raises(ValueError, match="distinct"):
        make_comma_dataset(root, length=2, targets=("speed", "speed"))
    with pytest.raises(ValueError, match="on_bad"):
        make_comma_dataset(root, length=2, on_bad="ignore")


# ----------------------------------------------------------------------------
# Video + CSV layout.
# ----------------------------------------------------------------------------


def write_video_route(root, name, num_frames=6, fps=20.0, rows=None, header=None):
    """An MJPG video and a CSV: by default one row per frame time + 0.01 s."""
    from scs_keras.data.synthetic.motion_videos import write_video

    frames = np.random.default_rng(len(name)).integers(0, 256, (num_frames, 8, 16, 3),
                                                       dtype=np.uint8)
    write_video(os.path.join(root, f"{name}.avi"), frames, fps=fps)
    if rows is None:
        rows = [(k / fps + 0.01, 10.0 * k, 20.0 + k) for k in range(num_frames)]
    with open(os.path.join(root, f"{name}.csv"), "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header or ["timestamp", "steering_angle", "speed"])
        out.writerows(rows)


def decode_all(path):
    import cv2

    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[:, :, ::-1])
    cap.release()
    return np.stack(frames)


def test_video_csv_reader_frames_and_targets(tmp_path):
    root = str(tmp_path)
    # Frames at 0, 0.05, ... 0.25 s.  Rows: frame 2 has none within 0.025 s,
    # row 3 is a glitch, frame 4 takes the nearer of two rows.
    rows = [(0.0, 1.0, 5.0), (0.06, 2.0, 6.0), (0.13, 3.0, 7.0), (0.15, 999.0, 8.0),
            (0.19, 5.0, 9.0), (0.205, 6.0, 10.0), (0.25, 7.0, 11.0)]
    write_video_route(root, "r", rows=rows)
    ds, report = make_video_csv_dataset(root, length=2, batch_size=2)
    x, y = collect(ds)
    # Frame 0 -> row 0; 1 (0.05 s) -> row 1; 2 (0.10 s) -> none, row 2 is
    # 0.03 s away; 3 (0.15 s) -> row 2, 0.02 s away, since row 3 is a glitch;
    # 4 (0.20 s) -> row 5, 0.005 s away; 5 -> row 6.  Clip ends 1, 3, 4, 5.
    assert y["steering_angle"].tolist() == [2.0, 3.0, 6.0, 7.0]
    assert y["speed"].tolist() == [6.0, 7.0, 10.0, 11.0]
    stored = decode_all(os.path.join(root, "r.avi"))
    for i, end in enumerate([1, 3, 4, 5]):
        assert np.array_equal(as_pixels(x[i]), stored[end - 1:end + 1]), i
    assert report.num_glitch_rows == 1 and report.num_frames_without_target == 1
    assert report.layout == "video_csv" and report.frame_shape == (8, 16)


VIDEO_BAD = {
    "video without csv": (lambda r: os.remove(os.path.join(r, "bad.csv")), "bad.avi", "missing"),
    "csv without video": (lambda r: os.remove(os.path.join(r, "bad.avi")), "bad.csv", "missing"),
    "nan": (lambda r: write_video_route(r, "bad", rows=[(0.0, "nan", 1.0)]), "bad.csv", "nan"),
    "not numbers": (lambda r: write_video_route(r, "bad", rows=[(0.0, "left", 1.0)]),
                    "bad.csv", "corrupt"),
    "time backwards": (lambda r: write_video_route(r, "bad", rows=[(0.1, 1, 1), (0.05, 1, 1)]),
                       "bad.csv", "order"),
    "csv past video": (lambda r: write_video_route(r, "bad", rows=[(0.0, 1, 1), (0.5, 1, 1)]),
                       "bad.csv", "range"),
    "missing column": (lambda r: write_video_route(r, "bad", header=["timestamp", "angle", "speed"]),
                       "bad.csv", "missing"),
    "garbage video": (lambda r: open(os.path.join(r, "bad.avi"), "wb").write(b"not a video" * 50),
                      "bad.avi", "corrupt"),
}


@pytest.mark.parametrize("case", sorted(VIDEO_BAD))
def test_video_csv_bad_input(tmp_path, case):
    root = str(tmp_path)
    write_video_route(root, "a_good")
    write_video_route(root, "bad")
    spoil, name, kind = VIDEO_BAD[case]
    spoil(root)
    with pytest.raises(DataError) as err:
        make_video_csv_dataset(root, length=2)
    assert err.value.path == os.path.join(root, name) and kind in str(err.value)
    _, report = make_video_csv_dataset(root, length=2, on_bad="skip")
    assert [(p.path, p.kind) for p in report.problems] == [(os.path.join(root, name), kind)]
    assert report.routes == ["a_good"] and report.num_samples == 5


def test_route_selection_and_ambiguous_files(tmp_path):
    root = str(tmp_path)
    for name in ("r1", "r2", "r3"):
        write_route(root, name)
    write_route(root, "r4", log=False)       # outside the selection: not a problem
    _, report = make_comma_dataset(root, length=2, routes=["r3", "r1"])
    assert report.routes == ["r1", "r3"] and report.problems == []
    with pytest.raises(DataError, match="r9"):
        make_comma_dataset(root, length=2, routes=["r1", "r9"])
    write_video_route(root, "v")
    open(os.path.join(root, "v.mp4"), "wb").close()
    with pytest.raises(DataError, match="second file"):
        make_video_csv_dataset(root, length=2)
