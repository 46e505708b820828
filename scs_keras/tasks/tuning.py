"""Hyperparameter search over any task's SCS model with keras-tuner.

``scs-keras tune <task> --trials N --epochs E --directory DIR --logdir DIR
[--tuner random|bayesian|hyperband]`` searches, for the task's ``scs``
model:

* ``learning_rate`` (log-uniform around the task's default),
* ``truncation`` (``stsgd`` or ``astsgd``; ASTSGD only where the model has
  the spatial-only head it needs) and ``truncation_rate`` (STSGD's rate or
  ASTSGD's ``q0``), ``truncation_mode`` (``temporal`` or ``exclusive``),
* ``width`` (a factor on every entry of ``--widths``) and ``depth`` where the
  task has those flags.

Every trial's hyperparameters and final metrics are written for
TensorBoard's HParams dashboard (``<logdir>/<trial>``), the best trial's
model is reloaded with its truncation schedule (``tuner.get_best_models``),
and the best configuration is printed as a ``scs-keras train`` command.
"""

from __future__ import annotations

import copy
import os
import shlex

import keras
import tensorflow as tf

from scs_keras.tasks.training import fixed_sample
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import one_of, positive_int

__all__ = ["TUNERS", "make_hypermodel", "make_tuner", "resolve_objective", "search_space",
           "train_command", "trial_args", "tune", "write_hparams"]

#: Values of ``--tuner``.
TUNERS = ("random", "bayesian", "hyperband")
#: Width factors tried on ``--widths``.
WIDTH_FACTORS = (0.5, 1.0, 2.0)


def _kt():
    return optional_import("keras_tuner", "hyperparameter search (scs-keras tune)")


def resolve_objective(name, logs):
    """The key of ``logs`` that the objective ``name`` means.

    Keras 3 prefixes the metrics of a multi-output model with the output's
    name (``val_output_csi``), so an objective given as ``val_csi`` is not in
    the logs as such; keras-tuner would then fail the trial.  An exact key
    wins, then the one key that ends with the name's metric part after the
    same ``val_`` prefix.

    Raises:
        ValueError: no key, or several keys, match (the message lists them).

    Example:

    >>> resolve_objective("val_csi", {"val_output_csi": 0.3, "val_loss": 1.0})
    'val_output_csi'
    """
    if name in logs:
        return name
    prefix = "val_" if name.startswith("val_") else ""
    metric = name[len(prefix):]
    matches = [k for k in logs if k.startswith(prefix) and k.endswith("_" + metric)
               and (prefix or not k.startswith("val_"))]
    if len(matches) != 1:
        raise ValueError(f"objective {name!r} is {'ambiguous' if matches else 'not logged'}"
                         f"; the logs hold {sorted(logs)}.")
    return matches[0]


def _ensure_built(model, data):
    """Builds an unbuilt (subclassed) model on one batch, and its optimizer,
    so that their weights exist before keras-tuner saves or reloads them."""
    if not model.built:
        model(fixed_sample(data.train, 1)[0], training=False)
    # The optimizer's slots too, or its saved state is skipped on reload.
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    return model


def make_hypermodel(task, data, args, objective="val_loss", logdir=None):
    """A ``keras_tuner.HyperModel`` of ``task``'s SCS model.

    Args:
        task: A :class:`~scs_keras.tasks.base.Task`.
        data: Its loaded :class:`~scs_keras.tasks.base.TaskData` (shared by
            every trial).
        args: The parsed flags; each trial trains with a copy in which the
            hyperparameters (:func:`search_space`) replace the flags of the
            same name.
        objective: The objective's name; ``fit`` reports it under this name
            whatever prefix Keras gave the metric (:func:`resolve_objective`).
        logdir: Optional HParams folder: one run per trial.

    Returns:
        A ``keras_tuner.HyperModel`` (built here so that keras-tuner is only
        imported by ``scs-keras tune``).
    """
    kt = _kt()

    class TaskHyperModel(kt.HyperModel):
        def __init__(self):
            super().__init__(name=f"{task.name}_scs")
            self.task, self.data, self.args = task, data, args
            self.objective, self.logdir = objective, logdir
            self.trials_run = 0

        def trial_args(self, hp):
            return trial_args(self.task, self.args, hp)

        def build(self, hp):
            trial = self.trial_args(hp)
            keras.utils.set_random_seed(trial.seed)
            model = self.task.build_model("scs", self.data, trial)
            self.task.compile_model(model, "scs", self.data, trial)
            return _ensure_built(model, self.data)

        def fit(self, hp, model, *fit_args, callbacks=(), **kwargs):
            # The task's own fit (it shapes the targets of every output).
            # Hyperband passes its bracket's epochs and initial_epoch.
            trial = self.trial_args(hp)
            trial.epochs = kwargs.get("epochs", self.args.epochs) - kwargs.get(
                "initial_epoch", 0)
            history = self.task.fit(model, "scs", self.data, trial, logdir=None)
            logs = {k: float(v[-1]) for k, v in history.history.items()}
            logs[self.objective] = logs[resolve_objective(self.objective, logs)]
            # Task.fit takes no callbacks: keras-tuner's (which save the
            # weights get_best_models reloads) see the final epoch's logs.
            for callback in callbacks:
                callback.set_model(model)
                callback.on_epoch_end(len(history.epoch) - 1, dict(logs))
            self.trials_run += 1
            if self.logdir:
                write_hparams(os.path.join(self.logdir, f"trial_{self.trials_run:03d}"),
                              hp.values, logs)
            return logs

    return TaskHyperModel()


