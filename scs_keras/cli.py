"""The ``scs-keras`` command.

::

    scs-keras demo                              # the README's main job
    scs-keras train <task> [flags]              # one model, or --compare all
    scs-keras evaluate <task> --checkpoint F    # score a saved model
    scs-keras export <task> --checkpoint F      # its SavedModel
    scs-keras generate <task> --out DIR         # synthetic data, real format
    scs-keras tune <task> --trials N            # keras-tuner search, HParams logs
    scs-keras study <task> --depths 2,4,6       # the models at several depths
    scs-keras chains --layers L --steps T       # expected intact chains

Every task takes the same shared flags (``--data-dir``, ``--generated-dir``,
``--model``, ``--compare``, ``--epochs``, ``--batch-size``,
``--learning-rate``, ``--truncation``, ``--truncation-rate``,
``--truncation-mode``, ``--seed``, ``--logdir``, ``--checkpoint``,
``--export [DIR]``, ``--on-bad``, ``--verbose``; ``train`` and ``demo`` also
``--strategy``), then its own.  Bad flags and
unusable data end with one line ``scs-keras: error: ...`` and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

PROG = "scs-keras"
SUBCOMMANDS = {
    "demo": ("the main job: train precipitation --compare --export on generated data, "
             "with the depth study's best SCS configuration (--widths 32 --depth 10)"),
    "train": "train a task's model (or, with --compare, every model) and print the table",
    "evaluate": "evaluate a saved model (--checkpoint) or a baseline on a task's test data",
    "export": "write the versioned SavedModel of a saved model (--checkpoint)",
    "generate": "write a task's synthetic data set in the real on-disk format",
    "tune": "search the SCS model's hyperparameters with keras-tuner (HParams logs)",
    "study": "the depth study: the neural models at several --depth values, one table",
    "chains": "print the expected intact back-propagation chains of a deep SCS stack",
}
TASK_COMMANDS = ("train", "evaluate", "export", "generate", "tune", "study")


def _tasks():
    from scs_keras.tasks.base import TASKS
    return list(TASKS)


def _top_parser():
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Semi-Coupled Structure (SCS) recurrent networks: train, evaluate and "
                    "export the paper's tasks on real or generated data.",
        epilog="subcommands:\n" + "\n".join(f"  {k:<10} {v}" for k, v in SUBCOMMANDS.items())
        + f"\n\ntasks: {', '.join(_tasks())}\nRun '{PROG} <subcommand> [<task>] --help' "
          "for the flags.")
    p.add_argument("subcommand", choices=list(SUBCOMMANDS), metavar="subcommand",
                   help=", ".join(SUBCOMMANDS))
    return p


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") \
                from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def add_shared_arguments(parser, task, command):
    """The flags every task takes, with the task's defaults."""
    from scs_keras.distribute import STRATEGIES
    from scs_keras.tasks.training import TRUNCATIONS

    d = task.defaults
    g = parser.add_argument_group("shared flags (every task)")
    g.add_argument("--data-dir", default=None,
                   help="a real data set (default: generated data)")
    g.add_argument("--generated-dir", default=task.default_generated_dir,
                   help="cache folder of the generated data")
    g.add_argument("--model", default=task.model_names[0], choices=task.model_names,
                   help="the model to train or evaluate")
    g.add_argument("--compare", action="store_true",
                   help="every model with the same data, epochs and seed; print a table")
    g.add_argument("--epochs", type=_positive(int), default=d.get("epochs", 10))
    g.add_argument("--batch-size", type=_positive(int), default=d.get("batch_size", 16))
    g.add_argument("--learning-rate", type=_positive(float), default=d.get("learning_rate", 1e-3))
    g.add_argument("--truncation", choices=TRUNCATIONS, default=d.get("truncation", "stsgd"),
                   help="stochastic truncation schedule of the SCS model")
    g.add_argument("--truncation-rate", type=_rate, default=d.get("truncation_rate", 0.5),
                   help="STSGD rate / ASTSGD initial rate q0")
    g.add_argument("--truncation-mode", choices=("temporal", "exclusive", "none"),
                   default=d.get("truncation_mode", "temporal"),
                   help="which stream's gradient into the layer below is cut")
    g.add_argument("--seed", type=int, default=0,
                   help="seed of the generated data, the pipelines and the weights")
    g.add_argument("--logdir", default=None,
                   help="TensorBoard folder (scalars with truncation_rate, pictures)")
    g.add_argument("--checkpoint", default=None, metavar="FILE.keras",
                   help="train: save the trained model here; evaluate/export: load it")
    g.add_argument("--export", nargs="?", const=task.default_export_dir, default=None,
                   metavar="DIR",
                   help=f"write a versioned SavedModel (default {task.default_export_dir})")
    g.add_argument("--on-bad", choices=("raise", "skip"), default="raise",
                   help="bad input files: stop with an error, or skip and report them")
    g.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2,
                   help="0 silent, 1 progress bars, 2 one line per epoch")
    if command in ("train", "demo"):
        g.add_argument("--strategy", choices=STRATEGIES, default="default",
                       help="tf.distribute strategy: one device, every local device "
                            "(mirrored), or the workers of TF_CONFIG (multi-worker)")
    if command == "export":
        parser.set_defaults(export=task.default_export_dir)


