"""Truncation-rate schedules: STSGD (stochastic truncation with a constant or
decaying rate) and ASTSGD (adaptive: the rate follows how much the coupled
model beats its spatial-only stream).

A schedule only computes numbers; ``SCSModel`` owns the variables (current
rate, step, measured initial loss) so that they are saved with the model and
logged as ``truncation_rate``.
"""

import keras
import tensorflow as tf

from scs_keras.layers.recurrence import require_tensorflow_backend
from scs_keras.utils.validation import check_float, positive_int, rate


#: What to use instead of a schedule on a backend other than TensorFlow.
CONSTANT_RATE_ALTERNATIVE = (
    "keras.layers.RNN(SCSCell(..., truncation_rate=p)) with a constant rate "
    "and a plain keras.Model")


def _require_tensorflow(schedule):
    require_tensorflow_backend(type(schedule).__name__, CONSTANT_RATE_ALTERNATIVE)


class TruncationSchedule:
    """Base class of truncation-rate schedules used by ``SCSModel``."""

    #: Whether the schedule needs the main and spatial-only losses.
    needs_losses = False

    def initial_value(self):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="scs_keras")
class STSGD(TruncationSchedule):
    """Stochastic truncation with a constant or linearly decaying rate.

    Args:
        initial_rate: Float in [0, 1], the rate at step 0: the initial
            probability of cutting back-propagation at a step.
        final_rate: Optional float in [0, 1].  If given, the rate moves
            linearly from ``initial_rate`` to ``final_rate`` over
            ``decay_steps`` optimizer steps, then stays there.
        decay_steps: Positive int, required with ``final_rate``.

    Example:

    >>> from scs_keras import STSGD
    >>> schedule = STSGD(0.8, final_rate=0.2, decay_steps=100)
    >>> float(schedule.rate_at(50))
    0.5
    """

    def __init__(self, initial_rate=0.5, final_rate=None, decay_steps=None):
        _require_tensorflow(self)
        self.initial_rate = rate("initial_rate", initial_rate)
        self.final_rate = (
            None if final_rate is None else rate("final_rate", final_rate)
        )
        if self.final_rate is not None:
            if decay_steps is None:
                raise ValueError(
                    "decay_steps (a positive int) is required when final_rate "
                    "is given."
                )
            decay_steps = positive_int("decay_steps", decay_steps)
        elif decay_steps is not None:
            raise ValueError("decay_steps needs final_rate.")
        self.decay_steps = decay_steps

    def initial_value(self):
        return self.initial_rate

    def rate_at(self, step):
        """The rate after ``step`` optimizer steps (a float32 tensor)."""
        if self.final_rate is None:
            return tf.constant(self.initial_rate, tf.float32)
        frac = tf.minimum(tf.cast(step, tf.float32) / float(self.decay_steps), 1.0)
        return self.initial_rate + (self.final_rate - self.initial_rate) * frac

    def get_config(self):
        return {
            "initial_rate": self.initial_rate,
            "final_rate": self.final_rate,
            "decay_steps": self.decay_steps,
        }


