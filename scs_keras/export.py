"""Versioned SavedModel exports for TF Serving.

TF Serving watches ``<model_base_path>/<version>/`` folders (integer
versions, highest served).  ``export_for_serving`` writes a model there with
a named ``serving_default`` signature whose inputs and outputs have stable
names, so the export loads and runs with TensorFlow alone::

    import tensorflow as tf
    loaded = tf.saved_model.load("saved_models/precipitation/1")
    outputs = loaded.signatures["serving_default"](frames=tf.zeros(...))
"""

import os
import re

import keras
import tensorflow as tf

from scs_keras.utils.validation import positive_int


def next_version(base_dir):
    """The next free integer version folder under ``base_dir`` (1 if none)."""
    if not os.path.isdir(base_dir):
        return 1
    versions = [int(n) for n in os.listdir(base_dir) if re.fullmatch(r"\d+", n)]
    return max(versions, default=0) + 1


def export_for_serving(model, base_dir, input_name="inputs", output_names=None,
                       version=None, input_shape=None, extra_signatures=None):
    """Exports ``model`` as ``<base_dir>/<version>/`` with ``serving_default``.

    Args:
        model: A built Keras model with one input.
        base_dir: The model's folder for TF Serving, e.g.
            ``saved_models/precipitation``.
        input_name: Name of the signature's input.
        output_names: Names of the signature's outputs: a list matching a
            list/tuple of outputs, or ``None`` to use the dict keys of a dict
            output or ``"outputs"`` for a single tensor.
        version: Integer version; default the next free one.
        input_shape: Shape with ``None`` for the batch (and any free axis);
            default the model's input shape.
        extra_signatures: Optional ``{name: (fn, input_signature)}``: more
            signatures next to ``serving_default`` (e.g. a frame-by-frame
            ``step``); ``fn`` returns a dict of named tensors.

    Returns:
        The path of the written version folder.

    Raises:
        TypeError: if ``version`` is not an integer.
        ValueError: if ``version`` is not positive, the version folder
            already exists or the model has no known input shape.
    """
    version = next_version(base_dir) if version is None else positive_int("version", version)
    path = os.path.join(base_dir, str(version))
    if os.path.exists(path):
        raise ValueError(f"Export folder {path} already exists; pick another version.")
    if input_shape is None:
        inputs = getattr(model, "inputs", None)
        if not inputs or len(inputs) != 1:
            raise ValueError(
                "export_for_serving needs a model with exactly one input or an "
                "explicit input_shape."
            )
        input_shape = tuple(inputs[0].shape)
    spec = tf.TensorSpec(input_shape, tf.float32, name=input_name)

    def serve(x):
        outputs = model(x, training=False)
        if isinstance(outputs, dict):
            return {k: tf.identity(v, name=k) for k, v in outputs.items()}
        if isinstance(outputs, (list, tuple)):
            names = output_names or [f"output_{i}" for i in range(len(outputs))]
            return {n: tf.identity(v, name=n) for n, v in zip(names, outputs)}
        name = (output_names or ["outputs"])[0]
        return {name: tf.identity(outputs, name=name)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[spec])
    for name, (fn, signature) in (extra_signatures or {}).items():
        archive.add_endpoint(name, fn, input_signature=list(signature))
    os.makedirs(base_dir, exist_ok=True)
    archive.write_out(path, verbose=False)
    return path
