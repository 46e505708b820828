"""The sequential part of an SCS layer, with a hand-written gradient.

``c_t = rec_act(z_t + U * c_{t-1})`` is the only recurrence of an SCS layer.
Automatic differentiation through ``tf.scan`` keeps every step's carry in
TensorLists and, in the backward loop, computes a small ``dU`` contribution
per step (a per-step weight-gradient op plus an accumulation).  Here the
backward loop only propagates ``dz_t`` through time, and ``dU`` is one batched
op over all ``time × batch`` frames afterwards: ``dU = Σ_t c_{t-1}ᵀ dz_t``.
The forward pass keeps only its output sequence, which the layer needs
anyway, so memory drops too.

Used when the recurrent activation's derivative can be written from its
output (sigmoid, tanh) and there is no mask; otherwise the layer falls back to
plain ``tf.scan``.
"""

import keras
import tensorflow as tf

_DERIVATIVE_FROM_OUTPUT = {
    "sigmoid": lambda g: g * (1.0 - g),
    "tanh": lambda g: 1.0 - tf.square(g),
}


def derivative_from_output(activation):
    """``f'`` as a function of ``f(x)``, or ``None`` when not expressible."""
    try:
        name = keras.activations.serialize(activation)
    except (ValueError, TypeError):
        return None
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return _DERIVATIVE_FROM_OUTPUT.get(name)


def _to_time_major(x):
    rank = len(x.shape)
    return tf.transpose(x, [1, 0] + list(range(2, rank)))


def _merge_time_batch(x):
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[-1], shape[2:]], 0))


def recurrence(cell, z, c0):
    """All states ``c_1..c_T`` of ``c_t = rec_act(z_t + U * c_{t-1})``.

    Args:
        cell: The SCS cell (provides ``recurrent_projection_with``,
            ``recurrent_input_gradient``, ``recurrent_kernel_gradient`` and
            ``recurrent_activation``).
        z: Batch-major ``(B, T, ...)`` input projections ``W_x * x_t + b_g``.
        c0: Initial state ``(B, ...)``.

    Returns:
        ``(B, T, ...)`` states (the gate maps ``g_t``).
    """
    act = cell.recurrent_activation
    derivative = derivative_from_output(act)
    kernel = tf.convert_to_tensor(cell.recurrent_kernel)

    @tf.custom_gradient
    def run(z, c0, kernel):
        g_tm = tf.scan(
            lambda c, z_t: act(z_t + cell.recurrent_projection_with(c, kernel)),
            _to_time_major(z),
            initializer=c0,
        )

        def grad(dg):
            def step(carry, elems):
                dc, _ = carry
                dg_t, g_t = elems
                dz_t = (dg_t + dc) * derivative(g_t)
                return cell.recurrent_input_gradient(dz_t, kernel), dz_t

            zeros = tf.zeros_like(c0)
            dcs, dz_tm = tf.scan(
                step, (_to_time_major(dg), g_tm), initializer=(zeros, zeros),
                reverse=True,
            )
            c_prev = tf.concat([c0[None], g_tm[:-1]], 0)
            dkernel = cell.recurrent_kernel_gradient(
                _merge_time_batch(c_prev), _merge_time_batch(dz_tm), kernel
            )
            return _to_time_major(dz_tm), dcs[0], dkernel

        return _to_time_major(g_tm), grad

    if derivative is None:
        raise ValueError(
            "recurrence() needs a sigmoid or tanh recurrent activation; "
            f"received {act}."
        )
    return run(z, c0, kernel)
