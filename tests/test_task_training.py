"""The training helpers every task shares (scs_keras/tasks/training.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import scs_keras as sk
from scs_keras.tasks.training import build_training_state, compile_model, fit_model
from scs_keras.training import model as scs_model_module


def _model_and_data():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 3))
    outputs = keras.layers.Dense(2)(sk.SCS(4)(inputs))
    model = sk.SCSModel(inputs, outputs)
    compile_model(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  1e-2, metrics=["accuracy"], truncation=sk.STSGD(0.5))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 6, 3)).astype("float32")
    y = (x[:, -1, 0] > 0).astype("int32")
    # 20 windows in batches of 8: the last batch is short, as in the tasks.
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(20, seed=1).batch(8)
    return model, data


@pytest.fixture
def train_step_traces(monkeypatch):
    """Counts the Python calls of SCSModel.train_step: one per trace."""
    calls = []
    original = scs_model_module.SCSModel.train_step

    def counted(self, data):
        calls.append(1)
        return original(self, data)

    monkeypatch.setattr(scs_model_module.SCSModel, "train_step", counted)
    return calls


def test_keras_alone_traces_the_first_training_step_twice(train_step_traces):
    # Why build_training_state exists: without a strategy Keras creates the
    # optimizer slots and metric variables inside the first trace, and
    # TensorFlow traces again.  If a Keras upgrade stops doing that, this
    # fails and build_training_state can go.
    model, data = _model_and_data()
    model.fit(data, epochs=2, verbose=0, shuffle=False)
    assert len(train_step_traces) == 2


def test_fit_model_traces_the_training_step_once(train_step_traces):
    model, data = _model_and_data()
    fit_model(model, data, epochs=2, verbose=0)
    assert len(train_step_traces) == 1


def test_building_first_changes_nothing_but_the_tracing():
    model, data = _model_and_data()
    model.fit(data, epochs=3, verbose=0, shuffle=False)
    prebuilt, data = _model_and_data()
    fit_model(prebuilt, data, epochs=3, verbose=0)
    for a, b in zip(model.get_weights(), prebuilt.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(prebuilt.optimizer.iterations) == 3 * 3


def test_build_training_state_reads_no_batch():
    reads = []

    def windows():
        for i in range(4):
            reads.append(i)
            yield np.zeros((6, 3), "float32"), np.int32(i % 2)

    model, _ = _model_and_data()
    data = tf.data.Dataset.from_generator(
        windows, output_signature=(tf.TensorSpec((6, 3), tf.float32),
                                   tf.TensorSpec((), tf.int32))).batch(2)
    build_training_state(model, data)
    assert reads == []
    assert model.optimizer.built
