"""The fused whole-sequence SCS layer, with a hand-written gradient.

Only ``c_t = rec_act(z_t + U * c_{t-1})`` is sequential in an SCS layer.  This
module computes a whole layer, ``h = act(W_s * x + b_s) ⊙ pool(g)`` with
``g`` the states of that recurrence, as one op with a custom gradient:

* It works **time-major** ``(T, B, ...)``: every per-frame op (the two input
  projections, the activations, the pooling and the product) treats the two
  leading axes alike, and the loop slices ``z[t]`` and ``g[t]`` along the
  leading axis, which costs no copy.  Layers convert once at their boundary;
  ``DeepSCS`` stays time-major through the whole stack, so its layers do no
  transposes at all.
* The backward loop only propagates ``dz_t`` through time.  ``dU`` is one
  batched op over all ``T × B`` frames afterwards, ``dU = Σ_t c_{t-1}ᵀ dz_t``,
  and the input projections' gradients are one batched op each.
* It keeps for the backward pass only the layer input ``x``, the states
  ``g`` and the spatial stream ``s`` (or, with ``recompute_spatial``, not even
  ``s``: it is recomputed from ``x``).  Automatic differentiation of the same
  computation also keeps the gate pre-activation, per-step carries and the
  transposed copies.

Used when both activations' derivatives can be written from their outputs
(see :func:`gradient_from_output`) and there is no mask; otherwise the
layers fall back to plain ``tf.scan``.

All of this is TensorFlow: the fused layers run on the TensorFlow backend
only (:func:`require_tensorflow_backend`); the cells alone, in
``keras.layers.RNN``, run on any backend.
"""

import keras
import tensorflow as tf

from scs_keras.layers.frames import per_frame
from scs_keras.utils.backend import require_tensorflow_backend  # noqa: F401 (re-exported)


# Vector-Jacobian products of activations written from their outputs
# ``y = f(x)``: ``dy -> dy * f'(x)``.  TensorFlow's fused gradient ops do it
# in one pass over memory instead of three elementwise ops.
_GRADIENT_FROM_OUTPUT = {
    "sigmoid": lambda y, dy: tf.raw_ops.SigmoidGrad(y=y, dy=dy),
    "tanh": lambda y, dy: tf.raw_ops.TanhGrad(y=y, dy=dy),
    # relu'(x) = [x > 0] = [relu(x) > 0] (TensorFlow's own ReluGrad agrees).
    "relu": lambda y, dy: tf.raw_ops.ReluGrad(gradients=dy, features=y),
    "linear": lambda y, dy: dy,
}


def gradient_from_output(activation):
    """``(y, dy) -> dy * f'(x)`` for ``y = f(x)``, or ``None`` when ``f'``
    cannot be written from ``f``'s output."""
    try:
        name = keras.activations.serialize(activation)
    except (ValueError, TypeError):
        return None
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return _GRADIENT_FROM_OUTPUT.get(name)


def supports_fused_sequence(cell):
    """Whether :func:`fused_sequence` can run ``cell`` (the recurrent
    activation's derivative must be expressible from its output)."""
    return gradient_from_output(cell.recurrent_activation) is not None


def swap_batch_time(x):
    """``(B, T, ...)`` <-> ``(T, B, ...)``."""
    return tf.transpose(x, [1, 0] + list(range(2, len(x.shape))))


def _merge_leading(x):
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[-1], shape[2:]], 0))


# Layers with ``unroll=None`` unroll sequences of at most this many (static)
# steps; the graph grows with the length.
UNROLL_MAX_STEPS = 128

# Layers with ``unroll=True`` warn on sequences longer than this: the graph
# holds a copy of the step per time step (forward and backward).
UNROLL_WARN_STEPS = 1024

# An unrolled loop's batched work is split into this many time chunks: a
# chunk's input projection (forward) and its weight and input gradients
# (backward) depend only on that chunk's steps, so TensorFlow runs them on a
# free core while the latency-bound loop goes on with the next chunk.
# (Chunked *while* loops measured slower: four loops per direction per layer
# cost more in loop control and graph optimisation than the overlap gains.)
OVERLAP_CHUNKS = 4


