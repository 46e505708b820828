"""Steering-angle metrics: accuracy within λ degrees, MAE and RMSE.

A steering prediction is *accurate at λ* when it is within λ degrees of the
logged angle, ``|pred - true| <= λ`` (the bound counts as a hit).  Accuracy
is reported at several thresholds (:data:`DEFAULT_THRESHOLDS`: 1, 3, 5 and
10 degrees) next to the mean absolute error and the root mean squared error,
both in degrees (RMSE is the usual ranking score of steering benchmarks).

Each score exists twice, computed the same way:

* as a stateful Keras metric (:class:`AngleAccuracy`, :class:`SteeringMAE`,
  :class:`SteeringRMSE`; :func:`steering_metrics` builds the set) for
  ``model.compile(metrics=...)``.  They accumulate per-sample sums and counts
  over batches, so a short last batch weighs by its samples, not as a whole
  batch.  Targets may be ``(batch,)`` or ``(batch, 1)``, predictions either
  shape too: both are flattened to one value per sample first (Keras' own
  ``MeanAbsoluteError`` would average ``(batch,)`` targets per batch);
* as plain NumPy functions (:func:`angle_accuracy`, :func:`mean_absolute_error`,
  :func:`root_mean_squared_error`, :func:`steering_scores`) for offline
  evaluation, and :func:`scores_per_condition` which splits the scores by a
  label per sample (road condition, route...).

The score names are shared: ``"accuracy_<λ>deg"`` (``"accuracy_2.5deg"``),
``"mae"``, ``"rmse"``, so a Keras history and a NumPy report line up.

Example:

>>> import numpy as np
>>> scores = steering_scores([0.0, 10.0], [0.5, 4.0], thresholds=(1, 10))
>>> scores["accuracy_1deg"], scores["mae"]
(0.5, 3.25)
"""

from __future__ import annotations

import keras
import numpy as np

from scs_keras.utils.validation import check_float

__all__ = [
    "DEFAULT_THRESHOLDS",
    "accuracy_name",
    "AngleAccuracy",
    "SteeringMAE",
    "SteeringRMSE",
    "steering_metrics",
    "angle_accuracy",
    "mean_absolute_error",
    "root_mean_squared_error",
    "steering_scores",
    "scores_per_condition",
]

#: Angle thresholds (degrees) reported by default.
DEFAULT_THRESHOLDS = (1.0, 3.0, 5.0, 10.0)


def _threshold(value) -> float:
    return check_float("threshold", value, minimum=0.0)


def _thresholds(values) -> tuple:
    if isinstance(values, (int, float, np.integer, np.floating)):
        values = (values,)
    values = tuple(_threshold(v) for v in values)
    if not values:
        raise ValueError("thresholds must hold at least one angle.")
    if len(set(values)) != len(values):
        raise ValueError(f"thresholds must be distinct; received {list(values)}.")
    return values


def accuracy_name(threshold) -> str:
    """The score name of the accuracy at ``threshold`` degrees.

    Example:

    >>> accuracy_name(2.5), accuracy_name(5)
    ('accuracy_2.5deg', 'accuracy_5deg')
    """
    return f"accuracy_{_threshold(threshold):g}deg"


# ----------------------------------------------------------------------------
# Keras metrics.
# ----------------------------------------------------------------------------


