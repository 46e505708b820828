"""Video readers (scs_keras.data.video) and the synthetic motion videos."""

import logging
import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from scs_keras.data.contract import DataError
from scs_keras.data.synthetic.motion_videos import (
    main as motion_main,
    make_motion_videos,
    write_corrupt_video,
)
from scs_keras.data.video import (
    AugmentConfig,
    BadVideoError,
    VideoDataReport,
    list_videos,
    augment_video,
    list_class_folders,
    list_ucf101,
    make_video_dataset,
    overlap_frame_count,
    overlapping_clip_indices,
    probe_video,
    read_frame_folder,
    read_video,
    uniform_frame_indices,
)

NUM_FRAMES, SIZE = 8, 32


@pytest.fixture(scope="module")
def motion(tmp_path_factory):
    """3 classes x 4 videos (1 test + 3 train each), .avi and frames layouts."""
    root = tmp_path_factory.mktemp("motion")
    return make_motion_videos(str(root), classes=("left", "right", "up"), videos_per_class=4,
                              num_frames=NUM_FRAMES, size=SIZE, seed=0, layout="both",
                              progress=False)


@pytest.fixture
def small(tmp_path):
    """A throw-away 2-class data set that tests may damage."""
    return make_motion_videos(str(tmp_path / "small"), classes=("left", "right"),
                              videos_per_class=2, num_frames=NUM_FRAMES, size=SIZE,
                              seed=5, progress=False)


def _labels_of(ds):
    return np.concatenate([y.numpy() for _, y in ds])


# ----------------------------------------------------------------- generator


def test_generated_videos_decode_to_expected_shape_and_count(motion):
    assert len(motion.paths("all")) == 12
    for path in motion.paths("all"):
        cap = cv2.VideoCapture(path)
        assert cap.isOpened(), path
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            assert frame.shape == (SIZE, SIZE, 3)
            n += 1
        cap.release()
        assert n == NUM_FRAMES, path
        frames = read_video(path)
        assert frames.shape == (NUM_FRAMES, SIZE, SIZE, 3) and frames.dtype == np.uint8
        assert probe_video(path) == (NUM_FRAMES, SIZE, SIZE)
        # Motion exists: consecutive frames differ clearly.
        assert np.abs(np.diff(frames.astype(np.float32), axis=0)).mean() > 1.0


