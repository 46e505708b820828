"""Training runs for tests/test_distribute.py, each in its own process.

Logical devices must be configured before TensorFlow initialises them, so
every distributed run is a fresh ``python tests/distributed_runs.py MODE
OUT.json`` process:

* ``mirrored``: two logical CPU devices; the same models trained on the same
  global batches by a single device and by ``MirroredStrategy`` (and, for
  the logged loss, by a plain ``keras.Model``);
* ``single`` / ``worker``: one ASTSGD run, without a strategy or as one
  worker of ``MultiWorkerMirroredStrategy`` (``TF_CONFIG`` set by the test).

Results (histories, weights, each replica's schedule state) go to OUT.json.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

if __name__ == "__main__" and sys.argv[1] == "mirrored":
    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        _cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import scs_keras as sk  # noqa: E402
from scs_keras.distribute import shard_by_data  # noqa: E402

N, T, D, U, C = 32, 4, 3, 4, 3
GLOBAL_BATCH = 8
SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def arrays():
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (N, T, D)).astype("float32")
    return x, rng.integers(0, C, N).astype("int32")


def batches(targets):
    x, y = arrays()
    return shard_by_data(tf.data.Dataset.from_tensor_slices((x, targets(y)))
                         .batch(GLOBAL_BATCH))


def classifier(cls=sk.SCSModel):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((T, D))
    h = sk.SCS(U, truncation_mode="temporal", seed=5)(inputs)
    return cls(inputs, keras.layers.Dense(C)(h))


def two_heads():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((T, D))
    streams = sk.DeepSCS([D, D], layer_type="dense", decoupled=True,
                         return_sequences=False, seed=0)(inputs)
    head = keras.layers.Dense(C)
    return sk.SCSModel(inputs, {
        "output": keras.layers.Identity(name="output")(head(streams["output"])),
        "spatial": keras.layers.Identity(name="spatial")(head(streams["spatial"])),
    })


def per_frame():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, D))
    h = sk.SCS(U, return_sequences=True, seed=5)(inputs)
    return sk.SCSModel(inputs, keras.layers.Dense(1)(h))


def replicas(variable):
    strategy = tf.distribute.get_strategy()
    return [float(v) for v in strategy.experimental_local_results(variable.value)]


def run_astsgd(epochs=3):
    model = two_heads()
    model.compile(keras.optimizers.SGD(0.1), {"output": SCE, "spatial": SCE},
                  truncation=sk.ASTSGD(initial_rate=0.3, threshold=0.2, warmup_steps=3),
                  clip_norm=0.5)
    history = model.fit(batches(lambda y: {"output": y, "spatial": y}), epochs=epochs,
                        verbose=0)
    return {"history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "weights": [w.tolist() for w in model.get_weights()],
            "rate_replicas": replicas(model.truncation_rate),
            "initial_loss_replicas": replicas(model.truncation_initial_loss),
            "step_replicas": replicas(model.truncation_step)}


def run_stsgd_clipped():
    model = classifier()
    model.compile(keras.optimizers.SGD(0.5), SCE, truncation=sk.STSGD(0.5), clip_norm=0.05,
                  metrics=["sparse_categorical_accuracy"])
    history = model.fit(batches(lambda y: y), epochs=2, verbose=0)
    return {"history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "weights": [w.tolist() for w in model.get_weights()]}


def run_overlap():
    model = per_frame()
    model.compile(keras.optimizers.SGD(0.05), "mse",
                  overlap=sk.OverlapCoherence(3, 0.34, coherence_weight=10.0,
                                              per_step_targets=True))
    x, _ = arrays()
    targets = np.cumsum(x[..., :1], axis=1)
    ds = shard_by_data(tf.data.Dataset.from_tensor_slices((x, targets)).batch(GLOBAL_BATCH))
    history = model.fit(ds, epochs=2, verbose=0)
    return {"history": {"loss": [float(v) for v in history.history["loss"]]},
            "weights": [w.tolist() for w in model.get_weights()]}


def run_keras_model():
    model = classifier(keras.Model)
    model.compile(keras.optimizers.SGD(0.5), SCE)
    return {"loss": model.fit(batches(lambda y: y), epochs=1, verbose=0).history["loss"]}


RUNS = {"astsgd": run_astsgd, "stsgd_clipped": run_stsgd_clipped, "overlap": run_overlap,
        "keras_model": run_keras_model}


def mirrored():
    results = {"single": {name: run() for name, run in RUNS.items()}}
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results["replicas"] = strategy.num_replicas_in_sync
    results["mirrored"] = {}
    for name, run in RUNS.items():
        with strategy.scope():
            results["mirrored"][name] = run()
    return results


def main(mode, out):
    if mode == "mirrored":
        results = mirrored()
    elif mode == "single":
        results = run_astsgd()
    elif mode == "worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        with strategy.scope():
            results = run_astsgd()
        results["replicas"] = strategy.num_replicas_in_sync
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
