"""Argument descriptions shared by the docstrings of the SCS cells and layers.

The dense and convolutional cells and layers take the same SCS arguments;
their docstrings are composed from these pieces so that every argument is
described once.  Each piece is indented for an ``Args:`` / ``Call
arguments:`` section of a class docstring.
"""

CELL_ARGS = """
        activation: Activation of the spatial stream (``act``). Default
            ``"tanh"``; the paper's action network uses ``"relu"``.
        recurrent_activation: Activation of the temporal gate (``rec_act``).
            Default ``"sigmoid"``.
        use_bias: Whether to use ``spatial_bias`` and ``temporal_bias``.
        kernel_initializer: Initializer of ``spatial_kernel`` and
            ``temporal_kernel``.
        recurrent_initializer: Initializer of ``recurrent_kernel``.
        bias_initializer: Initializer of both biases.
        kernel_regularizer: Optional regularizer of ``spatial_kernel`` and
            ``temporal_kernel``.
        recurrent_regularizer: Optional regularizer of ``recurrent_kernel``.
        bias_regularizer: Optional regularizer of both biases.
        kernel_constraint: Optional constraint of ``spatial_kernel`` and
            ``temporal_kernel``.
        recurrent_constraint: Optional constraint of ``recurrent_kernel``.
        bias_constraint: Optional constraint of both biases.
        truncation_rate: Float in ``[0, 1]``, the rate of stochastic
            truncation: the probability ``p`` of cutting the temporal
            stream's gradient path into the layer below at a time step
            (mode ``"temporal"``), or the rate ``q`` of mode
            ``"exclusive"``.  ``SCSModel`` with an ``STSGD``/``ASTSGD``
            schedule overrides it during training.
        truncation_mode: ``"temporal"`` (at each step, cut the temporal
            stream's gradient path into the layer below with probability
            ``p``), ``"exclusive"`` (cut at most one of the two paths: the
            temporal one with probability ``q``, the spatial one with
            probability ``(1 - q)^2`` if ``q >= 0.5``; ``q^2`` and ``1 - q``
            if ``q < 0.5``) or ``"none"``.  Truncation only changes
            gradients, never forward values, and only in training.
        seed: Optional int making the truncation and dropout draws
            reproducible.
        dropout: Float in ``[0, 1)``, fraction of the input ``x_t`` to drop
            where it feeds both projections (spatial and temporal), as
            ``keras.layers.LSTM``'s ``dropout``: one mask per sequence,
            scaled by ``1 / (1 - dropout)``, in training only.
        recurrent_dropout: Float in ``[0, 1)``, fraction of the previous
            state ``c_{t-1}`` to drop where it feeds ``recurrent_kernel``
            (the state carried on is not dropped); one mask per sequence,
            in training only.  In training the fused layers then run the
            recurrence as a ``tf.scan`` instead of the fused path."""

LAYER_ARGS = """
        activity_regularizer: Optional regularizer of the layer's output.
        return_sequences: Whether to return the whole output sequence or
            only the last output.
        return_state: Whether to also return the last state ``c_T``.
        go_backwards: Whether to process the sequence backwards (and return
            the reversed sequence), as ``keras.layers.LSTM``.
        stateful: Whether the last state of each batch is the initial state
            of the next one (needs a fixed batch size).
        zero_output_for_mask: Whether masked steps output zeros (else they
            repeat the last valid output).  ``Bidirectional`` sets it.
        unroll: ``None`` (default) unrolls the fused path's time loop for
            sequences of static length up to 128 steps, in 4 chunks whose
            batched work overlaps the loop (64x100x256 benchmark: about 15%
            faster than a ``tf.while_loop``); longer or dynamic-length
            sequences use a while loop.  ``True`` unrolls every static
            length (with a warning above 1024 steps: the graph grows with
            the length), ``False`` never unrolls.  With ``fused=False`` it is
            ``keras.layers.RNN``'s ``unroll``.
        fused: ``True`` (default) runs the fused whole-sequence path;
            ``False`` runs ``keras.layers.RNN``'s per-step loop over the same
            cell (a reference, and what the benchmarks compare against).
        recompute_spatial: If ``True`` the fused path recomputes the spatial
            stream in the backward pass instead of keeping it: one
            projection more per training step, one full-size tensor less
            per layer held for the backward pass.
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``,
            ``trainable``...)."""


def layer_call_args(sequences):
    """The ``Call arguments:`` section of a layer whose input is ``sequences``."""
    return f"""
        sequences: {sequences}
        initial_state: Optional list with one state tensor (see Output
            shape).
        mask: Optional boolean ``(batch, time)``; masked steps keep the
            state.
        training: Python boolean; truncation is active only in training.
        stream: ``"coupled"`` (default): the SCS layer.  ``"spatial"``: the
            layer's spatial-only stream ``act(W_s * x_t + b_s)`` for every
            frame, with the same weights but no gate, no recurrence, no
            truncation and no state (only the sequence is returned, whatever
            ``return_state`` says); needs ``return_sequences=True``.  Calling
            one layer both ways in a functional model shares its weights
            between the main path and a spatial-only head."""


CELL_CALL_ARGS = """
        training: Python boolean; truncation is active only in training."""
