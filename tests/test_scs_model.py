"""SCSModel: STSGD/ASTSGD schedules, logging, saving, clipping, overlap TBPTT."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import scs_keras as sk
from tests import numpy_reference as ref
from tests.test_scs_layer import random_weights

RNG = np.random.default_rng(4)
N, T, D, U, C = 16, 6, 4, 5, 3
SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def data():
    return (RNG.normal(0, 1, (N, T, D)).astype("float32"),
            RNG.integers(0, C, N).astype("int32"))


def classifier(**scs_kwargs):
    inputs = keras.Input((T, D))
    h = sk.SCS(U, name="scs", **scs_kwargs)(inputs)
    return sk.SCSModel(inputs, keras.layers.Dense(C, name="head")(h))


def np_sce(logits, labels):
    logits = logits - logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def astsgd_rate(q0, theta, l0, alpha, main, spatial):
    if l0 <= theta:
        return q0
    q = q0 + (1 - q0) * max(0.0, spatial - theta) / (l0 - theta) * (
        alpha * (main / spatial - 1) + 1)
    return min(max(q, 0.0), 1.0)


def test_stsgd_rates_follow_linear_decay():
    schedule = sk.STSGD(0.9, final_rate=0.1, decay_steps=8)
    for step in (0, 1, 4, 8, 20):
        expected = 0.9 + (0.1 - 0.9) * min(step / 8, 1.0)
        assert float(schedule.rate_at(step)) == pytest.approx(expected, abs=1e-6)
    assert float(sk.STSGD(0.3).rate_at(100)) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: sk.STSGD(1.2), "initial_rate"),
        (lambda: sk.STSGD(0.5, final_rate=0.1), "decay_steps"),
        (lambda: sk.STSGD(0.5, final_rate=-1, decay_steps=3), "final_rate"),
        (lambda: sk.ASTSGD(initial_rate=2), "initial_rate"),
        (lambda: sk.ASTSGD(initial_loss=-1.0), "initial_loss"),
        (lambda: sk.OverlapCoherence(0), "clip_length"),
        (lambda: sk.OverlapCoherence(5, overlap=1.0), "overlap"),
    ],
)
def test_schedule_arguments_are_validated(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_schedules_serialize():
    for obj in (sk.STSGD(0.7, 0.2, 10), sk.ASTSGD(0.4, 0.5, 1.1, 2.0),
                sk.OverlapCoherence(4, 0.5, 10.0, per_step_targets=True)):
        clone = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(obj))
        assert type(clone) is type(obj)
        assert clone.get_config() == obj.get_config()


def test_astsgd_formula_against_numpy():
    schedule = sk.ASTSGD(initial_rate=0.3, threshold=0.5, alpha=2.0)
    for main, spatial, l0 in [(1.0, 1.2, 2.0), (0.4, 0.3, 2.0), (2.5, 1.0, 2.0),
                              (0.1, 3.0, 2.0), (1.0, 1.0, 0.4)]:
        got = float(schedule.rate_from_losses(main, spatial, l0))
        assert got == pytest.approx(astsgd_rate(0.3, 0.5, l0, 2.0, main, spatial), abs=1e-6)


def test_fit_logs_the_decaying_rate_and_cells_follow_it():
    x, y = data()
    model = classifier(truncation_rate=0.0)
    model.compile("sgd", SCE, truncation=sk.STSGD(0.8, final_rate=0.2, decay_steps=8))
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)  # 4 steps/epoch
    np.testing.assert_allclose(history.history["truncation_rate"], [0.5, 0.2], atol=1e-6)
    assert int(model.truncation_step.numpy()) == 8
    for cell in model.scs_cells():
        assert float(cell.current_truncation_rate().numpy()) == pytest.approx(0.2)


def test_compiled_rate_drives_truncation_of_every_cell():
    """A cell built with rate 0 truncates at rate 1 once the model says so."""
    x, _ = data()
    model = classifier(truncation_rate=0.0)
    layer = model.get_layer("scs")
    w = random_weights(D, U)
    layer.set_weights(w)
    model.compile("sgd", SCE, truncation=sk.STSGD(1.0))
    upstream = RNG.normal(0, 1, (N, U)).astype("float32")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt, training=True) * upstream)
    full_upstream = np.zeros((N, T, U))
    full_upstream[:, -1] = upstream
    expected = ref.dense_input_gradient(x.astype("float64"), *w, full_upstream,
                                        temporal_keep=np.zeros(T))
    np.testing.assert_allclose(tape.gradient(loss, xt), expected, atol=1e-5)


def two_head_model():
    inputs = keras.Input((T, D))
    # Width D keeps the shortcut an identity: no batch norm, so the forward
    # pass is the same in training and inference.
    streams = sk.DeepSCS([D, D], layer_type="dense", decoupled=True,
                         return_sequences=False, seed=0)(inputs)
    head = keras.layers.Dense(C)
    outputs = {
        "output": keras.layers.Identity(name="output")(head(streams["output"])),
        "spatial": keras.layers.Identity(name="spatial")(head(streams["spatial"])),
    }
    return sk.SCSModel(inputs, outputs)


def test_astsgd_rate_after_a_step_matches_the_formula():
    x, y = data()
    model = two_head_model()
    schedule = sk.ASTSGD(initial_rate=0.5, threshold=0.2, initial_loss=math.log(C))
    model.compile(keras.optimizers.SGD(0.01), {"output": SCE, "spatial": SCE},
                  truncation=schedule)
    before = model(x)  # forward values do not depend on truncation
    main = np_sce(before["output"].numpy(), y)
    spatial = np_sce(before["spatial"].numpy(), y)
    model.train_on_batch(x, {"output": y, "spatial": y})
    expected = astsgd_rate(0.5, 0.2, math.log(C), 1.0, main, spatial)
    assert float(model.truncation_rate.numpy()) == pytest.approx(expected, abs=1e-4)


def test_astsgd_measures_initial_loss_during_warmup():
    x, y = data()
    model = two_head_model()
    model.compile(keras.optimizers.SGD(0.0), {"output": SCE, "spatial": SCE},
                  truncation=sk.ASTSGD(warmup_steps=2, threshold=0.1))
    outputs = model(x)
    main = np_sce(outputs["output"].numpy(), y)
    spatial = np_sce(outputs["spatial"].numpy(), y)
    for _ in range(2):  # lr 0: the loss stays the same
        model.train_on_batch(x, {"output": y, "spatial": y})
        assert float(model.truncation_rate.numpy()) == 1.0
    assert float(model.truncation_initial_loss.numpy()) == pytest.approx(main, rel=1e-4)
    model.train_on_batch(x, {"output": y, "spatial": y})
    # At lr 0 the losses stay put and L0 = L: the formula with L0 = L.
    expected = astsgd_rate(0.5, 0.1, main, 1.0, main, spatial)
    assert float(model.truncation_rate.numpy()) == pytest.approx(expected, abs=1e-4)


def test_astsgd_needs_a_spatial_output():
    # Reported by compile, where the outputs are known, not at the first step.
    with pytest.raises(ValueError, match="spatial"):
        classifier().compile("sgd", SCE, truncation=sk.ASTSGD(initial_loss=1.5))
    with pytest.raises(ValueError, match="'main'"):
        two_head_model().compile("sgd", SCE, truncation=sk.ASTSGD(
            main_output="main"))
    two_head_model().compile("sgd", SCE, truncation=sk.ASTSGD())


def test_rate_and_schedule_are_saved_with_the_model(tmp_path):
    x, y = data()
    model = classifier()
    model.compile("adam", SCE, truncation=sk.STSGD(0.9, 0.1, 4), clip_norm=5.0)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    rate = float(model.truncation_rate.numpy())
    path = tmp_path / "scs_model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, sk.SCSModel)
    assert float(loaded.truncation_rate.numpy()) == pytest.approx(rate)
    assert int(loaded.truncation_step.numpy()) == 2
    assert loaded._truncation.get_config() == model._truncation.get_config()
    assert loaded._clip_norm == 5.0
    np.testing.assert_allclose(loaded(x), model(x), atol=0)
    history = loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    # Training resumes the schedule: step 4 is the end of the decay.
    assert history.history["truncation_rate"][-1] == pytest.approx(0.1, abs=1e-6)


def test_subclassed_model_trains_with_truncation():
    class Classifier(sk.SCSModel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.stack = sk.DeepSCS([U, U], layer_type="dense", return_sequences=False)
            self.head = keras.layers.Dense(C)

        def call(self, inputs, training=False):
            return self.head(self.stack(inputs, training=training))

    x, y = data()
    model = Classifier()
    model.compile("adam", SCE, truncation=sk.STSGD(0.6))
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert history.history["truncation_rate"] == [pytest.approx(0.6)]
    assert len(model.scs_cells()) == 2
    assert all(c._rate_source is not None for c in model.scs_cells())


@pytest.mark.parametrize("option", ["clip_value", "clip_norm"])
def test_gradient_clipping_bounds_the_update(option):
    x, y = data()
    model = classifier()
    model.compile(keras.optimizers.SGD(1.0), SCE, **{option: 1e-3})
    before = [w.numpy() for w in model.trainable_weights]
    model.train_on_batch(x * 100, y)
    deltas = [w.numpy() - b for w, b in zip(model.trainable_weights, before)]
    if option == "clip_value":
        assert max(np.abs(d).max() for d in deltas) <= 1e-3 + 1e-7
    else:
        norm = np.sqrt(sum((d ** 2).sum() for d in deltas))
        assert norm <= 1e-3 * (1 + 1e-4)
    assert max(np.abs(d).max() for d in deltas) > 0


def test_compile_rejects_bad_options():
    model = classifier()
    with pytest.raises(TypeError, match="truncation"):
        model.compile("sgd", SCE, truncation=0.5)
    with pytest.raises(ValueError, match="clip_norm"):
        model.compile("sgd", SCE, clip_norm=-1)


def test_overlap_clip_starts_cover_every_frame():
    settings = sk.OverlapCoherence(5, 0.25)
    assert settings.clip_starts(25) == [0, 4, 8, 12, 16, 20]  # reference 6 x 5
    assert settings.clip_starts(23) == [0, 4, 8, 12, 16, 18]  # tail clip added
    assert settings.clip_starts(5) == [0]
    with pytest.raises(ValueError, match="shorter"):
        settings.clip_starts(4)


def test_overlap_training_carries_state_and_adds_coherence():
    """With lr 0 the logged loss is the mean over clips of task loss plus
    coherence, computed here clip by clip from carried final states."""
    frames, n, weight = 11, 5, 10.0
    x = RNG.normal(0, 1, (4, frames, D)).astype("float32")
    y = RNG.normal(0, 1, (4, frames, U)).astype("float32")
    inputs = keras.Input((None, D))
    model = sk.SCSModel(inputs, sk.SCS(U, return_sequences=True, name="scs")(inputs))
    w = random_weights(D, U)
    model.get_layer("scs").set_weights(w)
    settings = sk.OverlapCoherence(n, 0.4, weight, per_step_targets=True)
    model.compile(keras.optimizers.SGD(0.0), "mse", overlap=settings)
    logs = model.train_on_batch(x, y, return_dict=True)

    starts = settings.clip_starts(frames)  # [0, 3, 6]
    assert starts == [0, 3, 6]
    state, prev, losses = None, None, []
    for start in starts:
        clip = x[:, start:start + n].astype("float64")
        h, g, _ = ref.dense_forward(clip, *w, c0=state)
        loss = np.mean((h - y[:, start:start + n]) ** 2)
        if prev is not None:
            shared = prev[0] + n - start
            loss += weight * np.mean((h[:, :shared] - prev[1][:, n - shared:]) ** 2)
        losses.append(loss)
        state, prev = g[:, -1], (start, h)
    assert logs["loss"] == pytest.approx(np.mean(losses), rel=1e-4)


def test_overlap_rejects_fixed_time_inputs():
    x, y = data()
    model = classifier()
    model.compile("sgd", SCE, overlap=sk.OverlapCoherence(3, 0.0))
    with pytest.raises(ValueError, match="fixed time dimension"):
        model.fit(x, y, epochs=1, verbose=0)


def test_rnn_of_cells_trains_under_a_schedule():
    """keras.layers.RNN(SCSCell) inside fit: the per-step draws read the
    model's rate variable from inside Keras' while loop."""
    x, y = data()
    inputs = keras.Input((T, D))
    h = keras.layers.RNN([sk.SCSCell(U, seed=1), sk.SCSCell(U, seed=2)])(inputs)
    model = sk.SCSModel(inputs, keras.layers.Dense(C)(h))
    model.compile(keras.optimizers.Adam(0.02), SCE,
                  truncation=sk.STSGD(1.0, final_rate=0.5, decay_steps=10))
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert len(model.scs_cells()) == 2
    assert history.history["truncation_rate"][-1] == pytest.approx(0.5)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_schedule_logs_when_run_eagerly():
    x, y = data()
    model = classifier()
    model.compile("sgd", SCE, truncation=sk.STSGD(0.4), run_eagerly=True)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert history.history["truncation_rate"] == [pytest.approx(0.4)]


def _steps(model, x, y, count):
    for _ in range(count):
        model.train_on_batch(x, y)


def test_recompiling_with_a_new_schedule_starts_it_fresh():
    x, y = data()
    model = classifier()
    model.compile("sgd", SCE, truncation=sk.STSGD(0.2))
    _steps(model, x, y, 3)
    model.compile("sgd", SCE, truncation=sk.STSGD(0.9, final_rate=0.1, decay_steps=100))
    assert float(model.truncation_rate.numpy()) == pytest.approx(0.9)
    _steps(model, x, y, 4)
    # Four steps into the new decay, not seven: 0.9 - 0.8 * 4 / 100.
    assert float(model.truncation_rate.numpy()) == pytest.approx(0.868, abs=1e-6)


def test_recompiling_with_the_same_schedule_resumes_it():
    x, y = data()
    model = classifier()
    schedule = sk.STSGD(0.9, final_rate=0.1, decay_steps=8)
    model.compile("sgd", SCE, truncation=schedule)
    _steps(model, x, y, 2)
    model.compile("sgd", SCE, truncation=schedule)
    _steps(model, x, y, 2)
    assert float(model.truncation_rate.numpy()) == pytest.approx(0.5, abs=1e-6)


def test_astsgd_compiled_after_stsgd_measures_its_initial_loss():
    x, y = data()
    model = two_head_model()
    targets = {"output": y, "spatial": y}
    model.compile(keras.optimizers.SGD(0.0), {"output": SCE, "spatial": SCE},
                  truncation=sk.STSGD(0.3))
    _steps(model, x, targets, 3)
    model.compile(keras.optimizers.SGD(0.0), {"output": SCE, "spatial": SCE},
                  truncation=sk.ASTSGD(initial_rate=0.5, warmup_steps=2, threshold=0.1))
    outputs = model(x)
    main = np_sce(outputs["output"].numpy(), y)
    spatial = np_sce(outputs["spatial"].numpy(), y)
    _steps(model, x, targets, 2)
    assert float(model.truncation_rate.numpy()) == 1.0  # warm-up
    assert float(model.truncation_initial_loss.numpy()) == pytest.approx(main, rel=1e-4)
    _steps(model, x, targets, 1)
    expected = astsgd_rate(0.5, 0.1, main, 1.0, main, spatial)
    assert float(model.truncation_rate.numpy()) == pytest.approx(expected, abs=1e-4)
