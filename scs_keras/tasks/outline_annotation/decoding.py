"""Greedy polygon decoding inside the graph, for evaluation and the export.

:func:`greedy_decode` is the loop: a ``tf.while_loop`` over the vertex
positions that takes the best token of each step, stops a polygon at its end
token (later positions stay padding) and stops the loop when every polygon of
the batch has ended or ``length`` vertices are drawn.

The step function re-runs the teacher-forcing decoder on the whole token
sequence decoded so far and reads the logits of the current step.  The
decoder is causal (step ``t`` sees tokens ``0..t`` only), so its output at
step ``t`` is exactly what a state-carrying step would give, and the loop
works unchanged for every recurrent stack (SCS, ConvLSTM); the price is
``length`` passes over ``length`` steps instead of one (small at the grids
used here; carrying the layers' states step by step is the faster variant).

:class:`GreedyPolygonDecoder` wires a trained model's parts to the loop:
``image (B, C, C, 3)`` -> ``{"vertices": (B, max_vertices, 2) crop pixels
(x, y), "num_vertices": (B,) int32}``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from scs_keras.data.cityscapes import PAD_INDEX

__all__ = ["greedy_decode", "count_vertices", "tokens_to_crop", "GreedyPolygonDecoder"]


def count_vertices(tokens, end_token):
    """Vertices before the first end token or padding (``L`` when there is none).

    Args:
        tokens: int ``(B, L)``.
        end_token: ``G * G``.

    Returns:
        int32 ``(B,)``.
    """
    tokens = tf.convert_to_tensor(tokens, tf.int32)
    stop = (tokens < 0) | (tokens >= end_token)
    first_stop = tf.argmax(tf.cast(stop, tf.int32), axis=1, output_type=tf.int32)
    return tf.where(tf.reduce_any(stop, axis=1), first_stop, tf.shape(tokens)[1])


def greedy_decode(step_logits, first_token, length, end_token):
    """Greedy decoding of token sequences that start with ``first_token``.

    Args:
        step_logits: ``tokens (B, length) -> logits (B, length - 1, K)``:
            row ``t - 1`` scores token ``t`` and may only depend on tokens
            ``0..t - 1`` (padding -1 stands for the tokens not decoded yet).
        first_token: int ``(B,)``, token 0 of every sequence.
        length: Tokens per sequence (a Python int >= 1): the longest polygon.
        end_token: The end token (``G * G``).

    Returns:
        ``(tokens, num_vertices)``: int32 ``(B, length)`` with the decoded
        tokens, an end token where a polygon ended and padding after it; and
        int32 ``(B,)``, the vertices before the end (``length`` for a polygon
        that never ended: it is cut there).
    """
    first_token = tf.cast(tf.convert_to_tensor(first_token), tf.int32)
    batch = tf.shape(first_token)[0]
    tokens = tf.concat([first_token[:, None], tf.fill([batch, length - 1], PAD_INDEX)], axis=1)
    done = tf.zeros([batch], tf.bool)
    positions = tf.range(length)[None, :]

    def not_finished(t, tokens, done):
        return (t < length) & ~tf.reduce_all(done)

    def step(t, tokens, done):
        logits = step_logits(tokens)[:, t - 1]
        best = tf.argmax(logits, axis=-1, output_type=tf.int32)
        best = tf.where(done, PAD_INDEX, best)
        # ensure_shape: a step function whose logits have no static shape
        # must not loosen the loop variables' shapes.
        new_tokens = tf.ensure_shape(tf.where(positions == t, best[:, None], tokens),
                                     tokens.shape)
        return t + 1, new_tokens, tf.ensure_shape(done | (best == end_token), done.shape)

    _, tokens, _ = tf.while_loop(not_finished, step, (tf.constant(1), tokens, done),
                                 maximum_iterations=max(length - 1, 0))
    return tokens, count_vertices(tokens, end_token)


def tokens_to_crop(tokens, num_vertices, grid_size, crop_size):
    """Cell tokens to crop pixel coordinates of the cell centres, zero-padded.

    The same mapping as :func:`scs_keras.data.cityscapes.cells_to_crop`:
    ``u = (x + 0.5) * C / G - 0.5`` for cell column ``x`` (and rows alike).

    Returns:
        float32 ``(B, L, 2)`` points ``(x, y)``; zeros from ``num_vertices`` on.
    """
    tokens = tf.convert_to_tensor(tokens, tf.int32)
    cells = tf.stack([tokens % grid_size, tokens // grid_size], axis=-1)
    points = (tf.cast(cells, tf.float32) + 0.5) * (crop_size / grid_size) - 0.5
    valid = tf.range(tf.shape(tokens)[1])[None, :] < num_vertices[:, None]
    return tf.where(valid[..., None], points, 0.0)


class GreedyPolygonDecoder(keras.layers.Layer):
    """An image crop batch to polygons, with a trained model's parts.

    Args:
        model: A training model from
            :func:`~scs_keras.tasks.outline_annotation.models.build_model`
            (its ``encoder``, ``first_vertex_head``, ``vertex_maps`` and
            ``decoder`` are shared, not copied).
        max_vertices: Longest polygon returned (default: the model's).
        **kwargs: Base ``Layer`` arguments.

    Call arguments:
        image: float32 ``(B, C, C, 3)`` in [0, 1].

    Returns:
        ``{"vertices": float32 (B, max_vertices, 2), "num_vertices": int32 (B,)}``:
        polygons in crop pixels ``(x, y)``, clockwise, zero after the last
        vertex.
    """

    def __init__(self, model, max_vertices=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = model.get_layer("encoder")
        self.first_vertex_head = model.get_layer("first_vertex_head")
        self.vertex_maps = model.get_layer("vertex_maps")
        self.decoder = model.get_layer("decoder")
        self.grid_size = self.vertex_maps.grid_size
        self.crop_size = int(self.encoder.inputs[0].shape[1])
        length = model.get_layer("vertex_logits").output.shape[1]  # max_vertices decoder steps
        self.max_vertices = int(length if max_vertices is None else max_vertices)

    def call(self, image):
        features = self.encoder(image, training=False)
        first = tf.argmax(self.first_vertex_head(features, training=False), axis=-1,
                          output_type=tf.int32)

        def step_logits(tokens):
            return self.decoder([features, self.vertex_maps(tokens)], training=False)

        tokens, count = greedy_decode(step_logits, first, self.max_vertices,
                                      self.grid_size ** 2)
        return {"vertices": tokens_to_crop(tokens, count, self.grid_size, self.crop_size),
                "num_vertices": count}

    def compute_output_spec(self, image):
        batch = image.shape[0]
        return {"vertices": keras.KerasTensor((batch, self.max_vertices, 2), "float32"),
                "num_vertices": keras.KerasTensor((batch,), "int32")}
