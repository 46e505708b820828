"""The shared argument checks (scs_keras.utils.validation) and the layer
constructors that rely on them."""

import numpy as np
import pytest

from scs_keras import SCS, ConvSCS2D, DeepSCS
from scs_keras.utils import validation as v


@pytest.mark.parametrize("value", [3, np.int8(3), np.int32(3), np.int64(3), np.uint16(3)])
def test_numpy_integers_are_integers(value):
    assert v.is_int(value)
    out = v.positive_int("units", value)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 3.0, np.float32(3), "3", None,
                                   [3]])
def test_bools_floats_and_strings_are_not_integers(value):
    assert not v.is_int(value)
    with pytest.raises(TypeError, match="units"):
        v.positive_int("units", value)


def test_integer_ranges_name_the_argument():
    assert v.non_negative_int("steps", 0) == 0
    with pytest.raises(ValueError, match=r"steps must be >= 0; received -1"):
        v.non_negative_int("steps", -1)
    with pytest.raises(ValueError, match=r"filters must be >= 1; received 0"):
        v.positive_int("filters", 0)
    with pytest.raises(ValueError, match=r"rank must be <= 3; received 4"):
        v.check_int("rank", 4, minimum=1, maximum=3)


def test_floats_and_rates():
    assert v.rate("truncation_rate", np.float32(0.25)) == 0.25
    assert v.rate("truncation_rate", 1) == 1.0  # an int is a number
    assert type(v.rate("truncation_rate", np.float64(0.5))) is float
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError, match="truncation_rate"):
            v.rate("truncation_rate", bad)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="overlap must be finite"):
            v.check_float("overlap", bad)
    for bad in (True, "0.5", None):
        with pytest.raises(TypeError, match="truncation_rate"):
            v.rate("truncation_rate", bad)
    # Open bounds.
    with pytest.raises(ValueError, match=r"overlap must be < 1.0"):
        v.check_float("overlap", 1.0, 0.0, 1.0, max_inclusive=False)
    with pytest.raises(ValueError, match=r"epsilon must be > 0.0"):
        v.check_float("epsilon", 0.0, minimum=0.0, min_inclusive=False)


def test_one_of_lists_the_choices():
    assert v.one_of("mode", "none", ("temporal", "none")) == "none"
    with pytest.raises(ValueError, match=r"mode must be one of 'temporal', 'none'; "
                                         r"received 'spatial'"):
        v.one_of("mode", "spatial", ("temporal", "none"))


def test_int_sequences():
    assert v.int_sequence("widths", "16, 32") == (16, 32)
    assert v.int_sequence("widths", np.array([4, 8])) == (4, 8)
    assert v.int_sequence("widths", [np.int64(4)]) == (4,)
    assert v.int_sequence("strides", 2, length=3, allow_scalar=True) == (2, 2, 2)
    with pytest.raises(TypeError, match="strides"):
        v.int_sequence("strides", 2)  # a scalar only with allow_scalar
    with pytest.raises(ValueError, match="widths must be a non-empty list"):
        v.int_sequence("widths", [])
    with pytest.raises(ValueError, match=r"widths\[1\] must be >= 1"):
        v.int_sequence("widths", [4, 0])
    with pytest.raises(TypeError, match=r"widths\[0\]"):
        v.int_sequence("widths", [True, 4])
    with pytest.raises(ValueError, match="widths must be comma-separated"):
        v.int_sequence("widths", "4,x")
    with pytest.raises(ValueError, match="strides must have 2 value"):
        v.int_sequence("strides", [1, 2, 3], length=2)


def test_image_size_and_on_bad():
    assert v.image_hw("image_size", np.int32(16)) == (16, 16)
    assert v.image_hw("image_size", (8, 12)) == (8, 12)
    with pytest.raises(ValueError, match="image_size"):
        v.image_hw("image_size", (8, 12, 3))
    assert v.on_bad("skip") == "skip"
    with pytest.raises(ValueError, match="on_bad"):
        v.on_bad("ignore")


# -- the layers accept NumPy integers --------------------------------------


def test_scs_accepts_a_numpy_unit_count():
    layer = SCS(np.int64(8))
    assert layer.units == 8 and type(layer.units) is int
    assert layer(np.zeros((2, 3, 4), "float32")).shape == (2, 8)
    assert layer.get_config()["units"] == 8


def test_conv_scs_accepts_numpy_filters_and_kernel_sizes():
    layer = ConvSCS2D(np.int32(4), 3)
    assert layer.filters == 4
    assert layer(np.zeros((1, 2, 5, 5, 1), "float32")).shape == (1, 5, 5, 4)
    sized = ConvSCS2D(4, np.int64(3), strides=(np.int32(2), 1))
    assert sized.cell.kernel_size == (3, 3) and sized.cell.strides == (2, 1)
    assert all(type(k) is int for k in sized.cell.kernel_size + sized.cell.strides)


def test_deep_scs_accepts_a_list_of_numpy_widths():
    stack = DeepSCS(list(np.array([4, 4])), layer_type="dense")
    assert stack.filters == [4, 4] and all(type(f) is int for f in stack.filters)
    assert stack(np.zeros((2, 3, 5), "float32")).shape == (2, 3, 4)
    assert DeepSCS(np.array([4, 8]), strides=np.array([1, 2])).strides == [1, 2]