def test_generator_is_seeded(tmp_path):
    a = make_motion_videos(str(tmp_path / "a"), classes=("cw", "ccw"), videos_per_class=2,
                           num_frames=4, size=16, seed=3, progress=False)
    b = make_motion_videos(str(tmp_path / "b"), classes=("cw", "ccw"), videos_per_class=2,
                           num_frames=4, size=16, seed=3, progress=False)
    c = make_motion_videos(str(tmp_path / "c"), classes=("cw", "ccw"), videos_per_class=2,
                           num_frames=4, size=16, seed=4, progress=False)
    va, vb, vc = (read_video(x.paths("all")[0]) for x in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert np.abs(va.astype(int) - vc.astype(int)).mean() > 5
    with pytest.raises(ValueError, match="unknown motion pattern"):
        make_motion_videos(str(tmp_path / "d"), classes=("sideways",), progress=False)


def test_split_files_written_and_parsed(motion):
    split_dir = motion.split_dir
    with open(os.path.join(split_dir, "classInd.txt")) as fh:
        assert fh.read().split("\n")[:3] == ["1 MoveLeft", "2 MoveRight", "3 MoveUp"]
    with open(os.path.join(split_dir, "trainlist01.txt")) as fh:
        train_lines = fh.read().split()
    # "Class/file.avi <1-based label>" pairs.
    assert train_lines[:2] == ["MoveLeft/v_MoveLeft_g02_c01.avi", "1"]
    with open(os.path.join(split_dir, "testlist01.txt")) as fh:
        test_lines = fh.read().split()
    assert test_lines == ["MoveLeft/v_MoveLeft_g01_c01.avi", "MoveRight/v_MoveRight_g01_c01.avi",
                          "MoveUp/v_MoveUp_g01_c01.avi"]
    for split, items in (("train", motion.train), ("test", motion.test)):
        vl = list_ucf101(motion.root, split, 1)
        assert vl.class_names == ["MoveLeft", "MoveRight", "MoveUp"]
        assert vl.paths == [os.path.join(motion.root, rel) for rel, _ in items]
        assert vl.labels == [lab for _, lab in items]
    assert len(motion.train) == 9 and len(motion.test) == 3


def test_test_dataset_labels_and_frames(motion):
    ds, report = make_video_dataset(motion.root, "test", 1, num_frames=4, image_size=SIZE,
                                    batch_size=2)
    assert isinstance(report, VideoDataReport)
    assert report.class_names == ["MoveLeft", "MoveRight", "MoveUp"]
    batches = list(ds)
    assert [int(y.shape[0]) for _, y in batches] == [2, 1]
    x, y = batches[0]
    assert x.dtype == tf.float32 and y.dtype == tf.int32
    assert x.shape == (2, 4, SIZE, SIZE, 3)
    np.testing.assert_array_equal(_labels_of(ds), motion.labels("test"))
    # Test sampling is deterministic: segment centres of the 8-frame video.
    idx = uniform_frame_indices(NUM_FRAMES, 4)
    assert idx.tolist() == [1, 3, 5, 7]
    expected = read_video(motion.paths("test")[0], idx).astype(np.float32) / 255.0
    np.testing.assert_allclose(x[0].numpy(), expected, atol=1e-6)
    assert report.num_listed == report.num_samples == 3 and report.num_problems == 0
    assert report.layout == "ucf101" and report.split == "test"
    assert report.source == os.path.abspath(motion.root)


def test_overlapping_clips_dataset(motion):
    ds, _ = make_video_dataset(motion.root, "test", clips=(6, 5, 0.25), image_size=(24, 20),
                               batch_size=3)
    x, y = next(iter(ds))
    assert x.shape == (3, 6, 5, 24, 20, 3)
    x = x.numpy()
    # Consecutive clips share overlap_frame_count(5, 0.25) = 2 identical frames.
    for k in range(5):
        np.testing.assert_array_equal(x[:, k, 3:], x[:, k + 1, :2])
    # Short video (8 frames < 20 slots): frames repeat in order (see indices test).
    idx = overlapping_clip_indices(NUM_FRAMES, 6, 5, 0.25)
    expected = read_video(motion.paths("test")[0], idx.ravel(), size=(24, 20)) / 255.0
    np.testing.assert_allclose(x[0].reshape(30, 24, 20, 3), expected, atol=1e-6)


def test_frames_layout_matches_frame_folders(motion):
    ds, report = make_video_dataset(motion.frames_root, "test", layout="frames",
                                    num_frames=NUM_FRAMES, image_size=SIZE, batch_size=4)
    assert report.class_names == ["MoveLeft", "MoveRight", "MoveUp"]
    x, y = next(iter(ds))
    assert y.numpy().tolist() == motion.labels("test")
    folder = os.path.join(motion.frames_root, "test", "MoveLeft", "v_MoveLeft_g01_c01")
    assert sorted(os.listdir(folder)) == [f"{i:05d}.jpg" for i in range(1, NUM_FRAMES + 1)]
    np.testing.assert_allclose(x[0].numpy(), read_frame_folder(folder) / 255.0, atol=1e-6)
    # Same content as the .avi, up to JPEG re-encoding.
    avi = read_video(motion.paths("test")[0]).astype(np.float32)
    assert np.abs(avi - read_frame_folder(folder)).mean() < 8.0
    train_labels = _labels_of(make_video_dataset(motion.frames_root, "train", layout="frames",
                                                 num_frames=2, image_size=16, batch_size=4,
                                                 training=False)[0])
    assert sorted(train_labels.tolist()) == sorted(motion.labels("train"))


def test_folders_layout_hash_split_is_a_deterministic_partition(motion):
    all_ = list_class_folders(motion.root, "all")
    assert all_.class_names == ["MoveLeft", "MoveRight", "MoveUp"]  # not ucfTrainTestlist
    assert len(all_) == 12
    tr = list_class_folders(motion.root, "train", split_ratio=0.5)
    te = list_class_folders(motion.root, "test", split_ratio=0.5)
    assert set(tr.paths).isdisjoint(te.paths)
    assert sorted(tr.paths + te.paths) == sorted(all_.paths)
    assert list_class_folders(motion.root, "train", split_ratio=0.5).paths == tr.paths
    for p, lab in zip(tr.paths, tr.labels):
        assert os.path.basename(os.path.dirname(p)) == all_.class_names[lab]


def test_flip_warning_for_direction_classes(motion, caplog):
    with caplog.at_level(logging.WARNING, logger="scs_keras.data.video"):
        make_video_dataset(motion.root, "train", num_frames=2, image_size=16)
    assert "horizontal-flip" in caplog.text and "MoveLeft" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scs_keras.data.video"):
        make_video_dataset(motion.root, "train", num_frames=2, image_size=16,
                           augment=AugmentConfig(flip=False))
    assert "horizontal-flip" not in caplog.text


def test_training_pipeline_reproducible_and_in_range(motion):
    kw = dict(num_frames=4, image_size=SIZE, batch_size=9, augment=AugmentConfig(flip=False))
    a = next(iter(make_video_dataset(motion.root, "train", seed=7, **kw)[0]))
    b = next(iter(make_video_dataset(motion.root, "train", seed=7, **kw)[0]))
    c = next(iter(make_video_dataset(motion.root, "train", seed=8, **kw)[0]))
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())
    assert sorted(a[1].numpy().tolist()) == sorted(motion.labels("train"))  # shuffled, all there
    x = a[0].numpy()
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_wrong_container_frame_count_falls_back_to_decoded_count(motion, monkeypatch):
    import scs_keras.data.video as video_mod

    real_capture = cv2.VideoCapture

    class LyingCapture:
        """Reports 20 frames for an 8-frame video, as broken indexes do."""

        def __init__(self, path):
            self._cap = real_capture(path)

        def get(self, prop):
            return 20.0 if prop == cv2.CAP_PROP_FRAME_COUNT else self._cap.get(prop)

        def __getattr__(self, name):
            return getattr(self._cap, name)

    path = motion.paths("test")[0]
    truth = read_video(path, [1, 3, 5, 7])
    monkeypatch.setattr(cv2, "VideoCapture", LyingCapture)  # the module video.py imports
    got = video_mod._decode_video(path, lambda t: uniform_frame_indices(t, 4), None)
    np.testing.assert_array_equal(got, truth)  # indices recomputed for the true 8 frames
    assert read_video(path).shape[0] == NUM_FRAMES