@keras.saving.register_keras_serializable(package="scs_keras")
class ASTSGD(TruncationSchedule):
    """Adaptive stochastic truncation.

    After every training step, from the main loss ``L`` and the loss ``L_s``
    of the spatial-only head::

        q = q0 + (1 - q0) * max(0, L_s - θ) / (L0 - θ) * (α (L / L_s - 1) + 1)

    clipped to [0, 1].

    How a model names its spatial-only output: the model returns a dict (or a list with
    ``output_names``) holding the main prediction under ``main_output`` and
    the prediction of a head on the spatial-only stream (e.g. ``DeepSCS(...,
    decoupled=True)(x)["spatial"]`` followed by the same kind of head) under
    ``spatial_output`` (default ``"spatial"``).  Both are scored with
    ``loss`` (default: the loss compiled for the main output) against the
    main output's targets.

    Args:
        initial_rate: ``q0``, float in [0, 1].  Default 0.5.
        threshold: ``θ``: while ``L_s ≤ θ`` the rate stays at ``q0``.
            Choose it on the scale of your loss (default 1.0).
        initial_loss: ``L0``, the loss of an untrained model
            (``ln(num_classes)`` for classification).  ``None``: measured as
            the mean main loss over the first ``warmup_steps`` steps, during
            which the rate is 1 (early in training the temporal path is
            almost always cut).
        alpha: ``α``, how much a coupled model beating the spatial-only one
            relaxes the rate.  Default 1.0.
        main_output: Name of the main output (default: the first output
            that is not ``spatial_output``).
        spatial_output: Name of the spatial-only head's output.  Default ``"spatial"``.
        loss: Optional loss identifier used for ``L`` and ``L_s``.
        warmup_steps: Steps used to measure ``L0`` when not given.

    If ``L0 ≤ θ`` the formula is undefined; the rate then stays at ``q0``.
    """

    needs_losses = True

    def __init__(
        self,
        initial_rate=0.5,
        threshold=1.0,
        initial_loss=None,
        alpha=1.0,
        main_output=None,
        spatial_output="spatial",
        loss=None,
        warmup_steps=10,
    ):
        _require_tensorflow(self)
        self.initial_rate = rate("initial_rate", initial_rate)
        self.threshold = check_float("threshold", threshold)
        if initial_loss is not None:
            initial_loss = check_float("initial_loss", initial_loss, minimum=0.0,
                                       min_inclusive=False)
        self.initial_loss = initial_loss
        self.alpha = check_float("alpha", alpha)
        self.main_output = main_output
        self.spatial_output = spatial_output
        self.loss = loss
        self.warmup_steps = positive_int("warmup_steps", warmup_steps)

    def initial_value(self):
        return 1.0 if self.initial_loss is None else self.initial_rate

    def rate_from_losses(self, main_loss, spatial_loss, initial_loss):
        """The adaptive rate ``q`` (formula in the class docstring) from
        scalar tensors (or floats)."""
        q0 = self.initial_rate
        theta = self.threshold
        main_loss = tf.cast(main_loss, tf.float32)
        spatial_loss = tf.cast(spatial_loss, tf.float32)
        initial_loss = tf.cast(initial_loss, tf.float32)
        span = initial_loss - theta
        progress = tf.math.divide_no_nan(
            tf.maximum(0.0, spatial_loss - theta), span
        )
        ratio = tf.math.divide_no_nan(main_loss, spatial_loss)
        q = q0 + (1.0 - q0) * progress * (self.alpha * (ratio - 1.0) + 1.0)
        q = tf.where(span > 0, q, q0)
        return tf.clip_by_value(q, 0.0, 1.0)

    def get_config(self):
        return {
            "initial_rate": self.initial_rate,
            "threshold": self.threshold,
            "initial_loss": self.initial_loss,
            "alpha": self.alpha,
            "main_output": self.main_output,
            "spatial_output": self.spatial_output,
            "loss": keras.losses.serialize(keras.losses.get(self.loss))
            if self.loss is not None and not isinstance(self.loss, str)
            else self.loss,
            "warmup_steps": self.warmup_steps,
        }


@keras.saving.register_keras_serializable(package="scs_keras")
class OverlapCoherence:
    """Settings of overlap-coherence truncated back-propagation through time.

    A batch of sequences ``(batch, T, ...)`` is cut into clips of
    ``clip_length`` frames overlapping by ``round(overlap * clip_length)``
    frames (a last clip is aligned to the sequence end so that no frame is
    dropped).  The recurrent states of every SCS layer carry from one clip to
    the next with no gradient; each clip's gradient is computed on its own
    (memory bounded by the clip length) and the clips' gradients are averaged
    into one optimizer step.  The coherence loss
    ``coherence_weight · MSE(p_current[overlap], stop_gradient(p_previous[overlap]))``
    is added on the overlapping frames.

    Args:
        clip_length: Frames per clip (reference: 5).
        overlap: Overlap rate in [0, 1) (reference: 0.25).
        coherence_weight: ``λ`` (reference: 1000 on softmax probabilities).
        output: Name of the per-frame prediction the coherence loss uses
            (default: the model's only or first output).  It must have a
            time axis.
        per_step_targets: Whether targets have a time axis that is cut into
            clips with the inputs (else every clip sees the whole target).
    """

    def __init__(self, clip_length=5, overlap=0.25, coherence_weight=1000.0,
                 output=None, per_step_targets=False):
        _require_tensorflow(self)
        clip_length = positive_int("clip_length", clip_length)
        overlap = check_float("overlap", overlap, minimum=0.0, maximum=1.0,
                              max_inclusive=False)
        self.clip_length = clip_length
        self.overlap = overlap
        self.overlap_frames = int(round(overlap * clip_length))
        if self.overlap_frames >= clip_length:
            raise ValueError("overlap leaves no new frame per clip.")
        self.coherence_weight = check_float("coherence_weight", coherence_weight,
                                            minimum=0.0)
        self.output = output
        self.per_step_targets = bool(per_step_targets)

    def clip_starts(self, num_frames):
        """Start index of every clip for a sequence of ``num_frames`` frames."""
        if num_frames < self.clip_length:
            raise ValueError(
                f"Sequences of {num_frames} frames are shorter than "
                f"clip_length={self.clip_length}."
            )
        stride = self.clip_length - self.overlap_frames
        starts = list(range(0, num_frames - self.clip_length + 1, stride))
        # Never drop trailing frames: a last clip aligned to the end overlaps
        # its predecessor by more frames instead.
        if starts[-1] + self.clip_length < num_frames:
            starts.append(num_frames - self.clip_length)
        return starts

    def get_config(self):
        return {
            "clip_length": self.clip_length,
            "overlap": self.overlap,
            "coherence_weight": self.coherence_weight,
            "output": self.output,
            "per_step_targets": self.per_step_targets,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
