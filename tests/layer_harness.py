"""A layer test harness in the spirit of Keras' own ``run_layer_test``.

Keras tests every built-in layer with one generic routine
(``keras/src/testing/test_case.py``): build on small inputs, check shapes,
serialize, run under mixed precision.  This module does the same for the
scs_keras cells and layers.  A :class:`LayerCase` says how to make one layer
(a factory taking keyword overrides) and what to feed it; each ``check_*``
function runs one property on a case and fails with a message naming it:

* :func:`check_shapes`: eager output shapes equal ``compute_output_shape``
  and the symbolic output of a functional model;
* :func:`check_config_round_trip`: ``from_config(get_config())`` gives the
  same config and, with the same weights, the same outputs; non-default
  arguments (dropout, seed) are kept;
* :func:`check_keras_round_trip`: a model holding the layer saved as
  ``.keras`` loads with the same outputs;
* :func:`check_saved_model_round_trip`: ``tf.saved_model.save`` with a
  serving signature free in batch and length, ``tf.saved_model.load``, same
  outputs (also for another batch size and length);
* :func:`check_masking`: the fused layer equals ``keras.layers.RNN(cell)``
  (Keras' own per-step loop) on masked inputs, outputs and state, the valid
  steps equal a run on the sequence with the masked steps removed, and
  behind ``keras.layers.Masking`` the mask arrives and is passed on;
* :func:`check_dtype_policy`: output dtype is the policy's compute dtype
  and values are close to float32 with the same weights;
* :func:`check_training_flag`: without dropout, training and inference give
  the same forward values (truncation only cuts gradients); with dropout
  they differ in training only.

Cells are run inside ``keras.layers.RNN`` (dense) or :class:`CellSequence`
(conv cells, whose tensor-shaped state ``keras.layers.RNN`` cannot describe
symbolically), so every check sees a sequence layer.
"""

import dataclasses
import json
from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf
from keras import tree

from tests.test_conv_scs import CellSequence

RNG = np.random.default_rng(7)

#: Per compute dtype: (atol, rtol) against the float32 values.  Half
#: precision keeps ~3 (float16) or ~2 (bfloat16) significant digits per op
#: and the recurrences compound a few of them.
TOLERANCES = {
    "float32": (1e-6, 1e-6),
    "float64": (1e-5, 1e-5),
    "float16": (1e-2, 1e-2),
    "bfloat16": (6e-2, 6e-2),
}

POLICIES = ("float32", "float64", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass
class LayerCase:
    """One public cell or layer under test.

    Attributes:
        name: Test id.
        make: ``make(**overrides) -> layer``; the overrides are layer (or
            cell) arguments such as ``dropout`` or ``zero_output_for_mask``.
        input_shape: Full input shape, batch first (tiny).
        wrap: ``None`` for a layer, ``"rnn"`` for a dense cell (run in
            ``keras.layers.RNN(cell, return_sequences=True)``) or
            ``"holder"`` for a conv cell (run in :class:`CellSequence`).
        dropout: Overrides that switch dropout on, or ``None`` when the
            layer has none.
        make_dropout: Instead of ``dropout``: a factory of the layer with
            dropout (for wrappers whose dropout is an inner layer).
        masking: Whether the layer supports masks; ``"rnn"`` when it is a
            fused SCS layer to compare with ``keras.layers.RNN(cell)``,
            ``"stack"`` for ``DeepSCS``, ``None`` otherwise.
        same_in_training: Whether the forward values without dropout are the
            same in training and inference (not with batch normalisation).
    """

    name: str
    make: Callable
    input_shape: tuple
    wrap: Optional[str] = None
    dropout: Optional[dict] = None
    make_dropout: Optional[Callable] = None
    masking: Optional[str] = None
    same_in_training: bool = True

    def __str__(self):
        return self.name

    def build(self, **overrides):
        """The layer under test as a sequence layer (cells wrapped)."""
        obj = self.make(**overrides)
        if self.wrap == "rnn":
            return keras.layers.RNN(obj, return_sequences=True)
        if self.wrap == "holder":
            return CellSequence(obj)
        return obj

    def inputs(self, dtype="float32"):
        return RNG.normal(0, 1, self.input_shape).astype(dtype)


# -- helpers ---------------------------------------------------------------


def flat(outputs):
    """Outputs (a tensor, a list or a dict) as a list of float64 arrays."""
    return [np.asarray(keras.ops.convert_to_numpy(v)).astype("float64")
            for v in tree.flatten(outputs)]


def assert_outputs_close(got, expected, atol=1e-6, rtol=1e-6, what=""):
    got, expected = flat(got), flat(expected)
    assert len(got) == len(expected), f"{what}: {len(got)} outputs, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape, f"{what}: output {i} shape {a.shape} != {b.shape}"
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol,
                                   err_msg=f"{what}: output {i}")