# ----------------------------------------------------------------- indices


def test_overlapping_clip_indices_hand_written():
    # 6 clips x 5 frames, r = 0.25: stride floor(5 * 0.75) = 3, overlap 2,
    # span = 3 * 5 + 5 = 20 slots.  23 frames: step 1, room 3, centred start 1.
    assert overlap_frame_count(5, 0.25) == 2
    expected_23 = [
        [1, 2, 3, 4, 5],
        [4, 5, 6, 7, 8],
        [7, 8, 9, 10, 11],
        [10, 11, 12, 13, 14],
        [13, 14, 15, 16, 17],
        [16, 17, 18, 19, 20],
    ]
    assert overlapping_clip_indices(23, 6, 5, 0.25).tolist() == expected_23
    # Training offsets move the start within [0, room = 3].
    assert overlapping_clip_indices(23, 6, 5, 0.25, offset=0.0)[0].tolist() == [0, 1, 2, 3, 4]
    assert overlapping_clip_indices(23, 6, 5, 0.25, offset=0.99)[-1].tolist() == [18, 19, 20, 21, 22]
    # 100 frames: step 100 // 20 = 5, room 100 - 96 = 4, start 2.
    long_ = overlapping_clip_indices(100, 6, 5, 0.25)
    assert long_[0].tolist() == [2, 7, 12, 17, 22]
    assert long_[1].tolist() == [17, 22, 27, 32, 37]
    assert long_[5].tolist() == [77, 82, 87, 92, 97]
    # 8 frames (short): slot p -> floor(p * 8 / 20).
    short = overlapping_clip_indices(8, 6, 5, 0.25)
    assert short[0].tolist() == [0, 0, 0, 1, 1]
    assert short[1].tolist() == [1, 1, 2, 2, 2]  # slots 3..7: 24/20, 32/20, 40/20, 48/20, 56/20
    assert short[5].tolist() == [6, 6, 6, 7, 7]
    # No overlap: r = 0 gives back-to-back clips.
    assert overlapping_clip_indices(6, 3, 2, 0.0).tolist() == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match="overlap_rate"):
        overlapping_clip_indices(23, 6, 5, 1.0)


