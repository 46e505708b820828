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


def per_frame(fn, x):
    """Applies a per-frame op to all ``(B, T, ...)`` frames in one call."""
    shape = tf.shape(x)
    y = fn(tf.reshape(x, tf.concat([[-1], shape[2:]], 0)))
    return tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0))


def recurrence(cell, x, c0):
    """All states of ``c_t = rec_act(W_x * x_t + b_g + U * c_{t-1})``.

    The gate's input projection is part of this op so that its result ``z``
    need not be kept for the backward pass: a custom gradient holds on to its
    inputs, and ``x`` is held anyway (the spatial projection's gradient needs
    it), whereas keeping ``z`` would cost a full-size tensor per layer.  The
    backward pass recomputes the projection once (one batched op) to get its
    vector-Jacobian product.

    Args:
        cell: The SCS cell (provides the projections, their gradients and
            ``recurrent_activation``).
        x: Batch-major ``(B, T, ...)`` layer input (as seen by the gate).
        c0: Initial state ``(B, ...)``.

    Returns:
        ``(B, T, ...)`` states (the gate maps ``g_t``).
    """
    act = cell.recurrent_activation
    derivative = derivative_from_output(act)
    if derivative is None:
        raise ValueError(
            "recurrence() needs a sigmoid or tanh recurrent activation; "
            f"received {act}."
        )
    kernel = tf.convert_to_tensor(cell.recurrent_kernel)

    def project(x):
        return per_frame(cell.gate_input_projection, x)

    @tf.custom_gradient
    def run(x, c0, kernel):
        z_tm = _to_time_major(project(x))
        steps = tf.shape(z_tm)[0]

        # Plain while loops over time-major slices: z_tm[t] of a time-major
        # tensor is cheap, and nothing here is differentiated automatically.
        def forward(t, c, outputs):
            g = act(z_tm[t] + cell.recurrent_projection_with(c, kernel))
            return t + 1, g, outputs.write(t, g)

        _, _, outputs = tf.while_loop(
            lambda t, *_: t < steps, forward,
            (0, c0, tf.TensorArray(z_tm.dtype, size=steps)),
        )
        g = _to_time_major(outputs.stack())

        def grad(dg, variables=None):
            # Everything below depends on forward tensors only, except through
            # dg: without this dependency TensorFlow's executor runs it as soon
            # as the forward pass is done, for every layer at once, and the
            # transposed/shifted copies then all live until the backward pass.
            with tf.control_dependencies([dg]):
                return _backward(dg, variables)

        def _backward(dg, variables):
            # Only the batch-major output `g` (which the layer keeps anyway)
            # and c0 are held for the backward pass.
            g_tm = _to_time_major(g)
            dg_tm = _to_time_major(dg)

            def backward(t, dc, dzs):
                dz_t = (dg_tm[t] + dc) * derivative(g_tm[t])
                return (t - 1, cell.recurrent_input_gradient(dz_t, kernel),
                        dzs.write(t, dz_t))

            _, dc0, dzs = tf.while_loop(
                lambda t, *_: t >= 0, backward,
                (steps - 1, tf.zeros_like(c0), tf.TensorArray(g.dtype, size=steps)),
            )
            dz_tm = dzs.stack()
            c_prev = tf.concat([c0[None], g_tm[:-1]], 0)
            dkernel = cell.recurrent_kernel_gradient(
                _merge_time_batch(c_prev), _merge_time_batch(dz_tm), kernel
            )
            variables = list(variables or [])
            with tf.GradientTape() as tape:
                tape.watch(x)
                z = project(x)
            grads = tape.gradient(
                z, [x] + variables, output_gradients=_to_time_major(dz_tm)
            )
            return (grads[0], dc0, dkernel), grads[1:]

        return g, grad

    return run(x, c0, kernel)