def copy_weights(source, target):
    """``target`` gets ``source``'s weights, cast to its variables' dtypes."""
    values = source.get_weights()
    assert len(values) == len(target.weights), "weight structures differ"
    for variable, value in zip(target.weights, values):
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))


def functional_model(layer, input_shape):
    """A model holding ``layer``, free in batch size and sequence length."""
    inputs = keras.Input((None,) + tuple(input_shape[2:]))
    return keras.Model(inputs, layer(inputs))


def shape_list(shapes):
    """A shape, a list of shapes or a dict of shapes as a list of tuples
    (dicts in key order, like :func:`sorted_outputs`)."""
    if isinstance(shapes, dict):
        return [tuple(shapes[k]) for k in sorted(shapes)]
    if shapes and isinstance(shapes[0], (tuple, list)):
        return [tuple(s) for s in shapes]
    return [tuple(shapes)]


def as_json(config):
    """``config`` as it reads back from JSON (tuples as lists)."""
    return json.loads(json.dumps(config))


def sorted_outputs(outputs):
    """A dict of outputs in key order, anything else flattened."""
    if isinstance(outputs, dict):
        return [outputs[k] for k in sorted(outputs)]
    return tree.flatten(outputs)


# -- checks ----------------------------------------------------------------


def check_shapes(case):
    x = case.inputs()
    layer = case.build()
    eager = [tuple(v.shape) for v in sorted_outputs(layer(x))]
    assert eager == shape_list(layer.compute_output_shape(x.shape)), (
        f"{case}: eager shapes {eager} != compute_output_shape "
        f"{layer.compute_output_shape(x.shape)}")
    symbolic = sorted_outputs(case.build()(keras.Input(case.input_shape[1:])))
    assert [(None,) + tuple(v.shape[1:]) for v in symbolic] == [
        (None,) + s[1:] for s in eager], f"{case}: symbolic {symbolic} vs eager {eager}"
    if case.wrap:
        check_cell_step_shapes(layer, x)


def check_cell_step_shapes(wrapper, x):
    """One direct cell step: the shapes its compute_*_shape promise."""
    cell = _config_owner(wrapper)
    step = x[:, 0]
    state = cell.get_initial_state(x.shape[0])
    h, new_state = cell(step, state)
    assert tuple(h.shape) == tuple(cell.compute_output_shape(step.shape))
    assert [tuple(s.shape) for s in new_state] == [tuple(cell.compute_state_shape(step.shape))]
    assert [tuple(s.shape) for s in state] == [tuple(cell.compute_state_shape(step.shape))]


def _config_owner(layer):
    """The object whose config is round-tripped: the cell for wrapped cells."""
    if isinstance(layer, CellSequence):
        return layer.rnn.cell
    if type(layer) is keras.layers.RNN:
        return layer.cell
    return layer


def check_config_round_trip(case):
    x = case.inputs()
    layer = case.build()
    expected = layer(x)
    obj = _config_owner(layer)
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert type(clone) is type(obj)
    assert clone.get_config() == config, f"{case}: config changed in a round trip"
    if case.wrap == "rnn":
        clone = keras.layers.RNN(clone, return_sequences=True)
    elif case.wrap == "holder":
        clone = CellSequence(clone)
    clone(x)
    copy_weights(layer, clone)
    assert_outputs_close(clone(x), expected, atol=0, rtol=0, what=f"{case} from_config")
    if case.dropout:
        check_config_keeps(case, case.dropout)


