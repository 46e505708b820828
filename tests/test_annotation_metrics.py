"""Polygon mask IoU and its per-class average, against hand-made polygons."""

import math

import numpy as np
import pytest

from scs_keras.metrics.annotation import PolygonIoU, mask_iou, polygon_iou, rasterize_polygon


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def pnpoly_mask(polygon, height, width):
    """W. R. Franklin's PNPOLY test at every pixel centre, one point at a time."""
    p = np.asarray(polygon, float)
    mask = np.zeros((height, width), bool)
    for i in range(height):
        for j in range(width):
            inside = False
            for k in range(len(p)):
                (xa, ya), (xb, yb) = p[k], p[k - 1]
                if (ya > i) != (yb > i) and j < (xb - xa) * (i - ya) / (yb - ya) + xa:
                    inside = not inside
            mask[i, j] = inside
    return mask


def test_rectangle_covers_exactly_its_pixels():
    mask = rasterize_polygon(rect(1, 1, 4, 3), 6, 6)
    expected = np.zeros((6, 6), bool)
    expected[1:3, 1:4] = True  # rows 1..2, columns 1..3: area 3 x 2
    np.testing.assert_array_equal(mask, expected)


def test_identical_squares():
    assert polygon_iou(rect(2, 2, 12, 12), rect(2, 2, 12, 12), 16, 16) == 1.0


def test_disjoint_squares():
    assert polygon_iou(rect(0, 0, 5, 5), rect(8, 8, 14, 14), 16, 16) == 0.0


def test_nested_squares_give_the_area_ratio():
    assert polygon_iou(rect(5, 5, 15, 15), rect(0, 0, 20, 20), 24, 24) == pytest.approx(100 / 400)


def test_half_overlapping_rectangles():
    # Intersection 10 x 10, union 300.
    assert polygon_iou(rect(0, 0, 20, 10), rect(10, 0, 30, 10), 12, 32) == pytest.approx(1 / 3)


def test_triangle_half_of_a_square():
    square = rect(0, 0, 10, 10)
    lower_left = [[0, 0], [10, 0], [0, 10]]
    upper_right = [[10, 0], [10, 10], [0, 10]]
    # Row i (y = i, i = 0..9) is cut by the diagonal x = 10 - i; the centres
    # j < 10 - i are inside: 10 + 9 + ... + 1 = 55 of the square's 100 pixels.
    assert polygon_iou(lower_left, square, 12, 12) == pytest.approx(55 / 100)
    # The two halves share the diagonal but no pixel, and cover the square.
    assert polygon_iou(lower_left, upper_right, 12, 12) == 0.0
    assert (polygon_iou(lower_left, square, 12, 12)
            + polygon_iou(upper_right, square, 12, 12)) == pytest.approx(1.0)
    # At n pixels a side the half covers n (n + 1) / 2 pixels: IoU -> 1/2.
    n = 200
    iou = polygon_iou([[0, 0], [n, 0], [0, n]], rect(0, 0, n, n), n + 2, n + 2)
    assert iou == pytest.approx((n + 1) / (2 * n))
    assert abs(iou - 0.5) <= 1 / n


def test_matches_pnpoly_on_a_non_convex_polygon():
    rng = np.random.default_rng(3)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 11))
    radii = rng.uniform(3, 9, 11)
    star = np.stack([10 + radii * np.cos(angles), 9 + radii * np.sin(angles)], 1)
    integer = np.array([[2, 2], [15, 2], [15, 6], [8, 6], [8, 12], [15, 12], [15, 16], [2, 16]])
    for polygon in (star, integer, integer[::-1]):
        np.testing.assert_array_equal(rasterize_polygon(polygon, 20, 21),
                                      pnpoly_mask(polygon, 20, 21))


def test_orientation_and_outside_parts():
    square = rect(-5, -5, 6, 6)  # partly outside the grid: only rows/columns 0..5 remain
    np.testing.assert_array_equal(rasterize_polygon(square, 8, 8),
                                  rasterize_polygon(square[::-1], 8, 8))
    assert rasterize_polygon(square, 8, 8).sum() == 36


def test_empty_polygons():
    assert polygon_iou(np.zeros((0, 2)), np.zeros((0, 2)), 8, 8) == 1.0
    assert polygon_iou([[1, 1], [5, 5]], [[2, 2]], 8, 8) == 1.0  # segments cover nothing
    assert polygon_iou(np.zeros((0, 2)), rect(0, 0, 4, 4), 8, 8) == 0.0
    assert mask_iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0


def test_bad_polygon_is_refused():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        rasterize_polygon([[1, 2, 3]], 4, 4)
    with pytest.raises(ValueError, match="finite"):
        rasterize_polygon([[0, 0], [np.nan, 1], [1, 1]], 4, 4)


def test_per_class_and_instance_means():
    metric = PolygonIoU((16, 32), class_names=("car", "person", "bus"))
    full, left, right = rect(0, 0, 20, 10), rect(0, 0, 10, 10), rect(10, 0, 30, 10)
    assert math.isnan(metric.result()) and math.isnan(metric.instance_mean())
    # car: 1 and 0.5 (left half of full); person: 1/3; bus: none.
    ious = metric.update_state([full, left], [full, full], [0, 0])
    np.testing.assert_allclose(ious, [1.0, 0.5])
    metric.update_state([right], [full], np.array([1]))
    assert metric.per_class()["car"] == pytest.approx(0.75)
    assert metric.per_class()["person"] == pytest.approx(1 / 3)
    assert math.isnan(metric.per_class()["bus"])
    assert metric.class_counts() == {"car": 2, "person": 1, "bus": 0}
    # Mean of the class means (bus not seen) vs. every instance counted once.
    assert metric.result() == pytest.approx((0.75 + 1 / 3) / 2)
    assert metric.instance_mean() == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    assert metric.results()["mean_iou"] == metric.result()
    metric.reset_state()
    assert math.isnan(metric.result())


def test_metric_checks_its_inputs():
    metric = PolygonIoU(8)
    assert len(metric.class_names) == 8
    with pytest.raises(ValueError, match="must match"):
        metric.update_state([rect(0, 0, 2, 2)], [], [0])
    with pytest.raises(ValueError, match="labels"):
        metric.update_state([rect(0, 0, 2, 2)], [rect(0, 0, 2, 2)], [8])
    with pytest.raises(ValueError, match="image_size"):
        PolygonIoU(8.5)
