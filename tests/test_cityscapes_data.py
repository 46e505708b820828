"""Cityscapes polygon reader: geometry by hand, pipeline, bad input."""

import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from scs_keras.data import cityscapes as cs
from scs_keras.data.contract import DataError
from scs_keras.data.synthetic.outlines import write_cityscapes_like

H, W = 64, 128
# A 15 x 15 px square (pixels 41..55, 21..35), written anticlockwise on screen
# (down the left side first) and starting at its bottom-right corner.
SQUARE_ACW = [[55, 35], [55, 21], [41, 21], [41, 35]]
# Its hand-made crop: long side 55 - 41 + 1 = 15 px, side round(15 * 1.15) = 17,
# centre 48 -> first pixel 48 - 8 = 40, left edge 39.5 (same in y: 20, 19.5).
BOX = (39.5, 19.5, 17.0)
# Grid 8 over 17 px: cell = floor((x - 39.5) * 8 / 17): 41 -> 0, 55 -> 7.
# Clockwise from the top-left cell: (0,0) (7,0) (7,7) (0,7) -> y * 8 + x.
TOKENS = [0, 7, 63, 56]
END = 64


def crop_point(x, y, crop=32):
    """Image point to crop pixels, from the documented mapping, by hand."""
    return ((x - 39.5) * crop / 17 - 0.5, (y - 19.5) * crop / 17 - 0.5)


def write_file(root, objects, split="val", city="town", stem="town_000000_000019",
               size=(H, W), image=None, image_size=None, json_text=None):
    """One JSON (+ PNG unless image is False) in the Cityscapes layout."""
    gt = os.path.join(root, "gtFine", split, city)
    im = os.path.join(root, "leftImg8bit", split, city)
    os.makedirs(gt, exist_ok=True)
    os.makedirs(im, exist_ok=True)
    path = os.path.join(gt, stem + "_gtFine_polygons.json")
    with open(path, "w") as f:
        f.write(json_text if json_text is not None else json.dumps(
            {"imgHeight": size[0], "imgWidth": size[1], "objects": objects}))
    if image is not False:
        if image is None:
            image = np.zeros((image_size or size) + (3,), np.uint8)
        assert cv2.imwrite(os.path.join(im, stem + "_leftImg8bit.png"), image)
    return path


def square_image():
    image = np.zeros((H, W, 3), np.uint8)
    image[21:36, 41:56] = 255
    return image


# ---------------------------------------------------------------- geometry


def test_orientation_is_clockwise_on_screen_keeping_the_first_vertex():
    assert cs.signed_area(SQUARE_ACW) == pytest.approx(-14 * 14)
    cw = cs.orient_clockwise(np.array(SQUARE_ACW))
    np.testing.assert_array_equal(cw, [[55, 35], [41, 35], [41, 21], [55, 21]])
    assert cs.signed_area(cw) == pytest.approx(14 * 14)
    np.testing.assert_array_equal(cs.orient_clockwise(cw), cw)


def test_crop_box_and_coordinate_maps():
    np.testing.assert_allclose(cs.crop_box(np.array(SQUARE_ACW, float), 0.15), BOX)
    box = np.array(BOX)
    pts = np.array([[41.0, 21.0], [55.0, 35.0]])
    np.testing.assert_allclose(cs.image_to_crop(pts, box, 32), [crop_point(41, 21),
                                                                crop_point(55, 35)])
    np.testing.assert_allclose(cs.crop_to_image(cs.image_to_crop(pts, box, 32), box, 32), pts)
    cells = cs.crop_to_cells(cs.image_to_crop(pts, box, 32), 32, 8)
    np.testing.assert_array_equal(cells, [[0, 0], [7, 7]])
    # Cell centres: (g + 0.5) * 32 / 8 - 0.5.
    np.testing.assert_allclose(cs.cells_to_crop([[0, 0], [7, 7]], 32, 8), [[1.5, 1.5],
                                                                           [29.5, 29.5]])