def check_config_keeps(case, overrides):
    """Non-default arguments are in the config and survive ``from_config``
    (a config that dropped one would still round-trip to itself)."""
    obj = _config_owner(case.build(**overrides))
    for config in (obj.get_config(), type(obj).from_config(obj.get_config()).get_config()):
        kept = config.get("layer_kwargs", config) if case.masking == "stack" else config
        for key, value in overrides.items():
            assert kept.get(key) == value, f"{case}: config has {key}={kept.get(key)}, not {value}"


def check_keras_round_trip(case, tmp_path):
    x = case.inputs()
    model = functional_model(case.build(), case.input_shape)
    expected = model(x)
    path = tmp_path / f"{case.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(_config_owner(loaded.layers[-1])) is type(_config_owner(model.layers[-1]))
    # A .keras file stores JSON, in which tuples come back as lists.
    assert as_json(_config_owner(loaded.layers[-1]).get_config()) == as_json(
        _config_owner(model.layers[-1]).get_config()), f"{case}: config changed"
    assert len(loaded.weights) == len(model.weights)
    assert_outputs_close(loaded(x), expected, atol=0, rtol=0, what=f"{case} .keras")


def check_saved_model_round_trip(case, tmp_path):
    x = case.inputs()
    model = functional_model(case.build(), case.input_shape)
    expected = model(x, training=False)

    # Free batch size and length: the signature is traced once for all.
    @tf.function(input_signature=[
        tf.TensorSpec((None, None) + tuple(case.input_shape[2:]), tf.float32, name="x")])
    def serve(inputs):
        outputs = sorted_outputs(model(inputs, training=False))
        return {f"output_{i}": v for i, v in enumerate(outputs)}

    # Saving a module with the variables and the signature only: saving the
    # Keras model itself also traces every layer's call (seconds per layer)
    # and tests nothing more about the serving path; serving needs no
    # gradients, so the fused layers' custom gradients are not saved.
    module = tf.Module()
    module.variables_ = list(model.variables)
    module.serve = serve
    path = str(tmp_path / f"{case.name}_savedmodel")
    tf.saved_model.save(module, path, signatures={"serving_default": serve},
                        options=tf.saved_model.SaveOptions(
                            experimental_custom_gradients=False))
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["serving_default"](x=tf.constant(x))
    got = [got[f"output_{i}"] for i in range(len(got))]
    assert_outputs_close(got, sorted_outputs(expected), atol=1e-6, rtol=1e-6,
                         what=f"{case} SavedModel")
    # Another batch size and length through the same signature.
    x1 = np.concatenate([x[:1], x[:1, :1]], axis=1)
    got1 = loaded.signatures["serving_default"](x=tf.constant(x1))
    assert_outputs_close([got1[f"output_{i}"] for i in range(len(got1))],
                         sorted_outputs(model(x1, training=False)),
                         atol=1e-6, rtol=1e-6, what=f"{case} SavedModel, batch 1, T+1")


def example_mask(batch, steps):
    """Masked steps at the start, the middle and the end of a sequence."""
    mask = np.ones((batch, steps), bool)
    mask[0, 1] = False
    mask[-1, 0] = False
    mask[-1, -1] = False
    return mask


