"""Stochastic truncation of back-propagation.

Truncation never changes forward values: it only cuts the gradient path from a
stream of an SCS layer *into the layer below*.  We implement a cut as an
identity op whose gradient is multiplied by a 0/1 "keep" factor
(:func:`mask_gradient`), applied to the layer input just before the stream's
input projection.  The projection weights therefore still receive their full
gradient (``dW = x^T dz`` does not pass through the masked op), and the
recurrent path through the state ``c`` is never touched.

Draws are made per layer and per time step and shared over the batch, as the
reference implementation does.

Everything here is written with ``keras.ops`` and ``keras.random``, so that
the per-step cell path runs on other backends than TensorFlow too (tested on
JAX; :func:`check_per_step_draws` says what JAX's traced loops cannot do).
"""

import keras
from keras import ops

from scs_keras.utils import validation

TRUNCATION_MODES = ("temporal", "exclusive", "none")


def validate_truncation(truncation_rate, truncation_mode):
    """Checks a truncation rate and mode, returning them normalised.

    Args:
        truncation_rate: Float in ``[0, 1]``, the probability that drives the
            cuts.
        truncation_mode: One of ``"temporal"``, ``"exclusive"`` or ``"none"``.

    Returns:
        ``(float(truncation_rate), truncation_mode)``.

    Raises:
        TypeError: ``truncation_rate`` is not a number.
        ValueError: ``truncation_rate`` is outside ``[0, 1]`` or
            ``truncation_mode`` unknown (the message names the argument).
    """
    return (validation.rate("truncation_rate", truncation_rate),
            validation.one_of("truncation_mode", truncation_mode, TRUNCATION_MODES))


@ops.custom_gradient
def _mask_gradient(x, keep):
    def grad(dy):
        return dy * keep, ops.zeros_like(keep)

    return ops.copy(x), grad


def mask_gradient(x, keep):
    """Identity in the forward pass; multiplies the gradient by ``keep``.

    Args:
        x: Tensor.
        keep: Float tensor broadcastable to ``x`` holding 1 (gradient passes)
            or 0 (gradient cut).  With ``keep`` all ones this is a no-op.

    Returns:
        A tensor equal to ``x``.
    """
    keep = ops.cast(keep, x.dtype)
    return _mask_gradient(x, keep)


def keep_factors(rate, mode, num_steps, seed_generator, dtype="float32"):
    """Draws which input paths keep their gradient at each time step.

    Args:
        rate: Scalar (float or tensor) truncation rate ``p`` (``"temporal"``)
            or ``q`` (``"exclusive"``).
        mode: ``"temporal"``, ``"exclusive"`` or ``"none"``.
        num_steps: Number of time steps (int or scalar tensor).
        seed_generator: A ``keras.random.SeedGenerator`` (stateful: successive
            calls give fresh draws; seeded generators are reproducible).
        dtype: dtype of the returned factors (the layer input's dtype).

    Returns:
        ``(temporal_keep, spatial_keep)``: vectors of length ``num_steps``
        with 1 where the path into the layer below is kept and 0 where it is
        cut, or ``None`` for a path that is never cut.

    In ``"exclusive"`` mode the temporal path is cut with probability ``q`` and,
    independently, the spatial path with probability ``1 - q``; when both are
    drawn one is restored (the temporal path if ``q < 0.5``, else the spatial
    path).  Per step this cuts only the temporal path with probability ``q``
    and only the spatial one with ``(1 - q)^2`` when ``q >= 0.5``, and
    ``q^2`` and ``1 - q`` when ``q < 0.5``; at most one path is ever cut.
    """
    if mode == "none":
        return None, None
    # The uniform draws and the rate are compared in float32 whatever the
    # layer's dtype (the rate variable of a schedule is float32, and a
    # probability needs no more precision); only the 0/1 result takes the
    # input's dtype.
    rate = ops.cast(rate, "float32")
    shape = (num_steps,)
    u_temporal = keras.random.uniform(shape, dtype="float32", seed=seed_generator)
    cut_temporal = ops.less(u_temporal, rate)
    if mode == "temporal":
        return _keep(cut_temporal, dtype), None
    u_spatial = keras.random.uniform(shape, dtype="float32", seed=seed_generator)
    cut_spatial = ops.less(u_spatial, 1.0 - rate)
    both = ops.logical_and(cut_temporal, cut_spatial)
    restore_temporal = ops.less(rate, 0.5)
    cut_temporal = ops.logical_and(
        cut_temporal, ops.logical_not(ops.logical_and(both, restore_temporal))
    )
    cut_spatial = ops.logical_and(
        cut_spatial,
        ops.logical_not(ops.logical_and(both, ops.logical_not(restore_temporal))),
    )
    return _keep(cut_temporal, dtype), _keep(cut_spatial, dtype)


def loop_caller():
    """A marker of the JAX trace ``keras.layers.RNN`` runs its loop from,
    taken before the loop (``None`` on other backends)."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    return jax.numpy.zeros(())


def check_per_step_draws(owner, caller):
    """Raises a ValueError if a draw here cannot differ from step to step.

    ``keras.layers.RNN`` runs its steps, on the JAX backend unless
    ``unroll=True``, in a ``jax.lax.scan``: JAX traces the step once for
    all time steps, so a random generator cannot advance between steps
    (every step would get the same draw, and the generator's new state
    would leak out of the loop).  Keras draws its dropout masks once per
    sequence for that reason; a truncation decision, though, is drawn anew
    at every step.

    Args:
        owner: Name of the cell, for the message.
        caller: :func:`loop_caller` of the code that runs the loop, or
            ``None`` when unknown (no check).

    Raises:
        ValueError: On JAX, in a loop body traced once for all steps.
    """
    if caller is None or not _in_jax_loop_body(caller):
        return
    raise ValueError(
        f"{owner}: stochastic truncation draws a fresh decision at every "
        "time step, which a loop the JAX backend traces once for all steps "
        "(keras.layers.RNN with unroll=False) cannot do. On JAX, train with "
        "keras.layers.RNN(..., unroll=True), or turn truncation off "
        "(truncation_rate=0.0 or truncation_mode='none')."
    )


def _in_jax_loop_body(caller):
    """Whether this step runs in a JAX trace nested in the caller's (the
    body of a ``lax.scan``), judged by where a fresh constant lands.  An
    unrolled loop runs in the caller's own trace (or eagerly)."""
    import jax

    probe = jax.numpy.zeros(())
    if not isinstance(probe, jax.core.Tracer):
        return False  # eager: each step runs in turn
    if not isinstance(caller, jax.core.Tracer):
        return True  # traced here, eager around the loop
    return _jax_trace(probe) is not _jax_trace(caller)


def _jax_trace(tracer):
    # JAX < 0.4.36 gives each op its own trace object over a shared "main".
    trace = tracer._trace
    return getattr(trace, "main", trace)


def _keep(cut, dtype):
    """0 where ``cut``, else 1."""
    return 1.0 - ops.cast(cut, dtype)


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
