"""``SCSModel``: a ``keras.Model`` whose training step applies STSGD/ASTSGD."""

import keras
import tensorflow as tf
from keras import tree
from keras.src.losses.loss import (
    scale_loss_for_distribution,
    unscale_loss_for_distribution,
)
from keras.src.models.functional import Functional
from keras.src.models.model import functional_init_arguments

from scs_keras.layers.base import SCSCellBase, SCSRNNBase
from scs_keras.layers.recurrence import require_tensorflow_backend
from scs_keras.layers.truncation import RateSource
from scs_keras.training.schedules import (
    ASTSGD,
    CONSTANT_RATE_ALTERNATIVE,
    STSGD,
    OverlapCoherence,
    TruncationSchedule,
)
from scs_keras.utils.validation import check_float


def _select(structure, name, output_names):
    """Picks output ``name`` from a dict / list / single prediction."""
    if isinstance(structure, dict):
        if name not in structure:
            raise ValueError(
                f"Output {name!r} not found; the model's outputs are "
                f"{sorted(structure)}."
            )
        return structure[name]
    if isinstance(structure, (list, tuple)):
        if name not in output_names:
            raise ValueError(
                f"Output {name!r} not found; the model's outputs are "
                f"{output_names}."
            )
        return structure[output_names.index(name)]
    return structure


