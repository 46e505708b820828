"""The reader contract (scs_keras.data.contract), checked the same way on every reader.

Each case writes a tiny data set with the package's synthetic generators,
then damages one file.  Expected sample counts are worked out here from the
sizes written, not read back from the reader.
"""

import dataclasses
import os
from typing import Callable

import h5py
import numpy as np
import pytest
import tensorflow as tf

from scs_keras.data.contract import DataError, DataReport
from scs_keras.data.precipitation import make_precipitation_dataset
from scs_keras.data.synthetic import motion_videos, rain
from scs_keras.data.video import make_video_dataset

SIZE = 16
EVENTS, FRAMES_PER_EVENT, N_IN, N_OUT = 2, 5, 2, 1


def windows_without(bad_position):
    """Windows of N_IN + N_OUT frames (stride 1) per event, minus those touching
    ``bad_position`` of the first event."""
    length = N_IN + N_OUT
    per_event = FRAMES_PER_EVENT - length + 1
    touching = sum(1 for s in range(per_event) if s <= bad_position < s + length)
    return EVENTS * per_event, EVENTS * per_event - touching


@dataclasses.dataclass
class Case:
    """One reader: how to write good data, damage one file, read it, and make it empty."""

    write: Callable      # tmp_path -> (source, path of the file to damage)
    damage: Callable     # path -> None
    read: Callable       # (source, **kwargs) -> (dataset, report)
    write_empty: Callable  # tmp_path -> an empty data set
    num_samples: int     # samples of the good data
    num_kept: int        # samples left when the damaged file is skipped


def _png_write(tmp_path):
    m = rain.write_png_events(str(tmp_path / "png"), EVENTS, FRAMES_PER_EVENT, SIZE, SIZE,
                              seed=0, progress=False)
    folder = os.path.join(m["root"], m["events"][0])
    last = sorted(os.listdir(folder))[FRAMES_PER_EVENT - 1]
    return m["root"], os.path.join(folder, last)


def _hdf5_write(tmp_path):
    m = rain.write_hdf5(str(tmp_path / "rain.h5"), EVENTS, FRAMES_PER_EVENT, SIZE, SIZE,
                        seed=0, progress=False)
    return m["path"], m["path"]


def _hdf5_empty(tmp_path):
    path = str(tmp_path / "empty.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("frames", shape=(0, SIZE, SIZE), dtype="float32")
        f.create_dataset("timestamps", shape=(0,), dtype="int64")
    return path


def _read_rain(source, **kwargs):
    return make_precipitation_dataset(source, N_IN, N_OUT, batch_size=4, **kwargs)


def _video_write(tmp_path):
    m = motion_videos.make_motion_videos(str(tmp_path / "videos"), classes=("left", "right"),
                                         videos_per_class=2, num_frames=4, size=SIZE,
                                         progress=False)
    return m.root, m.paths("all")[1]


def _read_videos(source, **kwargs):
    return make_video_dataset(source, "all", layout="folders", num_frames=2, image_size=SIZE,
                              batch_size=3, **kwargs)


def _empty_folder(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    return str(path)


CASES = {
    # The last frame of the first event is truncated: only the one window that
    # ends on it is lost.
    "png": Case(_png_write, lambda p: rain.truncate_file(p, 0.5), _read_rain, _empty_folder,
                *windows_without(FRAMES_PER_EVENT - 1)),
    # NaNs in the last frame of the first event (row FRAMES_PER_EVENT - 1).
    "hdf5": Case(_hdf5_write, lambda p: rain.inject_nan(p, FRAMES_PER_EVENT - 1), _read_rain,
                 _hdf5_empty, *windows_without(FRAMES_PER_EVENT - 1)),
    # One of the 2 x 2 videos replaced by random bytes.
    "video": Case(_video_write, lambda p: motion_videos.write_corrupt_video(p, "garbage"),
                  _read_videos, _empty_folder, 4, 3),
}


def count_samples(dataset):
    return sum(int(inputs.shape[0]) for inputs, _ in dataset)


@pytest.fixture(params=sorted(CASES))
def case(request):
    return CASES[request.param]


def test_returns_dataset_and_report(case, tmp_path):
    source, _ = case.write(tmp_path)
    result = case.read(source)
    assert isinstance(result, tuple) and len(result) == 2
    dataset, report = result
    assert isinstance(dataset, tf.data.Dataset)
    assert len(dataset.element_spec) == 2  # (inputs, targets)
    assert isinstance(report, DataReport) and type(report) is not DataReport
    assert report.problems == [] and report.bad_paths == []
    assert count_samples(dataset) == report.num_samples == case.num_samples
    assert str(case.num_samples) in report.summary()


def test_bad_file_raises_data_error_naming_it_by_default(case, tmp_path):
    source, bad = case.write(tmp_path)
    case.damage(bad)
    with pytest.raises(DataError) as info:
        case.read(source)
    assert bad in str(info.value) and info.value.path == bad


def test_skip_drops_the_bad_file_lists_it_and_reads_the_rest(case, tmp_path):
    source, bad = case.write(tmp_path)
    case.damage(bad)
    dataset, report = case.read(source, on_bad="skip")
    assert report.bad_paths == [bad]
    assert report.num_problems >= 1 and all(p.path == bad for p in report.problems)
    assert count_samples(dataset) == report.num_samples == case.num_kept
    inputs, _ = next(iter(dataset))
    assert np.isfinite(inputs.numpy()).all()


def test_empty_data_set_is_an_error_whatever_on_bad(case, tmp_path):
    empty = case.write_empty(tmp_path)
    for on_bad in ("raise", "skip"):
        with pytest.raises(DataError) as info:
            case.read(empty, on_bad=on_bad)
        assert empty in str(info.value)


def test_unknown_on_bad_is_an_argument_error(case, tmp_path):
    source, _ = case.write(tmp_path)
    with pytest.raises(ValueError, match="on_bad") as info:
        case.read(source, on_bad="bogus")
    assert "bogus" in str(info.value) and not isinstance(info.value, DataError)
