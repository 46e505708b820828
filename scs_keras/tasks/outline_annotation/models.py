"""Polygon-RNN models for outline annotation: SCS decoder and ConvLSTM baselines.

Every model has the same three parts, built as named sub-models so that the
greedy decoder of the export (:mod:`.decoding`) can call them one by one:

``encoder``
    a small CNN on the ``C x C`` crop with skip fusion: three stride-2 stages
    (``C/2``, ``C/4``, ``C/8``), each average-pooled down to the vertex grid
    (``G = C / 8``), concatenated and fused by a 3x3 convolution into
    ``width`` channels (Polygon-RNN fuses VGG's stages the same way).
``first_vertex_head``
    a 3x3 and a 1x1 convolution giving one logit per grid cell.  Polygon-RNN
    and Polygon-RNN++ predict the first vertex with such a head rather than
    fixing it by a rule: the reader starts training polygons at a *random*
    vertex (augmentation), so the head is trained towards every vertex cell
    of the polygon at once (a soft target spread evenly over them) and at
    inference its best cell starts the polygon.
``decoder``
    at step ``t`` (predicting vertex ``t``, ``t >= 1``) the image features
    concatenated with one-hot maps of the first vertex, vertex ``t - 1`` and
    vertex ``t - 2`` (:class:`VertexInputMaps`; all zero where the vertex
    does not exist), projected to ``width`` channels by a 1x1 convolution,
    then a recurrent stack at grid resolution, then per step one logit per
    cell (1x1 convolution) plus one for the end token (a dense layer on the
    step's average-pooled state): ``G * G + 1`` classes.

The recurrent stack is what the models differ in (:data:`MODEL_NAMES`):

* ``"scs"``: :class:`scs_keras.DeepSCS` of ``depth`` ``ConvSCS2D`` layers,
  residual pairs (the paper's deep SCS decoder; 15 layers there, 2 by
  default here for the CPU);
* ``"convlstm"``: ``depth`` ``keras.layers.ConvLSTM2D`` of the same width
  with the same residual pairs (the paper's Polyg-LSTM);
* ``"polygon_rnn"``: two ``ConvLSTM2D`` layers, no shortcut (the original
  Polygon-RNN's shallow decoder), whatever ``depth`` says.

In training the decoder is teacher-forced: its maps come from the true
vertices (``inputs["vertices"]`` of
:func:`scs_keras.data.cityscapes.make_polygon_dataset`).  The training model
maps ``{"image", "vertices"}`` to ``{"first_vertex": (B, G*G) logits,
"vertices": (B, L - 1, G*G + 1) logits}`` with ``L = max_vertices + 1``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from scs_keras.data.cityscapes import PAD_INDEX
from scs_keras.layers import DeepSCS, FrameWise
from scs_keras.training import SCSModel
from scs_keras.utils.validation import check_int, one_of, positive_int

__all__ = [
    "MODEL_NAMES",
    "FIRST_VERTEX",
    "VERTICES",
    "VertexInputMaps",
    "TileOverSteps",
    "grid_size_for",
    "build_encoder",
    "build_first_vertex_head",
    "build_decoder",
    "build_model",
]

#: ``--model`` names: the SCS decoder first, then the baselines.
MODEL_NAMES = ("scs", "convlstm", "polygon_rnn")
#: Output names of the training model.
FIRST_VERTEX = "first_vertex"
VERTICES = "vertices"
#: Channels of the per-step vertex maps: first, previous, the one before.
NUM_VERTEX_MAPS = 3


def grid_size_for(crop_size):
    """The vertex grid side, ``crop_size // 8`` (28 for the 224-pixel crops).

    Raises:
        ValueError: ``crop_size`` is not a multiple of 8 of at least 16.
    """
    crop_size = check_int("crop_size", crop_size, minimum=16)
    if crop_size % 8:
        raise ValueError(f"crop_size must be a multiple of 8 (the encoder halves it three "
                         f"times); received {crop_size}.")
    return crop_size // 8


@keras.saving.register_keras_serializable(package="scs_keras")
class VertexInputMaps(keras.layers.Layer):
    """One-hot maps of the first, previous and second-previous vertices.

    Token sequences (``y * G + x`` cells, the end token ``G * G``, padding
    -1) become the decoder's per-step vertex inputs: step ``t`` (which
    predicts token ``t + 1``) gets ``[onehot(tokens[0]), onehot(tokens[t]),
    onehot(tokens[t - 1])]``, the last all zero at ``t = 0``.  The end token
    and padding give all-zero maps.

    Args:
        grid_size: Side ``G`` of the grid.
        **kwargs: Base ``Layer`` arguments.

    Call arguments:
        tokens: int ``(batch, L)``.

    Returns:
        float32 ``(batch, L - 1, G, G, 3)``.

    Example:

    >>> maps = VertexInputMaps(2)(tf.constant([[0, 3, 4, -1]]))
    >>> maps.shape, float(maps[0, 1, 1, 1, 1]), float(maps[0, 1, 0, 0, 2])
    (TensorShape([1, 3, 2, 2, 3]), 1.0, 1.0)
    """

    def __init__(self, grid_size, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = check_int("grid_size", grid_size, minimum=2)

    def call(self, tokens):
        tokens = tf.cast(tokens, tf.int32)
        steps = tf.shape(tokens)[1] - 1
        first = tf.repeat(tokens[:, :1], steps, axis=1)
        previous = tokens[:, :-1]
        before = tf.concat([tf.fill([tf.shape(tokens)[0], 1], PAD_INDEX), tokens[:, :-2]],
                           axis=1)
        g = self.grid_size
        # tf.one_hot gives zeros for -1 and for the end token (== depth).
        maps = tf.one_hot(tf.stack([first, previous, before], axis=-1), g * g)
        maps = tf.reshape(maps, [tf.shape(tokens)[0], steps, NUM_VERTEX_MAPS, g, g])
        return tf.transpose(maps, [0, 1, 3, 4, 2])

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] - 1
        return (input_shape[0], steps, self.grid_size, self.grid_size, NUM_VERTEX_MAPS)

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size}


@keras.saving.register_keras_serializable(package="scs_keras")
class TileOverSteps(keras.layers.Layer):
    """Concatenates image features to every step of a sequence of maps.

    Call arguments:
        inputs: ``[features (batch, H, W, F), maps (batch, T, H, W, M)]``.

    Returns:
        ``(batch, T, H, W, F + M)``.
    """

    def call(self, inputs):
        features, maps = inputs
        tiled = tf.repeat(features[:, None], tf.shape(maps)[1], axis=1)
        return tf.concat([tiled, tf.cast(maps, tiled.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        features, maps = input_shape
        return tuple(maps[:-1]) + (features[-1] + maps[-1],)


def build_encoder(crop_size, width=16, name="encoder"):
    """The crop encoder: ``(C, C, 3)`` in [0, 1] -> ``(G, G, width)`` features.

    Args:
        crop_size: Crop side ``C`` (a multiple of 8).
        width: Channels of the fused features (and of the widest stage).
        name: Model name.

    Returns:
        A functional ``keras.Model``.
    """
    grid = grid_size_for(crop_size)
    width = positive_int("width", width)
    image = keras.Input((crop_size, crop_size, 3), name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(image)
    skips = []
    for stage, channels in enumerate((max(width // 2, 4), width, width)):
        x = keras.layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu",
                                name=f"stage{stage}_down")(x)
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu",
                                name=f"stage{stage}_conv")(x)
        pool = crop_size // 2 ** (stage + 1) // grid
        skips.append(x if pool == 1 else keras.layers.AveragePooling2D(
            pool, name=f"stage{stage}_to_grid")(x))
    fused = keras.layers.Concatenate(name="skip_concat")(skips)
    fused = keras.layers.Conv2D(width, 3, padding="same", activation="relu",
                                name="skip_fusion")(fused)
    return keras.Model(image, fused, name=name)


def build_first_vertex_head(grid_size, features, name="first_vertex_head"):
    """``(G, G, F)`` features -> ``(G * G,)`` first-vertex logits (row-major cells)."""
    inputs = keras.Input((grid_size, grid_size, features), name="features")
    x = keras.layers.Conv2D(features, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Conv2D(1, 1, name="cell_logit")(x)
    return keras.Model(inputs, keras.layers.Flatten(name="cells")(x), name=name)


def _convlstm_stack(x, depth, width, residual, seed):
    """``depth`` ConvLSTM2D layers, residual pairs as in ``DeepSCS`` (equal widths)."""
    block_input = None
    for i in range(depth):
        if i % 2 == 0:
            block_input = x
        x = keras.layers.ConvLSTM2D(
            width, 3, padding="same", return_sequences=True, name=f"convlstm_{i}",
            kernel_initializer=keras.initializers.GlorotUniform(
                None if seed is None else seed + i))(x)
        if residual and i % 2 == 1:
            x = keras.layers.Add(name=f"shortcut_{i - 1}")([x, block_input])
    return x


def build_decoder(name, grid_size, features, depth=2, width=16, truncation_rate=0.5,
                  truncation_mode="temporal", seed=None):
    """The per-step decoder: ``[features, vertex maps]`` -> logits over ``G * G + 1``.

    The time axis is free (``None``), so the same decoder runs on the
    ``max_vertices`` teacher-forced steps and on the shorter sequences of
    greedy decoding.

    Args:
        name: ``"scs"``, ``"convlstm"`` or ``"polygon_rnn"`` (the stack).
        grid_size: Side ``G`` of the grid.
        features: Channels of the image features.
        depth: Recurrent layers (``"polygon_rnn"`` always has 2).
        width: Channels of every recurrent layer.
        truncation_rate, truncation_mode: Of the SCS layers.
        seed: Weight and truncation seed.

    Returns:
        A functional ``keras.Model`` named ``"decoder"``.
    """
    one_of("name", name, MODEL_NAMES)
    depth = positive_int("depth", depth)
    width = positive_int("width", width)
    g = grid_size
    feats = keras.Input((g, g, features), name="features")
    maps = keras.Input((None, g, g, NUM_VERTEX_MAPS), name="vertex_maps")
    x = TileOverSteps(name="features_and_maps")([feats, maps])
    x = FrameWise(keras.layers.Conv2D(width, 1, activation="tanh"), name="input_projection")(x)
    if name == "scs":
        x = DeepSCS([width] * depth, truncation_rate=truncation_rate,
                    truncation_mode=truncation_mode, seed=seed, name="deep_scs")(x)
    elif name == "convlstm":
        x = _convlstm_stack(x, depth, width, residual=True, seed=seed)
    else:
        x = _convlstm_stack(x, 2, width, residual=False, seed=seed)
    cells = FrameWise(keras.layers.Conv2D(1, 1), name="cell_logits")(x)
    cells = keras.layers.Reshape((-1, g * g), name="cells")(cells)
    pooled = FrameWise(keras.layers.GlobalAveragePooling2D(), name="step_pool")(x)
    end = keras.layers.Dense(1, name="end_logit")(pooled)
    logits = keras.layers.Concatenate(name="cells_and_end")([cells, end])
    return keras.Model([feats, maps], logits, name="decoder")


def build_model(name, crop_size=64, max_vertices=16, depth=2, width=16, truncation_rate=0.5,
                truncation_mode="temporal", seed=None):
    """A Polygon-RNN training model with the ``name`` decoder stack.

    Args:
        name: One of :data:`MODEL_NAMES`.
        crop_size: Crop side ``C`` (a multiple of 8); the grid is ``C / 8``.
        max_vertices: Longest polygon; the token sequences hold
            ``max_vertices + 1`` tokens.
        depth: Recurrent layers of the decoder (not for ``"polygon_rnn"``).
        width: Channels of the encoder's features and of the decoder.
        truncation_rate, truncation_mode: Of the SCS layers.
        seed: Seed of the SCS truncation draws and the ConvLSTM kernels.

    Returns:
        An ``SCSModel`` for ``"scs"``, else a ``keras.Model``; inputs
        ``{"image": (B, C, C, 3), "vertices": (B, L) int32}``, outputs
        ``{"first_vertex": (B, G*G), "vertices": (B, L - 1, G*G + 1)}``
        logits.

    Raises:
        ValueError: an unknown name or bad sizes.

    Example:

    >>> m = build_model("scs", crop_size=32, max_vertices=8, width=8)
    >>> {k: tuple(v.shape) for k, v in m.output.items()}
    {'first_vertex': (None, 16), 'vertices': (None, 8, 17)}
    """
    one_of("name", name, MODEL_NAMES)
    grid = grid_size_for(crop_size)
    length = check_int("max_vertices", max_vertices, minimum=3) + 1
    image = keras.Input((crop_size, crop_size, 3), name="image")
    tokens = keras.Input((length,), dtype="int32", name="vertices")
    encoder = build_encoder(crop_size, width)
    features = encoder(image)
    first = build_first_vertex_head(grid, width)(features)
    maps = VertexInputMaps(grid, name="vertex_maps")(tokens)
    decoder = build_decoder(name, grid, width, depth=depth, width=width,
                            truncation_rate=truncation_rate, truncation_mode=truncation_mode,
                            seed=seed)
    logits = decoder([features, maps])
    # The layer names differ from the input "vertices"; the output keys do not.
    outputs = {FIRST_VERTEX: keras.layers.Identity(name="first_vertex_logits")(first),
               VERTICES: keras.layers.Identity(name="vertex_logits")(logits)}
    inputs = {"image": image, "vertices": tokens}
    cls = SCSModel if name == "scs" else keras.Model
    return cls(inputs, outputs, name=f"outline_{name}")