def _all_reduce_sum(values):
    """Sums scalars over the replicas of the current strategy (no-op without one)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return values
    return context.all_reduce("SUM", values)


def _reducible_over_workers(logs):
    """The step's logs, shaped so that Keras can average them over workers.

    Under ``MultiWorkerMirroredStrategy`` Keras averages every log value over
    the replicas along axis 0, which scalars do not have; a length-1 vector
    averages to the mean over the replicas (and logs as a float)."""
    if not isinstance(tf.distribute.get_strategy(),
                      tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    return {k: tf.reshape(v, [1]) for k, v in logs.items()}


@keras.saving.register_keras_serializable(package="scs_keras")
class SCSModel(keras.Model):
    """A ``keras.Model`` that trains SCS networks with stochastic truncation.

    Build it like any Keras model, functionally (``SCSModel(inputs,
    outputs)``) or by subclassing.  ``compile`` takes, besides the usual
    arguments:

    Args (of ``compile``):
        truncation: ``STSGD(...)`` or ``ASTSGD(...)`` (or ``None``: every SCS
            cell keeps its own constant ``truncation_rate``).  The schedule's
            current rate drives every SCS cell of the model, appears as
            ``truncation_rate`` in the ``fit`` logs (History, TensorBoard),
            and is saved with the model (it is a model variable).  A
            schedule object other than the last one compiled starts fresh
            (step 0, its initial rate, ASTSGD's initial loss measured again
            when not given); compiling again with the same object, or
            loading a saved model, resumes its state.
        overlap: Optional ``OverlapCoherence(...)``: long sequences are
            trained clip by clip, overlapping, with the recurrent states
            carried from clip to clip and a coherence loss on the overlaps.
        clip_value: Optional float: clip every gradient element to
            ``[-clip_value, clip_value]``.
        clip_norm: Optional float: rescale the gradients so that their global
            norm is at most ``clip_norm``.

    Under a ``tf.distribute`` strategy (build and compile in its scope) the
    logged loss, the schedule (computed from the losses of the global batch,
    identical on every replica) and gradient clipping (of the summed
    gradient) are those of a single device on the same global batch.

    ``ASTSGD`` needs the loss of a head on the spatial-only stream: the
    model must return a dict (or named list) with that head's prediction
    under ``ASTSGD.spatial_output`` (default ``"spatial"``).

    Example:

    >>> import keras, numpy as np
    >>> from scs_keras import SCS, SCSModel, STSGD
    >>> inputs = keras.Input((10, 4))
    >>> outputs = keras.layers.Dense(3)(SCS(8)(inputs))
    >>> model = SCSModel(inputs, outputs)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
    ...     from_logits=True), truncation=STSGD(0.5))
    >>> history = model.fit(np.zeros((8, 10, 4)), np.zeros((8,)), verbose=0)
    >>> "truncation_rate" in history.history
    True
    """

    def __new__(cls, *args, **kwargs):
        # `SCSModel(inputs, outputs)` builds a functional model.  Keras would
        # rewrite SCSModel's base classes to `Functional` on first such use
        # (which breaks later subclassing of SCSModel); instead we return an
        # instance of a dedicated functional subclass.
        if cls is SCSModel and functional_init_arguments(args, kwargs):
            return keras.Model.__new__(FunctionalSCSModel, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        require_tensorflow_backend("SCSModel", CONSTANT_RATE_ALTERNATIVE)
        super().__init__(*args, **kwargs)
        # Created unconditionally (not in compile) so that a saved model always
        # has the same variables to load into.  Under a tf.distribute strategy
        # they are mirrored; every replica computes the same update from
        # all-reduced losses, and "only_first_replica" makes that one update
        # explicit, so the replicas can never drift apart.
        def state(value, dtype, name):
            return keras.Variable(value, dtype=dtype, trainable=False, name=name,
                                  aggregation="only_first_replica")

        self.truncation_rate = state(-1.0, "float32", "truncation_rate")
        self.truncation_step = state(0, "int64", "truncation_step")
        self.truncation_initial_loss = state(0.0, "float32", "truncation_initial_loss")
        self.truncation_warmup_sum = state(0.0, "float32", "truncation_warmup_sum")
        self._truncation = None
        self._overlap = None
        self._clip_value = None
        self._clip_norm = None

    # -- compile / config --------------------------------------------------

    def compile(self, *args, truncation=None, overlap=None, clip_value=None,
                clip_norm=None, **kwargs):
        # A schedule object other than the one compiled last starts from its
        # own initial state; the same object (or a reload, whose saved state
        # is loaded after compiling) resumes.
        if truncation is not None and not isinstance(truncation, TruncationSchedule):
            raise TypeError(
                "truncation must be an STSGD or ASTSGD instance (or None); "
                f"received {truncation!r}."
            )
        if overlap is not None and not isinstance(overlap, OverlapCoherence):
            raise TypeError(
                f"overlap must be an OverlapCoherence instance; received {overlap!r}."
            )
        for name, value in (("clip_value", clip_value), ("clip_norm", clip_norm)):
            if value is not None:
                check_float(name, value, minimum=0.0, min_inclusive=False)
        super().compile(*args, **kwargs)
        fresh = truncation is not None and truncation is not self._truncation
        self._truncation = truncation
        self._overlap = overlap
        self._clip_value = None if clip_value is None else float(clip_value)
        self._clip_norm = None if clip_norm is None else float(clip_norm)
        self._compile_config.config.update(
            truncation=truncation,
            overlap=overlap,
            clip_value=self._clip_value,
            clip_norm=self._clip_norm,
        )
        if fresh:
            self._start_schedule(truncation)
        if isinstance(truncation, ASTSGD):
            self._check_astsgd_outputs(truncation)
        self._attach_rate_sources()

    def _start_schedule(self, schedule):
        """Resets the schedule state: step 0, the schedule's initial rate and
        (ASTSGD) its given initial loss, or none yet to be measured."""
        self.truncation_rate.assign(schedule.initial_value())
        self.truncation_step.assign(0)
        self.truncation_warmup_sum.assign(0.0)
        initial_loss = getattr(schedule, "initial_loss", None)
        self.truncation_initial_loss.assign(0.0 if initial_loss is None else initial_loss)

    def _check_astsgd_outputs(self, schedule):
        """Reports missing ASTSGD outputs at compile time when the outputs
        are known (functional models); a subclassed model's outputs are
        only known, and checked, at the first training step."""
        structure = getattr(self, "_outputs_struct", None)
        if structure is None:
            return
        names = (list(structure) if isinstance(structure, dict)
                 else list(self.output_names))
        wanted = [schedule.spatial_output, schedule.main_output]
        missing = [n for n in wanted if n is not None and n not in names]
        if missing or len(names) < 2:
            raise ValueError(
                "ASTSGD needs a main output and a spatial-only output named "
                f"{schedule.spatial_output!r}; the model's outputs are "
                f"{names} (missing: {missing or 'a main output'})."
            )

    def compile_from_config(self, config):
        # Keras skips compile() on load when compile() is overridden; ours
        # takes the same arguments plus truncation/overlap/clipping, all of
        # which are in the saved compile config.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def scs_cells(self):
        """All SCS cells in the model (including nested ones)."""
        return [
            layer for layer in self._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, SCSCellBase)
        ]

    def _attach_rate_sources(self):
        source = RateSource(self.truncation_rate) if self._truncation else None
        for cell in self.scs_cells():
            cell._rate_source = source

    # -- training ----------------------------------------------------------

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras averages the first distributed batch over
        # the replicas only to learn its shapes, which
        # MultiWorkerMirroredStrategy cannot do with input batches; one
        # replica's batch has the same shapes.
        strategy = self._distribute_strategy
        if strategy is None or iterator is None:
            return super()._maybe_symbolic_build(iterator, data_batch)
        for _, _, batches in iterator:
            batch = tree.map_structure(
                lambda v: strategy.experimental_local_results(v)[0]
                if isinstance(v, tf.distribute.DistributedValues) else v,
                next(batches),
            )
            break
        else:
            return
        with strategy.scope():
            self._symbolic_build(data_batch=batch)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if self._overlap is not None:
            return self._overlap_train_step(x, y, sample_weight)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                training=True,
            )
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self._apply(grads)
        # compute_loss divides by the number of replicas (their gradients are
        # summed); the logged loss is the per-example mean, as keras.Model's.
        self._loss_tracker.update_state(
            unscale_loss_for_distribution(loss),
            sample_weight=tf.shape(tree.flatten(x)[0])[0],
        )
        self._update_truncation(y, y_pred)
        logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        return self._with_rate(logs)

    def _apply(self, grads):
        pairs = [(g, v) for g, v in zip(grads, self.trainable_variables)
                 if g is not None]
        grads = [g for g, _ in pairs]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        clipping = self._clip_value is not None or self._clip_norm is not None
        if clipping and replicas > 1:
            # Clip the global gradient, not each replica's share: sum over
            # replicas first, and hand the optimizer (which sums again)
            # 1/replicas of the clipped gradient.
            grads = tf.distribute.get_replica_context().all_reduce("SUM", grads)
        if self._clip_value is not None:
            grads = [tf.clip_by_value(g, -self._clip_value, self._clip_value)
                     for g in grads]
        if self._clip_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, self._clip_norm)
        if clipping and replicas > 1:
            grads = [g / float(replicas) for g in grads]
        self.optimizer.apply_gradients(zip(grads, [v for _, v in pairs]))

    def _with_rate(self, logs):
        logs = dict(logs)
        if self._truncation is not None:
            logs["truncation_rate"] = tf.convert_to_tensor(self.truncation_rate)
        return _reducible_over_workers(logs)

    def test_step(self, data):
        return _reducible_over_workers(super().test_step(data))

    def _update_truncation(self, y, y_pred):
        schedule = self._truncation
        if schedule is None:
            return
        step = self.truncation_step.assign_add(1)
        if isinstance(schedule, STSGD):
            self.truncation_rate.assign(schedule.rate_at(step))
            return
        main_loss, spatial_loss = self._astsgd_losses(schedule, y, y_pred)
        if schedule.initial_loss is None:
            # Measure L0 as the mean main loss of the first warm-up steps;
            # the rate stays at 1 meanwhile (see ASTSGD).
            in_warmup = step <= schedule.warmup_steps
            self.truncation_warmup_sum.assign_add(
                tf.where(in_warmup, main_loss, 0.0)
            )
            self.truncation_initial_loss.assign(
                tf.where(
                    in_warmup,
                    self.truncation_warmup_sum / tf.cast(step, tf.float32),
                    self.truncation_initial_loss,
                )
            )
            rate = tf.where(
                in_warmup,
                1.0,
                schedule.rate_from_losses(
                    main_loss, spatial_loss, self.truncation_initial_loss
                ),
            )
        else:
            rate = schedule.rate_from_losses(
                main_loss, spatial_loss, self.truncation_initial_loss
            )
        self.truncation_rate.assign(rate)

    def _astsgd_losses(self, schedule, y, y_pred):
        names = list(self.output_names) if hasattr(self, "output_names") else []
        if isinstance(y_pred, dict):
            names = list(y_pred)
        main_name = schedule.main_output
        if main_name is None:
            others = [n for n in names if n != schedule.spatial_output]
            if not others:
                raise ValueError(
                    "ASTSGD needs a main output and a spatial-only output "
                    f"named {schedule.spatial_output!r}; the model's outputs "
                    f"are {names}."
                )
            main_name = others[0]
        pred_main = _select(y_pred, main_name, names)
        pred_spatial = _select(y_pred, schedule.spatial_output, names)
        if pred_main is pred_spatial:
            raise ValueError(
                "ASTSGD needs a separate spatial-only output named "
                f"{schedule.spatial_output!r}; the model has a single output."
            )
        y_main = _select(y, main_name, names) if tree.is_nested(y) else y
        loss_fn = schedule.loss
        if loss_fn is None:
            loss_fn = self.loss
            if isinstance(loss_fn, dict):
                loss_fn = loss_fn[main_name]
            elif isinstance(loss_fn, (list, tuple)):
                loss_fn = loss_fn[names.index(main_name)]
        loss_fn = keras.losses.get(loss_fn)
        batch = tf.cast(tf.shape(pred_main)[0], tf.float32)
        local = [
            # A keras Loss divides by the number of replicas; undo that.
            unscale_loss_for_distribution(
                tf.cast(tf.reduce_mean(loss_fn(y_main, pred)), tf.float32)
            ) * batch
            for pred in (pred_main, pred_spatial)
        ]
        # The schedule follows the losses of the global batch, identical on
        # every replica (and worker): example-weighted means over replicas.
        total_main, total_spatial, examples = _all_reduce_sum(local + [batch])
        return total_main / examples, total_spatial / examples

    # -- overlap-coherence truncated back-propagation through time --------

    def _scs_layers(self):
        return [
            layer for layer in self._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, SCSRNNBase)
        ]

    def _overlap_train_step(self, x, y, sample_weight):
        settings = self._overlap
        if tree.is_nested(x):
            raise ValueError("overlap training supports a single input tensor.")
        num_frames = x.shape[1]
        if num_frames is None:
            raise ValueError(
                "overlap training needs a static number of frames; give the "
                "Input a fixed time dimension."
            )
        starts = settings.clip_starts(num_frames)
        n = settings.clip_length
        for spec in getattr(self, "inputs", None) or []:
            if len(spec.shape) > 1 and spec.shape[1] not in (None, n):
                raise ValueError(
                    "overlap training feeds clips of clip_length="
                    f"{n} frames, but the model's input has a fixed time "
                    f"dimension {spec.shape[1]}; use keras.Input((None, ...))."
                )
        layers = self._scs_layers()
        names = list(getattr(self, "output_names", []) or [])
        accumulated = None
        previous = None  # (start, per-frame prediction) of the last clip
        carried = None
        total = 0.0
        y_pred = None
        for start in starts:
            clip = x[:, start:start + n]
            y_clip = (
                tree.map_structure(lambda t: t[:, start:start + n], y)
                if settings.per_step_targets else y
            )
            for layer in layers:
                # Keyed by object: layer names repeat across nested stacks.
                layer._carry_in = None if carried is None else carried.get(id(layer))
                layer._carry_out = None
            with tf.GradientTape() as tape:
                y_pred = self(clip, training=True)
                loss = self.compute_loss(
                    x=clip, y=y_clip, y_pred=y_pred,
                    sample_weight=sample_weight, training=True,
                )
                frames = (
                    _select(y_pred, settings.output, names)
                    if settings.output is not None
                    else tree.flatten(y_pred)[0]
                )
                if previous is not None:
                    prev_start, prev_frames = previous
                    shared = prev_start + n - start
                    if shared > 0:
                        current = frames[:, :shared]
                        earlier = tf.stop_gradient(prev_frames[:, n - shared:])
                        # Scaled per replica like compute_loss's losses.
                        loss = loss + scale_loss_for_distribution(
                            settings.coherence_weight
                            * tf.reduce_mean(tf.square(current - earlier))
                        )
                scaled = self.optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, self.trainable_variables)
            grads = [
                tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                for g, v in zip(grads, self.trainable_variables)
            ]
            accumulated = grads if accumulated is None else [
                a + g for a, g in zip(accumulated, grads)
            ]
            total = total + loss
            previous = (start, frames)
            carried = {
                id(layer): [tf.stop_gradient(s) for s in layer._carry_out]
                for layer in layers if layer._carry_out is not None
            }
            self.compute_metrics(clip, y_clip, y_pred, sample_weight=sample_weight)
        for layer in layers:
            layer._carry_in = None
            layer._carry_out = None
        count = float(len(starts))
        self._apply([g / count for g in accumulated])
        mean_loss = total / count
        self._loss_tracker.update_state(
            unscale_loss_for_distribution(mean_loss), sample_weight=tf.shape(x)[0]
        )
        self._update_truncation(y_clip, y_pred)
        return self._with_rate(self.get_metrics_result())


@keras.saving.register_keras_serializable(package="scs_keras")
class FunctionalSCSModel(SCSModel, Functional):
    """What ``SCSModel(inputs, outputs)`` returns: a functional ``SCSModel``."""
