"""Every public scs_keras cell and layer through the generic layer harness
(tests/layer_harness.py): shapes, config, .keras and SavedModel round trips,
masking, dtype policies and the training flag."""

import keras
import pytest

import scs_keras
from tests import layer_harness as harness
from tests.layer_harness import LayerCase

SCS_DROPOUT = {"dropout": 0.4, "recurrent_dropout": 0.3, "seed": 3}


def frame_wise_dense(**kwargs):
    return scs_keras.FrameWise(keras.layers.Dense(3), **kwargs)


def frame_wise_dense_dropout():
    return scs_keras.FrameWise(
        keras.Sequential([keras.layers.Dense(3), keras.layers.Dropout(0.5)]))


def deep_scs(*args, **kwargs):
    """A ``DeepSCS`` factory; the overrides go to every SCS layer."""
    return lambda **kw: scs_keras.DeepSCS(*args, **kwargs, layer_kwargs=kw or None)


CASES = [
    LayerCase("SCSCell", lambda **kw: scs_keras.SCSCell(3, **kw), (2, 4, 5),
              wrap="rnn", dropout=SCS_DROPOUT),
    LayerCase("SCS", lambda **kw: scs_keras.SCS(3, return_sequences=True, **kw),
              (2, 4, 5), dropout=SCS_DROPOUT, masking="rnn"),
    LayerCase("SCS-last-state-backwards",
              lambda **kw: scs_keras.SCS(3, return_state=True, go_backwards=True, **kw),
              (2, 4, 5), dropout=SCS_DROPOUT, masking="rnn"),
    LayerCase("ConvSCS1DCell",
              lambda **kw: scs_keras.ConvSCS1DCell(3, 3, strides=2, **kw),
              (2, 3, 6, 2), wrap="holder", dropout=SCS_DROPOUT),
    LayerCase("ConvSCS2DCell",
              lambda **kw: scs_keras.ConvSCS2DCell(3, 3, padding="valid", **kw),
              (2, 3, 5, 4, 2), wrap="holder", dropout=SCS_DROPOUT),
    LayerCase("ConvSCS3DCell", lambda **kw: scs_keras.ConvSCS3DCell(2, 3, **kw),
              (2, 2, 3, 4, 3, 2), wrap="holder", dropout=SCS_DROPOUT),
    LayerCase("ConvSCS1D",
              lambda **kw: scs_keras.ConvSCS1D(3, 3, return_sequences=True, **kw),
              (2, 4, 6, 2), dropout=SCS_DROPOUT, masking="rnn"),
    LayerCase("ConvSCS2D",
              lambda **kw: scs_keras.ConvSCS2D(3, 3, strides=2, return_sequences=True,
                                               **kw),
              (2, 4, 5, 4, 2), dropout=SCS_DROPOUT, masking="rnn"),
    LayerCase("ConvSCS2D-channels-first-state",
              lambda **kw: scs_keras.ConvSCS2D(3, 3, data_format="channels_first",
                                               return_state=True, **kw),
              (2, 3, 2, 5, 4), dropout=SCS_DROPOUT, masking="rnn"),
    LayerCase("ConvSCS3D",
              lambda **kw: scs_keras.ConvSCS3D(2, 3, return_sequences=True, **kw),
              (2, 3, 3, 4, 3, 2), dropout=SCS_DROPOUT, masking="rnn"),
    LayerCase("DeepSCS-conv2d", deep_scs([3, 4], strides=[1, 2], seed=1),
              (2, 4, 6, 6, 2), dropout={"dropout": 0.4}, masking="stack"),
    LayerCase("DeepSCS-dense-last",
              deep_scs([3, 3, 4], layer_type="dense", seed=2, return_sequences=False),
              (2, 4, 5), dropout={"dropout": 0.4}, masking="stack"),
    # Batch norm uses batch statistics in training: not in the training-flag
    # tests.
    LayerCase("DeepSCS-decoupled-batchnorm",
              deep_scs([3, 4], strides=[2, 1], batch_norm=True, decoupled=True, seed=3),
              (2, 3, 6, 6, 2), same_in_training=False),
    LayerCase("FrameWise", frame_wise_dense, (2, 3, 5),
              make_dropout=frame_wise_dense_dropout),
    LayerCase("RepeatLastFrame", lambda **kw: scs_keras.RepeatLastFrame(2, **kw),
              (2, 3, 4, 4, 1)),
    LayerCase("DropLastFrame", lambda **kw: scs_keras.DropLastFrame(**kw),
              (2, 3, 4, 4, 1)),
    LayerCase("FrameStandardization",
              lambda **kw: scs_keras.FrameStandardization(**kw), (2, 3, 4, 4, 2)),
]

MASKED = [c for c in CASES if c.masking]
WITH_DROPOUT = [c for c in CASES if c.dropout or c.make_dropout]
# The single SCS cells and layers, which take truncation arguments directly.
TRUNCATED = [c for c in CASES if c.dropout and c.masking != "stack"]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_shapes(case):
    harness.check_shapes(case)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_config_round_trip(case):
    harness.check_config_round_trip(case)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_keras_file_round_trip(case, tmp_path):
    harness.check_keras_round_trip(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=str)
def test_saved_model_round_trip(case, tmp_path):
    harness.check_saved_model_round_trip(case, tmp_path)


# Fused SCS layers with and without zero_output_for_mask; DeepSCS has no
# such option.
MASK_RUNS = [(case, zero) for case in MASKED
             for zero in ((False, True) if case.masking == "rnn" else (None,))]


@pytest.mark.parametrize("case,zero_output_for_mask", MASK_RUNS,
                         ids=[str(c) if z is None else f"{c}-zero_output_for_mask={z}"
                              for c, z in MASK_RUNS])
def test_masking(case, zero_output_for_mask):
    overrides = {} if zero_output_for_mask is None else {
        "zero_output_for_mask": zero_output_for_mask}
    harness.check_masking(case, **overrides)


@pytest.mark.parametrize("policy", harness.POLICIES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_dtype_policy(case, policy):
    harness.check_dtype_policy(case, policy)
    assert keras.config.dtype_policy().name == "float32"


# Truncation cuts gradients only: switched off, or at a high rate in either
# mode.  (The default, 0.5 temporal, and DeepSCS are in the training-flag
# test below.)
TRUNCATIONS = {"none": {"truncation_mode": "none"},
               "temporal": {"truncation_rate": 0.9, "truncation_mode": "temporal"},
               "exclusive": {"truncation_rate": 0.9, "truncation_mode": "exclusive"}}


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("case", TRUNCATED, ids=str)
def test_truncation_leaves_forward_values(case, truncation):
    harness.check_training_flag(case, **TRUNCATIONS[truncation])


@pytest.mark.parametrize("case", [c for c in CASES if c.same_in_training], ids=str)
def test_training_flag_without_dropout(case):
    harness.check_training_flag(case)


@pytest.mark.parametrize("case", WITH_DROPOUT, ids=str)
def test_dropout_only_in_training(case):
    harness.check_dropout(case)
