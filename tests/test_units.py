"""Radar units (scs_keras.units) against values worked out by hand from the formulas."""

import math

import numpy as np
import pytest

from scs_keras import units as U
from scs_keras.data.synthetic import rain as R


def test_pixel_to_dbz_hand_values():
    # HKO-7: dBZ = p * 70 / 255 - 10.
    assert U.pixel_to_dbz(0) == pytest.approx(-10.0)
    assert U.pixel_to_dbz(255) == pytest.approx(60.0)
    assert U.pixel_to_dbz(51) == pytest.approx(4.0)        # 51 * 70 / 255 = 14
    assert U.dbz_to_pixel(25.0) == pytest.approx(127.5)    # 35 * 255 / 70
    assert U.dbz_to_pixel(-10.0) == pytest.approx(0.0)


def test_unit_scale_hand_values():
    # x = p / 255 and dBZ = 70 x - 10.
    assert U.pixel_to_unit(51) == pytest.approx(0.2)
    assert U.unit_to_pixel(0.2) == pytest.approx(51.0)
    assert U.dbz_to_unit(25.0) == pytest.approx(0.5)
    assert U.dbz_to_unit(30.0) == pytest.approx(40.0 / 70.0)
    assert U.unit_to_dbz(0.0) == pytest.approx(-10.0)
    assert U.unit_to_dbz(1.0) == pytest.approx(60.0)


def test_round_trips():
    pixels = np.arange(256)
    np.testing.assert_allclose(U.dbz_to_pixel(U.pixel_to_dbz(pixels)), pixels, atol=1e-9)
    np.testing.assert_allclose(U.unit_to_dbz(U.pixel_to_unit(pixels)), U.pixel_to_dbz(pixels),
                               atol=1e-12)
    np.testing.assert_allclose(U.unit_to_pixel(U.dbz_to_unit(U.pixel_to_dbz(pixels))), pixels,
                               atol=1e-9)
    np.testing.assert_array_equal(U.dbz_to_uint8(U.pixel_to_dbz(pixels)), pixels)
    rates = np.array([0.1, 0.5, 2.0, 5.0, 30.0, 150.0])
    np.testing.assert_allclose(U.dbz_to_rainrate(U.rainrate_to_dbz(rates)), rates, rtol=1e-12)


def test_dbz_to_uint8_rounds_and_saturates():
    dbz = np.array([-30.0, -10.0, 4.0, 4.2, 60.0, 75.0])
    # (dBZ + 10) * 255 / 70 = [-72.9, 0, 51, 51.73, 255, 309.6] -> rounded, clipped.
    assert U.dbz_to_uint8(dbz).tolist() == [0, 0, 51, 52, 255, 255]
    assert U.dbz_to_uint8(dbz).dtype == np.uint8


def test_marshall_palmer_hand_values():
    # Z = 200 R^1.6 and dBZ = 10 log10 Z.
    z = 10.0 ** (30.0 / 10.0)                   # 30 dBZ -> Z = 1000
    rate = (z / 200.0) ** (1.0 / 1.6)           # 5 ** 0.625
    assert rate == pytest.approx(2.7343635, rel=1e-7)
    assert U.dbz_to_rainrate(30.0) == pytest.approx(rate, rel=1e-12)
    assert U.rainrate_to_dbz(1.0) == pytest.approx(10.0 * math.log10(200.0))   # 23.0103
    assert U.rainrate_to_dbz(10.0) == pytest.approx(10.0 * math.log10(200.0 * 10.0 ** 1.6))
    assert U.rainrate_to_dbz(0.0) == -np.inf
    # Other Z-R coefficients (e.g. a = 300, b = 1.4 for convective rain).
    assert U.dbz_to_rainrate(30.0, a=300.0, b=1.4) == pytest.approx((1000 / 300) ** (1 / 1.4))


def test_threshold_to_unit():
    assert U.threshold_to_unit(30.0) == pytest.approx(40.0 / 70.0)
    assert U.threshold_to_unit(0.5, "unit") == 0.5
    # 1 mm/h -> Z = 200 -> 23.0103 dBZ -> (23.0103 + 10) / 70.
    expected = (10.0 * math.log10(200.0) + 10.0) / 70.0
    assert U.threshold_to_unit(1.0, "mm/h") == pytest.approx(expected)
    assert U.threshold_to_unit(1.0, "MMH") == pytest.approx(expected)
    assert U.canonical_threshold_units("mmh") == "mm/h"
    assert U.canonical_threshold_units("dBZ") == "dbz"
    with pytest.raises(ValueError, match="threshold_units"):
        U.threshold_to_unit(1.0, "inch")
    with pytest.raises(ValueError, match="> 0"):
        U.threshold_to_unit(0.0, "mm/h")


def test_unit_bounds_agree_with_the_conversions():
    values = np.array([0.0, 17.0, 100.0, 255.0])
    low, high = U.unit_bounds("pixel")
    assert (low, high) == (0.0, 255.0)
    np.testing.assert_allclose((values - low) / (high - low), U.pixel_to_unit(values))
    low, high = U.unit_bounds("dBZ")
    assert (low, high) == (-10.0, 60.0)
    dbz = np.array([-10.0, 0.0, 25.0, 60.0])
    np.testing.assert_allclose((dbz - low) / (high - low), [0.0, 1 / 7, 0.5, 1.0])
    assert U.unit_bounds("unit") == (0.0, 1.0)
    assert set(U.VALUE_UNITS) == {"pixel", "dbz", "unit"}
    with pytest.raises(ValueError, match="units"):
        U.unit_bounds("mm/h")


def test_synthetic_rain_uses_the_same_mapping():
    # 0 mm/h -> -inf dBZ clipped to -10; 1 mm/h -> 23.0103; huge rain clipped to 60.
    out = R.rain_to_dbz(np.array([0.0, 1.0, 1e6]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [-10.0, 10.0 * math.log10(200.0), 60.0], rtol=1e-6)
