"""Training pieces every task shares: truncation choice, compiling, fitting.

A task's own ``training.py`` holds its losses, metrics and defaults; it calls
these functions for what is the same in every task:

* :func:`make_truncation` turns the command line's ``--truncation
  {astsgd,stsgd,none}`` and ``--truncation-rate`` into a schedule;
* :func:`compile_model` compiles an SCS model (``SCSModel``: truncation
  schedule, overlap coherence, gradient clipping) or a baseline (plain Adam
  with the same global-norm clipping) with one call;
* :func:`fit_model` builds the optimizer and metric state before the first
  trace (:func:`build_training_state`) and fits with TensorBoard scalars (losses, metrics,
  ``truncation_rate``) and task pictures (:class:`scs_keras.callbacks.ImageSummary`);
* :func:`fixed_sample` takes the first examples of a dataset for pictures.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from scs_keras.callbacks import ImageSummary
from scs_keras.training import ASTSGD, STSGD, SCSModel, TruncationSchedule
from scs_keras.utils.validation import check_float, one_of, positive_int

__all__ = ["TRUNCATIONS", "make_truncation", "compile_model", "build_training_state",
           "fit_model", "fixed_sample"]

#: Values of ``--truncation``.
TRUNCATIONS = ("astsgd", "stsgd", "none")


def make_truncation(kind, rate=0.5, threshold=None, main_output=None,
                    spatial_output="spatial", warmup_steps=10, model=None):
    """The truncation schedule named on the command line.

    The command line's flags are the same for every model of a task, so for
    a ``model`` without SCS cells (a baseline) the answer is ``None``: the
    truncation flags do not apply to it.

    Args:
        kind: ``"astsgd"`` (adaptive: ``q0 = rate``, threshold ``θ``, initial
            loss measured over ``warmup_steps`` steps, ``α = 1``),
            ``"stsgd"`` (the constant ``rate``) or ``"none"`` (rate 0: full
            back-propagation).  A schedule instance or ``None`` is returned
            as is.
        rate: ``q0`` of ASTSGD or STSGD's constant rate, in [0, 1].
        threshold: ASTSGD's ``θ`` on the loss's scale; required for
            ``"astsgd"``.
        main_output: ASTSGD's main output (``None``: the model's first
            non-spatial output).
        spatial_output: Name of the spatial-only (T¹) head's output.
        warmup_steps: ASTSGD warm-up steps.
        model: Optional model the schedule is for.

    Returns:
        An ``ASTSGD``/``STSGD`` instance, or ``None`` (also for a ``model``
        that is not an ``SCSModel``).

    Raises:
        ValueError: an unknown ``kind``, or ``"astsgd"`` without ``threshold``.

    Example:

    >>> make_truncation("stsgd", 0.25).initial_rate
    0.25
    """
    if model is not None and not isinstance(model, SCSModel):
        return None
    if kind is None or isinstance(kind, TruncationSchedule):
        return kind
    one_of("truncation", kind, TRUNCATIONS)
    if kind == "none":
        return STSGD(0.0)
    if kind == "stsgd":
        return STSGD(rate)
    if threshold is None:
        raise ValueError("truncation 'astsgd' needs a threshold θ on the loss's scale "
                         "(the task sets it from a baseline loss, e.g. persistence).")
    return ASTSGD(initial_rate=rate, threshold=check_float("threshold", threshold, 0.0),
                  initial_loss=None, alpha=1.0, main_output=main_output,
                  spatial_output=spatial_output, warmup_steps=warmup_steps)


def compile_model(model, loss, learning_rate, loss_weights=None, metrics=None,
                  truncation=None, overlap=None, clip_norm=None):
    """Compiles an SCS model or a baseline with Adam and the same clipping.

    Args:
        model: A ``keras.Model``; an ``SCSModel`` gets the truncation
            schedule and overlap coherence, any other model must not ask
            for them.
        loss, loss_weights, metrics: As for ``keras.Model.compile``.
        learning_rate: Adam learning rate (> 0).
        truncation: A schedule (:func:`make_truncation`) or ``None`` (SCS
            cells keep their own constant rate).
        overlap: ``OverlapCoherence`` or ``None`` (SCS models only).
        clip_norm: Global gradient-norm clip or ``None``.

    Returns:
        ``model``, compiled.

    Raises:
        ValueError: a schedule or overlap coherence for a model without SCS
            cells, or ASTSGD without the spatial-only output.
    """
    learning_rate = check_float("learning_rate", learning_rate, 0.0, min_inclusive=False)
    if isinstance(model, SCSModel):
        if isinstance(truncation, ASTSGD) and truncation.spatial_output not in model.output_names:
            raise ValueError(
                f"ASTSGD reads the loss of the spatial-only output "
                f"{truncation.spatial_output!r}, which model {model.name!r} does not have "
                f"(its outputs: {sorted(model.output_names)}); build it with its T¹ head or "
                "use --truncation stsgd.")
        model.compile(keras.optimizers.Adam(learning_rate), loss=loss,
                      loss_weights=loss_weights, metrics=metrics, truncation=truncation,
                      overlap=overlap, clip_norm=clip_norm)
        return model
    if overlap is not None:
        raise ValueError(f"Overlap-coherence training needs an SCS model; {model.name!r} "
                         "has no SCS cells.")
    if truncation is not None:
        raise ValueError(f"Model {model.name!r} has no SCS cells: stochastic truncation "
                         "does not apply to it.")
    # Same clipping as SCSModel's clip_norm: of the global gradient norm.
    model.compile(keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm), loss=loss,
                  loss_weights=loss_weights, metrics=metrics)
    return model


def fixed_sample(dataset, count=3):
    """The first ``count`` examples of a batched dataset, as NumPy.

    Args:
        dataset: Batched ``(inputs, targets)`` (either may be a dict); use an
            unshuffled one for the same sample every epoch.
        count: Number of examples (positive int).

    Returns:
        ``(inputs, targets)`` with the structure of the dataset's elements.

    Raises:
        ValueError: the dataset is empty.

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 2)), np.ones(5))).batch(2)
    >>> x, y = fixed_sample(ds, 3)
    >>> x.shape, y.shape
    ((3, 2), (3,))
    """
    count = positive_int("count", count)
    parts, n = [], 0
    for element in dataset:
        parts.append(tf.nest.map_structure(np.asarray, element))
        n += len(tf.nest.flatten(parts[-1])[0])
        if n >= count:
            break
    if not parts:
        raise ValueError("fixed_sample() got an empty dataset.")
    return tf.nest.map_structure(lambda *a: np.concatenate(a)[:count], *parts)


def build_training_state(model, train_ds):
    """Creates a compiled model's optimizer slots and metric variables now,
    before ``fit`` traces its training step.

    Without a ``tf.distribute`` strategy Keras creates them inside the first
    trace of the training step, and TensorFlow then traces that step a
    second time (a ``tf.function`` whose first call created variables is
    traced again without creating them).  For the 10-layer precipitation
    forecasters that second trace was about a third of the first epoch.
    Under a strategy Keras builds them beforehand itself.

    The shapes come from ``train_ds.element_spec``: reading a batch would
    advance a shuffled pipeline's epoch order and change the run.

    Args:
        model: A compiled Keras model.
        train_ds: The ``tf.data.Dataset`` that ``fit`` will read (anything
            without an ``element_spec`` is left to Keras).
    """
    spec = getattr(train_ds, "element_spec", None)
    if spec is None or getattr(model, "_distribute_strategy", None) is not None:
        return
    model._symbolic_build(data_batch=spec)


def fit_model(model, train_ds, epochs, val_ds=None, logdir=None, render_fn=None,
              verbose=2, every_n_epochs=1, callbacks=()):
    """Fits a compiled model, with TensorBoard when ``logdir`` is given.

    Args:
        model: A compiled model.
        train_ds: Training batches in the form the model's losses expect.
        epochs: Positive int.
        val_ds: Optional validation batches.
        logdir: TensorBoard folder: scalars (losses, metrics and, for SCS
            models, ``truncation_rate``) every epoch, and the pictures of
            ``render_fn``.
        render_fn: ``model -> {name: images}`` (see ``ImageSummary``).
        verbose: ``fit`` verbosity (0, 1 or 2).
        every_n_epochs: Pictures every this many epochs.
        callbacks: More Keras callbacks.

    Returns:
        The Keras ``History``.
    """
    epochs = positive_int("epochs", epochs)
    callbacks = list(callbacks)
    if logdir:
        callbacks.append(keras.callbacks.TensorBoard(logdir, write_graph=False,
                                                     histogram_freq=0, update_freq="epoch"))
        if render_fn is not None:
            callbacks.append(ImageSummary(logdir, render_fn, every_n_epochs=every_n_epochs))
    build_training_state(model, train_ds)
    # The pipelines shuffle themselves (shuffle=False only silences Keras).
    return model.fit(train_ds, epochs=epochs, validation_data=val_ds, verbose=verbose,
                     callbacks=callbacks, shuffle=False)
