"""Per-layer gradient norms against NumPy."""

import keras
import numpy as np

from scs_keras.analysis.gradients import layer_gradient_norms


def test_norms_match_the_numpy_gradient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype("float32")
    t = rng.normal(size=(6, 2)).astype("float32")
    w1, b1 = rng.normal(size=(3, 4)).astype("float32"), np.zeros(4, "float32")
    w2, b2 = rng.normal(size=(4, 2)).astype("float32"), rng.normal(size=2).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="first"),
                              keras.layers.Dense(2, name="second")])
    model.set_weights([w1, b1, w2, b2])
    model.compile(loss="mse")
    norms = layer_gradient_norms(model, x, t)
    # loss = mean over batch and outputs of (h W2 + b2 - t)^2, h = x W1 + b1.
    h = x @ w1 + b1
    d = 2.0 * (h @ w2 + b2 - t) / t.size
    g_w2, g_b2 = h.T @ d, d.sum(0)
    dh = d @ w2.T
    g_w1, g_b1 = x.T @ dh, dh.sum(0)
    expected = {"first": np.sqrt((g_w1 ** 2).sum() + (g_b1 ** 2).sum()),
                "second": np.sqrt((g_w2 ** 2).sum() + (g_b2 ** 2).sum())}
    assert list(norms) == ["first", "second"]
    for name, value in expected.items():
        np.testing.assert_allclose(norms[name], value, rtol=1e-4)
