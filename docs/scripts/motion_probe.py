"""Can a recurrent conv stack read the speed of a sliding texture?

    python docs/scripts/motion_probe.py cnn convlstm scs scs:relu:bn

A probe for docs/steering.md, "Why the SCS model loses here".  Every clip is
6 frames of 8×32 pixels: a random texture sliding sideways at a random
speed v in [-2, 2] px/frame (sub-pixel, linear interpolation); the target
is v.  A single frame carries no information about v, so a single-frame
CNN can only predict the mean (its test MSE is then the variance of v,
about 1.33); a model that reads motion gets far below it.

Models (each a spec on the command line, ``kind[:activation][:bn][:epochs]``):

* ``cnn``: two 3×3 Conv2D(16, ReLU) layers on the last frame;
* ``convlstm``: two ConvLSTM2D(16, 3×3) layers;
* ``scs``: ``DeepSCS([16, 16])`` (3×3, stride 1, no truncation), with
  ``:relu`` and/or ``:bn`` for ReLU spatial activations and batch norm;

each followed by global average pooling, Dense(32, ReLU) and Dense(1),
trained 15 epochs (or ``:N``) with Adam 1e-3 and the MSE on 2,000 clips;
tested on 400 others.  Seeded: the same run prints the same numbers.
"""

import sys
import time

import keras
import numpy as np

from scs_keras import DeepSCS

T, H, W = 6, 8, 32
SPEED = 2.0


def sliding_clips(n, rng):
    """``n`` clips ``(n, T, H, W, 1)`` of textures moving at speeds ``(n,)``."""
    speed = rng.uniform(-SPEED, SPEED, n).astype("float32")
    # A texture three frames wide, so that the window never runs off it.
    texture = rng.random((n, H, 3 * W)).astype("float32")
    columns = np.arange(W)[None, :] + W
    frames = np.empty((n, T, H, W, 1), "float32")
    rows = np.arange(n)[:, None, None]
    for t in range(T):
        position = columns + speed[:, None] * t
        left = np.floor(position).astype(int)
        frac = (position - left)[:, None, :]
        texture_t = texture.transpose(0, 2, 1)  # (n, 3W, H)
        lo = texture_t[rows[:, :, 0], left].transpose(0, 2, 1)
        hi = texture_t[rows[:, :, 0], left + 1].transpose(0, 2, 1)
        frames[:, t, :, :, 0] = lo * (1 - frac) + hi * frac
    return frames, speed


def build(kind, activation="tanh", batch_norm=False):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T, H, W, 1))
    if kind == "convlstm":
        x = keras.layers.ConvLSTM2D(16, 3, padding="same", return_sequences=True)(inputs)
        x = keras.layers.ConvLSTM2D(16, 3, padding="same")(x)
    elif kind == "scs":
        x = DeepSCS([16, 16], strides=1, kernel_size=3, residual=False, batch_norm=batch_norm,
                    activation=activation, truncation_rate=0.0,
                    return_sequences=False)(inputs)
    elif kind == "cnn":
        x = keras.layers.Lambda(lambda clip: clip[:, -1])(inputs)
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    else:
        raise SystemExit(f"unknown model {kind!r}: choose cnn, convlstm or scs")
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def main(specs):
    rng = np.random.default_rng(0)
    x_train, y_train = sliding_clips(2000, rng)
    x_test, y_test = sliding_clips(400, rng)
    print(f"speed variance on the test clips: {y_test.var():.3f}")
    for spec in specs or ["cnn", "convlstm", "scs"]:
        kind, *options = spec.split(":")
        epochs = next((int(o) for o in options if o.isdigit()), 15)
        activation = next((o for o in options if o not in ("bn",) and not o.isdigit()), "tanh")
        model = build(kind, activation, batch_norm="bn" in options)
        model.compile(keras.optimizers.Adam(1e-3), "mse")
        start = time.time()
        history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
        mse = float(model.evaluate(x_test, y_test, verbose=0))
        print(f"{spec:20s} train MSE {history.history['loss'][-1]:.4f}  test MSE {mse:.4f}  "
              f"({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
