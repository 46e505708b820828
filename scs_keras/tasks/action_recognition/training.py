"""Training and evaluating action models: loss, compiling, fitting, pictures.

* :class:`ClipScoreLoss` - the negative clip score of the true class;
* :func:`compile_action_model` - losses (clip score on ``"frames"``, the same
  on the T¹ ``"spatial"`` output, MSE on flow outputs), top-1 / top-5 / mAP
  metrics on ``"clip"``, and for SCS models STSGD (default) and optionally
  overlap-coherence truncated BPTT;
* :func:`fit_action_model` - fitting with TensorBoard scalars and clip
  pictures (:func:`render_predictions`);
* :func:`evaluate_action_model` - top-1, top-5 and mAP of the clip score, plus
  the T¹ stream's top-1.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from scs_keras.metrics.classification import (
    MeanAveragePrecision,
    TopKAccuracy,
    clip_log_scores,
    mean_average_precision,
)
from scs_keras.tasks.training import compile_model, fit_model, fixed_sample, make_truncation
from scs_keras.training.model import SCSModel
from scs_keras.training.schedules import ASTSGD, OverlapCoherence
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import one_of

__all__ = [
    "TABLE_COLUMNS",
    "ClipScoreLoss",
    "compile_action_model",
    "fit_action_model",
    "evaluate_action_model",
    "render_predictions",
]

#: Metric columns of the comparison table.
TABLE_COLUMNS = ["top1", "top5", "mAP", "t1_top1"]


@keras.saving.register_keras_serializable(package="scs_keras")
class ClipScoreLoss(keras.losses.Loss):
    """Negative clip score of the true class.

    The clip score of class ``c`` is the mean over frames of the per-frame
    log-probabilities ``log p_t(c)``; the loss is ``-score(y)``, i.e. the
    per-frame cross-entropy averaged over the scored frames.  In training the
    authors score the second half of the frames only (``T // 2 .. T - 1``:
    early frames have seen little motion); at test all frames.  A Keras loss
    does not know whether it runs in training, so the frames are fixed per
    instance: ``frames="second_half"`` (default, used for training; Keras
    also reports ``val_loss`` with it) or ``"all"``.

    Args:
        frames: ``"second_half"`` or ``"all"``.
        inputs: What ``y_pred`` holds: ``"log_probs"`` (default, the
            ``"frames"`` output of the builders) or ``"logits"``.
        name: Loss name.
        reduction: Keras reduction over the batch.

    Call arguments:
        y_true: Integer labels ``(B,)`` or ``(B, 1)``.
        y_pred: ``(B, T, C)`` per-frame log-probabilities (or logits).

    Returns:
        Per-sample losses ``(B,)`` before reduction.

    Example:

    >>> import numpy as np
    >>> logp = np.log(np.full((1, 4, 2), 0.5, "float32"))
    >>> float(ClipScoreLoss()(np.array([1]), logp))  # ln 2
    0.6931...
    """

    def __init__(self, frames="second_half", inputs="log_probs",
                 name="clip_score_loss", reduction="sum_over_batch_size"):
        one_of("frames", frames, ("second_half", "all"))
        one_of("inputs", inputs, ("log_probs", "logits"))
        super().__init__(name=name, reduction=reduction)
        self.frames = frames
        self.inputs = inputs

    def call(self, y_true, y_pred):
        score = clip_log_scores(y_pred, training=self.frames == "second_half",
                                inputs=self.inputs)  # (B, C)
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        return -tf.gather(score, labels, axis=1, batch_dims=1)

    def get_config(self):
        return {**super().get_config(), "frames": self.frames, "inputs": self.inputs}


def compile_action_model(
    model: keras.Model,
    num_classes: int,
    learning_rate: float = 1e-2,
    truncation="stsgd",
    truncation_rate: float = 0.5,
    threshold: Optional[float] = None,
    overlap: Optional[OverlapCoherence] = None,
    aux_weight: float = 0.5,
    flow_weight: float = 1.0,
    clip_norm: Optional[float] = 5.0,
    metrics: bool = True,
) -> keras.Model:
    """Compiles a model from :mod:`~scs_keras.tasks.action_recognition.models`.

    Args:
        model: The model (its output names decide the losses).
        num_classes: Number of classes (for mAP).
        learning_rate: Adam learning rate (1e-2 trained the generated-data
            models best; see docs/action_recognition.md).
        truncation: For an ``SCSModel``: ``"stsgd"`` (default: the constant
            ``truncation_rate``), ``"astsgd"`` (needs the T¹ output,
            ``aux_spatial_loss=True``, and ``threshold``), ``"none"``, or a
            schedule instance (an ``ASTSGD``'s main output defaults to
            ``"frames"`` here).  Ignored for baselines.
        truncation_rate: STSGD's rate or ASTSGD's ``q0``.
        threshold: ASTSGD's ``θ`` on the clip-score loss's scale.
        overlap: Optional ``OverlapCoherence`` (SCS only): train long
            sequences clip by clip with carried states and the coherence
            loss.  Its ``output`` defaults to ``"frame_probs"`` here.
        aux_weight: Weight of the T¹ (``"spatial"``) clip-score loss.
        flow_weight: Weight of each flow MSE loss.
        clip_norm: Global gradient-norm clipping (``None``: off).
        metrics: Attach top-1, top-5 and mAP to ``"clip"``.

    Returns:
        ``model``, compiled.

    Raises:
        ValueError: overlap training for a baseline, or with flow outputs.

    Example:

    >>> from scs_keras.tasks.action_recognition.models import build_cnn_action_model
    >>> m = compile_action_model(build_cnn_action_model(4, (8, 32, 32, 3)), 4)
    """
    names = list(model.output_names)
    losses = {"frames": ClipScoreLoss()}
    weights = {"frames": 1.0}
    if "spatial" in names:
        losses["spatial"] = ClipScoreLoss(name="spatial_clip_score_loss")
        weights["spatial"] = float(aux_weight)
    for name in names:
        if name.startswith("flow_"):
            losses[name] = keras.losses.MeanSquaredError(name=f"{name}_mse")
            weights[name] = float(flow_weight)
    metric_dict = None
    if metrics:
        metric_dict = {"clip": [
            TopKAccuracy(1, name="top1"),
            TopKAccuracy(min(5, num_classes), name="top5"),
            MeanAveragePrecision(num_classes, max_samples=16384, name="mAP"),
        ]}
    truncation = make_truncation(truncation, truncation_rate, threshold, main_output="frames",
                                 spatial_output="spatial", model=model)
    if isinstance(model, SCSModel):
        if isinstance(truncation, ASTSGD) and truncation.main_output is None:
            # The first non-"spatial" output would be "clip", which has no loss.
            truncation = ASTSGD(**{**truncation.get_config(), "main_output": "frames"})
        if overlap is not None:
            if any(n.startswith("flow_") for n in names):
                raise ValueError(
                    "overlap-coherence training cuts the inputs into clips but not "
                    "the per-frame flow targets; build the model without flow heads."
                )
            if overlap.output is None:
                overlap = OverlapCoherence(
                    overlap.clip_length, overlap.overlap, overlap.coherence_weight,
                    output="frame_probs", per_step_targets=False)
    return compile_model(model, losses, learning_rate, loss_weights=weights,
                         metrics=metric_dict, truncation=truncation, overlap=overlap,
                         clip_norm=clip_norm)


def fit_action_model(model, train_ds, epochs, val_ds=None, logdir=None, class_names=None,
                     verbose=2):
    """Fits a compiled action model, with TensorBoard when ``logdir`` is given.

    Args:
        model: A compiled model.
        train_ds: ``(frames, {output: target})`` batches
            (:func:`~scs_keras.tasks.action_recognition.data.attach_targets`).
        epochs: Positive int.
        val_ds: Optional validation batches (same form); its first 4 clips
            are drawn with the predicted and the true class every tenth of
            the training.
        logdir: TensorBoard folder (scalars, ``truncation_rate``, pictures).
        class_names: Class names for the pictures.
        verbose: ``fit`` verbosity.

    Returns:
        The Keras ``History``.
    """
    render = None
    if logdir and val_ds is not None and class_names is not None:
        frames, targets = fixed_sample(val_ds, 4)
        labels = np.asarray(targets["clip"] if isinstance(targets, dict) else targets)

        render = lambda m: {  # noqa: E731
            "clips_true_vs_predicted": render_predictions(m, frames, labels, class_names)}

    return fit_model(model, train_ds, epochs, val_ds=val_ds, logdir=logdir, render_fn=render,
                     verbose=verbose, every_n_epochs=max(1, epochs // 10))


def _collect(model, dataset):
    """Runs the model over ``dataset``; returns outputs (numpy) and labels."""
    outputs, labels = {}, []
    for x, y in dataset:
        pred = model.predict_on_batch(x)
        for k in ("clip", "spatial"):
            if k in pred:
                outputs.setdefault(k, []).append(np.asarray(pred[k]))
        labels.append(np.asarray(y["clip"] if isinstance(y, dict) else y).reshape(-1))
    return {k: np.concatenate(v) for k, v in outputs.items()}, np.concatenate(labels)


def evaluate_action_model(model: keras.Model, dataset, num_classes: int) -> Dict[str, float]:
    """Top-1, top-5 and mean AP of the clip scores on ``dataset``.

    The clip score is the ``"clip"`` output: the mean over all frames of the
    per-frame log-probabilities.  For SCS models with a T¹ head the
    top-1 of that spatial-only stream is added as ``"t1_top1"`` (near chance
    on the generated data, where one frame cannot tell the motion).

    Args:
        model: A model from the builders.
        dataset: Batches ``(frames, targets)`` from ``make_action_datasets``
            (or ``(frames, labels)``).
        num_classes: Number of classes.

    Returns:
        ``{"top1", "top5", "mAP"[, "t1_top1"]}`` as floats.
    """
    outputs, labels = _collect(model, dataset)
    scores = outputs["clip"]
    top1 = TopKAccuracy(1)
    top5 = TopKAccuracy(min(5, num_classes))
    top1.update_state(labels, scores)
    top5.update_state(labels, scores)
    result = {
        "top1": float(top1.result()),
        "top5": float(top5.result()),
        "mAP": float(mean_average_precision(labels, scores, num_classes)),
    }
    if "spatial" in outputs:
        t1 = outputs["spatial"].mean(axis=1)  # clip score of the T¹ stream
        result["t1_top1"] = float(np.mean(t1.argmax(-1) == labels))
    return result


def render_predictions(model: keras.Model, frames: np.ndarray, labels: Sequence[int],
                       class_names: Sequence[str], max_frames: int = 4,
                       scale: int = 3) -> np.ndarray:
    """Pictures of clips with the predicted and the true class.

    Each picture is a strip of ``max_frames`` frames (evenly spaced), scaled
    up ``scale`` times, above a caption ``"true: A / pred: B (p)"`` (green when
    right, red when wrong).

    Args:
        model: An action model.
        frames: ``(N, T, H, W, 3)`` float in ``[0, 1]``.
        labels: ``N`` true labels.
        class_names: Class names.
        max_frames: Frames shown per clip.
        scale: Up-scaling factor.

    Returns:
        ``uint8`` images ``(N, h, w, 3)`` for ``tf.summary.image``.
    """
    cv2 = optional_import("cv2", "drawing the TensorBoard pictures")

    frames = np.asarray(frames, np.float32)
    pred = model.predict_on_batch(frames)
    clip = np.asarray(pred["clip"])
    probs = np.exp(clip - clip.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    n, t, h, w, _ = frames.shape
    idx = np.linspace(0, t - 1, min(max_frames, t)).round().astype(int)
    images = []
    for i in range(n):
        strip = np.concatenate([frames[i, j] for j in idx], axis=1)
        strip = (np.clip(strip, 0, 1) * 255).astype(np.uint8)
        strip = cv2.resize(strip, (strip.shape[1] * scale, h * scale),
                           interpolation=cv2.INTER_NEAREST)
        caption = np.full((22, strip.shape[1], 3), 255, np.uint8)
        k = int(probs[i].argmax())
        ok = k == int(labels[i])
        text = f"true: {class_names[int(labels[i])]} / pred: {class_names[k]} ({probs[i, k]:.2f})"
        cv2.putText(caption, text, (3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                    (0, 140, 0) if ok else (200, 0, 0), 1, cv2.LINE_AA)
        images.append(np.concatenate([strip, caption], axis=0))
    return np.stack(images)