def task_parser(command, task):
    """The parser of ``scs-keras <command> <task>``."""
    prog = f"{PROG} {command}" + ("" if command == "demo" else f" {task.name}")
    p = argparse.ArgumentParser(prog=prog, description=f"{SUBCOMMANDS[command]} "
                                f"({task.title}).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    if command == "generate":
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--seed", type=int, default=0, help="generator seed")
        p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2)
        p.set_defaults(data_dir=None, model=task.model_names[0], compare=False,
                       truncation="none")
    else:
        add_shared_arguments(p, task, command)
    if command == "tune":
        _add_tune_arguments(p)
    if command == "study":
        _add_study_arguments(p, task)
    task.add_arguments(p)
    if command == "demo":
        p.set_defaults(**task.demo_defaults)
    return p


def _depths(text):
    from scs_keras.utils.validation import int_sequence

    try:
        return list(int_sequence("--depths", text))
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_study_arguments(parser, task):
    g = parser.add_argument_group("depth study (scs-keras study)")
    g.add_argument("--depths", type=_depths, default=[2, 4, 6, 8, 10],
                   help="comma-separated --depth values")
    g.add_argument("--models", default=",".join(task.neural_models),
                   help="comma-separated neural models to train at every depth")


def _add_tune_arguments(parser):
    from scs_keras.tasks.tuning import TUNERS

    g = parser.add_argument_group("search (scs-keras tune)")
    g.add_argument("--trials", type=_positive(int), default=10,
                   help="configurations to try (at most, for hyperband)")
    g.add_argument("--directory", default="tuning",
                   help="keras-tuner's folder: trial states and best weights")
    g.add_argument("--tuner", choices=TUNERS, default="random",
                   help="search algorithm")


def parse_task_args(command, task, argv):
    """Parses and checks the flags of a task command (``SystemExit(2)`` on bad ones)."""
    parser = task_parser(command, task)
    args = parser.parse_args(argv)
    args.command = command  # tasks check some flags only for the commands that use them
    if command != "generate":
        if args.data_dir is not None and not os.path.exists(args.data_dir):
            parser.error(f"--data-dir {args.data_dir!r} does not exist")
        if args.data_dir is not None and os.path.isdir(args.data_dir) \
                and not os.listdir(args.data_dir):
            parser.error(f"--data-dir {args.data_dir!r} is empty")
        if command == "train" and args.export and not args.compare \
                and args.model not in task.neural_models:
            parser.error(f"--export needs a neural model ({', '.join(task.neural_models)}); "
                         f"--model is {args.model}")
        if command == "export" and not args.checkpoint:
            parser.error("export needs --checkpoint FILE.keras (written by train --checkpoint)")
        if command == "study":
            if not hasattr(args, "depth"):
                parser.error(f"{task.name} has no --depth flag: it has no depth study")
            args.models = [m.strip() for m in args.models.split(",") if m.strip()]
            bad = [m for m in args.models if m not in task.neural_models]
            if bad or not args.models:
                parser.error(f"--models must name neural models of {task.name} "
                             f"({', '.join(task.neural_models)}); got {bad or 'none'}")
    task.check_arguments(args, parser.error)
    if command == "demo":
        args.compare, args.export = True, args.export or task.default_export_dir
    return args


def _chains(argv):
    from scs_keras.analysis import chains
    return chains.main(argv) or 0


def main(argv=None):
    """Runs the command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["chains"]:
        # Before the top parser, which lists the tasks (TensorFlow): the
        # chain counts need neither Keras nor TensorFlow.
        return _chains(argv[1:])
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        top.error(f"unknown subcommand {command!r}; choose from {', '.join(SUBCOMMANDS)}")
    from scs_keras.tasks import runner
    from scs_keras.tasks.base import get_task

    if command == "demo":
        task_name = "precipitation"
    else:
        if not rest or rest[0] in ("-h", "--help"):
            print(f"usage: {PROG} {command} <task> [flags]\n\n{SUBCOMMANDS[command]}.\n\n"
                  f"tasks: {', '.join(_tasks())}")
            return 0 if rest else 2
        task_name, rest = rest[0], rest[1:]
        if task_name not in _tasks():
            top.error(f"unknown task {task_name!r}; choose from {', '.join(_tasks())}")
    task = get_task(task_name)
    args = parse_task_args(command, task, rest)
    # Keras warns at the end of every first epoch over a dataset of unknown
    # length (the readers' pipelines); the data is complete, so it is noise.
    warnings.filterwarnings("ignore", message=".*ran out of data.*")
    if command == "tune":
        from scs_keras.tasks import tuning

        def run(task_, args_):
            return tuning.tune(task_, args_, argv=rest)
    else:
        run = {"demo": runner.train, "train": runner.train, "evaluate": runner.evaluate,
               "export": runner.export, "generate": runner.generate,
               "study": runner.depth_study}[command]
    from scs_keras.data.contract import DataError

    try:
        run(task, args)
    except (DataError, FileNotFoundError) as e:
        # Unusable data found once it is read: one line, no traceback.
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
