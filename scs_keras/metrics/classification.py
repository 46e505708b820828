"""Classification metrics for action recognition: top-k accuracy and mAP.

* :class:`TopKAccuracy` - top-1 / top-5 accuracy from integer labels.  A thin
  subclass of ``keras.metrics.SparseTopKCategoricalAccuracy`` (so it inherits
  its batch accumulation and TF-graph behaviour) with readable default names
  (``"top1_accuracy"``, ``"top5_accuracy"``).  Ties follow ``tf.math.in_top_k``:
  classes whose score equals the k-th largest all count as "in the top k"
  (optimistic; irrelevant for real-valued network outputs).
* :class:`MeanAveragePrecision` - mean over classes of the one-vs-rest average
  precision computed from *all* accumulated scores, exactly as
  ``sklearn.metrics.average_precision_score`` (non-interpolated:
  ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds, tied
  scores forming one threshold).  Classes without a positive sample in the
  accumulated data are excluded from the mean (their AP is undefined; sklearn
  would warn and score them 0).  Note: the authors' PyTorch code uses the
  *interpolated* AP (precision made monotone), which can only be higher.
* :func:`clip_log_scores` - clip score = mean of the per-frame log-probabilities:
  over all frames at test, over the second half (frames ``T // 2 ..``) in
  training, as in the authors' code.
* :func:`average_precision` / :func:`mean_average_precision` - NumPy versions
  for offline evaluation and for checking the metric.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from scs_keras.utils.validation import check_int, one_of, positive_int

__all__ = [
    "TopKAccuracy",
    "MeanAveragePrecision",
    "clip_log_scores",
    "average_precision",
    "mean_average_precision",
]


@keras.saving.register_keras_serializable(package="scs_keras")
class TopKAccuracy(keras.metrics.SparseTopKCategoricalAccuracy):
    """Top-k accuracy from integer labels, accumulated over batches.

    Args:
        k: How many top-scored classes count as a hit (1 = ordinary accuracy).
        name: Metric name; default ``f"top{k}_accuracy"``.
        dtype: Result dtype.

    ``update_state(y_true, y_pred, sample_weight=None)`` takes labels ``(B,)``
    or ``(B, 1)`` and scores ``(B, C)`` (probabilities, log-probabilities or
    logits - only the ranking matters).

    Example:
        >>> m = TopKAccuracy(k=1)
        >>> m.update_state([2, 0], [[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, k: int = 5, name: Optional[str] = None, dtype=None, **kwargs):
        k = positive_int("k", k)
        super().__init__(k=k, name=name or f"top{k}_accuracy", dtype=dtype, **kwargs)


@keras.saving.register_keras_serializable(package="scs_keras")
class MeanAveragePrecision(keras.metrics.Metric):
    """Mean one-vs-rest average precision over classes, accumulated over batches.

    All scores and labels are kept (AP needs the full ranking), in a
    preallocated buffer of ``max_samples`` rows: memory is
    ``max_samples * num_classes * 4`` bytes (UCF-101 test split: 3,783 x 101).
    Going past ``max_samples`` raises ``tf.errors.InvalidArgumentError`` rather
    than silently dropping samples; raise ``max_samples`` for Kinetics (~20k).

    Args:
        num_classes: Number of classes ``C``.
        max_samples: Capacity of the buffer (samples accumulated between resets).
        from_logits: Apply a softmax to ``y_pred`` first.  Only needed for raw
            logits: AP ranks each class's column, and probabilities and
            log-probabilities rank identically.
        name: Metric name.
        dtype: Result dtype.

    ``update_state(y_true, y_pred, sample_weight=None)``: ``y_true`` integer
    labels ``(B,)``/``(B, 1)`` or one-hot ``(B, C)``; ``y_pred`` scores
    ``(B, C)``.  ``sample_weight`` is not supported (AP has no standard
    weighting here) and raises.

    Example:
        >>> m = MeanAveragePrecision(num_classes=2, max_samples=16)
        >>> m.update_state([0, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        >>> float(m.result())
        1.0
    """

    def __init__(self, num_classes: int, max_samples: int = 32768, from_logits: bool = False,
                 name: str = "mAP", dtype=None):
        num_classes = positive_int("num_classes", num_classes)
        max_samples = positive_int("max_samples", max_samples)
        super().__init__(name=name, dtype=dtype)
        self.num_classes = num_classes
        self.max_samples = max_samples
        self.from_logits = bool(from_logits)
        self.scores = self.add_variable(shape=(self.max_samples, self.num_classes),
                                        initializer="zeros", dtype="float32", name="scores")
        self.labels = self.add_variable(shape=(self.max_samples,), initializer="zeros",
                                        dtype="int32", name="labels")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="int32", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Append a batch of labels and scores (see the class docstring)."""
        if sample_weight is not None:
            raise ValueError("MeanAveragePrecision does not support sample_weight")
        c = self.num_classes
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.convert_to_tensor(y_true)
        if y_pred.shape.rank is not None and y_pred.shape.rank != 2:
            raise ValueError(f"y_pred must be (batch, {c}) scores, got shape {y_pred.shape}")
        if y_pred.shape[-1] is not None and y_pred.shape[-1] != c:
            raise ValueError(f"y_pred has {y_pred.shape[-1]} classes, metric expects {c}")
        y_pred = tf.cast(y_pred, tf.float32)
        if self.from_logits:
            y_pred = tf.nn.softmax(y_pred, axis=-1)
        if y_true.shape.rank == 2 and y_true.shape[-1] == c and c > 1:
            y_true = tf.argmax(y_true, axis=-1)  # one-hot
        y_true = tf.reshape(tf.cast(y_true, tf.int32), [-1])
        n = tf.shape(y_pred)[0]
        start = tf.convert_to_tensor(self.count)
        checks = [
            tf.debugging.assert_equal(tf.shape(y_true)[0], n,
                                      message="y_true and y_pred differ in batch size"),
            tf.debugging.assert_less_equal(
                start + n, self.max_samples,
                message=f"MeanAveragePrecision buffer full: more than {self.max_samples} "
                        f"samples accumulated; construct it with a larger max_samples"),
            tf.debugging.assert_non_negative(y_true, message="negative class label"),
            tf.debugging.assert_less(y_true, c, message=f"class label >= num_classes ({c})"),
        ]
        with tf.control_dependencies(checks):
            rows = (start + tf.range(n))[:, None]
            self.scores.assign(tf.tensor_scatter_nd_update(tf.convert_to_tensor(self.scores), rows, y_pred))
            self.labels.assign(tf.tensor_scatter_nd_update(tf.convert_to_tensor(self.labels), rows, y_true))
            self.count.assign(start + n)

    def per_class_ap(self):
        """AP of every class, ``NaN`` for classes with no positive sample.

        Returns:
            ``float32`` tensor ``(num_classes,)``.
        """
        n = tf.convert_to_tensor(self.count)
        scores = tf.convert_to_tensor(self.scores)[:n]
        labels = tf.convert_to_tensor(self.labels)[:n]
        ap, npos = _ap_per_class(scores, labels, self.num_classes)
        return tf.where(npos > 0, ap, tf.fill(tf.shape(ap), np.float32(np.nan)))

    def result(self):
        """Mean AP over classes with at least one positive (0 if there are none)."""
        n = tf.convert_to_tensor(self.count)
        scores = tf.convert_to_tensor(self.scores)[:n]
        labels = tf.convert_to_tensor(self.labels)[:n]
        ap, npos = _ap_per_class(scores, labels, self.num_classes)
        valid = npos > 0
        total = tf.reduce_sum(tf.where(valid, ap, tf.zeros_like(ap)))
        k = tf.reduce_sum(tf.cast(valid, tf.float32))
        return tf.cast(tf.math.divide_no_nan(total, k), self.dtype)

    def reset_state(self):
        """Forget all accumulated samples."""
        self.count.assign(0)
        self.scores.assign(tf.zeros((self.max_samples, self.num_classes), tf.float32))
        self.labels.assign(tf.zeros((self.max_samples,), tf.int32))

    def get_config(self):
        return {"num_classes": self.num_classes, "max_samples": self.max_samples,
                "from_logits": self.from_logits, "name": self.name, "dtype": self.dtype}


def _ap_per_class(scores, labels, num_classes):
    """Exact (sklearn-style) AP of every class.  Returns ``(ap, num_positives)``.

    Each positive contributes the precision at the *end* of its group of tied
    scores, which is ``sum_k (R_k - R_{k-1}) P_k`` over distinct thresholds.
    """
    st = tf.transpose(scores)  # (C, N): one ranking per class
    order = tf.argsort(st, axis=1, direction="DESCENDING", stable=True)
    s_sorted = tf.gather(st, order, batch_dims=1)
    lab_sorted = tf.gather(labels, order)  # (C, N)
    pos = tf.cast(tf.equal(lab_sorted, tf.range(num_classes, dtype=labels.dtype)[:, None]), tf.float32)
    cum_tp = tf.cumsum(pos, axis=1)
    # For each position: how many samples score >= its score (end of tie group).
    neg = -s_sorted  # ascending
    group_end = tf.searchsorted(neg, neg, side="right", out_type=tf.int32)
    tp_at_end = tf.gather(cum_tp, tf.maximum(group_end - 1, 0), batch_dims=1)
    precision = tp_at_end / tf.maximum(tf.cast(group_end, tf.float32), 1.0)
    npos = tf.reduce_sum(pos, axis=1)
    ap = tf.math.divide_no_nan(tf.reduce_sum(pos * precision, axis=1), npos)
    return ap, npos


def clip_log_scores(frame_outputs, training: bool = False, inputs: str = "logits", axis: int = 1):
    """Clip score from per-frame classifier outputs.

    The score is the mean over frames of the per-frame log-probabilities: all
    frames at test, the second half ``T // 2 .. T - 1`` in training (early
    frames have seen too little motion to be judged; this follows the
    authors' code, which for odd ``T`` includes the middle frame).

    Args:
        frame_outputs: Tensor ``(B, T, C)`` (time on ``axis``).
        training: Use only the second half of the frames.
        inputs: What ``frame_outputs`` holds: ``"logits"``, ``"probs"`` or
            ``"log_probs"``.
        axis: The time axis.

    Returns:
        ``(B, C)`` mean log-probabilities (still log-probability-like: use
        ``argmax`` for the prediction; ``exp`` does not sum to 1).

    Example:
        >>> import numpy as np
        >>> x = np.log(np.array([[[0.5, 0.5], [0.9, 0.1], [0.9, 0.1]]], np.float32))
        >>> np.round(np.asarray(clip_log_scores(x, inputs="log_probs"), np.float64), 3).tolist()
        [[-0.301, -1.766]]
    """
    inputs = one_of("inputs", inputs, ("logits", "probs", "log_probs"))
    x = keras.ops.convert_to_tensor(frame_outputs)
    x = keras.ops.cast(x, "float32") if not str(x.dtype).startswith("float") else x
    if inputs == "logits":
        logp = keras.ops.log_softmax(x, axis=-1)
    elif inputs == "probs":
        # The floor keeps log(0) finite for saturated softmax outputs.
        logp = keras.ops.log(keras.ops.maximum(x, 1e-12))
    else:
        logp = x
    rank = len(logp.shape)
    ax = check_int("axis", axis, minimum=-rank, maximum=rank - 1) % rank
    if ax == rank - 1:
        raise ValueError("the time axis cannot be the class axis (last)")
    if training:
        t = logp.shape[ax]
        if t is None:
            t = keras.ops.shape(logp)[ax]
        start = t // 2
        idx = [slice(None)] * rank
        idx[ax] = slice(start, None)
        logp = logp[tuple(idx)]
    return keras.ops.mean(logp, axis=ax)


def average_precision(y_true, scores) -> float:
    """Average precision of one binary problem (NumPy; = sklearn's ``average_precision_score``).

    Args:
        y_true: ``(N,)`` 0/1 (or bool) relevance.
        scores: ``(N,)`` scores, higher = more likely positive.

    Returns:
        AP as a float; ``nan`` when there is no positive.

    Example:
        >>> average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6])  # (1/1 + 2/3) / 2
        0.8333333333333333
    """
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores differ in shape: {y.shape} vs {s.shape}")
    npos = int(y.sum())
    if npos == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    # Last index of each group of tied scores = one threshold.
    ends = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[ends]
    precision = tp / (ends + 1.0)
    recall_step = np.diff(np.r_[0, tp]) / npos
    return float(np.sum(recall_step * precision))


def mean_average_precision(labels, scores, num_classes: Optional[int] = None) -> float:
    """Mean one-vs-rest AP (NumPy), classes without positives excluded.

    Args:
        labels: ``(N,)`` integer class labels.
        scores: ``(N, C)`` scores.
        num_classes: ``C``; default ``scores.shape[1]``.

    Returns:
        mAP as a float (``nan`` if no class has a positive).

    Example:
        >>> mean_average_precision([0, 1], [[0.8, 0.2], [0.3, 0.7]])
        1.0
    """
    labels = np.asarray(labels).ravel()
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f"scores must be (N, C) with N = len(labels); got {scores.shape}, N={len(labels)}")
    c = (scores.shape[1] if num_classes is None
         else positive_int("num_classes", num_classes))
    aps = [average_precision(labels == k, scores[:, k]) for k in range(c)]
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else float("nan")
