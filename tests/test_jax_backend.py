"""The cell path on the JAX backend: ``keras.layers.RNN(SCSCell(...))`` and
``keras.layers.RNN(ConvSCS2DCell(...))`` build, save, train and give the
TensorFlow numbers; the TensorFlow-only classes say so.

This test process runs on TensorFlow (see conftest.py).  One subprocess with
``KERAS_BACKEND=jax`` runs this same file as a script (``_jax_side``): it
loads the model and weights written here under TensorFlow, computes outputs
and gradients on JAX, and writes them back for the tests to compare with
the TensorFlow outputs and with the independent NumPy reference.  jax is
part of the tested stack (requirements.txt): without it the subprocess
fails and so do these tests.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import scs_keras
from scs_keras import ConvSCS2DCell, SCSCell
from tests import numpy_reference as ref

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B, T, FEATURES, UNITS = 2, 5, 3, 4
FRAME, CHANNELS, FILTERS = (6, 6), 2, 3


def _dense_model(**cell_args):
    return keras.Sequential([
        keras.Input((T, FEATURES)),
        keras.layers.RNN(SCSCell(UNITS, **cell_args), return_sequences=True),
    ])


def _conv_layer(**cell_args):
    return keras.layers.RNN(ConvSCS2DCell(FILTERS, 3, strides=2, **cell_args),
                            return_sequences=True)


# -- the JAX side (runs in the subprocess) --------------------------------

def _error(fn):
    """The message of the ValueError ``fn`` raises, or None."""
    try:
        fn()
    except ValueError as e:
        return str(e)
    return None


def _input_gradient(layer, x, upstream):
    """dL/dx of L = sum(layer(x, training=True) * upstream), by jax.grad
    through ``stateless_call`` (the layer's seed generator advances in the
    returned state, not by assignment under the trace)."""
    import jax

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(x):
        y, _ = layer.stateless_call(trainable, non_trainable, x, training=True)
        return (y * upstream).sum()

    return np.asarray(jax.grad(loss)(x))


def _jax_side(workdir):
    import jax  # noqa: F401  (fails loudly when the pin is not installed)

    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = np.load(os.path.join(workdir, "inputs.npz"))
    arrays, results = {}, {}

    # A model saved under TensorFlow, loaded under JAX.
    model = keras.saving.load_model(os.path.join(workdir, "dense.keras"))
    arrays["dense"] = np.asarray(model(data["x"]))
    # ... saved and loaded again under JAX.
    path = os.path.join(workdir, "dense_jax.keras")
    model.save(path)
    arrays["dense_reloaded"] = np.asarray(keras.saving.load_model(path)(data["x"]))

    conv = _conv_layer(truncation_rate=0.0)
    conv(data["x_conv"])
    conv.set_weights([data[f"conv_w{i}"] for i in range(5)])
    arrays["conv"] = np.asarray(conv(data["x_conv"]))

    # Truncation on JAX: with rate 1 every temporal path is cut, with rate 0
    # none; unrolled, as truncation on JAX needs.
    for rate in (0.0, 1.0):
        layer = keras.layers.RNN(SCSCell(UNITS, truncation_rate=rate, seed=1),
                                 return_sequences=True, unroll=True)
        layer(data["x"])
        layer.set_weights([data[f"dense_w{i}"] for i in range(5)])
        arrays[f"grad_rate{rate:g}"] = _input_gradient(layer, data["x"],
                                                      data["upstream"])

    # Training with a constant nonzero rate lowers the loss.
    keras.utils.set_random_seed(0)
    net = keras.Sequential([
        keras.Input((T, FEATURES)),
        keras.layers.RNN(SCSCell(8, truncation_rate=0.5, seed=0), unroll=True),
        keras.layers.Dense(1),
    ])
    net.compile(keras.optimizers.Adam(0.05), "mse")
    targets = data["x"].sum(axis=(1, 2))[:, None]
    before = float(net.evaluate(data["x"], targets, verbose=0))
    net.fit(data["x"], targets, epochs=20, verbose=0)
    results["loss_before"] = before
    results["loss_after"] = float(net.evaluate(data["x"], targets, verbose=0))

    # A lax.scan (unroll=False) cannot draw per step: a clear error (with
    # dropout too, whose masks the step reads from the cell's cache).
    scan = keras.layers.RNN(SCSCell(UNITS, truncation_rate=0.5, seed=0))
    results["scan_error"] = _error(lambda: scan(data["x"], training=True))
    scan_dropout = keras.layers.RNN(SCSCell(UNITS, truncation_rate=0.5, dropout=0.2))
    results["scan_dropout_error"] = _error(
        lambda: scan_dropout(data["x"], training=True))
    # ... but it runs in inference, and with truncation off.
    results["scan_inference_shape"] = list(scan(data["x"]).shape)

    results["tensorflow_only"] = {
        "SCS": _error(lambda: scs_keras.SCS(UNITS)),
        "ConvSCS2D": _error(lambda: scs_keras.ConvSCS2D(FILTERS, 3)),
        "DeepSCS": _error(lambda: scs_keras.DeepSCS([4, 4])),
        "SCSModel": _error(lambda: scs_keras.SCSModel()),
        "STSGD": _error(lambda: scs_keras.STSGD()),
    }
    results["frame_layers"] = {
        "FrameWise": _error(lambda: scs_keras.FrameWise(keras.layers.Dense(2))),
        "RepeatLastFrame": _error(lambda: scs_keras.RepeatLastFrame(2)),
        "DropLastFrame": _error(lambda: scs_keras.DropLastFrame()),
        "FrameStandardization": _error(lambda: scs_keras.FrameStandardization()),
    }
    np.savez(os.path.join(workdir, "jax_arrays.npz"), **arrays)
    with open(os.path.join(workdir, "jax_results.json"), "w") as f:
        json.dump(results, f)


# -- the TensorFlow side ----------------------------------------------------

@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    """Writes the TensorFlow model, weights and outputs, runs the JAX side
    once, and returns ``(tensorflow, jax_arrays, jax_results, inputs)``."""
    workdir = str(tmp_path_factory.mktemp("jax"))
    rng = np.random.default_rng(0)
    inputs = {
        "x": rng.normal(size=(B, T, FEATURES)).astype("float32"),
        "x_conv": rng.normal(size=(B, T) + FRAME + (CHANNELS,)).astype("float32"),
        "upstream": rng.normal(size=(B, T, UNITS)).astype("float32"),
    }
    model = _dense_model(truncation_rate=0.0)
    dense_w = [rng.normal(scale=0.5, size=w.shape).astype("float32")
               for w in model.get_weights()]
    model.set_weights(dense_w)
    model.save(os.path.join(workdir, "dense.keras"))
    conv = _conv_layer(truncation_rate=0.0)
    conv(inputs["x_conv"])
    conv_w = [rng.normal(scale=0.5, size=w.shape).astype("float32")
              for w in conv.get_weights()]
    conv.set_weights(conv_w)
    tensorflow = {"dense": model(inputs["x"]).numpy(),
                  "conv": conv(inputs["x_conv"]).numpy(),
                  "dense_w": dense_w, "conv_w": conv_w}
    np.savez(os.path.join(workdir, "inputs.npz"), **inputs,
             **{f"dense_w{i}": w for i, w in enumerate(dense_w)},
             **{f"conv_w{i}": w for i, w in enumerate(conv_w)})

    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), workdir], env=env,
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        "the JAX side failed (is jax installed? `pip install -r "
        f"requirements.txt`):\n{proc.stderr[-4000:]}")
    arrays = dict(np.load(os.path.join(workdir, "jax_arrays.npz")))
    with open(os.path.join(workdir, "jax_results.json")) as f:
        results = json.load(f)
    return tensorflow, arrays, results, inputs


def test_dense_cell_saved_under_tensorflow_gives_the_same_outputs_on_jax(jax_run):
    tensorflow, arrays, _, inputs = jax_run
    expected, _, _ = ref.dense_forward(inputs["x"].astype("float64"),
                                       *tensorflow["dense_w"])
    np.testing.assert_allclose(tensorflow["dense"], expected, atol=1e-5)
    np.testing.assert_allclose(arrays["dense"], tensorflow["dense"], atol=1e-5)
    # And the .keras file JAX wrote itself loads back to the same model.
    np.testing.assert_allclose(arrays["dense_reloaded"], arrays["dense"], atol=1e-6)


def test_conv_cell_gives_the_same_outputs_on_jax(jax_run):
    tensorflow, arrays, _, inputs = jax_run
    expected, _ = ref.conv_forward(inputs["x_conv"].astype("float64"),
                                   *tensorflow["conv_w"], stride=2)
    np.testing.assert_allclose(tensorflow["conv"], expected, atol=1e-5)
    np.testing.assert_allclose(arrays["conv"], tensorflow["conv"], atol=1e-5)


def test_truncation_cuts_the_temporal_input_path_on_jax(jax_run):
    tensorflow, arrays, _, inputs = jax_run
    args = (inputs["x"].astype("float64"), *tensorflow["dense_w"],
            inputs["upstream"].astype("float64"))
    full = ref.dense_input_gradient(*args)
    cut = ref.dense_input_gradient(*args, temporal_keep=np.zeros(T))
    assert np.abs(full - cut).max() > 1e-2  # the two cases differ
    np.testing.assert_allclose(arrays["grad_rate0"], full, atol=1e-5)
    np.testing.assert_allclose(arrays["grad_rate1"], cut, atol=1e-5)


def test_training_with_a_constant_rate_lowers_the_loss_on_jax(jax_run):
    _, _, results, _ = jax_run
    assert results["loss_after"] < 0.5 * results["loss_before"], results


def test_per_step_truncation_in_a_jax_scan_is_a_clear_error(jax_run):
    _, _, results, _ = jax_run
    message = results["scan_error"]
    assert message is not None and "unroll=True" in message, message
    assert "truncation_rate=0.0" in message
    assert results["scan_dropout_error"] == message
    assert results["scan_inference_shape"] == [B, UNITS]


@pytest.mark.parametrize("name", ["SCS", "ConvSCS2D", "DeepSCS", "SCSModel", "STSGD"])
def test_tensorflow_only_classes_name_the_backend_and_the_cell_path(jax_run, name):
    _, _, results, _ = jax_run
    message = results["tensorflow_only"][name]
    assert message is not None, f"{name} built on JAX without an error"
    assert message.startswith(name) and "'jax' backend" in message, message
    assert "keras.layers.RNN(" in message


@pytest.mark.parametrize("name, alternative", [
    ("FrameWise", "keras.layers.TimeDistributed"), ("RepeatLastFrame", "keras.ops.repeat"),
    ("DropLastFrame", "x[:, :-1]"), ("FrameStandardization", "keras.layers.Normalization")])
def test_frame_layers_name_the_backend_and_an_alternative(jax_run, name, alternative):
    _, _, results, _ = jax_run
    message = results["frame_layers"][name]
    assert message is not None, f"{name} built on JAX without an error"
    assert message.startswith(name) and "'jax' backend" in message, message
    assert alternative in message


def test_importing_the_package_registers_the_layers_and_leaves_the_backend_alone():
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = ("import os, scs_keras, keras; "
            "print(os.environ.get('KERAS_BACKEND'), "
            "keras.saving.get_registered_object('scs_keras>SCSCell').__name__, "
            "keras.saving.get_registered_object('scs_keras>DeepSCS').__name__)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "None SCSCell DeepSCS"


if __name__ == "__main__":
    _jax_side(sys.argv[1])
