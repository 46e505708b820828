"""Keras callbacks shared by the task examples."""

import keras
import numpy as np
import tensorflow as tf

from scs_keras.utils.validation import positive_int


class ImageSummary(keras.callbacks.Callback):
    """Writes pictures to TensorBoard every ``every_n_epochs`` epochs.

    The task decides what to draw: ``render_fn(model)`` returns a dict mapping
    a summary name to a batch of images ``(N, H, W, C)`` (uint8, or floats in
    [0, 1]).  Scalars (losses, metrics, ``truncation_rate``) are written by
    ``keras.callbacks.TensorBoard``; use both with the same ``logdir``.

    Args:
        logdir: TensorBoard log folder (images go to ``<logdir>/images``).
        render_fn: Callable ``model -> {name: images}``.
        every_n_epochs: Positive int.
        max_outputs: Images kept per summary.

    Example:

    >>> cb = ImageSummary("/tmp/logs", lambda m: {"zeros": np.zeros((1, 4, 4, 1))})
    """

    def __init__(self, logdir, render_fn, every_n_epochs=1, max_outputs=4):
        super().__init__()
        if not callable(render_fn):
            raise TypeError("render_fn must be callable: model -> {name: images}.")
        self.render_fn = render_fn
        self.every_n_epochs = positive_int("every_n_epochs", every_n_epochs)
        self.max_outputs = positive_int("max_outputs", max_outputs)
        self._writer = tf.summary.create_file_writer(f"{logdir}/images")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        images = self.render_fn(self.model)
        with self._writer.as_default():
            for name, batch in images.items():
                batch = np.asarray(batch)
                if batch.dtype != np.uint8:
                    batch = np.clip(batch, 0.0, 1.0).astype("float32")
                tf.summary.image(name, batch, step=epoch, max_outputs=self.max_outputs)
        self._writer.flush()