def test_crop_image_copies_pads_and_averages():
    image = np.arange(H * W * 3, dtype=np.float32).reshape(H, W, 3) % 251
    # Side == crop size: a plain copy of pixels 40..56 x 20..36.
    np.testing.assert_array_equal(cs.crop_image(image, np.array(BOX), 17), image[20:37, 40:57])
    # Leaving the image at the top-left: black padding of 3 rows and 2 columns.
    crop = cs.crop_image(image, np.array([-2.5, -3.5, 10.0]), 10)
    np.testing.assert_array_equal(crop[:3], 0)
    np.testing.assert_array_equal(crop[:, :2], 0)
    np.testing.assert_array_equal(crop[3:, 2:], image[0:7, 0:8])
    # Shrinking by 2: the mean of each 2 x 2 block.
    crop = cs.crop_image(image, np.array([9.5, 9.5, 16.0]), 8)
    blocks = image[10:26, 10:26].reshape(8, 2, 8, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(crop, blocks, rtol=1e-5)


def test_dedup_subsample_encode():
    kept, index = cs.dedup_cyclic(np.array([[1, 1], [1, 1], [2, 1], [2, 2], [2, 2], [1, 1]]))
    np.testing.assert_array_equal(kept, [[1, 1], [2, 1], [2, 2]])
    np.testing.assert_array_equal(index, [0, 2, 3])
    assert cs.subsample_evenly(10, 4).tolist() == [0, 2, 5, 7]
    assert cs.subsample_evenly(8, 4).tolist() == [0, 2, 4, 6]
    assert cs.subsample_evenly(3, 5).tolist() == [0, 1, 2]
    assert cs.top_left_index(np.array([[5, 2], [1, 3], [4, 2], [0, 9]])) == 2
    tokens = cs.encode_vertices([[0, 0], [7, 0], [7, 7], [0, 7]], 8, 6)
    assert tokens.tolist() == TOKENS + [END, -1]
    np.testing.assert_array_equal(cs.decode_vertices(tokens, 8), [[0, 0], [7, 0], [7, 7], [0, 7]])
    assert cs.end_token(28) == 784
    with pytest.raises(ValueError, match="do not fit"):
        cs.encode_vertices([[0, 0]] * 6, 8, 6)


# ------------------------------------------------------------ one example


def test_example_of_the_square_by_hand():
    # A vertex at (54.5, 35) falls in the corner's cell (floor(15 * 8 / 17) = 7):
    # 5 polygon vertices, 4 cells.
    polygon = [[55, 35], [55, 21], [41, 21], [41, 35], [54.5, 35]][::-1]
    ex = cs.make_example(square_image(), polygon, 2, crop_size=32, grid_size=8, max_vertices=6)
    assert ex["vertices"].tolist() == TOKENS + [END, -1, -1]
    assert ex["num_vertices"] == 4 and ex["num_polygon_vertices"] == 5
    # Clockwise from (41, 21), the original vertex of the first cell.
    hand = [crop_point(*p) for p in [(41, 21), (55, 21), (55, 35), (54.5, 35), (41, 35)]]
    np.testing.assert_allclose(ex["polygon"][:5], hand, rtol=1e-6)
    np.testing.assert_array_equal(ex["polygon"][5:], 0)
    np.testing.assert_allclose(ex["crop_box"], BOX)
    assert ex["label"] == 2
    img = ex["image"]
    assert img.dtype == np.float32 and img.shape == (32, 32, 3)
    assert img[16, 16, 0] == pytest.approx(1.0) and img[0, 0, 0] == 0.0
    # Subsampled to 3: cells 0, 1, 2 of 4 (floor(i * 4 / 3)); vertices 0, 1, 3 of 5.
    ex = cs.make_example(square_image(), polygon, 2, crop_size=32, grid_size=8, max_vertices=3)
    assert ex["vertices"].tolist() == [0, 7, 63, END]
    np.testing.assert_allclose(ex["polygon"][:3], [hand[0], hand[1], hand[3]], rtol=1e-6)


def test_training_examples_rotate_the_start_and_vary_the_context():
    starts, sides = set(), set()
    for seed in range(12):
        ex = cs.make_example(square_image(), SQUARE_ACW, 0, 32, 8, 6,
                             rng=np.random.default_rng(seed))
        n = int(ex["num_vertices"])
        seq = ex["vertices"][:n].tolist()
        cells = cs.decode_vertices(ex["vertices"], 8)
        assert cs.signed_area(cells) > 0  # still clockwise
        assert ex["vertices"][n] == END and n == 4
        starts.add(seq[0])
        side = float(ex["crop_box"][2])
        sides.add(side)
        # The box's left edge stays at 39.5 for sides 17 and 18; the far cell
        # is floor((55 - 39.5) * 8 / side): 7 at 17, 6 at 18.
        m = int(15.5 * 8 // side)
        square = [0, m, m * 8 + m, m * 8]
        assert any(square[k:] + square[:k] == seq for k in range(4))  # a rotation
    assert len(starts) > 1
    # Context 0.10..0.20 of 15 px: side round(16.5)..round(18) = 17..18.
    assert sides <= {17.0, 18.0} and len(sides) == 2


# --------------------------------------------------------------- pipeline


def test_pipeline_on_a_hand_written_file(tmp_path):
    objects = [{"label": "road", "polygon": [[0, 40], [127, 40], [127, 63], [0, 63]]},
               {"label": "car", "polygon": SQUARE_ACW},
               {"label": "cargroup", "polygon": [[0, 0], [20, 0], [20, 20]]}]
    write_file(str(tmp_path), objects, image=square_image())
    ds, report = cs.make_polygon_dataset(str(tmp_path), "val", crop_size=32, grid_size=8,
                                         max_vertices=6, batch_size=2)
    assert report.num_samples == 1 and report.num_files == 1
    assert report.class_counts["car"] == 1 and report.other_labels == {"cargroup": 1, "road": 1}
    assert report.problems == [] and report.filtered == []
    batches = list(ds)
    assert len(batches) == 1
    inputs, targets = batches[0]
    assert inputs["image"].shape == (1, 32, 32, 3) and inputs["image"].dtype == tf.float32
    assert targets["vertices"].numpy().tolist() == [TOKENS + [END, -1, -1]]
    np.testing.assert_array_equal(inputs["vertices"], targets["vertices"])
    assert targets["num_vertices"].numpy().tolist() == [4]
    assert targets["num_polygon_vertices"].numpy().tolist() == [4]
    assert targets["polygon"].shape == (1, 7, 2)
    np.testing.assert_allclose(targets["polygon"][0, 0], crop_point(41, 21), rtol=1e-6)
    assert targets["label"].numpy().tolist() == [cs.INSTANCE_CLASSES.index("car")]
    np.testing.assert_allclose(targets["crop_box"][0], BOX)
    assert float(inputs["image"][0, 16, 16, 1]) == pytest.approx(1.0)


def test_training_pipeline_is_reproducible_by_seed(tmp_path):
    write_file(str(tmp_path), [{"label": "bus", "polygon": SQUARE_ACW}], split="train",
               image=square_image())

    def epochs(seed):
        ds, _ = cs.make_polygon_dataset(str(tmp_path), "train", crop_size=32, grid_size=8,
                                        max_vertices=6, seed=seed)
        return [np.concatenate([t["vertices"].numpy().ravel(), t["crop_box"].numpy().ravel()])
                for _ in range(6) for _, t in ds]

    first, again = epochs(5), epochs(5)
    np.testing.assert_array_equal(first, again)
    assert len({tuple(e) for e in first}) > 1  # the augmentation changes between epochs


def test_generated_data_set(tmp_path):
    root = str(tmp_path)
    write_cityscapes_like(root, splits={"train": 3, "val": 2}, seed=1, progress=False)
    ds, report = cs.make_polygon_dataset(root, "val", crop_size=32, max_vertices=12, batch_size=3,
                                         min_area=30)
    # Independent count: instance objects with an OpenCV contour area >= 30.
    expected, background = 0, 0
    for city in os.listdir(os.path.join(root, "gtFine", "val")):
        for name in os.listdir(os.path.join(root, "gtFine", "val", city)):
            with open(os.path.join(root, "gtFine", "val", city, name)) as f:
                for obj in json.load(f)["objects"]:
                    if obj["label"] in cs.INSTANCE_CLASSES:
                        area = cv2.contourArea(np.array(obj["polygon"], np.float32))
                        expected += area >= 30
                    else:
                        background += 1
    assert report.num_samples == expected > 0
    assert sum(report.other_labels.values()) == background
    assert sum(report.class_counts.values()) == expected
    seen = 0
    for inputs, targets in ds:
        images = inputs["image"].numpy()
        assert images.min() >= 0 and images.max() <= 1
        for tokens, n in zip(targets["vertices"].numpy(), targets["num_vertices"].numpy()):
            assert 2 <= n <= 12
            assert np.all((tokens[:n] >= 0) & (tokens[:n] < 16)) and tokens[n] == 16
            assert np.all(tokens[n + 1:] == -1)
            cells = cs.decode_vertices(tokens, 4)
            first = np.lexsort((cells[:, 0], cells[:, 1]))[0]
            assert first == 0  # evaluation: the top-left-most cell starts
        poly = targets["polygon"].numpy()
        assert poly.min() >= -0.5 and poly.max() <= 31.5
        seen += len(images)
    assert seen == expected


# -------------------------------------------------------------- bad input


GOOD = {"label": "person", "polygon": [[10, 10], [30, 10], [30, 40], [10, 40]]}


@pytest.mark.parametrize("objects, kind", [
    ([GOOD, {"label": "car", "polygon": [[1, 1], [20, 20]]}], "few_vertices"),
    ([GOOD, {"label": "car", "polygon": [[200, 10], [220, 10], [220, 30]]}], "outside"),
    ([GOOD, {"label": "car", "polygon": [[1, 2, 3]]}], "schema"),
    ([GOOD, {"label": "car"}], "schema"),
    ([GOOD, ["car"]], "schema"),
])
def test_bad_objects(tmp_path, objects, kind):
    path = write_file(str(tmp_path), objects)
    with pytest.raises(DataError, match="item 1") as err:
        cs.scan_polygon_files(str(tmp_path), "val")
    assert err.value.path == path and kind in str(err.value)
    records, report = cs.scan_polygon_files(str(tmp_path), "val", on_bad="skip")
    assert [(p.path, p.kind, p.index) for p in report.problems] == [(path, kind, 1)]
    assert [r.index for r in records] == [0]  # the good object of the same file stays


@pytest.mark.parametrize("case, kind", [
    ("malformed", "corrupt"), ("no_image", "missing_image"), ("wrong_size", "bad_image"),
    ("not_png", "bad_image"), ("no_size", "schema"),
])
def test_bad_files(tmp_path, case, kind):
    root = str(tmp_path)
    write_file(root, [GOOD], stem="good_000000_000019")
    bad = {
        "malformed": lambda: write_file(root, [], stem="bad", json_text='{"imgHeight": 64,'),
        "no_image": lambda: write_file(root, [GOOD], stem="bad", image=False),
        "wrong_size": lambda: write_file(root, [GOOD], stem="bad", image_size=(32, 32)),
        "not_png": lambda: write_file(root, [GOOD], stem="bad", image=False),
        "no_size": lambda: write_file(root, [GOOD], stem="bad",
                                      json_text='{"imgWidth": 4, "objects": []}'),
    }[case]()
    if case == "not_png":
        with open(os.path.join(root, "leftImg8bit", "val", "town", "bad_leftImg8bit.png"),
                  "wb") as f:
            f.write(b"GIF89a not a png at all")
    with pytest.raises(DataError, match=kind) as err:
        cs.scan_polygon_files(root, "val")
    assert err.value.path == bad
    records, report = cs.scan_polygon_files(root, "val", on_bad="skip")
    assert [(p.path, p.kind, p.index) for p in report.problems] == [(bad, kind, None)]
    assert len(records) == 1 and "good" in records[0].json_path


def test_tiny_and_deleted_objects_are_left_out_and_listed(tmp_path):
    tiny = {"label": "car", "polygon": [[50, 50], [59, 50], [59, 55], [50, 55]]}  # 45 px^2
    deleted = dict(GOOD, deleted=1)
    path = write_file(str(tmp_path), [GOOD, tiny, deleted])
    records, report = cs.scan_polygon_files(str(tmp_path), "val")  # no raise
    assert [r.index for r in records] == [0]
    assert [(p.path, p.kind, p.index) for p in report.filtered] == [(path, "tiny", 1)]
    assert report.problems == [] and report.num_deleted == 1
    records, _ = cs.scan_polygon_files(str(tmp_path), "val", min_area=45)
    assert [r.index for r in records] == [0, 1]


def test_vertices_outside_the_image_are_moved_onto_it(tmp_path):
    write_file(str(tmp_path), [{"label": "car", "polygon": [[-5, 10], [30, 10], [30, 70],
                                                            [-5, 70]]}])
    records, _ = cs.scan_polygon_files(str(tmp_path), "val")
    np.testing.assert_array_equal(records[0].polygon, [[0, 10], [30, 10], [30, 63], [0, 63]])


def test_missing_folders_and_empty_results(tmp_path):
    root = str(tmp_path)
    with pytest.raises(DataError) as err:
        cs.scan_polygon_files(os.path.join(root, "nowhere"), "val")
    assert err.value.path == os.path.join(root, "nowhere")
    os.makedirs(os.path.join(root, "gtFine", "val"))
    with pytest.raises(DataError) as err:
        cs.make_polygon_dataset(root, "train")
    assert err.value.path == os.path.join(root, "gtFine", "train")
    with pytest.raises(DataError) as err:
        cs.scan_polygon_files(root, "val")
    assert err.value.path == os.path.join(root, "leftImg8bit", "val")
    os.makedirs(os.path.join(root, "leftImg8bit", "val"))
    with pytest.raises(DataError, match="no <city>"):
        cs.scan_polygon_files(root, "val")
    write_file(root, [{"label": "road", "polygon": GOOD["polygon"]}])
    with pytest.raises(DataError, match="no usable object"):
        cs.scan_polygon_files(root, "val", on_bad="skip")


def test_undecodable_image_fails_the_iteration_naming_it(tmp_path):
    write_file(str(tmp_path), [GOOD], image=False)
    png = os.path.join(str(tmp_path), "leftImg8bit", "val", "town",
                       "town_000000_000019_leftImg8bit.png")
    with open(png, "wb") as f:  # a valid header of the right size, then garbage
        f.write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (W).to_bytes(4, "big")
                + (H).to_bytes(4, "big") + b"\x08\x02\x00\x00\x00garbage")
    ds, _ = cs.make_polygon_dataset(str(tmp_path), "val", crop_size=32)
    with pytest.raises(Exception, match="town_000000_000019_leftImg8bit.png"):
        list(ds)


def test_arguments_are_checked(tmp_path):
    write_file(str(tmp_path), [GOOD])
    with pytest.raises(TypeError):
        cs.make_polygon_dataset(str(tmp_path), "val", crop_size=True)
    with pytest.raises(ValueError, match="grid_size"):
        cs.make_polygon_dataset(str(tmp_path), "val", crop_size=32, grid_size=33)
    with pytest.raises(ValueError, match="max_vertices"):
        cs.make_polygon_dataset(str(tmp_path), "val", max_vertices=2)
    with pytest.raises(ValueError, match="on_bad"):
        cs.make_polygon_dataset(str(tmp_path), "val", on_bad="ignore")
    _, report = cs.make_polygon_dataset(str(tmp_path), "val", crop_size=64)
    assert report.num_samples == 1