def test_uniform_frame_indices_hand_written():
    assert uniform_frame_indices(20, 4).tolist() == [2, 7, 12, 17]
    assert uniform_frame_indices(20, 4, offset=0.0).tolist() == [0, 5, 10, 15]
    assert uniform_frame_indices(20, 4, offset=0.99).tolist() == [4, 9, 14, 19]
    assert uniform_frame_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]  # short: repeat
    with pytest.raises(ValueError):
        uniform_frame_indices(0, 4)


# ----------------------------------------------------------------- augmentation


def test_augmentation_flips_all_frames_of_a_clip_together():
    rng = np.random.default_rng(0)
    frames = rng.random((2, 3, 8, 8, 3)).astype(np.float32)  # (K, n, H, W, 3)
    flipped = frames[..., ::-1, :]
    cfg = AugmentConfig(flip=True, crop_scale=None, brightness=0.0, contrast=0.0, saturation=0.0)
    outcomes = set()
    for seed in range(16):
        out = augment_video(tf.constant(frames), tf.constant(seed), cfg).numpy()
        per_frame = [np.allclose(out[k, i], flipped[k, i]) for k in range(2) for i in range(3)]
        kept = [np.allclose(out[k, i], frames[k, i]) for k in range(2) for i in range(3)]
        assert all(per_frame) or all(kept), f"seed {seed}: mixed flips {per_frame}"
        outcomes.add(all(per_frame))
    assert outcomes == {True, False}


def test_augmentation_uses_one_transform_per_video():
    # Identical input frames stay identical after crop + colour jitter + flip.
    frame = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    frames = np.repeat(frame[None], 5, axis=0)
    cfg = AugmentConfig(crop_scale=(0.5, 0.9), brightness=0.3, contrast=0.3, saturation=0.3)
    out = augment_video(tf.constant(frames), tf.constant(11), cfg).numpy()
    assert not np.allclose(out[0], frame, atol=1e-3)  # something happened
    for i in range(1, 5):
        np.testing.assert_allclose(out[i], out[0], atol=1e-6)
    assert out.min() >= 0.0 and out.max() <= 1.0


# ----------------------------------------------------------------- bad data


def _add_corrupt_test_video(info):
    rel = "MoveLeft/v_MoveLeft_g99_c01.avi"
    path = write_corrupt_video(os.path.join(info.root, rel), kind="garbage")
    with open(os.path.join(info.split_dir, "testlist01.txt"), "a") as fh:
        fh.write(rel + "\n")
    return path


def test_corrupt_video_skip_reports_path(small, caplog):
    bad = _add_corrupt_test_video(small)
    # Up-front check (default): reported before any iteration.
    with caplog.at_level(logging.WARNING, logger="scs_keras.data.video"):
        ds, report = make_video_dataset(small.root, "test", num_frames=4, image_size=SIZE,
                                        batch_size=8, on_bad="skip")
    assert report.bad_paths == [bad] and report.problems[0].kind == "unreadable"
    assert report.num_listed == 3 and report.num_samples == 2
    assert bad in report.summary() and bad in caplog.text
    assert _labels_of(ds).tolist() == small.labels("test")  # good videos kept, bad one dropped
    # Without the check the bad video is met, dropped and recorded while iterating.
    ds2, report2 = make_video_dataset(small.root, "test", num_frames=4, image_size=SIZE,
                                      batch_size=8, on_bad="skip", check_videos=False)
    assert report2.bad_paths == [] and report2.num_samples == 3
    assert _labels_of(ds2).tolist() == small.labels("test")
    assert report2.bad_paths == [bad] and report2.num_samples == 2
    _labels_of(ds2)  # a second epoch does not record it twice
    assert report2.num_problems == 1 and report2.num_samples == 2


