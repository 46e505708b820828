"""Sizing a baseline to a parameter budget."""

import pytest

from scs_keras.tasks.sizing import scaled_widths, widths_for_parameter_count


def test_scaled_widths_round_and_keep_one_channel():
    assert scaled_widths((16, 32, 3), 0.5) == (8, 16, 2)
    assert scaled_widths((1, 2), 0.01) == (1, 1)


def test_the_nearest_count_is_found():
    # A hand-made count: two 3x3 convolutions and a bias each.
    def count(ws):
        a, b = ws
        return 9 * 1 * a + a + 9 * a * b + b
    target = count((12, 24))
    widths, params = widths_for_parameter_count((16, 32), count, target)
    assert (widths, params) == ((12, 24), target)
    # A target between two reachable counts gives the nearer one.
    widths, params = widths_for_parameter_count((16, 32), count, target + 3)
    assert params == target
    with pytest.raises(ValueError, match="target"):
        widths_for_parameter_count((16, 32), count, 0)
