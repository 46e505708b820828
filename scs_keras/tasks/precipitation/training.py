"""Training and evaluation of the precipitation models.

* :class:`NowcastingLoss` - MSE + MAE on [0, 1] frames, optionally weighted
  by rain intensity with the HKO-7 benchmark's balanced weights (Shi et al.
  2017); :func:`persistence_loss` - its value for the persistence forecast,
  the natural ASTSGD threshold ``θ``;
* :func:`compile_forecaster` - the task's defaults (Adam 2e-3, global-norm
  clip 1, ASTSGD for the SCS model, the T¹ head's loss at weight 0.5);
* :func:`fit_forecaster` - fitting with TensorBoard scalars and radar picture
  strips (:func:`strip_images`);
* :func:`evaluate_forecaster` - MSE, MAE, SSIM, CSI and HSS of any
  forecaster (Keras model or baseline), per lead time too
  (:func:`per_lead_table`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from scs_keras.metrics.nowcasting import nowcasting_metrics
from scs_keras.units import threshold_to_unit
from scs_keras.tasks.comparison import format_table
from scs_keras.tasks.precipitation.data import with_output_names
from scs_keras.tasks.precipitation.models import FORECAST, SPATIAL, forecast_only
from scs_keras.tasks.training import compile_model, fit_model, fixed_sample, make_truncation
from scs_keras.utils.validation import check_float

__all__ = ["TABLE_THRESHOLDS", "TABLE_COLUMNS", "DEFAULT_RAIN_THRESHOLDS",
           "DEFAULT_RAIN_WEIGHTS", "rain_intensity_weights", "NowcastingLoss",
           "persistence_loss", "compile_forecaster", "strip_images", "fit_forecaster",
           "evaluate_forecaster", "per_lead_table"]

#: Reflectivity thresholds (dBZ) of the comparison table.
TABLE_THRESHOLDS = (20.0, 30.0, 40.0)
#: Metric columns of the comparison table.
TABLE_COLUMNS = ["mse", "mae", "ssim", "csi_20dbz", "csi_30dbz", "csi_40dbz",
                 "hss_20dbz", "hss_30dbz", "hss_40dbz"]
#: HKO-7 balanced-loss weights: rain rate (mm/h) bucket edges and weights.
DEFAULT_RAIN_THRESHOLDS = (2.0, 5.0, 10.0, 30.0)
DEFAULT_RAIN_WEIGHTS = (1.0, 2.0, 5.0, 10.0, 30.0)
_PACKAGE = "scs_keras.precipitation"


# ----------------------------------------------------------------------------
# Loss.
# ----------------------------------------------------------------------------


def rain_intensity_weights(y_true, thresholds=DEFAULT_RAIN_THRESHOLDS,
                           weights=DEFAULT_RAIN_WEIGHTS):
    """Per-pixel weights from the observed rain rate (HKO-7 balanced loss).

    A pixel's weight is ``weights[k]`` where ``k`` is the number of
    ``thresholds`` (mm/h, via Z = 200 R^1.6) its observed value reaches
    (``>=``).  Defaults: 1 below 2 mm/h, 2, 5, 10 from 2, 5, 10 mm/h, 30 from
    30 mm/h (Shi et al. 2017).

    Args:
        y_true: Targets on the [0, 1] scale (``dBZ = 70 x - 10``), any shape.
        thresholds: Increasing rain rates in mm/h.
        weights: ``len(thresholds) + 1`` weights.

    Returns:
        A float32 tensor shaped like ``y_true``.

    Example:

    >>> w = rain_intensity_weights(np.array([0.0, 0.6, 1.0], "float32"))
    >>> [float(v) for v in w]
    [1.0, 2.0, 30.0]
    """
    thresholds, weights = _check_weighting(thresholds, weights)
    y = tf.cast(y_true, tf.float32)
    out = tf.fill(tf.shape(y), weights[0])
    for t, wgt in zip(thresholds, weights[1:]):
        out = tf.where(y >= threshold_to_unit(t, "mm/h"), wgt, out)
    return out


def _check_weighting(thresholds, weights):
    thresholds = tuple(float(t) for t in thresholds)
    weights = tuple(float(v) for v in weights)
    if len(weights) != len(thresholds) + 1:
        raise ValueError(f"weights needs len(thresholds) + 1 = {len(thresholds) + 1} "
                         f"values; received {len(weights)}.")
    if any(t <= 0 for t in thresholds) or list(thresholds) != sorted(set(thresholds)):
        raise ValueError(f"thresholds must be increasing positive rain rates (mm/h); "
                         f"received {thresholds}.")
    if any(v < 0 for v in weights):
        raise ValueError(f"weights must be >= 0; received {weights}.")
    return thresholds, weights


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NowcastingLoss(keras.losses.Loss):
    """MSE + MAE on [0, 1] radar frames, optionally rain-intensity weighted.

    Per sample: ``mean(w · (mse_weight · (y - ŷ)² + mae_weight · |y - ŷ|))``
    over lead times and pixels, with ``w = 1`` or, when
    ``intensity_weighted``, :func:`rain_intensity_weights` of the target
    (the weights are not normalised: weighted losses are larger).

    Args:
        mse_weight: Factor of the squared error.  Default 1.
        mae_weight: Factor of the absolute error.  Default 1.
        intensity_weighted: Weight pixels by observed rain rate.
        thresholds: Rain-rate bucket edges (mm/h) for the weights.
        weights: Bucket weights (one more than ``thresholds``).
        name, reduction: As for ``keras.losses.Loss``.

    Example:

    >>> loss = NowcastingLoss()
    >>> float(loss(np.ones((1, 2, 4, 4, 1)), np.zeros((1, 2, 4, 4, 1))))
    2.0
    """

    def __init__(self, mse_weight=1.0, mae_weight=1.0, intensity_weighted=False,
                 thresholds=DEFAULT_RAIN_THRESHOLDS, weights=DEFAULT_RAIN_WEIGHTS,
                 name="nowcasting_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.mse_weight = float(mse_weight)
        self.mae_weight = float(mae_weight)
        if self.mse_weight < 0 or self.mae_weight < 0 or self.mse_weight + self.mae_weight == 0:
            raise ValueError("mse_weight and mae_weight must be >= 0 and not both 0; "
                             f"received {mse_weight}, {mae_weight}.")
        self.intensity_weighted = bool(intensity_weighted)
        self.thresholds, self.weights = _check_weighting(thresholds, weights)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.cast(y_true, y_pred.dtype)
        err = y_pred - y_true
        per_pixel = self.mse_weight * tf.square(err) + self.mae_weight * tf.abs(err)
        if self.intensity_weighted:
            per_pixel = per_pixel * tf.cast(
                rain_intensity_weights(y_true, self.thresholds, self.weights), per_pixel.dtype)
        rank = len(per_pixel.shape)
        return tf.reduce_mean(per_pixel, axis=list(range(1, rank)))

    def get_config(self):
        return {**super().get_config(), "mse_weight": self.mse_weight,
                "mae_weight": self.mae_weight, "intensity_weighted": self.intensity_weighted,
                "thresholds": list(self.thresholds), "weights": list(self.weights)}


def persistence_loss(dataset, loss=None, max_batches=None):
    """The loss of the persistence forecast on ``dataset`` (mean over batches).

    A natural ASTSGD threshold ``θ`` on the loss's own scale: the T¹ head
    sees one frame only, so persistence is about the best it can reach; once
    it does, the rate has relaxed to ``q0``.

    Args:
        dataset: Iterable of ``(inputs, targets)`` batches (targets may be a
            dict holding ``"forecast"``).
        loss: A loss callable (default :class:`NowcastingLoss`).
        max_batches: Stop after this many batches (default all).

    Returns:
        A Python float.

    Example:

    >>> theta = persistence_loss(train_ds, NowcastingLoss(), max_batches=8)
    """
    loss = loss or NowcastingLoss()
    total, count = 0.0, 0
    for i, (x, y) in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        if isinstance(y, dict):
            y = y[FORECAST]
        m = y.shape[1]
        pred = tf.repeat(x[:, -1:], m, axis=1)
        total += float(loss(y, pred))
        count += 1
    if not count:
        raise ValueError("persistence_loss() got no batches.")
    return total / count


# ----------------------------------------------------------------------------
# Compiling and fitting.
# ----------------------------------------------------------------------------


def compile_forecaster(model, learning_rate=2e-3, loss=None, truncation="astsgd",
                       threshold=None, truncation_rate=0.5, spatial_loss_weight=0.5,
                       clip_norm=1.0, metrics=None, warmup_steps=10):
    """Compiles a model of :mod:`.models` with the task's defaults.

    Every output (the forecast, the T¹ head's, the one-step head's) gets the
    same loss; the T¹ head's is weighted by ``spatial_loss_weight``.

    Args:
        model: From :func:`~scs_keras.tasks.precipitation.models.build_model`.
        learning_rate: Adam learning rate.  Default 2e-3.
        loss: Loss for every output (default :class:`NowcastingLoss`).
        truncation: For the SCS model: ``"astsgd"`` (default; ``q0 =
            truncation_rate``, ``θ = threshold``, initial loss measured over
            ``warmup_steps`` steps), ``"stsgd"`` (constant
            ``truncation_rate``), ``"none"``, a schedule instance, or
            ``None`` (every cell keeps the rate it was built with).  Ignored
            for the ConvLSTM model, which has no SCS cells.
        threshold: ASTSGD's ``θ`` on the loss's scale, e.g.
            :func:`persistence_loss` of the training data (the library
            default θ = 1 is far above an MSE + MAE on [0, 1] frames and
            would pin the rate at ``q0``).
        truncation_rate: ASTSGD's ``q0`` or STSGD's rate.  Default 0.5.
        spatial_loss_weight: Weight of the T¹ head's loss (0 still lets
            ASTSGD read it).  Default 0.5.
        clip_norm: Global gradient-norm clip (``None``: none).
        metrics: Metrics of the ``"forecast"`` output.
        warmup_steps: ASTSGD warm-up steps.

    Returns:
        The model, compiled in place.

    Raises:
        ValueError: ``"astsgd"`` without ``threshold`` or without the T¹ head.

    Example:

    >>> from scs_keras.tasks.precipitation.models import build_scs_forecaster
    >>> model = compile_forecaster(build_scs_forecaster(5, 5, 32), threshold=0.05)
    """
    loss = loss or NowcastingLoss()
    names = list(model.output.keys())
    truncation = make_truncation(truncation, truncation_rate, threshold, main_output=FORECAST,
                                 spatial_output=SPATIAL, warmup_steps=warmup_steps, model=model)
    spatial_loss_weight = check_float("spatial_loss_weight", spatial_loss_weight, 0.0)
    loss_weights = {n: (spatial_loss_weight if n == SPATIAL else 1.0) for n in names}
    return compile_model(model, {n: loss for n in names}, learning_rate,
                         loss_weights=loss_weights,
                         metrics={FORECAST: list(metrics)} if metrics else None,
                         truncation=truncation, clip_norm=clip_norm)


def _strip(frames, gap=2):
    """(T, H, W, 1) -> (H, T*W + (T-1)*gap, 1), frames side by side."""
    t, h, _, _ = frames.shape
    sep = np.ones((h, gap, 1), np.float32)
    parts = []
    for i in range(t):
        if i:
            parts.append(sep)
        parts.append(np.asarray(frames[i], np.float32))
    return np.concatenate(parts, axis=1)


def strip_images(inputs, targets, predictions):
    """TensorBoard pictures: radar input, target and prediction strips.

    Args:
        inputs: ``(B, N, H, W, 1)`` observed frames on [0, 1].
        targets: ``(B, M, H, W, 1)`` observed future frames.
        predictions: ``(B, M, H, W, 1)`` forecast.

    Returns:
        ``{"radar/input": (B, H, ·, 1), "radar/target": ...,
        "radar/prediction": ..., "radar/panel": ...}``: strips of frames
        side by side (white gaps), and a panel stacking the three rows
        (input on top, then target, then prediction).

    Example:

    >>> imgs = strip_images(np.zeros((1, 3, 8, 8, 1)), np.zeros((1, 2, 8, 8, 1)),
    ...                     np.zeros((1, 2, 8, 8, 1)))
    >>> imgs["radar/input"].shape
    (1, 8, 28, 1)
    """
    inputs, targets, predictions = (np.clip(np.asarray(a, np.float32), 0, 1)
                                    for a in (inputs, targets, predictions))
    out = {"radar/input": np.stack([_strip(s) for s in inputs]),
           "radar/target": np.stack([_strip(s) for s in targets]),
           "radar/prediction": np.stack([_strip(s) for s in predictions])}
    width = max(v.shape[2] for v in out.values())
    rows = []
    for key in ("radar/input", "radar/target", "radar/prediction"):
        v = out[key]
        pad = np.zeros(v.shape[:2] + (width - v.shape[2], 1), np.float32)
        rows.append(np.concatenate([v, pad], axis=2))
        rows.append(np.ones(v.shape[:1] + (2, width, 1), np.float32))
    out["radar/panel"] = np.concatenate(rows[:-1], axis=1)
    return out


def fit_forecaster(model, train_ds, epochs, val_ds=None, logdir=None, sample=None,
                   verbose=2):
    """Fits a compiled forecaster on ``(inputs, targets)`` batches.

    Args:
        model: A compiled model of :mod:`.models`.
        train_ds: ``(inputs, targets)`` batches (targets a tensor; every
            output's target is attached by
            :func:`~scs_keras.tasks.precipitation.data.with_output_names`).
        epochs: Positive int.
        val_ds: Optional validation batches (same form).
        logdir: TensorBoard folder: scalars (losses, metrics,
            ``truncation_rate``) and picture strips (:func:`strip_images`)
            of ``sample`` every epoch.
        sample: ``(inputs, targets)`` NumPy arrays to draw (default: the
            first 3 windows of ``val_ds``).
        verbose: ``fit`` verbosity.

    Returns:
        The Keras ``History``.
    """
    names = list(model.output.keys())
    train = with_output_names(train_ds, names)
    val = with_output_names(val_ds, names) if val_ds is not None else None
    render = None
    if logdir and (sample is not None or val_ds is not None):
        sx, sy = sample if sample is not None else fixed_sample(val_ds)
        render = lambda m: strip_images(  # noqa: E731
            sx, sy, np.asarray(m(sx, training=False)[FORECAST]))

    return fit_model(model, train, epochs, val_ds=val, logdir=logdir, render_fn=render,
                     verbose=verbose)


# ----------------------------------------------------------------------------
# Evaluation.
# ----------------------------------------------------------------------------


def _predict_fn(model):
    if isinstance(model, keras.Model):
        predictor = forecast_only(model)
        fn = tf.function(lambda x: predictor(x, training=False), reduce_retracing=True)
        return lambda x: fn(tf.convert_to_tensor(x, tf.float32)).numpy()
    if hasattr(model, "forecast"):
        return model.forecast
    raise TypeError(f"Cannot forecast with {model!r}.")


def evaluate_forecaster(model, dataset, target_frames, thresholds=TABLE_THRESHOLDS):
    """Scores a forecaster (Keras model or baseline) on ``dataset``.

    Metrics (:mod:`scs_keras.metrics.nowcasting`): MSE, MAE and SSIM on the
    [0, 1] scale, CSI and HSS at each threshold (dBZ), each averaged over
    lead times, plus the per-lead MSE and CSI at 30 dBZ (or the middle
    threshold).

    Args:
        model: Keras model from this module, or a baseline with
            ``forecast(inputs)``.
        dataset: ``(inputs, targets)`` batches.
        target_frames: ``M``.
        thresholds: dBZ thresholds.

    Returns:
        A dict: ``mse``, ``mae``, ``ssim``, ``csi_<t>dbz``, ``hss_<t>dbz``
        (floats) and ``per_lead`` (``{"mse": [...], "csi_30dbz": [...]}``).

    Example:

    >>> scores = evaluate_forecaster(PersistenceModel(5), test_ds, 5)  # doctest: +SKIP
    """
    predict = _predict_fn(model)
    metrics = None
    for x, y in dataset:
        if metrics is None:
            size = min(11, int(y.shape[2]), int(y.shape[3]))
            metrics = nowcasting_metrics(lead_times=target_frames, thresholds=thresholds,
                                         scores=("csi", "hss"),
                                         continuous=("mse", "mae", "ssim"),
                                         ssim_filter_size=size)
        pred = predict(np.asarray(x))
        for m in metrics:
            m.update_state(y, pred)
    if metrics is None:
        raise ValueError("evaluate_forecaster() got an empty dataset.")
    out = {m.name: float(m.result()) for m in metrics}
    by_name = {m.name: m for m in metrics}
    mid = f"csi_{thresholds[len(thresholds) // 2]:g}dbz"
    out["per_lead"] = {key: [float(v) for v in np.asarray(by_name[key].result_per_lead())]
                       for key in ("mse", mid) if key in by_name}
    return out


def per_lead_table(rows, key="mse"):
    """A Markdown table of one per-lead score: one row per model.

    Args:
        rows: Rows from :func:`compare`.
        key: ``"mse"`` or ``"csi_30dbz"``.

    Returns:
        A Markdown string with columns ``model``, ``lead 1`` ... ``lead M``
        (6-minute steps).
    """
    leads = max(len(r["per_lead"].get(key, [])) for r in rows)
    columns = ["model"] + [f"+{6 * (i + 1)} min" for i in range(leads)]
    table = []
    for r in rows:
        values = r["per_lead"].get(key, [])
        table.append({"model": r["model"],
                      **{columns[i + 1]: float(v) for i, v in enumerate(values)}})
    return format_table(table, columns)