def test_corrupt_video_raise_names_path(small):
    bad = _add_corrupt_test_video(small)
    with pytest.raises(DataError) as err:
        make_video_dataset(small.root, "test", num_frames=4, image_size=SIZE)
    assert err.value.path == bad and bad in str(err.value) and "on_bad='skip'" in str(err.value)
    # Without the up-front check the error comes while iterating, naming the file.
    ds, _ = make_video_dataset(small.root, "test", num_frames=4, image_size=SIZE, batch_size=8,
                               check_videos=False)
    with pytest.raises(tf.errors.OpError) as err2:
        for _ in ds:
            pass
    assert bad in str(err2.value) and "DataError" in str(err2.value)


def test_missing_listed_video_follows_on_bad(small):
    missing = small.paths("test")[0]
    os.remove(missing)
    with pytest.raises(DataError, match="does not exist") as err:
        make_video_dataset(small.root, "test", num_frames=4, image_size=SIZE)
    assert err.value.path == missing
    ds, report = make_video_dataset(small.root, "test", num_frames=4, image_size=SIZE,
                                    on_bad="skip")
    assert report.bad_paths == [missing]
    assert _labels_of(ds).tolist() == small.labels("test")[1:]
    with pytest.raises(FileNotFoundError, match=os.path.basename(missing)):
        make_video_dataset(small.root, "test", num_frames=4, image_size=SIZE, check_videos=False)


def test_corrupt_video_kinds_fail_probe(small, tmp_path):
    good = small.paths("train")[0]
    for kind in ("garbage", "empty", "truncated"):
        p = write_corrupt_video(str(tmp_path / f"{kind}.avi"), kind=kind, source=good)
        with pytest.raises(BadVideoError, match=kind):
            probe_video(p)
    empty_dir = tmp_path / "no_frames"
    empty_dir.mkdir()
    with pytest.raises(BadVideoError, match="no_frames"):
        read_frame_folder(str(empty_dir))


def test_missing_split_files_and_videos(small, tmp_path):
    with pytest.raises(FileNotFoundError, match="testlist02.txt"):
        make_video_dataset(small.root, "test", split_index=2)
    with pytest.raises(FileNotFoundError, match="split folder"):
        make_video_dataset(small.root, "test", split_dir=str(tmp_path / "nowhere"))
    # A split line naming a missing video.
    missing = os.path.join(small.root, "MoveLeft", "v_MoveLeft_g01_c01.avi")
    os.remove(missing)
    with pytest.raises(FileNotFoundError, match="v_MoveLeft_g01_c01.avi"):
        list_ucf101(small.root, "test")


def test_unknown_class_and_bad_labels(small):
    with open(os.path.join(small.split_dir, "testlist01.txt"), "a") as fh:
        fh.write("MoveSideways/v_MoveSideways_g01_c01.avi\n")
    with pytest.raises(ValueError, match="unknown class name 'MoveSideways'"):
        list_ucf101(small.root, "test")
    with open(os.path.join(small.split_dir, "trainlist01.txt"), "a") as fh:
        fh.write("MoveLeft/v_MoveLeft_g02_c01.avi 2\n")  # label 2 = MoveRight
    with pytest.raises(ValueError, match="disagrees"):
        list_ucf101(small.root, "train")


def test_empty_dataset_errors(small, tmp_path):
    empty = tmp_path / "empty"
    (empty / "SomeClass").mkdir(parents=True)
    with pytest.raises(DataError, match="empty dataset"):
        make_video_dataset(str(empty), "all", layout="folders", on_bad="skip")
    (empty / "train" / "SomeClass").mkdir(parents=True)
    with pytest.raises(DataError, match="empty dataset"):
        make_video_dataset(str(empty), "train", layout="frames", on_bad="skip")
    # Every listed video unreadable: empty too, even when skipping.
    for path in small.paths("test"):
        write_corrupt_video(path, kind="garbage")
    with pytest.raises(DataError, match="empty dataset"):
        make_video_dataset(small.root, "test", on_bad="skip")
    with open(os.path.join(small.split_dir, "testlist01.txt"), "w") as fh:
        fh.write("\n")
    with pytest.raises(DataError, match="empty dataset"):
        make_video_dataset(small.root, "test")


