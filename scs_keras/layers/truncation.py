"""Stochastic truncation of back-propagation (SPEC §4).

Truncation never changes forward values: it only cuts the gradient path from a
stream of an SCS layer *into the layer below*.  We implement a cut as an
identity op whose gradient is multiplied by a 0/1 "keep" factor
(:func:`mask_gradient`), applied to the layer input just before the stream's
input projection.  The projection weights therefore still receive their full
gradient (``dW = x^T dz`` does not pass through the masked op), and the
recurrent path through the state ``c`` is never touched.

Draws are made per layer and per time step and shared over the batch, as the
reference implementation does.
"""

import keras
import tensorflow as tf

TRUNCATION_MODES = ("temporal", "exclusive", "none")


def validate_truncation(rate, mode):
    """Checks a truncation rate and mode, returning them normalised.

    Args:
        rate: Float in ``[0, 1]``, the probability that drives the cuts.
        mode: One of ``"temporal"``, ``"exclusive"`` or ``"none"``.

    Returns:
        ``(float(rate), mode)``.

    Raises:
        ValueError: naming ``truncation_rate`` or ``truncation_mode``.
    """
    if mode not in TRUNCATION_MODES:
        raise ValueError(
            f"Invalid truncation_mode {mode!r}: expected one of "
            f"{TRUNCATION_MODES}."
        )
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise ValueError(
            f"truncation_rate must be a float in [0, 1]; received {rate!r}."
        ) from None
    if not 0.0 <= rate <= 1.0:
        raise ValueError(
            f"truncation_rate must be in [0, 1]; received {rate}."
        )
    return rate, mode


@tf.custom_gradient
def _mask_gradient(x, keep):
    def grad(dy):
        return dy * keep, tf.zeros_like(keep)

    return tf.identity(x), grad


def mask_gradient(x, keep):
    """Identity in the forward pass; multiplies the gradient by ``keep``.

    Args:
        x: Tensor.
        keep: Float tensor broadcastable to ``x`` holding 1 (gradient passes)
            or 0 (gradient cut).  With ``keep`` all ones this is a no-op.

    Returns:
        A tensor equal to ``x``.
    """
    keep = tf.cast(keep, x.dtype)
    return _mask_gradient(x, keep)


def keep_factors(rate, mode, num_steps, seed_generator):
    """Draws which input paths keep their gradient at each time step.

    Args:
        rate: Scalar (float or tensor) truncation rate ``p`` (``"temporal"``)
            or ``q`` (``"exclusive"``).
        mode: ``"temporal"``, ``"exclusive"`` or ``"none"``.
        num_steps: Number of time steps (int or scalar tensor).
        seed_generator: A ``keras.random.SeedGenerator`` (stateful: successive
            calls give fresh draws; seeded generators are reproducible).

    Returns:
        ``(temporal_keep, spatial_keep)``: float32 vectors of length
        ``num_steps`` with 1 where the path into the layer below is kept and 0
        where it is cut, or ``None`` for a path that is never cut.

    In ``"exclusive"`` mode the temporal path is cut with probability ``q`` and,
    independently, the spatial path with probability ``1 - q``; when both are
    drawn one is restored (the temporal path if ``q < 0.5``, else the spatial
    path), giving the per-step probabilities of the SPEC §4 table.
    """
    if mode == "none":
        return None, None
    rate = tf.cast(rate, tf.float32)
    shape = tf.reshape(tf.cast(num_steps, tf.int32), [1])
    u_temporal = keras.random.uniform(shape, seed=seed_generator)
    cut_temporal = u_temporal < rate
    if mode == "temporal":
        return 1.0 - tf.cast(cut_temporal, tf.float32), None
    u_spatial = keras.random.uniform(shape, seed=seed_generator)
    cut_spatial = u_spatial < 1.0 - rate
    both = tf.logical_and(cut_temporal, cut_spatial)
    restore_temporal = rate < 0.5
    cut_temporal = tf.logical_and(
        cut_temporal, tf.logical_not(tf.logical_and(both, restore_temporal))
    )
    cut_spatial = tf.logical_and(
        cut_spatial,
        tf.logical_not(tf.logical_and(both, tf.logical_not(restore_temporal))),
    )
    return (
        1.0 - tf.cast(cut_temporal, tf.float32),
        1.0 - tf.cast(cut_spatial, tf.float32),
    )


class RateSource:
    """Holds the variable a training schedule writes the current rate to.

    ``SCSModel`` attaches one of these to every SCS cell so that STSGD/ASTSGD
    drive all layers from one model-level variable.  It is a plain object (not
    a Keras-tracked container) so the cell does not claim the model's variable
    as one of its own weights.
    """

    def __init__(self, variable):
        self.variable = variable

    def read(self):
        return self.variable