def search_space(task, args, hp):
    """Declares the hyperparameters of ``task`` in ``hp``; returns their values."""
    values = {"learning_rate": hp.Float("learning_rate", args.learning_rate / 10,
                                        args.learning_rate * 10, sampling="log")}
    kinds = ["stsgd"] + (["astsgd"] if task.defaults.get("truncation") == "astsgd" else [])
    values["truncation"] = hp.Choice("truncation", kinds)
    values["truncation_rate"] = hp.Float("truncation_rate", 0.1, 0.9, step=0.1)
    values["truncation_mode"] = hp.Choice("truncation_mode", ["temporal", "exclusive"])
    if hasattr(args, "widths"):
        values["width"] = hp.Choice("width", list(WIDTH_FACTORS))
    # A task's depth is searched around its value; None (precipitation's
    # pyramid, whose depth is its number of widths) is not a depth to vary.
    if getattr(args, "depth", None) is not None:
        values["depth"] = hp.Int("depth", max(2, args.depth - 1), args.depth + 1)
    return values


def trial_args(task, args, hp):
    """A copy of ``args`` with the hyperparameters of ``hp`` applied."""
    values = search_space(task, args, hp)
    trial = copy.copy(args)
    for name in ("learning_rate", "truncation", "truncation_rate", "truncation_mode", "depth"):
        if name in values:
            setattr(trial, name, values[name])
    if "width" in values:
        trial.widths = [max(1, int(round(w * values["width"]))) for w in args.widths]
    return trial


def write_hparams(run_dir, hparams, metrics):
    """One run of TensorBoard's HParams dashboard: the trial's hyperparameters
    and its final metrics (as scalars at step 0)."""
    from tensorboard.plugins.hparams import api as hp_api

    with tf.summary.create_file_writer(run_dir).as_default():
        hp_api.hparams(dict(hparams))
        for name, value in metrics.items():
            tf.summary.scalar(name, value, step=0)


def write_hparams_config(logdir, hyperparameters, metric_names):
    """The experiment summary of the HParams dashboard (its columns)."""
    from tensorboard.plugins.hparams import api as hp_api

    with tf.summary.create_file_writer(logdir).as_default():
        hp_api.hparams_config(
            hparams=[hp_api.HParam(name) for name in hyperparameters],
            metrics=[hp_api.Metric(name, display_name=name) for name in metric_names])


def make_tuner(kind, hypermodel, objective, trials, epochs, directory, project_name):
    """A keras-tuner tuner: ``random``, ``bayesian`` (``trials`` trials) or
    ``hyperband`` (brackets up to ``epochs`` epochs; ``trials`` caps them)."""
    kt = _kt()
    one_of("tuner", kind, TUNERS)
    common = dict(objective=kt.Objective(objective, "min"), directory=directory,
                  project_name=project_name, overwrite=True)
    if kind == "hyperband":
        tuner = kt.Hyperband(hypermodel, max_epochs=max(2, epochs), **common)
        # Hyperband's constructor takes no trial budget; its oracle honours one.
        tuner.oracle.max_trials = trials
        return tuner
    cls = kt.RandomSearch if kind == "random" else kt.BayesianOptimization
    return cls(hypermodel, max_trials=trials, **common)


def train_command(task, argv, hparams, epochs):
    """The ``scs-keras train`` command line of a configuration.

    ``argv`` are the flags ``tune`` was given (the tune-only flags are
    dropped); the hyperparameters replace the flags of the same name.
    """
    dropped = {"--trials", "--directory", "--tuner", "--logdir", "--epochs"}
    kept, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        flag = word.split("=", 1)[0]
        if flag in dropped or flag in _flags(hparams):
            skip = "=" not in word
            continue
        kept.append(word)
    extra = ["--epochs", str(epochs)]
    for name, value in hparams.items():
        if name in ("width", "widths"):
            continue
        extra += [f"--{name.replace('_', '-')}", _text(value)]
    if "widths" in hparams:
        extra += ["--widths", hparams["widths"]]
    return shlex.join(["scs-keras", "train", task.name, *kept, *extra])


def _flags(hparams):
    return {f"--{name.replace('_', '-')}" for name in hparams}


def _text(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def tune(task, args, argv=()):
    """``scs-keras tune <task>``: the search, its HParams logs, the best model.

    Returns:
        A dict: ``tuner``, ``best_model`` (reloaded, compiled with its
        schedule), ``best_hparams``, ``command`` (the ``scs-keras train``
        line of the best configuration).
    """
    trials = positive_int("trials", args.trials)
    data = task.load_data(args)
    hypermodel = make_hypermodel(task, data, args, logdir=args.logdir)
    tuner = make_tuner(args.tuner, hypermodel, "val_loss", trials, args.epochs,
                       args.directory, f"{task.name.replace('-', '_')}_scs")
    if args.logdir:
        names = list(search_space(task, args, _kt().HyperParameters()))
        write_hparams_config(args.logdir, names, ["val_loss", "loss"])
    tuner.search(epochs=args.epochs, verbose=0)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best_model = tuner.get_best_models(1)[0]
    best = trial_args(task, args, best_hp)
    hparams = {k: v for k, v in best_hp.values.items()}
    if "width" in hparams:
        hparams["widths"] = ",".join(str(w) for w in best.widths)
    command = train_command(task, list(argv), hparams, args.epochs)
    print(f"Best of {len(tuner.oracle.trials)} trial(s): "
          + ", ".join(f"{k}={_text(v)}" for k, v in best_hp.values.items()), flush=True)
    print(command, flush=True)
    if args.logdir:
        print(f"HParams: tensorboard --logdir {args.logdir}", flush=True)
    return {"tuner": tuner, "best_model": best_model, "best_hparams": best_hp.values,
            "command": command}