def test_bad_arguments(small):
    # Argument mistakes are plain ValueError / TypeError, not DataError.
    for kwargs, error, name in [(dict(on_bad="ignore"), ValueError, "on_bad"),
                                (dict(layout="youtube"), ValueError, "layout"),
                                (dict(clips=(6, 5, 1.5)), ValueError, "overlap_rate"),
                                (dict(batch_size=0), ValueError, "batch_size"),
                                (dict(num_frames=2.0), TypeError, "num_frames"),
                                (dict(image_size=(8, 0)), ValueError, "image_size"),
                                (dict(split_index=True), TypeError, "split_index")]:
        with pytest.raises(error, match=name) as err:
            make_video_dataset(small.root, "test", **kwargs)
        assert not isinstance(err.value, DataError)
    with pytest.raises(ValueError, match="split"):
        make_video_dataset(small.root, "validation")
    with pytest.raises(ValueError, match="split_ratio"):
        list_videos(small.root, "train", layout="folders", split_ratio=1.0)


# ----------------------------------------------------------------- needs time


def _lk_flow(video):
    """Global Lucas-Kanade motion (u, v) over all frame pairs, circular gradients."""
    a = np.zeros((2, 2))
    b = np.zeros(2)
    v = video.astype(np.float64)
    for f0, f1 in zip(v[:-1], v[1:]):
        m = (f0 + f1) / 2
        ix = (np.roll(m, -1, axis=1) - np.roll(m, 1, axis=1)) / 2
        iy = (np.roll(m, -1, axis=0) - np.roll(m, 1, axis=0)) / 2
        it = f1 - f0
        a += [[(ix * ix).sum(), (ix * iy).sum()], [(ix * iy).sum(), (iy * iy).sum()]]
        b -= [(ix * it).sum(), (iy * it).sum()]
    return np.linalg.solve(a, b)


def test_synthetic_classes_need_time(tmp_path):
    info = make_motion_videos(str(tmp_path / "dirs"), classes=("left", "right", "up", "down"),
                              videos_per_class=16, num_frames=NUM_FRAMES, size=SIZE, seed=2,
                              test_fraction=0.5, progress=False)
    videos = {s: [read_video(p) for p in info.paths(s)] for s in ("train", "test")}
    labels = {s: np.array(info.labels(s)) for s in ("train", "test")}
    # A single (first) frame: nearest class centroid is at chance level (1/4).
    first = {s: np.stack([v[0].ravel() for v in videos[s]]).astype(np.float64) for s in videos}
    cents = np.stack([first["train"][labels["train"] == c].mean(0) for c in range(4)])
    pred = np.argmin(((first["test"][:, None] - cents[None]) ** 2).sum(-1), axis=1)
    single_frame_acc = float(np.mean(pred == labels["test"]))
    assert single_frame_acc <= 0.45, single_frame_acc
    # The frame differences reveal the class: sign of the estimated motion.
    flows = np.stack([_lk_flow(v) for v in videos["test"]])
    motion_pred = np.argmax(np.stack([-flows[:, 0], flows[:, 0], -flows[:, 1], flows[:, 1]], 1), 1)
    motion_acc = float(np.mean(motion_pred == labels["test"]))
    assert motion_acc >= 0.9, motion_acc


def test_cli_writes_dataset(tmp_path):
    out = tmp_path / "cli"
    assert motion_main(["--out", str(out), "--classes", "cw,ccw", "--videos-per-class", "2",
                        "--frames", "4", "--size", "16", "--no-progress"]) == 0
    with open(out / "ucfTrainTestlist" / "classInd.txt") as fh:
        assert fh.read() == "1 RotateClockwise\n2 RotateAnticlockwise\n"
    assert read_video(str(out / "RotateClockwise" / "v_RotateClockwise_g02_c01.avi")).shape == (4, 16, 16, 3)
    shutil.rmtree(out)
