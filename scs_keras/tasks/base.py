"""The plan every task follows, and the registry of tasks.

Each task lives in ``scs_keras/tasks/<task>/`` with the same files:

``data.py``
    generated data (written in the real on-disk format), loading through the
    package's readers, targets;
``models.py``
    ``build_model(name, ...)`` for the SCS model and every neural baseline;
``training.py``
    losses, compile defaults, evaluation, TensorBoard pictures;
``export.py``
    the serving model and its versioned SavedModel export;
``baselines.py``
    non-neural baselines, where the task has them;
``task.py``
    a :class:`Task` subclass: the task's flags and the wiring of the files
    above, which the shared runner (:mod:`scs_keras.tasks.runner`) and the
    ``scs-keras`` command drive.

A new task copies this shape: it subclasses :class:`Task`, implements the
methods that raise ``NotImplementedError`` and adds itself to :data:`TASKS`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os

__all__ = ["TASKS", "Task", "TaskData", "get_task"]

#: ``scs-keras`` task name -> ``"module:Class"`` (imported on first use).
TASKS = {
    "precipitation": "scs_keras.tasks.precipitation.task:PrecipitationTask",
    "action-recognition": "scs_keras.tasks.action_recognition.task:ActionRecognitionTask",
    "outline-annotation": "scs_keras.tasks.outline_annotation.task:OutlineAnnotationTask",
    "steering": "scs_keras.tasks.steering.task:SteeringTask",
}


def get_task(name):
    """The :class:`Task` instance registered under ``name``.

    Raises:
        ValueError: an unknown task name (the message lists the known ones).
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}.")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)()


@dataclasses.dataclass
class TaskData:
    """What a task's ``load_data`` returns.

    Attributes:
        train: Training ``tf.data.Dataset`` of ``(inputs, targets)`` batches.
        test: Test dataset (never shuffled: the same batches every time).
        info: Task facts the models need (image size, class names...).
        reports: The readers' reports (:class:`scs_keras.data.contract.DataReport`).
        description: One line for the console: where the data came from.
    """

    train: object
    test: object
    info: dict
    reports: list
    description: str = ""


class Task:
    """One task of the package: its data, models, training and export.

    Subclasses set the class attributes and implement the methods below;
    :mod:`scs_keras.tasks.runner` does the rest the same way for every task
    (single runs, same-budget comparisons, checkpoints, exports, the
    ``scs-keras`` command).

    Attributes:
        name: The ``scs-keras`` name (``"precipitation"``).
        title: Human-readable title.
        model_names: Every model ``--model`` accepts, SCS first.
        neural_models: Those that train (the rest are fixed baselines).
        reference_model: The baseline whose training time the table's
            ``time_vs_<reference>`` column divides by.
        defaults: Defaults of the shared flags for this task
            (``epochs``, ``batch_size``, ``learning_rate``, ``truncation``,
            ``truncation_rate``, ``truncation_mode``).
        demo_defaults: Defaults of the task's own flags under ``scs-keras
            demo`` (the main job runs the best configuration the task's
            studies found, which may be slower than the ``train``
            defaults); empty for tasks that are not the demo.
        table_columns: Metric columns of the comparison table.
        export_input_name: The serving signature's input name.
        export_output_names: The serving signature's output names.
    """

    name = ""
    title = ""
    model_names = ("scs",)
    neural_models = ("scs",)
    reference_model = "convlstm"
    defaults = {}
    demo_defaults = {}
    table_columns = []
    export_input_name = "frames"
    export_output_names = ()

    @property
    def default_generated_dir(self):
        """Where generated data is cached (git-ignored ``generated_data/<task>``)."""
        return os.path.join("generated_data", self.name.replace("-", "_"))

    @property
    def default_export_dir(self):
        """Base folder of the versioned exports (``saved_models/<task>``)."""
        return os.path.join("saved_models", self.name.replace("-", "_"))

    # -- flags ----------------------------------------------------------

    def add_arguments(self, parser):
        """Adds the task's own flags (after the shared ones)."""

    def check_arguments(self, args, error):
        """Checks the task's flags; calls ``error(message)`` on a bad one."""

    # -- data -----------------------------------------------------------

    def generate(self, out_dir, args):
        """Writes the synthetic data set in the real on-disk format; returns its root."""
        raise NotImplementedError

    def load_data(self, args):
        """Reads ``args.data_dir`` (or generated data) into a :class:`TaskData`."""
        raise NotImplementedError

    # -- models ---------------------------------------------------------

    def build_model(self, name, data, args):
        """A fresh model (or non-neural baseline) called ``name``."""
        raise NotImplementedError

    def compile_model(self, model, name, data, args):
        """Compiles a neural model with the task's losses and the flags."""
        raise NotImplementedError

    def fit(self, model, name, data, args, logdir=None):
        """Fits a compiled model; returns the ``History``."""
        raise NotImplementedError

    def evaluate(self, model, data, args):
        """Scores a model or baseline on ``data.test``; returns a dict of floats."""
        raise NotImplementedError

    # -- export ---------------------------------------------------------

    def serving_model(self, model):
        """The single-input Keras model that is exported (named dict outputs)."""
        raise NotImplementedError

    def export(self, model, data, base_dir, version=None):
        """Writes ``<base_dir>/<version>/``; returns the path."""
        raise NotImplementedError

    def export_check_inputs(self, data, count=2):
        """Inputs for checking an export against the model (a NumPy batch)."""
        raise NotImplementedError
