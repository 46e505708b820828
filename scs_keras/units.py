"""Radar-echo units: HKO-7 grey levels, reflectivity (dBZ), the [0, 1] scale, rain rate.

Every constant and conversion between these units lives here, once; the
precipitation readers, the synthetic rain generator and the nowcasting
metrics import them.  NumPy only (no TensorFlow), so the generator can write
files without loading TensorFlow.

**Grey levels and dBZ (HKO-7).**  The HKO-7 radar PNGs store reflectivity as
8-bit grey levels ``p`` in 0..255, linear in dBZ over -10..60 dBZ::

    dBZ = p * 70 / 255 - 10          p = (dBZ + 10) * 255 / 70

**The [0, 1] scale.**  The readers hand models ``x = p / 255``, so::

    dBZ = 70 x - 10                  x = (dBZ + 10) / 70

**Rain rate.**  Reflectivity ``dBZ = 10 log10 Z`` (``Z`` in mm^6 m^-3) relates
to rain rate ``R`` (mm/h) through the Marshall-Palmer relation ``Z = a R^b``
with ``a = 200`` and ``b = 1.6``::

    R = (10^(dBZ / 10) / a)^(1 / b)  dBZ = 10 log10(a R^b)

so 1 mm/h is 10 log10(200) = 23.01 dBZ and 30 dBZ is about 2.7 mm/h.

Example:

>>> float(pixel_to_dbz(255))
60.0
>>> float(dbz_to_unit(25.0))
0.5
>>> round(float(dbz_to_rainrate(30.0)), 2)
2.73
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "PIXEL_MAX", "DBZ_MIN", "DBZ_MAX", "DBZ_SPAN", "ZR_A", "ZR_B", "VALUE_UNITS",
    "THRESHOLD_UNITS",
    "pixel_to_dbz", "dbz_to_pixel", "dbz_to_uint8", "pixel_to_unit", "unit_to_pixel",
    "dbz_to_unit", "unit_to_dbz", "dbz_to_rainrate", "rainrate_to_dbz",
    "unit_bounds", "canonical_threshold_units", "threshold_to_unit",
]

#: Grey level of the brightest pixel.
PIXEL_MAX = 255.0
#: Reflectivity (dBZ) of grey level 0.
DBZ_MIN = -10.0
#: Reflectivity (dBZ) of grey level 255.
DBZ_MAX = 60.0
#: Reflectivity span of the grey scale, ``DBZ_MAX - DBZ_MIN``.
DBZ_SPAN = DBZ_MAX - DBZ_MIN
#: Marshall-Palmer coefficient ``a`` of ``Z = a R^b``.
ZR_A = 200.0
#: Marshall-Palmer exponent ``b`` of ``Z = a R^b``.
ZR_B = 1.6

# What 0 and 1 on the readers' scale stand for in each unit (see unit_bounds).
_UNIT_BOUNDS = {"pixel": (0.0, PIXEL_MAX), "dbz": (DBZ_MIN, DBZ_MAX), "unit": (0.0, 1.0)}
#: Units a frame array may be stored in: grey levels, reflectivity, [0, 1].
VALUE_UNITS = tuple(_UNIT_BOUNDS)
#: Units a nowcasting threshold may be given in (spelling -> canonical name).
THRESHOLD_UNITS = {"dbz": "dbz", "mm/h": "mm/h", "mmh": "mm/h", "unit": "unit"}


def _float64(values):
    return np.asarray(values, dtype=np.float64)


def pixel_to_dbz(pixel):
    """HKO-7 grey levels to reflectivity: ``dBZ = p * 70 / 255 - 10``.

    Args:
        pixel: Grey level(s) 0..255 (scalar, array or eager tensor).

    Returns:
        Reflectivity in dBZ, float64 array.

    Example:
        >>> float(pixel_to_dbz(0)), float(pixel_to_dbz(255))
        (-10.0, 60.0)
    """
    return _float64(pixel) * (DBZ_SPAN / PIXEL_MAX) + DBZ_MIN


def dbz_to_pixel(dbz):
    """Reflectivity to grey levels: ``p = (dBZ + 10) * 255 / 70`` (not rounded or clipped).

    Args:
        dbz: Reflectivity in dBZ.

    Returns:
        Grey levels, float64 array; :func:`dbz_to_uint8` gives the stored values.

    Example:
        >>> float(dbz_to_pixel(-10.0)), float(dbz_to_pixel(60.0))
        (0.0, 255.0)
    """
    return (_float64(dbz) - DBZ_MIN) * (PIXEL_MAX / DBZ_SPAN)


def dbz_to_uint8(dbz):
    """Reflectivity to the grey levels stored in an 8-bit PNG.

    ``round((dBZ + 10) * 255 / 70)`` clipped to 0..255: values outside
    -10..60 dBZ saturate.

    Args:
        dbz: Reflectivity in dBZ.

    Returns:
        uint8 array.

    Example:
        >>> int(dbz_to_uint8(60.0)), int(dbz_to_uint8(75.0)), int(dbz_to_uint8(-30.0))
        (255, 255, 0)
    """
    return np.clip(np.rint(dbz_to_pixel(dbz)), 0, PIXEL_MAX).astype(np.uint8)


def pixel_to_unit(pixel):
    """Grey levels to the readers' [0, 1] scale: ``x = p / 255``.

    Args:
        pixel: Grey level(s) 0..255.

    Returns:
        float64 values on the [0, 1] scale.

    Example:
        >>> float(pixel_to_unit(51))
        0.2
    """
    return _float64(pixel) / PIXEL_MAX


def unit_to_pixel(x):
    """The [0, 1] scale back to grey levels: ``p = 255 x`` (not rounded).

    Args:
        x: Values on the [0, 1] scale.

    Returns:
        Grey levels, float64; ``np.rint`` gives the exact PNG values.

    Example:
        >>> float(unit_to_pixel(1.0))
        255.0
    """
    return _float64(x) * PIXEL_MAX


def dbz_to_unit(dbz):
    """Reflectivity to the [0, 1] scale: ``x = (dBZ + 10) / 70`` (not clipped).

    Args:
        dbz: Reflectivity in dBZ.

    Returns:
        float64 values on the [0, 1] scale.

    Example:
        >>> float(dbz_to_unit(25.0))
        0.5
    """
    return (_float64(dbz) - DBZ_MIN) / DBZ_SPAN


def unit_to_dbz(x):
    """The [0, 1] scale to reflectivity: ``dBZ = 70 x - 10``.

    Args:
        x: Values on the [0, 1] scale (scalar, array or eager tensor).

    Returns:
        Reflectivity in dBZ, float64 array.

    Example:
        >>> float(unit_to_dbz(1.0))
        60.0
    """
    return _float64(x) * DBZ_SPAN + DBZ_MIN


def dbz_to_rainrate(dbz, a: float = ZR_A, b: float = ZR_B):
    """Rain rate from reflectivity: ``R = (10^(dBZ / 10) / a)^(1 / b)``.

    Args:
        dbz: Reflectivity in dBZ (``10 log10 Z``).
        a: Coefficient of ``Z = a R^b`` (default 200).
        b: Exponent of ``Z = a R^b`` (default 1.6).

    Returns:
        Rain rate in mm/h, float64 array.

    Example:
        >>> round(float(dbz_to_rainrate(23.0103)), 3)   # Z = 200 -> 1 mm/h
        1.0
    """
    z = np.power(10.0, _float64(dbz) / 10.0)
    return np.power(z / a, 1.0 / b)


def rainrate_to_dbz(rate, a: float = ZR_A, b: float = ZR_B):
    """Reflectivity from rain rate: ``dBZ = 10 log10(a R^b)`` (R = 0 gives -inf).

    Args:
        rate: Rain rate in mm/h (>= 0).
        a: Coefficient of ``Z = a R^b`` (default 200).
        b: Exponent of ``Z = a R^b`` (default 1.6).

    Returns:
        Reflectivity in dBZ, float64 array.

    Example:
        >>> round(float(rainrate_to_dbz(1.0)), 2)
        23.01
    """
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(a * np.power(_float64(rate), b))


def unit_bounds(units: str):
    """The values that 0 and 1 on the readers' scale stand for in ``units``.

    ``x = (value - low) / (high - low)``: grey levels ``(0, 255)``, dBZ
    ``(-10, 60)``, the [0, 1] scale itself ``(0, 1)``.  For code that cannot
    call the NumPy functions above (a TensorFlow graph reading stored frames),
    and for converting differences: an error of ``e`` on the [0, 1] scale is
    ``e * (high - low)`` in ``units``.

    Args:
        units: ``"pixel"``, ``"dbz"`` or ``"unit"`` (any case).

    Returns:
        ``(low, high)``, two Python floats.

    Raises:
        ValueError: Unknown units.

    Example:
        >>> unit_bounds("dBZ")
        (-10.0, 60.0)
    """
    key = str(units).lower()
    if key not in _UNIT_BOUNDS:
        raise ValueError(f"units must be one of 'pixel', 'dBZ', 'unit'; received {units!r}.")
    return _UNIT_BOUNDS[key]


def canonical_threshold_units(units: str) -> str:
    """The canonical name of a threshold unit: ``"dbz"``, ``"mm/h"`` or ``"unit"``.

    Args:
        units: ``"dbz"``, ``"mm/h"`` (or ``"mmh"``) or ``"unit"``, any case.

    Raises:
        ValueError: Unknown units.

    Example:
        >>> canonical_threshold_units("MMH")
        'mm/h'
    """
    key = THRESHOLD_UNITS.get(str(units).lower())
    if key is None:
        raise ValueError(f"threshold_units must be 'dbz', 'mm/h' or 'unit'; received {units!r}.")
    return key


def threshold_to_unit(threshold: float, units: str = "dbz") -> float:
    """A threshold in dBZ, mm/h or [0, 1] units, on the readers' [0, 1] scale.

    A rain rate goes through ``dBZ = 10 log10(200 R^1.6)`` first, then
    ``x = (dBZ + 10) / 70``.

    Args:
        threshold: The threshold value.
        units: ``"dbz"`` (default), ``"mm/h"`` or ``"unit"``.

    Returns:
        A Python float.

    Raises:
        ValueError: Unknown units, or a rain rate <= 0 (no dBZ value).

    Example:
        >>> threshold_to_unit(25.0)
        0.5
        >>> round(threshold_to_unit(1.0, "mm/h") * 70 - 10, 2)   # 1 mm/h in dBZ
        23.01
    """
    key = canonical_threshold_units(units)
    value = float(threshold)
    if key == "mm/h":
        if value <= 0:
            raise ValueError(f"A rain-rate threshold must be > 0 mm/h; received {value}.")
        value = float(rainrate_to_dbz(value))
        key = "dbz"
    if key == "dbz":
        value = float(dbz_to_unit(value))
    if not math.isfinite(value):
        raise ValueError(f"threshold must be finite; received {threshold!r}.")
    return value
