"""Training and scoring steering models: losses, compiling, evaluation, pictures.

* Loss: mean squared error in degrees² on ``"angle"``; for SCS also on the
  T¹ (``"spatial"``) and T² (``"temporal"``) heads, weighted (auxiliary).
* ASTSGD's threshold ``θ`` (:func:`mean_prediction_loss`): the loss of
  always predicting the training mean, i.e. the variance of the training
  angles.  While the T¹ head does no better than that constant, the
  truncation rate stays at ``q0``.
* Metrics: accuracy within λ degrees for each λ of ``thresholds``, MAE and
  RMSE (:mod:`scs_keras.metrics.steering`) on ``"angle"``.
* :func:`evaluate_steering_model` also scores the T¹ and T² heads per road
  condition (:func:`stream_table`): which stream carries the decision where.
"""

from __future__ import annotations

import keras
import numpy as np

from scs_keras.data.driving import ANGLE_KEY, CONDITION_KEY
from scs_keras.metrics.steering import (
    DEFAULT_THRESHOLDS,
    accuracy_name,
    steering_metrics,
    steering_scores,
)
from scs_keras.tasks.steering.data import model_targets
from scs_keras.tasks.steering.models import ANGLE, SPATIAL, TEMPORAL
from scs_keras.tasks.training import compile_model, fit_model, fixed_sample, make_truncation
from scs_keras.utils.optional import optional_import

__all__ = ["table_columns", "mean_prediction_loss", "compile_steering_model",
           "fit_steering_model", "evaluate_steering_model", "stream_table", "render_steering"]


def table_columns(thresholds=DEFAULT_THRESHOLDS):
    """Metric columns of the comparison table: accuracy at each λ, MAE, RMSE."""
    return [accuracy_name(t) for t in thresholds] + ["mae", "rmse"]


def mean_prediction_loss(std):
    """ASTSGD's ``θ``: the MSE of always predicting the training mean, ``std²``.

    Example:

    >>> mean_prediction_loss(3.0)
    9.0
    """
    return float(std) ** 2


def compile_steering_model(model, learning_rate=1e-3, truncation="astsgd", truncation_rate=0.5,
                           threshold=None, spatial_weight=0.5, temporal_weight=0.5,
                           thresholds=DEFAULT_THRESHOLDS, clip_norm=5.0):
    """Compiles a model from :mod:`.models` with MSE losses and steering metrics.

    Args:
        model: A steering model.
        learning_rate: Adam learning rate.
        truncation: For SCS: ``"astsgd"`` (needs ``threshold``), ``"stsgd"``,
            ``"none"`` or a schedule.  Ignored for baselines.
        truncation_rate: STSGD's rate or ASTSGD's ``q0``.
        threshold: ASTSGD's ``θ`` in degrees² (:func:`mean_prediction_loss`).
        spatial_weight, temporal_weight: Weights of the T¹ and T² head losses.
        thresholds: λ of the accuracy metrics (degrees).
        clip_norm: Global gradient-norm clip.

    Returns:
        ``model``, compiled.
    """
    names = list(model.output_names)
    weights = {ANGLE: 1.0, SPATIAL: float(spatial_weight), TEMPORAL: float(temporal_weight)}
    losses = {n: keras.losses.MeanSquaredError(name=f"{n}_mse") for n in names}
    schedule = make_truncation(truncation, truncation_rate, threshold, main_output=ANGLE,
                               spatial_output=SPATIAL, model=model)
    return compile_model(model, losses, learning_rate,
                         loss_weights={n: weights[n] for n in names},
                         metrics={ANGLE: steering_metrics(thresholds)}, truncation=schedule,
                         clip_norm=clip_norm)


