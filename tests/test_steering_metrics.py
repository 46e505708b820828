"""Steering metrics against hand computations."""

import math

import keras
import numpy as np
import pytest

from scs_keras.metrics.steering import (
    AngleAccuracy,
    SteeringMAE,
    SteeringRMSE,
    accuracy_name,
    angle_accuracy,
    mean_absolute_error,
    root_mean_squared_error,
    scores_per_condition,
    steering_metrics,
    steering_scores,
)

# Errors pred - true: 0.5, 3, 0, -6.
Y_TRUE = [0.0, 1.0, -2.0, 10.0]
Y_PRED = [0.5, 4.0, -2.0, 4.0]
HAND = {"accuracy_1deg": 2 / 4, "accuracy_3deg": 3 / 4, "accuracy_5deg": 3 / 4,
        "accuracy_10deg": 1.0, "mae": (0.5 + 3 + 0 + 6) / 4,
        "rmse": math.sqrt((0.25 + 9 + 0 + 36) / 4), "count": 4}


def test_numpy_scores_by_hand():
    assert steering_scores(Y_TRUE, Y_PRED) == pytest.approx(HAND)
    assert angle_accuracy(Y_TRUE, Y_PRED, 3) == 0.75      # |3| <= 3 counts as a hit
    assert angle_accuracy(Y_TRUE, Y_PRED, 2.999) == 0.5
    assert mean_absolute_error(Y_TRUE, Y_PRED) == pytest.approx(2.375)
    assert root_mean_squared_error(Y_TRUE, Y_PRED) == pytest.approx(math.sqrt(11.3125))
    # Column vectors and rows give the same per-sample scores.
    assert steering_scores(np.reshape(Y_TRUE, (4, 1)), Y_PRED)["mae"] == pytest.approx(2.375)


def test_scores_per_condition_by_hand():
    labels = ["day", "night", "day", "night"]
    per = scores_per_condition(Y_TRUE, Y_PRED, labels, thresholds=(1, 5))
    assert list(per) == ["day", "night"]
    # day: errors 0.5 and 0; night: errors 3 and -6.
    assert per["day"] == pytest.approx({"accuracy_1deg": 1.0, "accuracy_5deg": 1.0,
                                        "mae": 0.25, "rmse": math.sqrt(0.125), "count": 2})
    assert per["night"] == pytest.approx({"accuracy_1deg": 0.0, "accuracy_5deg": 0.5,
                                          "mae": 4.5, "rmse": math.sqrt(22.5), "count": 2})
    ints = scores_per_condition(Y_TRUE, Y_PRED, np.array([3, 3, 1, 1]), thresholds=(1,))
    assert list(ints) == [1, 3] and ints[1]["accuracy_1deg"] == 0.5


@pytest.mark.parametrize("call, match", [
    (lambda: steering_scores([1, 2], [1]), "target"),
    (lambda: steering_scores([], []), "no samples"),
    (lambda: steering_scores([np.nan], [0.0]), "finite"),
    (lambda: steering_scores([1.0], [1.0], thresholds=(-1,)), ">= 0"),
    (lambda: steering_scores([1.0], [1.0], thresholds=(1, 1.0)), "distinct"),
    (lambda: scores_per_condition([1, 2], [1, 2], ["a"]), "label"),
])
def test_numpy_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_keras_metrics_accumulate_per_sample_over_uneven_batches():
    metrics = steering_metrics()
    assert [m.name for m in metrics] == ["accuracy_1deg", "accuracy_3deg", "accuracy_5deg",
                                         "accuracy_10deg", "mae", "rmse"]
    for m in metrics:
        # Targets (batch,), predictions (batch, 1), batches of 3 and 1: a mean
        # of batch means would give other numbers.
        m.update_state(Y_TRUE[:3], np.reshape(Y_PRED[:3], (3, 1)))
        m.update_state(Y_TRUE[3:], np.reshape(Y_PRED[3:], (1, 1)))
        assert float(m.result()) == pytest.approx(HAND[m.name], rel=1e-6), m.name
        m.reset_state()
        m.update_state([0.0], [0.5])
        expected = {"accuracy_1deg": 1.0, "accuracy_3deg": 1.0, "accuracy_5deg": 1.0,
                    "accuracy_10deg": 1.0, "mae": 0.5, "rmse": 0.5}[m.name]
        assert float(m.result()) == pytest.approx(expected), m.name


def test_keras_metrics_sample_weight():
    weights = [1.0, 0.0, 1.0, 1.0]     # drops the error of 3
    acc = AngleAccuracy(2.0)
    acc.update_state(Y_TRUE, Y_PRED, sample_weight=weights)
    assert float(acc.result()) == pytest.approx(2 / 3)
    rmse = SteeringRMSE()
    rmse.update_state(Y_TRUE, Y_PRED, sample_weight=weights)
    assert float(rmse.result()) == pytest.approx(math.sqrt((0.25 + 36) / 3))


def test_keras_metric_refuses_mismatched_sizes():
    with pytest.raises(ValueError, match="target"):
        SteeringMAE().update_state([1.0, 2.0, 3.0], [1.0, 2.0])


def test_config_round_trip():
    metric = AngleAccuracy(2.5)
    assert metric.name == accuracy_name(2.5) == "accuracy_2.5deg"
    clone = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert isinstance(clone, AngleAccuracy)
    assert clone.threshold == 2.5 and clone.name == "accuracy_2.5deg"
    for cls in (SteeringMAE, SteeringRMSE):
        clone = keras.metrics.deserialize(keras.metrics.serialize(cls(name="x")))
        assert type(clone) is cls and clone.name == "x"
    with pytest.raises(ValueError):
        AngleAccuracy(-1.0)
    with pytest.raises(TypeError):
        AngleAccuracy(True)


def test_metrics_in_model_evaluate_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3)).astype("float32")
    y = rng.normal(scale=6.0, size=(7,)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(loss="mse", metrics=steering_metrics((1, 5)))
    # Batches of 3, 3 and 1.
    got = model.evaluate(x, y, batch_size=3, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    expected = steering_scores(y, pred, thresholds=(1, 5))
    for name in ("accuracy_1deg", "accuracy_5deg", "mae", "rmse"):
        assert got[name] == pytest.approx(expected[name], rel=1e-5), name
