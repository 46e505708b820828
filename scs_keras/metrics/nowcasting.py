"""Keras 3 metrics for precipitation nowcasting: skill scores per lead time.

Forecasts and targets are sequences shaped ``(batch, lead, H, W, 1)`` on the
readers' [0, 1] scale (``dBZ = 70 x - 10``, see :mod:`scs_keras.units`).

**Contingency scores** (:class:`CSI`, :class:`HSS`, :class:`POD`,
:class:`FAR`).  A pixel is an *event* when its value is at or above the
threshold (``>=``).  Thresholds are given in dBZ (default) or in rain rate
(``threshold_units="mm/h"``, converted through Z = 200 R^1.6) and mapped to
the [0, 1] scale once.  The metrics accumulate the counts TP (hits), FP
(false alarms), FN (misses) and TN (correct negatives) per lead time over all
batches, and compute the score from the totals in ``result()``; they never
average per-batch scores.  With ``o = TP + FN`` (observed) etc.:

- POD = TP / (TP + FN)
- FAR = FP / (TP + FP)
- CSI = TP / (TP + FP + FN)
- HSS = 2 (TP TN - FN FP) / ((TP + FN)(FN + TN) + (TP + FP)(FP + TN))

**0/0.**  When a score's denominator is 0 (e.g. POD with no observed event,
FAR with no forecast event, CSI with neither), the score is undefined and is
returned as ``zero_division`` -- NaN by default, so that "undefined" is never
mistaken for a perfect or a worthless forecast.  Pass ``zero_division=0.0``
(or 1.0) to choose a number instead.

**Per lead time and averaged.**  With ``lead_times=M`` the state has one set
of counts per lead time.  ``result()`` returns the mean over lead times of
the per-lead scores, skipping undefined (NaN) leads (NaN if all are);
``per_lead=True`` returns the vector of per-lead scores, and ``lead_time=k``
the score of lead ``k`` alone; :meth:`result_per_lead` always gives the
vector.  With ``lead_times=None`` all lead times are pooled into one table.

**Continuous scores** (:class:`NowcastMSE`, :class:`NowcastMAE`,
:class:`NowcastSSIM`) use the same per-lead state and reductions.  MSE / MAE
accumulate sums of errors and pixel counts; ``units`` reports them on the
[0, 1] scale (default), in grey levels (``"pixel"``, x255) or dBZ (x70).
SSIM is ``tf.image.ssim`` (``max_val=1``) per image, accumulated as a sum and
an image count per lead.

``sample_weight`` may be ``(batch,)``, ``(batch, lead)``, or a mask
broadcastable to ``(batch, lead, H, W, 1)`` (SSIM: the first two only); the
counts then become weighted sums.

Example:
    >>> model.compile(optimizer="adam", loss="mse",
    ...               metrics=nowcasting_metrics(lead_times=10))
    >>> csi = CSI(30.0, lead_times=10, per_lead=True)
    >>> csi.update_state(y_true, y_pred); csi.result()     # shape (10,)
"""

from __future__ import annotations

import math
import re

import keras
import numpy as np
import tensorflow as tf

from scs_keras.units import canonical_threshold_units, threshold_to_unit, unit_bounds

_SCORES = ("csi", "hss", "pod", "far")
# Default metric names: "csi_30dbz", "csi_2mmh", "csi_0p5".
_NAME_SUFFIX = {"dbz": "dbz", "mm/h": "mmh", "unit": ""}


def _parse_zero_division(value) -> float:
    if isinstance(value, str):
        if value.lower() != "nan":
            raise ValueError(f"zero_division must be a number or 'nan', got {value!r}")
        return float("nan")
    return float(value)


def _safe_div(num, den, fill):
    """num / den where den > 0, else ``fill`` (0/0 handled explicitly)."""
    ok = den > 0
    return tf.where(ok, num / tf.where(ok, den, tf.ones_like(den)), tf.cast(fill, num.dtype))


def _nanmean(x):
    """Mean of the non-NaN entries; NaN when there are none."""
    finite = tf.logical_not(tf.math.is_nan(x))
    total = tf.reduce_sum(tf.where(finite, x, tf.zeros_like(x)))
    count = tf.reduce_sum(tf.cast(finite, x.dtype))
    return tf.where(count > 0, total / tf.maximum(count, 1), tf.constant(np.nan, x.dtype))


