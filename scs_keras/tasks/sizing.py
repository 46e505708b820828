"""Sizing a baseline to a parameter budget (the equal-parameter comparison rows).

A ConvLSTM layer has about 2.7 times the weights of an SCS layer of the
same width (four gates on input and state, against a spatial convolution
and one gate), so "same width" and "same parameter count" are two different
comparisons; the task tables show both.
"""

from __future__ import annotations

__all__ = ["scaled_widths", "widths_for_parameter_count"]


def scaled_widths(widths, factor):
    """``widths`` times ``factor``, rounded, at least 1 each.

    Example:

    >>> scaled_widths((16, 32), 0.5)
    (8, 16)
    """
    return tuple(max(1, round(w * factor)) for w in widths)


def widths_for_parameter_count(widths, count_params, target, steps=14):
    """The uniformly scaled ``widths`` whose model has the nearest parameter
    count to ``target``.

    Args:
        widths: The reference widths (the scale is searched in ``(0, 1]``:
            the baseline is shrunk, never grown).
        count_params: ``widths -> int``, the baseline's parameter count at
            those widths (build it at the smallest sizes that keep the
            weights: convolution weights do not depend on the frame size).
        target: The parameter count to match.
        steps: Bisection steps on the scale.

    Returns:
        ``(widths, params)``: the best widths found and their count.

    Example:

    >>> widths_for_parameter_count((10, 20), lambda w: sum(x * x for x in w), 125)
    ((5, 10), 125)
    """
    if target < 1:
        raise ValueError(f"target must be a positive parameter count; received {target}.")
    cache = {}

    def params(ws):
        if ws not in cache:
            cache[ws] = int(count_params(ws))
        return cache[ws]

    low, high = 0.0, 1.0
    best = scaled_widths(widths, 1.0)
    for _ in range(steps):
        mid = (low + high) / 2
        ws = scaled_widths(widths, mid)
        if abs(params(ws) - target) < abs(params(best) - target):
            best = ws
        if params(ws) < target:
            low = mid
        else:
            high = mid
    return best, params(best)
