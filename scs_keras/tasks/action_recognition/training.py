"""Compiling, evaluating, picturing and exporting action models.

* :func:`compile_action_model` - losses (clip score on ``"frames"``, the same
  on the T¹ ``"spatial"`` output, MSE on flow outputs), top-1 / top-5 / mAP
  metrics on ``"clip"``, and for SCS models STSGD (default) and optionally
  overlap-coherence truncated BPTT (SPEC §7).
* :func:`evaluate_action_model` - top-1, top-5 and mAP of the clip score (mean
  per-frame log-probability over all frames), plus the T¹ stream's top-1.
* :func:`render_predictions` - pictures of a few clips with the predicted and
  the true class, for TensorBoard (:class:`scs_keras.callbacks.ImageSummary`).
* :func:`export_action_model` - a versioned SavedModel whose
  ``serving_default`` signature maps frames in ``[0, 1]`` to per-frame and
  clip class probabilities; it loads with TensorFlow alone.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import keras
import numpy as np

from scs_keras.export import export_for_serving
from scs_keras.metrics.classification import (
    MeanAveragePrecision,
    TopKAccuracy,
    mean_average_precision,
)
from scs_keras.tasks.action_recognition.models import ClipScoreLoss, make_serving_model
from scs_keras.training.model import SCSModel
from scs_keras.training.schedules import ASTSGD, STSGD, OverlapCoherence, TruncationSchedule

__all__ = [
    "DEFAULT_EXPORT_DIR",
    "compile_action_model",
    "evaluate_action_model",
    "render_predictions",
    "export_action_model",
]

#: Base folder of the versioned exports (``<base>/<version>/``).
DEFAULT_EXPORT_DIR = "saved_models/action_recognition"


def compile_action_model(
    model: keras.Model,
    num_classes: int,
    learning_rate: float = 1e-2,
    truncation: Optional[TruncationSchedule] = None,
    truncation_rate: float = 0.5,
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
        truncation: For an ``SCSModel``: its schedule; default
            ``STSGD(truncation_rate)``.  An ``ASTSGD`` needs the T¹ output
            (``aux_spatial_loss=True``); its main output defaults to
            ``"frames"`` here.  Ignored for baselines.
        truncation_rate: The constant STSGD rate used when ``truncation`` is
            ``None``.
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
    optimizer = keras.optimizers.Adam(learning_rate)
    if isinstance(model, SCSModel):
        if isinstance(truncation, ASTSGD):
            if "spatial" not in names:
                raise ValueError("ASTSGD needs the T¹ head: build the model with "
                                 "aux_spatial_loss=True.")
            if truncation.main_output is None:
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
        model.compile(optimizer, loss=losses, loss_weights=weights, metrics=metric_dict,
                      truncation=truncation or STSGD(truncation_rate), overlap=overlap,
                      clip_norm=clip_norm)
    else:
        if overlap is not None:
            raise ValueError("overlap-coherence training needs an SCS model.")
        # Same clipping as SCSModel's clip_norm: of the global gradient norm.
        optimizer = keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm)
        model.compile(optimizer, loss=losses, loss_weights=weights, metrics=metric_dict)
    return model


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
    per-frame log-probabilities (SPEC §8a).  For SCS models with a T¹ head the
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
    import cv2  # the "data" extra; only needed for pictures

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


def export_action_model(model: keras.Model, num_frames: Optional[int], image_size,
                        base_dir: str = DEFAULT_EXPORT_DIR,
                        version: Optional[int] = None) -> str:
    """Exports ``<base_dir>/<version>/`` with a ``serving_default`` signature.

    Signature: input ``frames`` ``(None, num_frames, H, W, 3)`` float32 in
    ``[0, 1]``; outputs ``frame_probabilities`` ``(None, T, C)`` and
    ``clip_probabilities`` ``(None, C)`` (see
    :func:`~scs_keras.tasks.action_recognition.models.make_serving_model`).
    It loads and runs with TensorFlow alone::

        loaded = tf.saved_model.load("saved_models/action_recognition/1")
        out = loaded.signatures["serving_default"](frames=clips)
        out["clip_probabilities"]

    Args:
        model: A model from the builders.
        num_frames: Frames per clip of the signature (``None``: any).
        image_size: ``(H, W)`` or an int.
        base_dir: The model's folder for TF Serving.
        version: Integer version; default the next free one.

    Returns:
        The written version folder.
    """
    h, w = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    return export_for_serving(
        make_serving_model(model), base_dir, input_name="frames", version=version,
        input_shape=(None, num_frames, int(h), int(w), 3))
