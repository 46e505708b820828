"""Training and evaluating Polygon-RNN models: losses, compiling, IoU, pictures.

* :class:`VertexSequenceLoss` - cross-entropy of the teacher-forced vertex
  tokens, padding left out;
* :class:`FirstVertexLoss` - cross-entropy of the first-vertex head against
  an even spread over the polygon's vertex cells;
* :func:`compile_outline_model`, :func:`fit_outline_model` (TensorBoard
  scalars with the greedy IoU of a fixed sample, and pictures of predicted
  vs true polygons), :func:`evaluate_outline_model` (the mean of per-class
  mean IoUs and the instance-weighted IoU of greedy decoding).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from scs_keras.metrics.annotation import PolygonIoU
from scs_keras.tasks.outline_annotation.export import serving_model
from scs_keras.tasks.outline_annotation.models import FIRST_VERTEX, VERTICES
from scs_keras.tasks.training import compile_model, fit_model, fixed_sample, make_truncation
from scs_keras.training.model import SCSModel
from scs_keras.utils.optional import optional_import

__all__ = ["TABLE_COLUMNS", "VertexSequenceLoss", "FirstVertexLoss", "compile_outline_model",
           "polygon_predictor", "evaluate_outline_model", "GreedyIoULogger", "render_polygons",
           "fit_outline_model"]

#: Metric columns of the comparison table.
TABLE_COLUMNS = ["mean_iou", "instance_iou", "mean_vertices"]


@keras.saving.register_keras_serializable(package="scs_keras")
class VertexSequenceLoss(keras.losses.Loss):
    """Mean cross-entropy of a polygon's tokens, padding (-1) left out.

    Each polygon's loss is the mean over its own tokens (its vertices after
    the first, and the end token), so the padding of short polygons neither
    adds to nor dilutes it; a sequence with no token scores 0.

    Call arguments:
        y_true: int ``(B, T)`` tokens, -1 for padding.
        y_pred: ``(B, T, K)`` logits.

    Returns:
        ``(B,)`` per-polygon losses before reduction.
    """

    def __init__(self, name="vertex_sequence_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.int32)
        valid = tf.cast(y_true >= 0, y_pred.dtype)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(y_true, 0), y_pred)
        return tf.reduce_sum(ce * valid, axis=1) / tf.maximum(tf.reduce_sum(valid, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="scs_keras")
class FirstVertexLoss(keras.losses.Loss):
    """Cross-entropy of the first-vertex logits against every vertex cell.

    The target spreads evenly over the distinct cells of the polygon's
    vertices (any of them is a right start: the reader starts training
    polygons at a random vertex); the end token and padding are ignored.

    Call arguments:
        y_true: int ``(B, L)`` tokens (the whole target sequence).
        y_pred: ``(B, G * G)`` logits.

    Returns:
        ``(B,)`` losses before reduction.
    """

    def __init__(self, name="first_vertex_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        cells = tf.shape(y_pred)[-1]
        y_true = tf.cast(y_true, tf.int32)
        # Out-of-range tokens (end, -1) give all-zero one-hot rows.
        hits = tf.reduce_max(tf.one_hot(tf.where(y_true < cells, y_true, -1), cells,
                                        dtype=y_pred.dtype), axis=1)
        target = hits / tf.maximum(tf.reduce_sum(hits, axis=1, keepdims=True), 1.0)
        return -tf.reduce_sum(target * tf.nn.log_softmax(y_pred), axis=1)


def compile_outline_model(model, learning_rate=1e-3, truncation="stsgd", truncation_rate=0.5,
                          first_vertex_weight=1.0, clip_norm=5.0):
    """Compiles a model from :mod:`.models` with both losses and Adam.

    Args:
        model: A training model.
        learning_rate: Adam's rate.
        truncation: ``"stsgd"``, ``"none"`` or a schedule (SCS models only;
            ``"astsgd"`` is refused: these models have no spatial-only head).
        truncation_rate: STSGD's rate.
        first_vertex_weight: Weight of the first-vertex loss.
        clip_norm: Global gradient-norm clip (``None``: off).

    Returns:
        ``model``, compiled.
    """
    if isinstance(model, SCSModel) and truncation == "astsgd":
        raise ValueError("the outline models have no spatial-only head for ASTSGD; "
                         "use --truncation stsgd or none.")
    truncation = make_truncation(truncation, truncation_rate, model=model)
    return compile_model(model, {FIRST_VERTEX: FirstVertexLoss(), VERTICES: VertexSequenceLoss()},
                         learning_rate, loss_weights={FIRST_VERTEX: float(first_vertex_weight),
                                                      VERTICES: 1.0},
                         truncation=truncation, clip_norm=clip_norm)


def polygon_predictor(model):
    """``images -> list of (N_b, 2) polygons``: greedy decoding of ``model``.

    The serving model is traced once for any batch size (a ``None`` batch
    signature), not once per batch shape.
    """
    serving = serving_model(model)
    size = serving.inputs[0].shape[1]

    # No Python control flow to convert (the loop is a tf.while_loop), and
    # AutoGraph cannot read this closure's source (it warns on every call).
    @tf.function(input_signature=[tf.TensorSpec((None, size, size, 3), tf.float32)])
    @tf.autograph.experimental.do_not_convert
    def decode(images):
        return serving(images, training=False)

    def predict(images):
        out = decode(tf.convert_to_tensor(np.asarray(images, np.float32)))
        vertices, counts = out["vertices"].numpy(), out["num_vertices"].numpy()
        return [vertices[b, :counts[b]] for b in range(len(counts))]

    return predict


def _true_polygons(targets):
    polygons = np.asarray(targets["polygon"])
    counts = np.asarray(targets["num_polygon_vertices"])
    return [polygons[b, :counts[b]] for b in range(len(counts))]


def evaluate_outline_model(model, dataset, crop_size):
    """IoU of greedily decoded polygons on ``dataset`` (the reader's batches).

    Args:
        model: A training model (scored by greedy decoding), or a baseline of
            :mod:`.baselines` (its fixed polygons).
        dataset: The reader's test batches.
        crop_size: Crop side (the IoU's raster).

    Returns:
        ``{"mean_iou": mean of the per-class mean IoUs (classes seen),
        "instance_iou": mean over instances, "mean_vertices": mean decoded
        length}``.
    """
    # A baseline draws its polygons itself; a model decodes them greedily.
    predict = getattr(model, "predict_polygons", None) or polygon_predictor(model)
    metric = PolygonIoU(crop_size)
    lengths = []
    for inputs, targets in dataset:
        predicted = predict(inputs["image"])
        metric.update_state(predicted, _true_polygons(targets), np.asarray(targets["label"]))
        lengths.extend(len(p) for p in predicted)
    return {"mean_iou": metric.result(), "instance_iou": metric.instance_mean(),
            "mean_vertices": float(np.mean(lengths))}


class GreedyIoULogger(keras.callbacks.Callback):
    """Adds ``val_greedy_iou`` (instance IoU of a fixed sample) to the epoch logs.

    Placed before the TensorBoard callback, it puts the IoU of real
    (greedy, not teacher-forced) decoding next to the losses.
    """

    def __init__(self, images, true_polygons, crop_size):
        super().__init__()
        self.images, self.true_polygons, self.crop_size = images, true_polygons, crop_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        metric = PolygonIoU(self.crop_size, class_names=("object",))
        predicted = polygon_predictor(self.model)(self.images)
        metric.update_state(predicted, self.true_polygons, np.zeros(len(predicted), int))
        logs["val_greedy_iou"] = metric.instance_mean()


def render_polygons(model, images, true_polygons, scale=4):
    """Crops with the true (green) and the greedily predicted (red) polygon.

    Args:
        model: A training model.
        images: ``(N, C, C, 3)`` crops in [0, 1].
        true_polygons: ``N`` arrays ``(M, 2)`` in crop pixels.
        scale: Up-scaling of the pictures.

    Returns:
        uint8 ``(N, C * scale, C * scale, 3)``.
    """
    cv2 = optional_import("cv2", "drawing the TensorBoard pictures")
    predicted = polygon_predictor(model)(images)
    pictures = []
    for image, true, pred in zip(np.asarray(images), true_polygons, predicted):
        size = image.shape[0] * scale
        picture = cv2.resize((np.clip(image, 0, 1) * 255).astype(np.uint8), (size, size),
                             interpolation=cv2.INTER_NEAREST)
        for polygon, colour in ((true, (0, 200, 0)), (pred, (230, 0, 0))):
            if len(polygon):
                points = np.rint((np.asarray(polygon) + 0.5) * scale).astype(np.int32)
                cv2.polylines(picture, [points], True, colour, 1, cv2.LINE_AA)
        pictures.append(picture)
    return np.stack(pictures)


def fit_outline_model(model, train_ds, epochs, val_ds=None, logdir=None, crop_size=None,
                      verbose=2):
    """Fits a compiled model; with ``logdir``, TensorBoard scalars and pictures.

    Args:
        model: A compiled model.
        train_ds: ``(inputs, {"first_vertex", "vertices"})`` batches
            (:func:`~scs_keras.tasks.outline_annotation.data.training_targets`).
        epochs: Positive int.
        val_ds: The reader's test batches (with polygons); with ``logdir``
            its first 4 crops are decoded every tenth of the training: their
            IoU goes to the scalars (``val_greedy_iou``), their pictures to
            ``images/``.
        logdir: TensorBoard folder.
        crop_size: Crop side (for the IoU).
        verbose: ``fit`` verbosity.

    Returns:
        The Keras ``History``.
    """
    render, callbacks = None, []
    if logdir and val_ds is not None:
        inputs, targets = fixed_sample(val_ds, 4)
        images, true = inputs["image"], _true_polygons(targets)
        callbacks.append(GreedyIoULogger(images, true, crop_size or images.shape[1]))

        render = lambda m: {  # noqa: E731
            "polygons_true_green_predicted_red": render_polygons(m, images, true)}

    return fit_model(model, train_ds, epochs, logdir=logdir, render_fn=render, verbose=verbose,
                     every_n_epochs=max(1, epochs // 10), callbacks=callbacks)