class _PerSampleMean(keras.metrics.Mean):
    """Mean over samples of ``_per_sample(pred - true)``, one value per sample."""

    _lower_is_better = False

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        # Read by callbacks that monitor the metric (EarlyStopping mode="auto").
        self._direction = "down" if self._lower_is_better else "up"

    def _per_sample(self, error):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulates one batch.

        Args:
            y_true: Logged angles, ``(batch,)`` or ``(batch, 1)``.
            y_pred: Predicted angles, same number of values.
            sample_weight: Optional ``(batch,)`` weights.
        """
        y_pred = keras.ops.reshape(keras.ops.convert_to_tensor(y_pred, self.dtype), (-1,))
        y_true = keras.ops.reshape(keras.ops.convert_to_tensor(y_true, self.dtype), (-1,))
        if (y_true.shape[0] is not None and y_pred.shape[0] is not None
                and y_true.shape[0] != y_pred.shape[0]):
            raise ValueError(f"{self.name}: {y_true.shape[0]} target(s) for "
                             f"{y_pred.shape[0]} prediction(s); give one angle per sample.")
        if sample_weight is not None:
            sample_weight = keras.ops.reshape(
                keras.ops.convert_to_tensor(sample_weight, self.dtype), (-1,))
        return super().update_state(self._per_sample(y_pred - y_true),
                                    sample_weight=sample_weight)


@keras.saving.register_keras_serializable(package="scs_keras")
class AngleAccuracy(_PerSampleMean):
    """Fraction of predictions within ``threshold`` degrees of the truth.

    Args:
        threshold: λ in degrees (>= 0); ``|pred - true| <= λ`` is a hit.
        name: Metric name; default ``accuracy_name(threshold)``
            (``"accuracy_5deg"``).
        dtype: Result dtype.

    Example:

    >>> m = AngleAccuracy(5.0)
    >>> m.update_state([0.0, 0.0, 0.0], [4.0, 5.0, 6.0])
    >>> round(float(m.result()), 4)
    0.6667
    """

    def __init__(self, threshold=5.0, name=None, dtype=None):
        threshold = _threshold(threshold)
        super().__init__(name=name or accuracy_name(threshold), dtype=dtype)
        self.threshold = threshold

    def _per_sample(self, error):
        return keras.ops.cast(keras.ops.abs(error) <= self.threshold, self.dtype)

    def get_config(self):
        config = super().get_config()
        config["threshold"] = self.threshold
        return config


@keras.saving.register_keras_serializable(package="scs_keras")
class SteeringMAE(_PerSampleMean):
    """Mean absolute angle error (degrees), averaged over samples.

    Args:
        name: Metric name (default ``"mae"``).
        dtype: Result dtype.

    Example:

    >>> m = SteeringMAE()
    >>> m.update_state([0.0, 2.0], [1.0, -2.0])
    >>> float(m.result())
    2.5
    """

    _lower_is_better = True

    def __init__(self, name="mae", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _per_sample(self, error):
        return keras.ops.abs(error)


@keras.saving.register_keras_serializable(package="scs_keras")
class SteeringRMSE(_PerSampleMean):
    """Root mean squared angle error (degrees): the root of the mean over samples.

    Args:
        name: Metric name (default ``"rmse"``).
        dtype: Result dtype.

    Example:

    >>> m = SteeringRMSE()
    >>> m.update_state([0.0, 0.0], [3.0, 4.0])
    >>> round(float(m.result()), 4)
    3.5355
    """

    _lower_is_better = True

    def __init__(self, name="rmse", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _per_sample(self, error):
        return keras.ops.square(error)

    def result(self):
        return keras.ops.sqrt(super().result())


def steering_metrics(thresholds=DEFAULT_THRESHOLDS) -> list:
    """The steering metric set: accuracy at each threshold, MAE and RMSE.

    Args:
        thresholds: Angles λ in degrees (one or several, distinct).

    Returns:
        A list of fresh metric instances, for ``model.compile(metrics=...)``.

    Example:

    >>> [m.name for m in steering_metrics((1, 5))]
    ['accuracy_1deg', 'accuracy_5deg', 'mae', 'rmse']
    """
    return [AngleAccuracy(t) for t in _thresholds(thresholds)] + [SteeringMAE(), SteeringRMSE()]


# ----------------------------------------------------------------------------
# NumPy versions.
# ----------------------------------------------------------------------------


def _errors(y_true, y_pred) -> np.ndarray:
    """``pred - true`` per sample (float64), after checking the two match."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.size} target(s) for {y_pred.size} prediction(s); "
                         "give one angle per sample.")
    if y_true.size == 0:
        raise ValueError("no samples to score.")
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("targets and predictions must be finite (found NaN or Inf).")
    return y_pred - y_true


def angle_accuracy(y_true, y_pred, threshold) -> float:
    """Fraction of samples with ``|pred - true| <= threshold`` degrees.

    Example:

    >>> angle_accuracy([0, 0, 0, 0], [1, 2, 3, -3], threshold=2)
    0.5
    """
    return float(np.mean(np.abs(_errors(y_true, y_pred)) <= _threshold(threshold)))


def mean_absolute_error(y_true, y_pred) -> float:
    """Mean of ``|pred - true|`` over samples (degrees).

    Example:

    >>> mean_absolute_error([0, 0], [1, -3])
    2.0
    """
    return float(np.mean(np.abs(_errors(y_true, y_pred))))


def root_mean_squared_error(y_true, y_pred) -> float:
    """Root of the mean of ``(pred - true)**2`` over samples (degrees).

    Example:

    >>> root_mean_squared_error([0, 0], [3, 4])  # sqrt(12.5)
    3.5355339059327378
    """
    return float(np.sqrt(np.mean(np.square(_errors(y_true, y_pred)))))


def steering_scores(y_true, y_pred, thresholds=DEFAULT_THRESHOLDS) -> dict:
    """Accuracy at each threshold, MAE, RMSE and the sample count.

    Args:
        y_true: Logged angles (degrees), any shape with one value per sample.
        y_pred: Predicted angles, as many values.
        thresholds: Angles λ (degrees).

    Returns:
        ``{"accuracy_<λ>deg": ..., "mae": ..., "rmse": ..., "count": n}``.

    Raises:
        ValueError: Different sizes, no sample, NaN/Inf values or a negative
            threshold.
    """
    thresholds = _thresholds(thresholds)
    error = _errors(y_true, y_pred)
    scores = {accuracy_name(t): float(np.mean(np.abs(error) <= t)) for t in thresholds}
    scores["mae"] = float(np.mean(np.abs(error)))
    scores["rmse"] = float(np.sqrt(np.mean(np.square(error))))
    scores["count"] = int(error.size)
    return scores


def scores_per_condition(y_true, y_pred, labels, thresholds=DEFAULT_THRESHOLDS) -> dict:
    """:func:`steering_scores` for each distinct label, e.g. per road condition.

    Args:
        y_true: Logged angles (degrees), one per sample.
        y_pred: Predicted angles, one per sample.
        labels: One label per sample (strings or ints: a road condition such as
            ``"night/lanes/rain"``, a route name...).
        thresholds: Angles λ (degrees).

    Returns:
        ``{label: scores}`` in sorted label order, each as returned by
        :func:`steering_scores` (with its own ``"count"``).

    Example:

    >>> per = scores_per_condition([0, 0, 0], [0.5, 2, 4], ["day", "night", "night"],
    ...                            thresholds=(1,))
    >>> per["night"]["accuracy_1deg"], per["night"]["count"]
    (0.0, 2)
    """
    _errors(y_true, y_pred)  # same sizes, finite, not empty
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if labels.shape != y_true.shape:
        raise ValueError(f"{labels.size} label(s) for {y_true.size} sample(s); "
                         "give one label per sample.")
    return {label.item() if hasattr(label, "item") else label:
            steering_scores(y_true[labels == label], y_pred[labels == label], thresholds)
            for label in np.unique(labels)}
