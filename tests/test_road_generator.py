"""Synthetic roads: layout, determinism, glitches, conditions, driving physics."""

import csv
import json
import os

import h5py
import numpy as np
import pytest

from scs_keras.data.driving import (
    make_comma_dataset,
    make_video_csv_dataset,
    read_route_conditions,
)
from scs_keras.data.synthetic import roads

SIZE = (16, 32)
N = 30


@pytest.fixture(scope="module")
def comma_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("comma"))
    manifest = roads.write_comma_like(out, num_routes=2, frames_per_route=N, image_size=SIZE,
                                      seed=5, progress=False, segment_frames=12, glitch_rows=4)
    return out, manifest


def _read_route(out, name):
    with h5py.File(os.path.join(out, "camera", f"{name}.h5"), "r") as f:
        x = f["X"][()]
    with h5py.File(os.path.join(out, "log", f"{name}.h5"), "r") as f:
        log = {k: f[k][()] for k in f}
    with open(os.path.join(out, "conditions", f"{name}.json")) as fh:
        conditions = json.load(fh)
    return x, log, conditions


def test_comma_layout_and_glitches(comma_dir):
    out, manifest = comma_dir
    assert manifest.routes == ["route_000", "route_001"]
    for name in manifest.routes:
        x, log, _ = _read_route(out, name)
        assert x.shape == (N, 3) + SIZE and x.dtype == np.uint8
        assert set(log) == {"steering_angle", "speed", "times", "cam1_ptr"}
        assert all(v.shape == (5 * N,) for v in log.values())
        assert log["cam1_ptr"].dtype == np.float64
        assert log["cam1_ptr"].tolist() == [float(i // 5) for i in range(5 * N)]
        assert np.allclose(np.diff(log["times"]), 0.01)
        glitches = np.flatnonzero(np.abs(log["steering_angle"]) > 200)
        assert glitches.tolist() == manifest.glitch_rows[name] and glitches.size == 4
        assert np.all((log["speed"] >= 6.0) & (log["speed"] <= 32.0))
        # Not a blank picture: sky, road and grass give several levels.
        assert len(np.unique(x[0])) > 20


def test_same_seed_same_files_other_seed_other_files(comma_dir, tmp_path):
    out, _ = comma_dir
    again = str(tmp_path / "again")
    other = str(tmp_path / "other")
    roads.write_comma_like(again, num_routes=1, frames_per_route=N, image_size=SIZE, seed=5,
                           progress=False, segment_frames=12, glitch_rows=4)
    roads.write_comma_like(other, num_routes=1, frames_per_route=N, image_size=SIZE, seed=6,
                           progress=False, segment_frames=12, glitch_rows=4)
    x0, log0, cond0 = _read_route(out, "route_000")
    x1, log1, cond1 = _read_route(again, "route_000")   # fewer routes: same first route
    assert np.array_equal(x0, x1) and cond0 == cond1
    assert all(np.array_equal(log0[k], log1[k]) for k in log0)
    x2, log2, _ = _read_route(other, "route_000")
    assert not np.array_equal(x0, x2)
    assert not np.array_equal(log0["steering_angle"], log2["steering_angle"])


def test_reader_targets_are_the_last_valid_row_of_each_frame(comma_dir):
    out, manifest = comma_dir
    length = 3
    ds, report = make_comma_dataset(out, length=length, batch_size=16,
                                    targets=("steering_angle", "speed", "condition"))
    expected_angle, expected_label = [], []
    for name in manifest.routes:
        _, log, _ = _read_route(out, name)
        labels = read_route_conditions(os.path.join(out, "conditions", f"{name}.json"))
        for k in range(length - 1, N):
            rows = [r for r in range(5 * k, 5 * k + 5) if abs(log["steering_angle"][r]) <= 200]
            if rows:
                expected_angle.append(log["steering_angle"][rows[-1]])
                expected_label.append(labels[k])
    angle, label = [], []
    for _, y in ds:
        angle.extend(y["steering_angle"].numpy().tolist())
        label.extend(report.condition_names[i] for i in y["condition"].numpy())
    assert angle == pytest.approx(np.float32(expected_angle).tolist())
    assert label == expected_label
    assert report.num_glitch_rows == 8


def test_condition_files(comma_dir):
    out, _ = comma_dir
    labels = read_route_conditions(os.path.join(out, "conditions", "route_000.json"))
    assert labels.shape == (N,)
    for start in (0, 12, 24):     # segments of 12 frames: one label each
        assert len(set(labels[start:start + 12])) == 1
    for label in set(labels):
        lighting, markings, weather = label.split("/")
        assert lighting in roads.LIGHTING and markings in roads.LANE_MARKINGS
        assert weather in roads.WEATHER


def test_steering_follows_the_road_and_the_yaw_rate():
    drive = roads.simulate_drive(6000, np.random.default_rng(1))
    dt = 0.01
    curvature = np.tan(np.radians(drive.steering_angle) / roads.STEERING_RATIO) / roads.WHEELBASE_M
    # Kinematics: the heading turns at speed x steered curvature, which is
    # what a model can see as motion between frames.
    yaw_rate = np.diff(drive.yaw) / dt
    assert np.allclose(yaw_rate, drive.speed[:-1] * curvature[:-1], rtol=0, atol=1e-9)
    # The road's own curvature explains most of the steering...
    road = drive.road.at(drive.road.curvature, drive.distance)
    assert np.corrcoef(curvature, road)[0, 1] > 0.8
    # ...but not all of it: the weave needs the motion.
    road_angle = np.degrees(roads.STEERING_RATIO * np.arctan(roads.WHEELBASE_M * road))
    assert np.std(drive.steering_angle - road_angle) > 1.0
    # The car stays on the road (lane centre +- one lane).
    assert np.max(np.abs(drive.offset)) < 3.5


def test_conditions_change_the_picture():
    drive = roads.simulate_drive(50, np.random.default_rng(0))

    def render(**condition):
        base = {"lighting": "day", "lane_markings": "lanes", "weather": "clear"}
        return roads.render_frame(drive, 40, {**base, **condition}, (48, 96),
                                  np.random.default_rng(0)).astype(float)

    day, night = render(), render(lighting="night")
    assert night.mean() < 0.6 * day.mean()
    lanes, plain = render(), render(lane_markings="no_lanes")
    # Paint only brightens pixels.
    assert np.sum(lanes - plain > 40) > 10 and np.sum(plain - lanes > 40) == 0
    assert np.abs(render(weather="rain") - day).mean() > 3
    assert np.abs(render(weather="haze") - day).mean() > 3


def test_video_csv_writer(tmp_path):
    out = str(tmp_path)
    manifest = roads.write_video_csv_like(out, num_routes=1, frames_per_route=12,
                                          image_size=SIZE, seed=2, progress=False,
                                          glitch_rows=6)
    with open(os.path.join(out, "route_000.csv")) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 * 12 - 4
    times = np.array([float(r["timestamp"]) for r in rows])
    assert times[0] == 0.0 and times[-1] == pytest.approx(11 / 20)
    angle = np.array([float(r["steering_angle"]) for r in rows])
    glitches = manifest.glitch_rows["route_000"]
    assert np.flatnonzero(np.abs(angle) > 200).tolist() == glitches
    # Frame k is at row 5k; a glitch there leaves rows 5k -+ 1 (0.01 s away,
    # a tie won by the later row).
    expected = []
    for k in range(1, 12):
        for row in (5 * k, 5 * k + 1, 5 * k - 1):
            if row not in glitches:
                expected.append(angle[row])
                break
    ds, report = make_video_csv_dataset(out, length=2, batch_size=32)
    y = next(iter(ds))[1]["steering_angle"].numpy()
    assert y.tolist() == pytest.approx(np.float32(expected).tolist())
    assert report.frame_shape == SIZE


def test_progress_bar_and_arguments(tmp_path, capsys):
    roads.write_comma_like(str(tmp_path), num_routes=1, frames_per_route=2, image_size=SIZE)
    assert "frame" in capsys.readouterr().err
    with pytest.raises(ValueError):
        roads.write_comma_like(str(tmp_path), num_routes=0, progress=False)
    with pytest.raises(TypeError):
        roads.write_comma_like(str(tmp_path), frames_per_route=2.5, progress=False)
