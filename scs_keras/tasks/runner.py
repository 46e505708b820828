"""What ``scs-keras train|evaluate|export|generate <task>`` do, for every task.

The functions take a :class:`~scs_keras.tasks.base.Task` and the parsed
flags (an ``argparse.Namespace``, or any object with the same attributes) and
do the same steps whatever the task:

* :func:`train` - one model: data → build → compile → fit (TensorBoard) →
  evaluate → ``--checkpoint`` → ``--export`` (reloaded with TensorFlow alone
  and compared with the model before the path is printed);
* :func:`compare` - every model of the task with the same data, epochs and
  seed, as table rows (:func:`comparison_table`), with each model's training
  time relative to the reference baseline (ConvLSTM of the same size);
* :func:`depth_study` - :func:`compare` at several ``--depth`` values, one
  table, and each model's training time per added layer
  (:func:`time_per_added_layer`);
* :func:`evaluate`, :func:`export` - from a ``.keras`` checkpoint;
* :func:`generate` - the task's synthetic data set on disk.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from scs_keras.distribute import is_chief, make_strategy, shard_by_data
from scs_keras.tasks.comparison import format_table, run_comparison

__all__ = ["train", "compare", "comparison_table", "depth_study", "time_per_added_layer",
           "evaluate", "export", "export_and_check", "generate", "load_checkpoint"]


def _say(args, *text):
    if getattr(args, "verbose", 2):
        print(*text, flush=True)


def export_and_check(task, model, data, base_dir, atol=1e-4):
    """Exports ``model`` and checks the export with TensorFlow alone.

    The SavedModel is reloaded with ``tf.saved_model.load`` and its
    ``serving_default`` signature run on a test batch; its outputs must
    equal the model's own within ``atol``.

    Returns:
        The version folder's path.

    Raises:
        AssertionError: the reloaded model disagrees with the model.
    """
    path = task.export(model, data, base_dir)
    inputs = task.export_check_inputs(data)
    expected = task.serving_model(model)(inputs, training=False)
    served = tf.saved_model.load(path).signatures["serving_default"](
        **{task.export_input_name: tf.constant(inputs, tf.float32)})
    for key in task.export_output_names:
        np.testing.assert_allclose(served[key].numpy(), np.asarray(expected[key]), atol=atol,
                                   err_msg=f"export {path}: output {key!r} differs")
    return path


def train(task, args):
    """``scs-keras train <task>``: one model, or every model with ``--compare``.

    Returns:
        A dict: ``rows`` (the comparison rows, or one row), ``export``
        (the SavedModel path or ``None``), ``checkpoint``.
    """
    # Created first: a multi-worker strategy must exist before TensorFlow
    # runs anything (the data pipelines included).
    strategy = make_strategy(getattr(args, "strategy", "default"))
    data = task.load_data(args)
    _say(args, data.description)
    exported, checkpoint = None, None
    to_export = args.model if args.model in task.neural_models else None

    def after_training(name, model):
        nonlocal exported, checkpoint
        # Every worker trains the same model; one (the chief) writes it.
        if name != to_export or not is_chief():
            return
        if getattr(args, "checkpoint", None):
            os.makedirs(os.path.dirname(os.path.abspath(args.checkpoint)), exist_ok=True)
            model.save(args.checkpoint)
            checkpoint = args.checkpoint
        if args.export:
            exported = export_and_check(task, model, data, args.export)

    models = task.model_names if args.compare else (args.model,)
    rows = compare(task, data, args, models=models, after_training=after_training,
                   strategy=strategy)
    # The results are printed whatever --verbose says.
    print("\n" + comparison_table(task, rows), flush=True)
    if checkpoint:
        print(f"\nCheckpoint ({to_export}): {checkpoint}")
    if exported:
        print(f"\nSavedModel ({to_export}): {exported}  [serving_default: "
              f"{task.export_input_name} -> {', '.join(task.export_output_names)}; "
              "reloaded with tf.saved_model.load and checked]", flush=True)
    if args.logdir:
        _say(args, f"TensorBoard: tensorboard --logdir {args.logdir}")
    return {"rows": rows, "export": exported, "checkpoint": checkpoint, "data": data}


def compare(task, data, args, models=None, after_training=None, strategy=None):
    """Trains and evaluates ``models`` (default all) with the same budget.

    Each model is built after seeding with ``args.seed``, trained for
    ``args.epochs`` epochs on ``data.train`` (logging to
    ``<logdir>/<model>``) and scored by ``task.evaluate`` on ``data.test``.
    Before each model, ``data.train`` and ``data.test`` are built anew by
    ``task.load_data(args)`` after seeding, so every model sees the same
    batches in the same epoch orders and a row does not depend on which
    models were trained before it (``data`` keeps its ``info``, reports
    and description).

    Args:
        task: A :class:`~scs_keras.tasks.base.Task`.
        data: Its :class:`~scs_keras.tasks.base.TaskData`.
        args: The flags.
        models: Model names (default ``task.model_names``).
        after_training: Optional ``(name, model) -> None`` after each
            model's training (checkpoints, exports).
        strategy: Optional ``tf.distribute.Strategy``: the neural models are
            built and compiled in its scope and the pipelines sharded by
            data (see :mod:`scs_keras.distribute`).

    Returns:
        Table rows: dicts with ``model``, the task's metrics, ``params``,
        ``train_s`` and ``time_vs_<reference>``.
    """
    models = list(models or task.model_names)
    unknown = [m for m in models if m not in task.model_names]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; {task.name} has "
                         f"{', '.join(task.model_names)}.")

    strategy = strategy or tf.distribute.get_strategy()

    def fresh_pipelines():
        # A shuffled pipeline carries its reshuffle state from one pass to the
        # next, and its order also depends on the global seed when it is
        # built.  So every model gets pipelines built anew, right after
        # seeding: each sees the same batches in the same epoch orders, and
        # a row does not depend on the models trained before it.
        keras.utils.set_random_seed(args.seed)
        renewed = task.load_data(args)
        # Ignored without a strategy; with one, every worker keeps its share
        # of each global batch of the same pipeline.
        data.train, data.test = shard_by_data(renewed.train), shard_by_data(renewed.test)

    def train_fn(name, model):
        if name in task.neural_models:
            _say(args, f"\n== training {name} ({model.count_params():,} parameters) for "
                       f"{args.epochs} epoch(s)")
            with strategy.scope():
                task.compile_model(model, name, data, args)
            logdir = _worker_logdir(args.logdir, name)
            history = task.fit(model, name, data, args, logdir=logdir)
            rates = history.history.get("truncation_rate")
            if rates:
                _say(args, f"{name}: truncation_rate per epoch "
                           + " ".join(f"{v:.2f}" for v in rates))
        if after_training is not None:
            after_training(name, model)

    def build(name):
        def make():
            fresh_pipelines()
            keras.utils.set_random_seed(args.seed)
            with strategy.scope():
                return task.build_model(name, data, args)
        return make

    rows = run_comparison({name: build(name) for name in models}, train_fn,
                          lambda name, model: task.evaluate(model, data, args))
    seconds = {r["model"]: r["train_s"] for r in rows}
    reference = seconds.get(task.reference_model)
    for row in rows:
        neural = row["model"] in task.neural_models
        if not neural:
            row["params"] = "-"
        if neural and reference:
            row[f"time_vs_{task.reference_model}"] = round(row["train_s"] / reference, 2)
        row["train_s"] = f"{row['train_s']:.0f}"
    return rows


def depth_study(task, args):
    """``scs-keras study <task>``: :func:`compare` of ``args.models`` at
    every depth of ``args.depths`` (the task's ``--depth`` flag), with the
    same data, epochs and seed; each depth's table is printed as it ends,
    then the whole table.

    Returns:
        The rows, each with a ``depth`` column.
    """
    data = task.load_data(args)
    _say(args, data.description)
    rows = []
    for depth in args.depths:
        args.depth = depth
        _say(args, f"\n==== depth {depth}")
        depth_rows = [{"depth": depth, **row}
                      for row in compare(task, data, args, models=args.models)]
        _say(args, "\n" + comparison_table(task, depth_rows))
        rows.extend(depth_rows)
    print(f"\nDepth study ({task.name}; {', '.join(args.models)}; {args.epochs} epochs, "
          f"seed {args.seed}):\n\n" + comparison_table(task, rows), flush=True)
    slopes = time_per_added_layer(rows)
    if slopes:
        print("\nTraining time per added recurrent layer (least-squares slope of train_s "
              "over depth; the intercept is the fixed part: encoder, decoder, heads, "
              "data):\n\n" + format_table(_slope_rows(slopes, task.reference_model),
                                          ["model", "s_per_layer", "fixed_s", "per_layer_vs_"
                                           + task.reference_model], floatfmt="{:.3g}"),
              flush=True)
    return rows


def time_per_added_layer(rows):
    """Each model's training time as a line over depth, from study rows.

    A comparison's time ratio mixes the recurrent layers with what every
    model shares (CNN encoder, decoder, heads, the input pipeline); the
    slope over depth is what one more recurrent layer costs, so its ratio
    is the layers' own.

    Args:
        rows: :func:`depth_study` rows (``depth``, ``model``, ``train_s``).

    Returns:
        ``{model: (seconds per layer, intercept seconds)}`` for every model
        with at least two distinct depths (least squares); ``{}`` if none.
    """
    by_model = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append((float(row["depth"]),
                                                      float(row["train_s"])))
    slopes = {}
    for model, points in by_model.items():
        depths = np.array([d for d, _ in points])
        seconds = np.array([t for _, t in points])
        if len(set(depths)) < 2:
            continue
        # Closed-form least squares: slope = cov(d, t) / var(d).
        dd = depths - depths.mean()
        slope = float(dd @ (seconds - seconds.mean()) / (dd @ dd))
        slopes[model] = (slope, float(seconds.mean() - slope * depths.mean()))
    return slopes


def _slope_rows(slopes, reference):
    ref = slopes.get(reference, (None,))[0]
    rows = []
    for model, (slope, intercept) in slopes.items():
        ratio = round(slope / ref, 2) if ref else "-"
        rows.append({"model": model, "s_per_layer": slope, "fixed_s": intercept,
                     f"per_layer_vs_{reference}": ratio})
    return rows


def _worker_logdir(logdir, name):
    """``<logdir>/<model>``; other workers than the chief log apart, under
    ``<logdir>/<model>/worker_<index>``, so that they never write the same files."""
    if not logdir:
        return None
    path = os.path.join(logdir, name)
    if is_chief():
        return path
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    return os.path.join(path, f"{task['type']}_{task.get('index', 0)}")


def comparison_table(task, rows):
    """The Markdown table of :func:`compare` rows, in the task's column order."""
    ratio = f"time_vs_{task.reference_model}"
    columns = ["model"] + list(task.table_columns) + ["params", "train_s"]
    if any("depth" in r for r in rows):
        columns.insert(0, "depth")
    if any(ratio in r for r in rows):
        columns.append(ratio)
    return format_table(rows, columns, floatfmt="{:.4g}")


def load_checkpoint(task, path):
    """Loads a ``.keras`` file written by ``train --checkpoint``.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist (write one with "
                                f"`scs-keras train {task.name} --checkpoint FILE.keras`).")
    return keras.saving.load_model(path)


def evaluate(task, args):
    """``scs-keras evaluate <task>``: scores a checkpoint (or a baseline).

    Returns:
        The metrics dict.
    """
    data = task.load_data(args)
    _say(args, data.description)
    if args.checkpoint:
        model = load_checkpoint(task, args.checkpoint)
    elif args.model in task.neural_models:
        raise ValueError(f"evaluating {args.model!r} needs --checkpoint FILE.keras "
                         "(written by `scs-keras train ... --checkpoint`).")
    else:
        model = task.build_model(args.model, data, args)
    scores = task.evaluate(model, data, args)
    print(format_table([{"model": args.checkpoint or args.model, **scores}],
                       ["model"] + [c for c in task.table_columns if c in scores]))
    return scores


def export(task, args):
    """``scs-keras export <task> --checkpoint FILE``: the SavedModel of a checkpoint.

    Returns:
        The version folder's path.
    """
    model = load_checkpoint(task, args.checkpoint)
    data = task.load_data(args)
    path = export_and_check(task, model, data, args.export or task.default_export_dir)
    print(f"SavedModel: {path}", flush=True)
    return path


def generate(task, args):
    """``scs-keras generate <task> --out DIR``: writes the synthetic data set.

    Returns:
        The data set's root folder.
    """
    start = time.perf_counter()
    root = task.generate(args.out, args)
    _say(args, f"Wrote {task.title} data to {root} ({time.perf_counter() - start:.0f} s).")
    return root
