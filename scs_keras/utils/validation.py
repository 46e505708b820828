"""Argument validation shared by every layer, reader, model builder and task.

Every public function of the package checks its arguments with these helpers,
so the same mistake gets the same message everywhere.  They accept what Keras
accepts: NumPy integers count as integers (``SCS(np.int64(8))`` works), bools
do not.  Each returns the normalised value (a Python ``int``/``float``/tuple).

Example:

>>> positive_int("units", 8)
8
>>> int_sequence("widths", "16,32")
(16, 32)
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "is_int",
    "check_int",
    "positive_int",
    "non_negative_int",
    "check_float",
    "rate",
    "one_of",
    "int_sequence",
    "image_hw",
    "on_bad",
]


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bools and everything else."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_))


def check_int(name, value, minimum=None, maximum=None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (each bound optional).

    Raises:
        TypeError: ``value`` is not an integer (bools are refused).
        ValueError: ``value`` is out of range.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an integer; received {value!r} "
                        f"({type(value).__name__}).")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; received {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; received {value}.")
    return value


def positive_int(name, value) -> int:
    """``value`` as an ``int`` >= 1 (see :func:`check_int`)."""
    return check_int(name, value, minimum=1)


def non_negative_int(name, value) -> int:
    """``value`` as an ``int`` >= 0 (see :func:`check_int`)."""
    return check_int(name, value, minimum=0)


def check_float(name, value, minimum=None, maximum=None, min_inclusive=True,
                max_inclusive=True) -> float:
    """``value`` as a finite ``float`` within the given bounds.

    Raises:
        TypeError: not a real number.
        ValueError: NaN, infinite or out of range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating,
                                                                      np.integer)):
        raise TypeError(f"{name} must be a number; received {value!r} "
                        f"({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; received {value}.")
    if minimum is not None and (value < minimum or (not min_inclusive and value == minimum)):
        raise ValueError(f"{name} must be {'>=' if min_inclusive else '>'} {minimum}; "
                         f"received {value}.")
    if maximum is not None and (value > maximum or (not max_inclusive and value == maximum)):
        raise ValueError(f"{name} must be {'<=' if max_inclusive else '<'} {maximum}; "
                         f"received {value}.")
    return value


def rate(name, value) -> float:
    """A probability in ``[0, 1]`` as a ``float``."""
    return check_float(name, value, 0.0, 1.0)


def one_of(name, value, choices):
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; "
                         f"received {value!r}.")
    return value


def int_sequence(name, value, length=None, minimum=1, allow_scalar=False) -> tuple:
    """A non-empty sequence of integers >= ``minimum`` as a tuple.

    Args:
        name: Argument name for messages.
        value: A list/tuple/array of ints, a comma-separated string
            (``"16,32"``, as given on the command line) or, with
            ``allow_scalar``, one int (repeated ``length`` times).
        length: Required length (``None``: any non-zero length).
        minimum: Smallest allowed element.
        allow_scalar: Accept a single int.

    Returns:
        A tuple of Python ints.
    """
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"{name} must be comma-separated integers; "
                             f"received {value!r}.") from None
    elif is_int(value):
        if not allow_scalar:
            raise TypeError(f"{name} must be a list of integers; received {value!r}.")
        if length is None:
            value = [value]
        else:
            value = [value] * length
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{name} must be a non-empty list of integers; received {value!r}.")
    out = tuple(check_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value))
    if length is not None and len(out) != length:
        raise ValueError(f"{name} must have {length} value(s) (one per layer); "
                         f"received {len(out)}: {list(out)}.")
    return out


def image_hw(name, value) -> tuple:
    """An image size as ``(height, width)``: an int (square) or a pair of ints."""
    if is_int(value):
        value = (value, value)
    return int_sequence(name, value, length=2)


def on_bad(value) -> str:
    """The readers' ``on_bad`` argument: ``"raise"`` or ``"skip"``."""
    return one_of("on_bad", value, ("raise", "skip"))