def time_chunks(steps):
    """``[(start, stop), ...]``: the chunks of an unrolled loop over
    ``steps`` (static) steps."""
    n = max(1, min(OVERLAP_CHUNKS, steps))
    edges = [round(i * steps / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _chunk_slices(x, chunks):
    return [x] if chunks is None else [x[a:b] for a, b in chunks]


def time_loop(step, chunks, steps, carry, dtype, reverse=False, by_chunk=True):
    """``carry, y = step(k, i, carry)`` for every step of a sequence.

    Args:
        step: ``(k, i, carry) -> (carry, y)`` for step ``i`` of chunk ``k``.
        chunks: ``None`` for one ``tf.while_loop`` over all steps (``i`` is
            then a scalar tensor and ``k`` is 0), or :func:`time_chunks` to
            unroll the loop: straight-line code without per-step loop
            control, which matters when the per-step work is small.
        steps: The number of steps (a scalar tensor is fine).
        carry: Initial carry (a tensor).
        dtype: dtype of ``y``.
        reverse: Run from the last step to the first.
        by_chunk: Stack ``y`` per chunk (else once, for all steps: one copy
            instead of a copy per chunk plus their concatenation).

    Returns:
        ``(final carry, ys)``: one time-major tensor per chunk, each stacked
        as soon as its chunk's steps are done, so that work on it can start
        while the loop goes on; or a single one (while loop, or
        ``by_chunk=False``).
    """
    if chunks is not None:
        ys = [None] * len(chunks)
        order = list(enumerate(chunks))
        for k, (start, stop) in (reversed(order) if reverse else order):
            outs = [None] * (stop - start)
            for i in (reversed(range(stop - start)) if reverse
                      else range(stop - start)):
                carry, outs[i] = step(k, i, carry)
            ys[k] = tf.stack(outs) if by_chunk else outs
        if not by_chunk:
            ys = [tf.stack([y for outs in ys for y in outs])]
        return carry, ys

    def body(j, carry, outs):
        i = steps - 1 - j if reverse else j
        carry, y = step(0, i, carry)
        return j + 1, carry, outs.write(i, y)

    _, carry, outs = tf.while_loop(
        lambda j, *_: j < steps, body,
        (0, carry, tf.TensorArray(dtype, size=steps)),
    )
    return carry, [outs.stack()]


def _is_zeros(x):
    """Whether graph tensor ``x`` is known at trace time to be all zeros (the
    default initial state): a constant, or a fill with a constant value."""
    if tf.executing_eagerly() or not hasattr(x, "op"):
        return False
    if x.op.type == "Fill":
        value = tf.get_static_value(x.op.inputs[1])
    elif x.op.type == "Const":
        value = tf.get_static_value(x)
    else:
        return False
    return value is not None and not value.any()


def _concat(pieces):
    return pieces[0] if len(pieces) == 1 else tf.concat(pieces, 0)


def _sum_gradients(*grads):
    present = [g for g in grads if g is not None]
    return tf.add_n(present) if present else None


def _projection_gradients(projection, x, dy, variables):
    """Gradients of ``per_frame(projection, x)`` for ``x`` and ``variables``
    given the output gradient ``dy``.  The projection's output is not
    needed for them, so TensorFlow prunes its recomputation here."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = per_frame(projection, x)
    return tape.gradient(y, [x] + variables, output_gradients=dy)


def _recurrent_kernel_gradient(cell, kernel, g, c0, dz, start, stop, zero_start):
    """``dU = Σ_t c_{t-1}ᵀ dz_t`` over the steps ``[start, stop)`` of one
    chunk (``stop=None``: to the end), with ``c_t = g[t]`` and
    ``c_{-1} = c0``, as one batched op."""
    prev_stop = -1 if stop is None else stop - 1
    if start > 0:
        c_prev = g[start - 1:prev_stop]
    elif zero_start:  # c_{-1} = 0 adds nothing: skip step 0
        c_prev, dz = g[:prev_stop], dz[1:]
    else:
        c_prev = tf.concat([c0[None], g[:prev_stop]], 0)
    return cell.recurrent_kernel_gradient(
        _merge_leading(c_prev), _merge_leading(dz), kernel
    )


def _fused_setup(cell, x_gate, c0):
    """What both fused paths need before their custom gradient: the
    recurrent activation's gradient from its output, whether ``c0`` is the
    default all-zero state, and ``U`` in ``x_gate``'s dtype."""
    rec_act = cell.recurrent_activation
    rec_gradient = gradient_from_output(rec_act)
    if rec_gradient is None:
        raise ValueError(
            "The fused SCS paths need a recurrent activation whose derivative "
            f"follows from its output (sigmoid, tanh, relu); received {rec_act}."
        )
    kernel = cell._weight(tf.convert_to_tensor(cell.recurrent_kernel), x_gate)
    # With the default all-zero initial state c_0 adds nothing to dU, and an
    # unrolled loop's first step needs no recurrent product.
    return rec_gradient, _is_zeros(c0), kernel


def _chunks_for(x, unroll):
    static_steps = x.shape[0]
    return (time_chunks(static_steps)
            if unroll and static_steps is not None else None)


def _forward_recurrence(cell, x_gate, c0, kernel, chunks, zero_start,
                        pre_activation=False):
    """The states ``g_t = rec_act(z_t + U * g_{t-1})``, ``g_{-1} = c0``,
    with ``z = W_x * x_gate + b_g`` batched over all frames; with
    ``pre_activation`` the pre-activations ``z_t + U * g_{t-1}`` instead."""
    rec_act = cell.recurrent_activation
    z = [per_frame(cell.gate_input_projection, x)
         for x in _chunk_slices(x_gate, chunks)]

    def forward(k, i, c):
        if zero_start and chunks is not None and k == 0 and i == 0:
            pre = z[0][0]
        else:
            pre = z[k][i] + cell.recurrent_projection_with(c, kernel)
        g = rec_act(pre)
        return g, (pre if pre_activation else g)

    # Nothing in the forward pass works on chunks of the states.
    _, (ys,) = time_loop(forward, chunks, tf.shape(x_gate)[0], c0,
                         x_gate.dtype, by_chunk=False)
    return ys


def _backward_recurrence(cell, kernel, rec_gradient, x_gate, g, c0, chunks,
                         zero_start, variables, dc_last=None, dg=None,
                         dpre=None):
    """The gradients of :func:`_forward_recurrence` given those of its
    states ``dg`` and of its pre-activations ``dpre`` (either may be
    ``None``) and of the last state ``dc_last``.

    Backwards in time only ``dz_t`` is propagated; ``dU`` and the gate
    projection's gradients are batched ops afterwards, per chunk.

    Returns:
        ``(dx_gate, dc0, dU, [d(variable) or None for variables])``.
    """
    recurrent_input_gradient = cell.recurrent_input_gradient_fn(kernel)

    # Slices along the leading axis: views, not copies.
    g_chunks = _chunk_slices(g, chunks)
    dg_chunks = None if dg is None else _chunk_slices(dg, chunks)
    dpre_chunks = None if dpre is None else _chunk_slices(dpre, chunks)

    def backward(k, i, dc):
        dg_t = dc if dg_chunks is None else dg_chunks[k][i] + dc
        dz_t = rec_gradient(g_chunks[k][i], dg_t)
        if dpre_chunks is not None:
            dz_t = dz_t + dpre_chunks[k][i]
        return recurrent_input_gradient(dz_t), dz_t

    dc0, dz = time_loop(
        backward, chunks, tf.shape(g)[0],
        tf.zeros_like(c0) if dc_last is None else dc_last,
        g.dtype, reverse=True,
    )
    # Per chunk (so that a chunk's work starts while the loop goes on): dU,
    # and the gate projection's input and weight gradients.
    bounds = chunks or [(0, None)]
    dkernel = tf.add_n([
        _recurrent_kernel_gradient(cell, kernel, g, c0, dz_chunk,
                                   start, stop, zero_start)
        for (start, stop), dz_chunk in zip(bounds, dz)
    ])
    per_chunk = [
        _projection_gradients(cell.gate_input_projection, x_chunk,
                              dz_chunk, variables)
        for x_chunk, dz_chunk in zip(_chunk_slices(x_gate, chunks), dz)
    ]
    dx_gate = _concat([grads[0] for grads in per_chunk])
    variable_grads = [_sum_gradients(*grads)
                      for grads in zip(*(g[1:] for g in per_chunk))]
    return dx_gate, dc0, dkernel, variable_grads


def fused_sequence(cell, x_gate, x_spatial, c0, recompute_spatial=False,
                   unroll=False):
    """One SCS layer over a whole time-major sequence.

    Args:
        cell: The SCS cell (provides the projections, their gradients, the
            activations and ``pool_gate``).
        x_gate: ``(T, B, ...)`` channels-last layer input as seen by the
            temporal stream.
        x_spatial: The same values as seen by the spatial stream.  The two
            differ only in their gradients (stochastic truncation wraps them
            in gradient masks), so the gradient of each is returned
            separately.
        c0: Initial state ``(B, ...)``.
        recompute_spatial: Recompute ``s`` in the backward pass instead of
            keeping it (one input projection more, one full-size tensor
            less).  Also used whenever the spatial activation's derivative
            cannot be written from its output.
        unroll: Unroll the time loops, in :data:`OVERLAP_CHUNKS` chunks
            (static lengths only; see :func:`time_loop`).

    Returns:
        ``(h, c_T)``: the outputs ``s ⊙ pool(g)``, ``(T, B, ...)``, and the
        last state ``(B, ...)``.  (Returning the last state rather than all
        states keeps its incoming gradient small: a gradient for all states
        would be a full-size tensor of zeros but for its last step.)
    """
    rec_gradient, zero_start, kernel = _fused_setup(cell, x_gate, c0)
    act_gradient = gradient_from_output(cell.activation)
    keep_spatial = not recompute_spatial and act_gradient is not None

    def gated(s, g):
        return s * per_frame(cell.pool_gate, g)

    @tf.custom_gradient
    def run(x_gate, x_spatial, c0, kernel):
        chunks = _chunks_for(x_gate, unroll)
        g = _forward_recurrence(cell, x_gate, c0, kernel, chunks, zero_start)
        s = cell.spatial_stream(x_spatial)
        h = gated(s, g)
        # What the backward pass holds on to: x (the projections' weight
        # gradients need it anyway), g, and s unless it is recomputed.
        kept_s = s if keep_spatial else None

        def grad(dh, dc_last, variables=None):
            # Everything in the backward pass depends on forward tensors
            # only, except through the incoming gradients: without this
            # dependency TensorFlow's executor runs it as soon as the forward
            # pass is done, for every layer at once, and the temporaries
            # then all live until the backward pass.
            with tf.control_dependencies([dh]):
                return _backward(dh, dc_last, kept_s, list(variables or []))

        def _backward(dh, dc_last, s, variables):
            # Output h = s ⊙ pool(g): split dh between the two streams.
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([x_spatial, g])
                s_live = cell.spatial_stream(x_spatial) if s is None else None
                gate = per_frame(cell.pool_gate, g)
            s_value = s_live if s is None else s
            dgate = dh * s_value
            dg = tape.gradient(gate, g, output_gradients=dgate)
            ds = dh * gate
            if s is None:
                spatial_grads = tape.gradient(
                    s_live, [x_spatial] + variables, output_gradients=ds
                )
            else:
                # act'(pre) from act's output, so no projection is rerun.
                spatial_grads = _projection_gradients(
                    cell.spatial_projection, x_spatial, act_gradient(s, ds),
                    variables,
                )
            del tape
            dx_gate, dc0, dkernel, gate_grads = _backward_recurrence(
                cell, kernel, rec_gradient, x_gate, g, c0, chunks, zero_start,
                variables, dc_last=dc_last, dg=dg,
            )
            variable_grads = [_sum_gradients(a, b)
                              for a, b in zip(spatial_grads[1:], gate_grads)]
            return (dx_gate, spatial_grads[0], dc0, dkernel), variable_grads

        return (h, g[-1]), grad

    return run(x_gate, x_spatial, c0, kernel)


def fused_temporal_sequence(cell, x, c0, unroll=False):
    """The temporal-only stream of an SCS layer over a whole time-major
    sequence, with a hand-written gradient.

    ``pool(relu(p_t))`` with ``p_t = W_x * x_t + b_g + U * ĉ_{t-1}`` and
    ``ĉ_t = rec_act(p_t)``, ``ĉ_{-1} = c0``: the gate recurrence of
    :func:`fused_sequence` fed its own input, read before its activation,
    with no spatial factor.  Forward and backward loops are those of
    :func:`fused_sequence`; the backward pass adds the output's share
    ``relu'(p_t) ⊙ d(relu(p_t))`` to each step's ``dp_t``.  It keeps the
    input, the states and ``relu(p)``.

    Args:
        cell: The SCS cell.
        x: ``(T, B, ...)`` channels-last input of the temporal-only stream.
        c0: Initial state ``(B, ...)`` (the streams start from zeros).
        unroll: Unroll the time loops (see :func:`fused_sequence`).

    Returns:
        The stream ``(T, B, ...)``, at the cell's output resolution.
    """
    rec_gradient, zero_start, kernel = _fused_setup(cell, x, c0)
    rec_act = cell.recurrent_activation

    @tf.custom_gradient
    def run(x, c0, kernel):
        chunks = _chunks_for(x, unroll)
        pre = _forward_recurrence(cell, x, c0, kernel, chunks, zero_start,
                                  pre_activation=True)
        # The loop computed rec_act(pre) already; recomputing it batched
        # gives the same values without a second stacked loop output.
        g = rec_act(pre)
        r = tf.nn.relu(pre)
        tau = per_frame(cell.pool_gate, r)

        def grad(dtau, variables=None):
            with tf.control_dependencies([dtau]):
                return _backward(dtau, list(variables or []))

        def _backward(dtau, variables):
            with tf.GradientTape() as tape:
                tape.watch(r)
                pooled = per_frame(cell.pool_gate, r)
            dr = tape.gradient(pooled, r, output_gradients=dtau)
            dpre = tf.raw_ops.ReluGrad(gradients=dr, features=r)
            dx, dc0, dkernel, variable_grads = _backward_recurrence(
                cell, kernel, rec_gradient, x, g, c0, chunks, zero_start,
                variables, dpre=dpre,
            )
            return (dx, dc0, dkernel), variable_grads

        return tau, grad

    return run(x, c0, kernel)
