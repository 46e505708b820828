"""Learning check: a task that needs memory.

The class is the direction a blob moves; every single frame is ambiguous by
construction (uniform, wrapping positions), so a per-frame model must stay
near chance while a small SCS model learns it.  Fixed seeds, seconds to run.
"""

import keras
import numpy as np
import pytest

import scs_keras as sk
from scs_keras.data.synthetic.moving_blobs import make_moving_blobs

T, S = 6, 12


def fit_and_score(model, x, y, xt, yt, **compile_kwargs):
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **compile_kwargs,
    )
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    return model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]


def test_single_frames_carry_no_class_information():
    x, y = make_moving_blobs(800, T, S, seed=3)
    # The mean frame of every class is the same flat field (up to noise).
    means = np.stack([x[y == c].mean(axis=(0, 1)) for c in range(4)])
    assert np.abs(means - means.mean(0)).max() < 0.05


@pytest.mark.slow
def test_scs_learns_motion_while_per_frame_model_stays_at_chance():
    keras.utils.set_random_seed(0)
    x, y = make_moving_blobs(640, T, S, seed=1)
    xt, yt = make_moving_blobs(200, T, S, seed=2)

    inputs = keras.Input((T, S, S, 1))
    h = sk.ConvSCS2D(16, 3, seed=0)(inputs)
    h = keras.layers.GlobalMaxPooling2D()(h)
    scs = sk.SCSModel(inputs, keras.layers.Dense(4)(h))
    scs_accuracy = fit_and_score(scs, x, y, xt, yt, truncation=sk.STSGD(0.5))

    inputs = keras.Input((T, S, S, 1))
    frame = keras.Sequential([
        keras.layers.Conv2D(16, 3, padding="same", activation="tanh"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(4),
    ])
    logits = keras.layers.TimeDistributed(frame)(inputs)
    per_frame = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(logits))
    frame_accuracy = fit_and_score(per_frame, x, y, xt, yt)

    assert scs_accuracy >= 0.90, scs_accuracy
    assert frame_accuracy <= 0.40, frame_accuracy  # chance is 0.25