def check_masking(case, **overrides):
    """Masked runs against Keras' own RNN loop and against deleting steps."""
    x = case.inputs()
    mask = example_mask(*x.shape[:2])
    layer = case.make(**overrides)
    got = layer(x, mask=tf.constant(mask))
    if case.masking == "rnn":
        cell = type(layer.cell).from_config(layer.cell.get_config())
        reference = keras.layers.RNN(
            cell, return_sequences=layer.return_sequences,
            return_state=layer.return_state, go_backwards=layer.go_backwards,
            zero_output_for_mask=layer.zero_output_for_mask)
        reference(x)
        copy_weights(layer, reference)
        assert_outputs_close(got, reference(x, mask=tf.constant(mask)),
                             atol=1e-5, rtol=1e-5, what=f"{case} vs keras.layers.RNN")
    check_mask_propagation(case, layer, x, mask)
    # Independent of any RNN loop: a masked step is as if it were not there,
    # so each example's valid steps equal a run on its valid steps alone.
    outputs = flat(got)[0]
    sequences = getattr(layer, "return_sequences", True)
    go_backwards = getattr(layer, "go_backwards", False)
    for i in range(x.shape[0]):
        alone = flat(layer(x[i:i + 1][:, mask[i]]))[0][0]
        if not sequences:
            # keras.layers.RNN: with zero_output_for_mask the last output is
            # zeros when the last processed step is masked.
            last_step = mask[i][0] if go_backwards else mask[i][-1]
            if getattr(layer, "zero_output_for_mask", False) and not last_step:
                alone = np.zeros_like(alone)
            np.testing.assert_allclose(outputs[i], alone, atol=1e-5, rtol=1e-5,
                                       err_msg=f"{case}: last output, example {i}")
            continue
        valid = outputs[i][mask[i][::-1]] if go_backwards else outputs[i][mask[i]]
        np.testing.assert_allclose(valid, alone, atol=1e-5, rtol=1e-5,
                                   err_msg=f"{case}: valid steps, example {i}")


def check_mask_propagation(case, layer, x, mask):
    """In a functional model behind ``keras.layers.Masking`` (all-zero frames
    masked), the layer gets the mask: same outputs as an explicit mask, and
    it passes the mask on exactly when it returns sequences."""
    assert layer.supports_masking, f"{case}: supports_masking is False"
    zeroed = np.where(mask.reshape(mask.shape + (1,) * (x.ndim - 2)), x, 0.0)
    inputs = keras.Input(x.shape[1:])
    outputs = layer(keras.layers.Masking()(inputs))
    first = tree.flatten(outputs)[0]
    model = keras.Model(inputs, outputs)
    assert_outputs_close(model(zeroed), layer(zeroed, mask=tf.constant(mask)),
                         atol=1e-6, rtol=1e-6, what=f"{case} behind Masking")
    propagated = getattr(first, "_keras_mask", None)
    if getattr(layer, "return_sequences", True):
        assert propagated is not None, f"{case}: sequence output lost its mask"
    else:
        assert propagated is None, f"{case}: last-step output carries a mask"


def check_dtype_policy(case, policy):
    x = case.inputs()
    reference = case.build()
    expected = reference(x)
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(policy)
        layer = case.build()
        layer(x)
        copy_weights(reference, layer)
        got = layer(x)
    finally:
        keras.config.set_dtype_policy(previous)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    for v in tree.flatten(got):
        assert keras.backend.standardize_dtype(v.dtype) == compute_dtype, (
            f"{case} under {policy}: output dtype {v.dtype}, expected {compute_dtype}")
    atol, rtol = TOLERANCES[compute_dtype]
    assert_outputs_close(got, expected, atol=atol, rtol=rtol, what=f"{case} under {policy}")


def check_training_flag(case, **overrides):
    """Without dropout the training flag changes no forward value."""
    x = case.inputs()
    layer = case.build(**overrides)
    assert_outputs_close(layer(x, training=True), layer(x, training=False),
                         atol=1e-6, rtol=1e-6, what=f"{case} training vs inference")


def check_dropout(case):
    """With dropout, inference equals the dropout-free layer with the same
    weights; training differs from it."""
    x = case.inputs()
    plain = case.build()
    plain(x)
    noisy = case.make_dropout() if case.make_dropout else case.build(**case.dropout)
    noisy(x)
    copy_weights(plain, noisy)
    inference = plain(x, training=False)
    assert_outputs_close(noisy(x, training=False), inference, atol=1e-6, rtol=1e-6,
                         what=f"{case} dropout at inference")
    trained = flat(noisy(x, training=True))[0]
    assert not np.allclose(trained, flat(inference)[0], atol=1e-3), (
        f"{case}: dropout changed nothing in training")
