"""Synthetic Cityscapes-like scenes: layout, JSON schema, determinism."""

import filecmp
import json
import os

import cv2
import numpy as np
import pytest

from scs_keras.data.cityscapes import INSTANCE_CLASSES
from scs_keras.data.synthetic.outlines import BACKGROUND_LABELS, write_cityscapes_like

H, W = 64, 128


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, n), root)
                  for d, _, names in os.walk(root) for n in names)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("scenes"))
    written = write_cityscapes_like(root, splits={"train": 4, "val": 2}, image_size=(H, W),
                                    objects_per_image=(3, 5), seed=0, progress=False)
    return root, written


def test_layout(scenes):
    root, written = scenes
    assert {k: len(v) for k, v in written.items()} == {"train": 4, "val": 2}
    files = all_files(root)
    assert len(files) == 12
    for split, paths in written.items():
        for path in paths:
            rel = os.path.relpath(path, root).split(os.sep)
            assert rel[:2] == ["gtFine", split] and rel[3].startswith(rel[2] + "_")
            assert rel[3].endswith("_gtFine_polygons.json")
            image = os.path.join(root, "leftImg8bit", split, rel[2],
                                 rel[3].replace("_gtFine_polygons.json", "_leftImg8bit.png"))
            assert os.path.relpath(image, root) in files


def read_scenes(root, written):
    for paths in written.values():
        for path in paths:
            with open(path) as f:
                data = json.load(f)
            image_path = path.replace("gtFine", "leftImg8bit", 1).replace(
                "_gtFine_polygons.json", "_leftImg8bit.png")
            yield data, cv2.imread(image_path, cv2.IMREAD_UNCHANGED)


def test_json_schema_and_polygons(scenes):
    labels = []
    for data, image in read_scenes(*scenes):
        assert set(data) == {"imgHeight", "imgWidth", "objects"}
        assert (data["imgHeight"], data["imgWidth"]) == (H, W) == image.shape[:2]
        assert image.dtype == np.uint8 and image.shape[2] == 3
        names = [obj["label"] for obj in data["objects"]]
        assert "sky" in names and "road" in names
        for obj in data["objects"]:
            assert set(obj) == {"label", "polygon"}
            p = obj["polygon"]
            assert len(p) >= 3
            assert all(len(v) == 2 and all(type(c) is int for c in v) for v in p)
            p = np.array(p)
            assert p[:, 0].min() >= 0 and p[:, 0].max() <= W - 1
            assert p[:, 1].min() >= 0 and p[:, 1].max() <= H - 1
            # No repeated consecutive vertex, closing edge included.
            assert np.all(np.any(p != np.roll(p, 1, axis=0), axis=1))
        labels += names
    assert set(labels) <= set(INSTANCE_CLASSES) | set(BACKGROUND_LABELS)
    instances = [n for n in labels if n in INSTANCE_CLASSES]
    assert len(set(instances)) >= 4  # several classes in a small set


def test_shapes_are_not_all_convex_and_objects_overlap(scenes):
    non_convex = overlapping = 0
    for data, _ in read_scenes(*scenes):
        masks = []
        for obj in data["objects"]:
            if obj["label"] not in INSTANCE_CLASSES:
                continue
            p = np.array(obj["polygon"], np.int32)
            hull = cv2.contourArea(cv2.convexHull(p))
            non_convex += cv2.contourArea(p) < 0.95 * hull
            mask = np.zeros((H, W), np.uint8)
            cv2.fillPoly(mask, [p], 1)
            overlapping += sum(np.any(mask & m) for m in masks)
            masks.append(mask)
    assert non_convex >= 3
    assert overlapping >= 1  # later objects hide part of earlier ones


def test_objects_are_visible_over_the_background(scenes):
    checked = 0
    for data, image in read_scenes(*scenes):
        last = data["objects"][-1]  # in front of everything: its pixels show its own fill
        if last["label"] not in INSTANCE_CLASSES:
            continue
        mask = np.zeros((H, W), np.uint8)
        cv2.fillPoly(mask, [np.array(last["polygon"], np.int32)], 1)
        inside = image[mask > 0].astype(float).mean(axis=0)
        ring = cv2.dilate(mask, np.ones((5, 5), np.uint8)) - mask
        outside = image[ring > 0].astype(float).mean(axis=0)
        assert np.abs(inside - outside).max() > 3
        checked += 1
    assert checked >= 3


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a, b, c = (str(tmp_path / n) for n in "abc")
    for root, seed in ((a, 7), (b, 7), (c, 8)):
        write_cityscapes_like(root, num_images=2, splits=["val"], seed=seed, progress=False)
    files = all_files(a)
    assert files == all_files(b) == all_files(c) and len(files) == 4
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert match == files and not errors
    match, mismatch, errors = filecmp.cmpfiles(a, c, files, shallow=False)
    assert len(mismatch) == len(files)


def test_progress_bar_and_arguments(tmp_path, capsys):
    write_cityscapes_like(str(tmp_path), splits={"train": 1}, objects_per_image=1,
                          progress=True)
    assert "outline scenes" in capsys.readouterr().err
    with pytest.raises(ValueError, match="either"):
        write_cityscapes_like(str(tmp_path), num_images=2, splits={"train": 1}, progress=False)
    with pytest.raises(ValueError, match="16"):
        write_cityscapes_like(str(tmp_path), image_size=8, progress=False)
    with pytest.raises(ValueError, match="low <= high"):
        write_cityscapes_like(str(tmp_path), objects_per_image=(4, 2), progress=False)
    with pytest.raises(TypeError):
        write_cityscapes_like(str(tmp_path), seed=1.5, progress=False)
