"""Quick start: learn a task that needs memory, compare, export.

Trains a small SCS model (with STSGD stochastic truncation) on generated
sequences whose class is the direction a blob moves, next to a per-frame CNN
(which cannot solve it: every single frame is ambiguous) and a ConvLSTM of the
same width; prints a comparison table and exports the SCS model as a
versioned SavedModel for TF Serving.

    python examples/quickstart.py [--epochs 12] [--export-dir saved_models/quickstart]
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import scs_keras as sk  # noqa: E402
from scs_keras.data.synthetic.moving_blobs import DIRECTIONS, make_moving_blobs  # noqa: E402
from scs_keras.export import export_for_serving  # noqa: E402
from scs_keras.tasks.comparison import format_table, run_comparison  # noqa: E402

FRAMES, SIZE, WIDTH = 6, 12, 16


def scs_model():
    inputs = keras.Input((FRAMES, SIZE, SIZE, 1), name="frames")
    h = sk.DeepSCS([WIDTH, WIDTH], return_sequences=False, seed=0)(inputs)
    h = keras.layers.GlobalMaxPooling2D()(h)
    return sk.SCSModel(inputs, keras.layers.Dense(len(DIRECTIONS))(h))


def convlstm_model():
    inputs = keras.Input((FRAMES, SIZE, SIZE, 1))
    h = keras.layers.ConvLSTM2D(WIDTH, 3, padding="same", return_sequences=True)(inputs)
    h = keras.layers.ConvLSTM2D(WIDTH, 3, padding="same")(h)
    h = keras.layers.GlobalMaxPooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(len(DIRECTIONS))(h))


def per_frame_model():
    inputs = keras.Input((FRAMES, SIZE, SIZE, 1))
    frame = keras.Sequential([
        keras.layers.Conv2D(WIDTH, 3, padding="same", activation="tanh"),
        keras.layers.Conv2D(WIDTH, 3, padding="same", activation="tanh"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(len(DIRECTIONS)),
    ])
    logits = keras.layers.TimeDistributed(frame)(inputs)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(logits))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--train-samples", type=int, default=640)
    parser.add_argument("--export-dir", default="saved_models/quickstart")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.train_samples < 4:
        parser.error("--epochs must be >= 1 and --train-samples >= 4")

    keras.utils.set_random_seed(0)
    x, y = make_moving_blobs(args.train_samples, FRAMES, SIZE, seed=1)
    xt, yt = make_moving_blobs(200, FRAMES, SIZE, seed=2)
    print(f"Data: {len(x)} training / {len(xt)} test sequences of {FRAMES} frames "
          f"{SIZE}x{SIZE}; class = direction of motion ({', '.join(DIRECTIONS)}).")

    def train(name, model):
        extra = {"truncation": sk.STSGD(0.5)} if isinstance(model, sk.SCSModel) else {}
        model.compile(
            keras.optimizers.Adam(3e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            **extra,
        )
        print(f"\nTraining {name} for {args.epochs} epochs")
        model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=2)

    def evaluate(name, model):
        return {"test_accuracy": model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]}

    models = {}

    def keep(factory, name):
        def build():
            models[name] = factory()
            return models[name]
        return build

    rows = run_comparison(
        {
            "SCS (2 layers, STSGD p=0.5)": keep(scs_model, "scs"),
            "ConvLSTM2D (2 layers)": keep(convlstm_model, "convlstm"),
            "per-frame CNN": keep(per_frame_model, "frame"),
        },
        train,
        evaluate,
    )
    print("\nSame data, same epochs (chance = 0.25):\n")
    print(format_table(rows, ["model", "test_accuracy", "params", "train_s"]))

    path = export_for_serving(models["scs"], args.export_dir, input_name="frames",
                              output_names=["logits"])
    print(f"\nExported the SCS model for TF Serving to {path} "
          "(signature 'serving_default': frames -> logits).")
    scs_accuracy = rows[0]["test_accuracy"]
    return 0 if scs_accuracy >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