def fit_steering_model(model, train_ds, epochs, val_ds=None, logdir=None, verbose=2):
    """Fits a compiled model on reader batches; pictures of ``val_ds`` in TensorBoard.

    Args:
        model: A compiled steering model.
        train_ds, val_ds: Reader batches ``(frames, {"steering_angle", ...})``.
        epochs: Positive int.
        logdir: TensorBoard folder: losses, accuracies, ``truncation_rate``
            and, every tenth of the training, four test frames with the true
            (green) and predicted (red) steering drawn on them.
        verbose: ``fit`` verbosity.

    Returns:
        The Keras ``History``.
    """
    names = model.output_names
    render = None
    if logdir and val_ds is not None:
        frames, targets = fixed_sample(val_ds, 4)
        render = lambda m: {  # noqa: E731
            "steering_true_vs_predicted": render_steering(m, frames, targets[ANGLE_KEY])}
    val = model_targets(val_ds, names) if val_ds is not None else None
    return fit_model(model, model_targets(train_ds, names), epochs, val_ds=val, logdir=logdir,
                     render_fn=render, verbose=verbose, every_n_epochs=max(1, epochs // 10))


def _predict(model, dataset):
    """Every output's predictions, the true angles and the conditions (or ``None``)."""
    outputs, angles, conditions = {}, [], []
    for frames, targets in dataset:
        pred = model.predict_on_batch(frames)
        for k, v in pred.items():
            outputs.setdefault(k, []).append(np.asarray(v).reshape(-1))
        angles.append(np.asarray(targets[ANGLE_KEY]).reshape(-1))
        if CONDITION_KEY in targets:
            conditions.append(np.asarray(targets[CONDITION_KEY]).reshape(-1))
    return ({k: np.concatenate(v) for k, v in outputs.items()}, np.concatenate(angles),
            np.concatenate(conditions) if conditions else None)


def stream_table(angles, predictions, labels, thresholds=DEFAULT_THRESHOLDS, accuracy_at=5.0):
    """Rows of the T¹ vs T² table: the accuracy of each head per condition.

    Conditions are split into their factors (``"night/no_lanes/rain"`` counts
    for ``night``, ``no_lanes`` and ``rain``), so every factor value gets a
    row even with few clips per full combination.

    Args:
        angles: True angles (degrees).
        predictions: ``{output: predicted angles}`` with ``"angle"``,
            ``"spatial"`` and ``"temporal"``.
        labels: One condition label per clip (strings).
        thresholds: λ of the scores.
        accuracy_at: The λ shown in the table.

    Returns:
        A list of dicts ``{"condition", "clips", "full", "T1", "T2", "carrier"}``
        (accuracies within ``accuracy_at`` degrees; ``carrier`` names the
        better pure stream), plus an ``"all"`` row first.
    """
    key = accuracy_name(accuracy_at)
    thresholds = tuple(dict.fromkeys(tuple(thresholds) + (accuracy_at,)))
    labels = np.asarray(labels).astype(str)
    factors = np.array([label.split("/") for label in labels])
    groups = [("all", np.ones(len(labels), bool))]
    for j in range(factors.shape[1]):
        groups += [(v, factors[:, j] == v) for v in sorted(set(factors[:, j]))]
    rows = []
    for name, where in groups:
        row = {"condition": name, "clips": int(where.sum())}
        for column, output in (("full", ANGLE), ("T1", SPATIAL), ("T2", TEMPORAL)):
            row[column] = steering_scores(angles[where], predictions[output][where],
                                          thresholds)[key]
        row["carrier"] = ("T1" if row["T1"] > row["T2"] else
                          "T2" if row["T2"] > row["T1"] else "tie")
        rows.append(row)
    return rows


def evaluate_steering_model(model, dataset, thresholds=DEFAULT_THRESHOLDS,
                            condition_names=()):
    """Scores ``model`` on ``dataset``.

    Args:
        model: A steering model.
        dataset: Reader batches (unshuffled), with ``"condition"`` for the
            per-condition table.
        thresholds: λ of the accuracies.
        condition_names: ``report.condition_names`` of the reader.

    Returns:
        ``(scores, streams)``: ``scores`` the table columns
        (:func:`table_columns`) as floats; ``streams`` the rows of
        :func:`stream_table` for a model with T¹ and T² heads and data with
        conditions, else ``None``.  Per-condition scores of the main head
        are in ``scores["per_condition"]`` when conditions are known.
    """
    predictions, angles, conditions = _predict(model, dataset)
    scores = steering_scores(angles, predictions[ANGLE], thresholds)
    scores.pop("count")
    streams = None
    if (conditions is not None and len(condition_names) and SPATIAL in predictions
            and TEMPORAL in predictions):
        labels = np.asarray(condition_names)[conditions]
        streams = stream_table(angles, predictions, labels, thresholds)
    return scores, streams


def render_steering(model, frames, angles, scale=4, length=0.45):
    """The last frame of each clip with the true and the predicted steering drawn on it.

    A line from the bottom centre points where the wheel is turned: straight
    up for 0 degrees, tilted by the angle (positive: left), green for the
    logged angle and red for the prediction; the values are written below.

    Args:
        model: A steering model.
        frames: ``(N, T, H, W, 3)`` on [0, 1].
        angles: ``N`` true angles (degrees).
        scale: Up-scaling factor.
        length: Line length as a fraction of the picture height.

    Returns:
        ``uint8`` images ``(N, h, w, 3)``.
    """
    cv2 = optional_import("cv2", "drawing the TensorBoard pictures")
    frames = np.asarray(frames, np.float32)
    predicted = np.asarray(model.predict_on_batch(frames)[ANGLE]).reshape(-1)
    images = []
    for clip, true, pred in zip(frames, np.asarray(angles).reshape(-1), predicted):
        image = (np.clip(clip[-1], 0, 1) * 255).astype(np.uint8)
        image = cv2.resize(image, (image.shape[1] * scale, image.shape[0] * scale),
                           interpolation=cv2.INTER_NEAREST)
        h, w = image.shape[:2]
        base = (w // 2, h - 2)
        for angle, colour in ((true, (0, 200, 0)), (pred, (230, 0, 0))):
            # Wheel angles reach hundreds of degrees; the line shows their
            # direction, clipped to a quarter turn.
            rad = np.radians(np.clip(angle, -90.0, 90.0))
            tip = (int(base[0] - length * h * np.sin(rad)), int(base[1] - length * h * np.cos(rad)))
            cv2.line(image, base, tip, colour, 2, cv2.LINE_AA)
        caption = np.full((18, w, 3), 255, np.uint8)
        cv2.putText(caption, f"true {true:+.1f}  pred {pred:+.1f} deg", (3, 13),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        images.append(np.concatenate([image, caption], axis=0))
    return np.stack(images)