def _label(value: float) -> str:
    return f"{value:g}".replace(".", "p").replace("-", "m")


class _SequenceMetric(keras.metrics.Metric):
    """Shared plumbing: per-lead float64 state, input checks, reductions."""

    def __init__(self, lead_times=None, lead_time=None, per_lead=False,
                 zero_division="nan", name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        if lead_times is not None:
            if isinstance(lead_times, bool) or not isinstance(lead_times, (int, np.integer)) \
                    or lead_times < 1:
                raise ValueError(f"lead_times must be a positive int or None, got {lead_times!r}")
            lead_times = int(lead_times)
        if (lead_time is not None or per_lead) and lead_times is None:
            raise ValueError("lead_time= and per_lead=True need lead_times= (the number of "
                             "lead times) to keep per-lead counts")
        if lead_time is not None and per_lead:
            raise ValueError("Pass either lead_time= or per_lead=True, not both")
        if lead_time is not None:
            if not isinstance(lead_time, (int, np.integer)) \
                    or not -lead_times <= lead_time < lead_times:
                raise ValueError(f"lead_time must be an int in [-{lead_times}, {lead_times}), "
                                 f"got {lead_time!r}")
            lead_time = int(lead_time)
        self.lead_times = lead_times
        self.lead_time = lead_time
        self.per_lead = bool(per_lead)
        self.zero_division = zero_division
        self._fill = _parse_zero_division(zero_division)
        self._slots = lead_times or 1

    def _state(self, name):
        # float64 counts stay exact up to 2**53 pixels, far beyond any test set.
        return self.add_variable(shape=(self._slots,), initializer="zeros", dtype="float64",
                                 name=name)

    def _prepare(self, y_true, y_pred):
        y_true = tf.convert_to_tensor(y_true)
        y_pred = tf.convert_to_tensor(y_pred)
        if y_true.shape.rank != 5 or y_pred.shape.rank != 5:
            raise ValueError(
                f"{self.name} expects (batch, lead, H, W, 1) tensors, got shapes "
                f"{y_true.shape} and {y_pred.shape}")
        y_true = tf.cast(y_true, tf.float32)
        y_pred = tf.cast(y_pred, tf.float32)
        if y_true.shape.is_fully_defined() and y_pred.shape.is_fully_defined() \
                and y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true {y_true.shape} and y_pred {y_pred.shape} differ")
        if self.lead_times is not None:
            lead = y_true.shape[1]
            if lead is not None and lead != self.lead_times:
                raise ValueError(f"{self.name} was built for lead_times={self.lead_times}, "
                                 f"got {lead} lead times")
        return y_true, y_pred

    def _pixel_weights(self, sample_weight, like):
        """Broadcast sample_weight to the full (batch, lead, H, W, 1) shape."""
        if sample_weight is None:
            return None
        w = tf.cast(tf.convert_to_tensor(sample_weight), tf.float64)
        rank = w.shape.rank
        if rank in (1, 2):
            w = tf.reshape(w, tf.concat([tf.shape(w), tf.ones([5 - rank], tf.int32)], 0))
        return tf.broadcast_to(w, tf.shape(like))

    def _reduce(self, x):
        """Sum a (batch, lead, ...) float64 tensor to the per-lead state shape."""
        if self.lead_times is None:
            return tf.reshape(tf.reduce_sum(x), [1])
        axes = [0] + list(range(2, x.shape.rank))
        return tf.reduce_sum(x, axis=axes)

    def _per_lead(self):
        raise NotImplementedError

    def result_per_lead(self):
        """Scores per lead time (one entry if ``lead_times`` is None).

        Returns:
            A float tensor of shape ``(lead_times,)``.
        """
        return tf.cast(self._per_lead(), self.dtype)

    def result(self):
        scores = self._per_lead()
        if self.lead_time is not None:
            out = scores[self.lead_time]
        elif self.per_lead:
            out = scores
        else:
            out = _nanmean(scores)
        return tf.cast(out, self.dtype)

    def reset_state(self):
        for v in self.variables:
            v.assign(tf.zeros(v.shape, dtype=v.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(lead_times=self.lead_times, lead_time=self.lead_time,
                      per_lead=self.per_lead,
                      zero_division=("nan" if isinstance(self.zero_division, float)
                                     and math.isnan(self.zero_division) else self.zero_division))
        return config


@keras.saving.register_keras_serializable(package="scs_keras")
class ContingencyScore(_SequenceMetric):
    """A contingency-table score (CSI, HSS, POD or FAR) at one threshold.

    Args:
        score: ``"csi"``, ``"hss"``, ``"pod"`` or ``"far"``.
        threshold: event threshold (``value >= threshold`` is an event).
        lead_times: number of lead times M to keep separate counts for
            (None: pool all lead times into one table).
        lead_time: report only this lead (index into ``range(M)``).
        per_lead: report the vector of per-lead scores.
        threshold_units: ``"dbz"`` (default), ``"mm/h"`` or ``"unit"``.
        zero_division: value of an undefined (0/0) score: ``"nan"``
            (default) or a number.
        name: metric name (default e.g. ``"csi_30dbz"``).
        dtype: result dtype.

    Example:
        >>> m = ContingencyScore("csi", 30.0, lead_times=2)
        >>> m.update_state(y_true, y_pred)
        >>> m.result_counts()["tp"]          # per-lead hits
    """

    def __init__(self, score="csi", threshold=30.0, lead_times=None, lead_time=None,
                 per_lead=False, threshold_units="dbz", zero_division="nan", name=None,
                 dtype="float32"):
        score = str(score).lower()
        if score not in _SCORES:
            raise ValueError(f"score must be one of {_SCORES}, got {score!r}")
        if isinstance(threshold, (list, tuple, np.ndarray)):
            raise TypeError("threshold must be a single number; make one metric per threshold "
                            "(see nowcasting_metrics)")
        unit_t = threshold_to_unit(threshold, threshold_units)
        if name is None:
            suffix = _NAME_SUFFIX[canonical_threshold_units(threshold_units)]
            name = f"{score}_{_label(float(threshold))}{suffix}"
            if lead_time is not None:
                name += f"_lead{lead_time}"
        super().__init__(lead_times, lead_time, per_lead, zero_division, name, dtype)
        self.score = score
        self.threshold = float(threshold)
        self.threshold_units = threshold_units
        self.unit_threshold = unit_t
        self.tp = self._state("tp")
        self.fp = self._state("fp")
        self.fn = self._state("fn")
        self.tn = self._state("tn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's hits, false alarms, misses and correct negatives.

        Args:
            y_true: observed sequence ``(batch, lead, H, W, 1)`` on [0, 1].
            y_pred: forecast of the same shape.
            sample_weight: optional weights or mask (see the module docstring).
        """
        y_true, y_pred = self._prepare(y_true, y_pred)
        obs = y_true >= self.unit_threshold
        fc = y_pred >= self.unit_threshold
        w = self._pixel_weights(sample_weight, y_true)

        def count(mask):
            m = tf.cast(mask, tf.float64)
            return self._reduce(m if w is None else m * w)

        self.tp.assign_add(count(obs & fc))
        self.fp.assign_add(count(~obs & fc))
        self.fn.assign_add(count(obs & ~fc))
        self.tn.assign_add(count(~obs & ~fc))

    def result_counts(self):
        """The accumulated contingency table.

        Returns:
            dict ``{"tp", "fp", "fn", "tn"}`` of float64 tensors, one entry
            per lead time (one entry in all if ``lead_times`` is None).
        """
        return {"tp": tf.convert_to_tensor(self.tp), "fp": tf.convert_to_tensor(self.fp),
                "fn": tf.convert_to_tensor(self.fn), "tn": tf.convert_to_tensor(self.tn)}

    def _per_lead(self):
        tp, fp, fn, tn = (tf.convert_to_tensor(v) for v in (self.tp, self.fp, self.fn, self.tn))
        fill = self._fill
        if self.score == "csi":
            return _safe_div(tp, tp + fp + fn, fill)
        if self.score == "pod":
            return _safe_div(tp, tp + fn, fill)
        if self.score == "far":
            return _safe_div(fp, tp + fp, fill)
        den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
        return _safe_div(2.0 * (tp * tn - fn * fp), den, fill)

    def get_config(self):
        config = super().get_config()
        config.update(score=self.score, threshold=self.threshold,
                      threshold_units=self.threshold_units)
        return config


class _FixedScore(ContingencyScore):
    """A ContingencyScore whose score is fixed by the subclass."""

    _score = "csi"

    def __init__(self, threshold=30.0, lead_times=None, lead_time=None, per_lead=False,
                 threshold_units="dbz", zero_division="nan", name=None, dtype="float32",
                 **kwargs):
        # get_config() of the parent stores "score"; accept it when reloading.
        score = kwargs.pop("score", self._score)
        if kwargs:
            raise TypeError(f"Unexpected argument(s) {sorted(kwargs)}")
        if score != self._score:
            raise ValueError(f"{type(self).__name__} computes {self._score!r}, not {score!r}")
        super().__init__(self._score, threshold, lead_times, lead_time, per_lead,
                         threshold_units, zero_division, name, dtype)


# CSI, HSS, POD and FAR take the same arguments: their docstrings share one
# Args section, written in where each has ``{args}``, so that it cannot drift.
_FIXED_SCORE_ARGS = (
    "Args:",
    "    threshold: event threshold (``>=``), in ``threshold_units``.",
    "    lead_times: number of lead times M (None: pool all lead times).",
    "    lead_time: report only lead ``k``.",
    "    per_lead: report the per-lead vector.",
    "    threshold_units: ``\"dbz\"`` (default), ``\"mm/h\"`` or ``\"unit\"``.",
    "    zero_division: value of a 0/0 score (``\"nan\"`` by default).",
    "    name: metric name (default ``\"{score}_30dbz\"``).",
    "    dtype: result dtype.",
)


def _with_fixed_score_args(cls):
    """Class decorator: replaces the ``{args}`` line of ``cls``'s docstring
    with :data:`_FIXED_SCORE_ARGS`, at that line's indentation (docstrings
    keep their source indentation before Python 3.13 and lose it after)."""
    if cls.__doc__ is None:  # python -OO strips docstrings
        return cls
    line = re.search(r"^( *)\{args\}$", cls.__doc__, flags=re.M)
    indent = line.group(1)
    args = "\n".join(indent + text.format(score=cls._score) for text in _FIXED_SCORE_ARGS)
    cls.__doc__ = cls.__doc__[:line.start()] + args + cls.__doc__[line.end():]
    return cls


@keras.saving.register_keras_serializable(package="scs_keras")
@_with_fixed_score_args
class CSI(_FixedScore):
    """Critical success index TP / (TP + FP + FN), per lead time.

    {args}

    Example:
        >>> m = CSI(30.0, lead_times=10)
        >>> m.update_state(y_true, y_pred)
        >>> float(m.result())               # mean over lead times
    """

    _score = "csi"


@keras.saving.register_keras_serializable(package="scs_keras")
@_with_fixed_score_args
class HSS(_FixedScore):
    """Heidke skill score, per lead time.

    ``HSS = 2 (TP TN - FN FP) / ((TP + FN)(FN + TN) + (TP + FP)(FP + TN))``:
    1 is perfect, 0 no better than chance, negative worse.

    {args}

    Example:
        >>> m = HSS(0.5, lead_times=10, threshold_units="mm/h", per_lead=True)
    """

    _score = "hss"


@keras.saving.register_keras_serializable(package="scs_keras")
@_with_fixed_score_args
class POD(_FixedScore):
    """Probability of detection (hit rate) TP / (TP + FN), per lead time.

    {args}

    Example:
        >>> m = POD(40.0, lead_times=10, lead_time=0)
    """

    _score = "pod"


@keras.saving.register_keras_serializable(package="scs_keras")
@_with_fixed_score_args
class FAR(_FixedScore):
    """False alarm ratio FP / (TP + FP), per lead time (lower is better).

    {args}

    Example:
        >>> m = FAR(30.0)          # lead times pooled
    """

    _score = "far"


class _ErrorMetric(_SequenceMetric):
    """Mean of a pointwise error per lead time (MSE or MAE)."""

    _power = 2
    _prefix = "mse"

    def __init__(self, lead_times=None, lead_time=None, per_lead=False, units="unit",
                 zero_division="nan", name=None, dtype="float32"):
        low, high = unit_bounds(units)  # raises for unknown units
        units = str(units).lower()
        if name is None:
            name = self._prefix + ("" if units == "unit" else f"_{units}") + \
                (f"_lead{lead_time}" if lead_time is not None else "")
        super().__init__(lead_times, lead_time, per_lead, zero_division, name, dtype)
        self.units = units
        # An error (a difference) of e on the [0, 1] scale is e * (high - low).
        self._scale = (high - low) ** self._power
        self.total = self._state("total")
        self.count = self._state("count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's summed errors and pixel counts per lead time.

        Args:
            y_true: observed sequence ``(batch, lead, H, W, 1)`` on [0, 1].
            y_pred: forecast of the same shape.
            sample_weight: optional weights or mask.
        """
        y_true, y_pred = self._prepare(y_true, y_pred)
        diff = tf.cast(y_pred, tf.float64) - tf.cast(y_true, tf.float64)
        err = tf.square(diff) if self._power == 2 else tf.abs(diff)
        w = self._pixel_weights(sample_weight, y_true)
        if w is None:
            w = tf.ones_like(err)
        self.total.assign_add(self._reduce(err * w))
        self.count.assign_add(self._reduce(w))

    def _per_lead(self):
        mean = _safe_div(tf.convert_to_tensor(self.total), tf.convert_to_tensor(self.count),
                         self._fill)
        return mean * self._scale

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config


@keras.saving.register_keras_serializable(package="scs_keras")
class NowcastMSE(_ErrorMetric):
    """Mean squared error per lead time, accumulated over batches.

    Args:
        lead_times: number of lead times M (None: pool all).
        lead_time: report only lead ``k``.
        per_lead: report the per-lead vector.
        units: ``"unit"`` ([0, 1] scale, default), ``"pixel"`` (x255) or
            ``"dbz"`` (x70): errors are reported in these units (squared).
        zero_division: value when nothing was accumulated (``"nan"``).
        name: metric name (default ``"mse"``).
        dtype: result dtype.

    Example:
        >>> m = NowcastMSE(lead_times=10, per_lead=True)
        >>> m.update_state(y_true, y_pred); m.result()       # (10,)
    """

    _power = 2
    _prefix = "mse"


@keras.saving.register_keras_serializable(package="scs_keras")
class NowcastMAE(_ErrorMetric):
    """Mean absolute error per lead time, accumulated over batches.

    Args:
        lead_times: number of lead times M (None: pool all).
        lead_time: report only lead ``k``.
        per_lead: report the per-lead vector.
        units: ``"unit"`` (default), ``"pixel"`` (x255) or ``"dbz"`` (x70).
        zero_division: value when nothing was accumulated (``"nan"``).
        name: metric name (default ``"mae"``).
        dtype: result dtype.

    Example:
        >>> m = NowcastMAE(lead_times=10, lead_time=0)   # first lead only
    """

    _power = 1
    _prefix = "mae"


@keras.saving.register_keras_serializable(package="scs_keras")
class NowcastSSIM(_SequenceMetric):
    """Structural similarity per lead time (``tf.image.ssim``, max_val = 1).

    Each ``(H, W, 1)`` frame is one SSIM value; the metric accumulates their
    sum and count per lead time and returns the mean.  Frames must be at
    least ``filter_size`` pixels on each side.

    Args:
        lead_times: number of lead times M (None: pool all).
        lead_time: report only lead ``k``.
        per_lead: report the per-lead vector.
        filter_size: SSIM Gaussian window size (default 11).
        filter_sigma: its standard deviation (default 1.5).
        zero_division: value when nothing was accumulated (``"nan"``).
        name: metric name (default ``"ssim"``).
        dtype: result dtype.

    Example:
        >>> m = NowcastSSIM(lead_times=10)
        >>> m.update_state(y, y); float(m.result())
        1.0
    """

    def __init__(self, lead_times=None, lead_time=None, per_lead=False, filter_size=11,
                 filter_sigma=1.5, zero_division="nan", name=None, dtype="float32"):
        if name is None:
            name = "ssim" + (f"_lead{lead_time}" if lead_time is not None else "")
        super().__init__(lead_times, lead_time, per_lead, zero_division, name, dtype)
        if not isinstance(filter_size, (int, np.integer)) or filter_size < 1:
            raise ValueError(f"filter_size must be a positive int, got {filter_size!r}")
        self.filter_size = int(filter_size)
        self.filter_sigma = float(filter_sigma)
        self.total = self._state("total")
        self.count = self._state("count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's per-frame SSIM values per lead time.

        Args:
            y_true: observed sequence ``(batch, lead, H, W, 1)`` on [0, 1].
            y_pred: forecast of the same shape.
            sample_weight: optional ``(batch,)`` or ``(batch, lead)`` weights.
        """
        y_true, y_pred = self._prepare(y_true, y_pred)
        h, w = y_true.shape[2], y_true.shape[3]
        if (h is not None and h < self.filter_size) or (w is not None and w < self.filter_size):
            raise ValueError(f"{self.name}: frames of {h}x{w} are smaller than filter_size="
                             f"{self.filter_size}; pass a smaller filter_size")
        shape = tf.shape(y_true)
        flat = tf.concat([[shape[0] * shape[1]], shape[2:]], 0)
        ssim = tf.image.ssim(tf.reshape(y_true, flat), tf.reshape(y_pred, flat), max_val=1.0,
                             filter_size=self.filter_size, filter_sigma=self.filter_sigma)
        ssim = tf.reshape(tf.cast(ssim, tf.float64), shape[:2])
        if sample_weight is None:
            wts = tf.ones_like(ssim)
        else:
            wts = tf.cast(tf.convert_to_tensor(sample_weight), tf.float64)
            if wts.shape.rank not in (1, 2):
                raise ValueError(f"{self.name}: sample_weight must be (batch,) or (batch, lead), "
                                 f"got shape {wts.shape}")
            if wts.shape.rank == 1:
                wts = wts[:, None]
            wts = tf.broadcast_to(wts, tf.shape(ssim))
        self.total.assign_add(self._reduce(ssim * wts))
        self.count.assign_add(self._reduce(wts))

    def _per_lead(self):
        return _safe_div(tf.convert_to_tensor(self.total), tf.convert_to_tensor(self.count),
                         self._fill)

    def get_config(self):
        config = super().get_config()
        config.update(filter_size=self.filter_size, filter_sigma=self.filter_sigma)
        return config


def nowcasting_metrics(
    lead_times=None,
    thresholds=(20.0, 30.0, 40.0),
    scores=("csi", "hss", "pod", "far"),
    threshold_units="dbz",
    continuous=("mse", "mae", "ssim"),
    ssim_filter_size=11,
):
    """A standard metric list for ``model.compile`` or baseline evaluation.

    Args:
        lead_times: number of lead times M (None: pool lead times).
        thresholds: event thresholds (dBZ by default).
        scores: contingency scores to include.
        threshold_units: units of ``thresholds``.
        continuous: any of ``"mse"``, ``"mae"``, ``"ssim"``.
        ssim_filter_size: SSIM window (reduce it for frames under 11 pixels).

    Returns:
        A list of metric instances, each reporting its mean over lead times.

    Example:
        >>> metrics = nowcasting_metrics(lead_times=10, thresholds=(20, 30, 40))
        >>> [m.name for m in metrics][:2]
        ['csi_20dbz', 'hss_20dbz']
    """
    classes = {"csi": CSI, "hss": HSS, "pod": POD, "far": FAR}
    out = []
    for t in thresholds:
        for s in scores:
            if s not in classes:
                raise ValueError(f"Unknown score {s!r}; choose from {sorted(classes)}")
            out.append(classes[s](t, lead_times=lead_times, threshold_units=threshold_units))
    known = {"mse": lambda: NowcastMSE(lead_times=lead_times),
             "mae": lambda: NowcastMAE(lead_times=lead_times),
             "ssim": lambda: NowcastSSIM(lead_times=lead_times, filter_size=ssim_filter_size)}
    for c in continuous:
        if c not in known:
            raise ValueError(f"Unknown continuous metric {c!r}; choose from {sorted(known)}")
        out.append(known[c]())
    return out


__all__ = [
    "ContingencyScore", "CSI", "HSS", "POD", "FAR",
    "NowcastMSE", "NowcastMAE", "NowcastSSIM", "nowcasting_metrics",
]
