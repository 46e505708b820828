"""Precipitation nowcasting with an SCS encoder–forecaster (SCS_SPEC §8d).

The whole path: radar frames on disk (generated PNG event folders or HDF5 by
default, or a real data set) → tf.data → an SCS encoder–forecaster trained
with ASTSGD → evaluation against persistence, optical-flow extrapolation and
a ConvLSTM encoder–forecaster of equal depth and width → TensorBoard →
a versioned SavedModel that TensorFlow alone can serve.

    # The README's main job: every model, same data and epochs, a table, an export.
    python examples/precipitation_forecasting.py --compare --export

    # One model, with TensorBoard (losses, metrics, truncation_rate, pictures).
    python examples/precipitation_forecasting.py --model scs --epochs 30 --logdir runs/precip
    tensorboard --logdir runs/precip

    # Generated data as HDF5 (read through tensorflow-io) instead of PNG.
    python examples/precipitation_forecasting.py --format hdf5 --model scs

    # A real data set: a folder of PNG events or an HDF5 file, optionally with
    # train/ and test/ parts (else the last 20 % of the windows are the test set).
    python examples/precipitation_forecasting.py --data-dir /data/hko7 --resize 64 --compare

Exit status 0 on success; the comparison table is printed last, followed by
the SavedModel's path when ``--export`` is given.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from scs_keras.tasks.precipitation import pipeline as P  # noqa: E402
from scs_keras.tasks.precipitation.models import (  # noqa: E402
    NowcastingLoss,
    forecast_only,
    persistence_loss,
)

#: Defaults sized for the README's main job (a few minutes on a 2-core CPU).
DEFAULTS = dict(
    image_size=32, input_frames=5, target_frames=5, train_events=24, test_events=8,
    frames_per_event=30, stride=2, batch_size=16, epochs=20, widths="16,32",
    learning_rate=2e-3,
)
CHOICES = P.MODEL_NAMES + ("all",)


def _widths(text):
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--widths must be comma-separated positive ints, e.g. 16,32; got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"--widths must be positive ints; got {text!r}")
    return widths


def build_parser():
    """The command line (see the module docstring)."""
    d = DEFAULTS
    p = argparse.ArgumentParser(
        prog="precipitation_forecasting.py",
        description="Precipitation nowcasting with SCS: train, compare with baselines, export.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", choices=CHOICES, default="scs",
                   help="model to train/evaluate; 'all' runs every model (= --compare)")
    p.add_argument("--compare", action="store_true",
                   help="run every model with the same data and epochs and print the table")
    p.add_argument("--epochs", type=int, default=d["epochs"], help="epochs of each neural model")
    p.add_argument("--data-dir", default=None,
                   help="real data: PNG event folder or HDF5 file (or a folder with train/test)")
    p.add_argument("--format", choices=("png", "hdf5"), default="png",
                   help="on-disk format of the generated data")
    p.add_argument("--data-root", default=P.DEFAULT_DATA_ROOT,
                   help="cache folder of the generated data")
    p.add_argument("--image-size", type=int, default=d["image_size"],
                   help="generated frame size")
    p.add_argument("--resize", type=int, default=None,
                   help="resize frames to this size (for large real frames)")
    p.add_argument("--input-frames", type=int, default=d["input_frames"], help="N observed")
    p.add_argument("--target-frames", type=int, default=d["target_frames"], help="M forecast")
    p.add_argument("--train-events", type=int, default=d["train_events"])
    p.add_argument("--test-events", type=int, default=d["test_events"])
    p.add_argument("--frames-per-event", type=int, default=d["frames_per_event"])
    p.add_argument("--stride", type=int, default=d["stride"], help="frames between windows")
    p.add_argument("--batch-size", type=int, default=d["batch_size"])
    p.add_argument("--widths", type=_widths, default=_widths(d["widths"]),
                   help="encoder/forecaster widths, one per layer (each layer has stride 2)")
    p.add_argument("--learning-rate", type=float, default=d["learning_rate"])
    p.add_argument("--truncation", choices=("astsgd", "stsgd", "none"), default="astsgd",
                   help="SCS truncation schedule (SPEC §4-5)")
    p.add_argument("--truncation-rate", type=float, default=0.5,
                   help="ASTSGD's q0, or STSGD's constant rate")
    p.add_argument("--threshold", type=float, default=None,
                   help="ASTSGD θ (default: the persistence loss on training batches)")
    p.add_argument("--spatial-loss-weight", type=float, default=0.5,
                   help="weight of the SCS T¹ head's auxiliary loss")
    p.add_argument("--no-next-frame-head", action="store_true",
                   help="train without the one-step head on the encoder (both neural models)")
    p.add_argument("--intensity-weighted", action="store_true",
                   help="weight the MSE+MAE loss by rain intensity (HKO-7 weights)")
    p.add_argument("--logdir", default=None, help="TensorBoard folder (one sub-folder per model)")
    p.add_argument("--export", action="store_true",
                   help="export the trained SCS model (or the chosen neural model)")
    p.add_argument("--export-dir", default=P.DEFAULT_EXPORT_DIR,
                   help="SavedModel base folder; versions go to <export-dir>/<n>/")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2, help="fit verbosity")
    return p


def parse_args(argv=None):
    """Parses and checks the arguments (exits with status 2 on bad ones)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    positive = ("epochs", "image_size", "input_frames", "target_frames", "train_events",
                "test_events", "frames_per_event", "stride", "batch_size")
    for name in positive:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    if args.resize is not None and args.resize < 1:
        parser.error(f"--resize must be >= 1; got {args.resize}")
    if args.learning_rate <= 0:
        parser.error(f"--learning-rate must be > 0; got {args.learning_rate}")
    if args.spatial_loss_weight < 0:
        parser.error(f"--spatial-loss-weight must be >= 0; got {args.spatial_loss_weight}")
    if not 0.0 <= args.truncation_rate <= 1.0:
        parser.error(f"--truncation-rate must be in [0, 1]; got {args.truncation_rate}")
    if args.threshold is not None and args.threshold < 0:
        parser.error(f"--threshold must be >= 0; got {args.threshold}")
    if args.input_frames < 2:
        parser.error("--input-frames must be >= 2 (the optical-flow baseline and the "
                     "forecasters need motion)")
    if args.frames_per_event < args.input_frames + args.target_frames and args.data_dir is None:
        parser.error(f"--frames-per-event ({args.frames_per_event}) must be >= input + target "
                     f"frames ({args.input_frames + args.target_frames})")
    if args.data_dir is not None and not os.path.exists(args.data_dir):
        parser.error(f"--data-dir {args.data_dir!r} does not exist")
    size = args.resize or args.image_size
    factor = 2 ** len(args.widths)
    if args.data_dir is None or args.resize:
        if size % factor:
            parser.error(f"the frame size ({size}) must be divisible by 2^len(widths) = {factor}")
    args.models = list(P.MODEL_NAMES) if (args.compare or args.model == "all") else [args.model]
    if args.export and not any(m in P.NEURAL_MODELS for m in args.models):
        parser.error(f"--export needs a neural model (scs or convlstm); --model is {args.model}")
    args.export_model = ("scs" if "scs" in args.models else
                         next((m for m in args.models if m in P.NEURAL_MODELS), None))
    return args


def load_data(args):
    """Finds or generates the data and builds the pipelines (steps 1-2)."""
    if args.data_dir:
        train_path, test_path = P.split_data_dir(args.data_dir)
        print(f"Data: {args.data_dir} (train {train_path}, test "
              f"{test_path or 'last 20% of the windows'})")
    else:
        paths = P.generated_data(args.data_root, args.format, args.image_size,
                                 args.train_events, args.test_events, args.frames_per_event,
                                 seed=args.seed)
        train_path, test_path = paths["train"], paths["test"]
        print(f"Data: generated {args.format.upper()} radar events in {paths['root']} "
              f"({'cached' if paths['cached'] else 'written now'})")

    train_ds, test_ds, info = P.load_datasets(
        train_path, test_path, args.input_frames, args.target_frames,
        batch_size=args.batch_size, stride=args.stride, resize=args.resize, seed=args.seed)
    return train_ds, test_ds, info


def main(argv=None):
    """Runs the example; returns the exit status (0 on success)."""
    args = parse_args(argv)
    start = time.perf_counter()

    # 1-2. Data on disk -> tf.data.
    try:
        train_ds, test_ds, info = load_data(args)
    except (OSError, ValueError) as err:
        print(f"error: cannot read the data: {err}", file=sys.stderr)
        return 1
    image_size = info["image_size"]
    neural = any(m in P.NEURAL_MODELS for m in args.models)
    if neural and (image_size[0] % 2 ** len(args.widths) or image_size[1] % 2 ** len(args.widths)):
        raise SystemExit(f"error: frames of {image_size} are not divisible by "
                         f"2^{len(args.widths)}; pass --resize")
    print(f"Windows: {info['train_windows']} train / {info['test_windows']} test, "
          f"{args.input_frames} -> {args.target_frames} frames of {image_size[0]}x"
          f"{image_size[1]} (6 min apart), batch {args.batch_size}")

    # 3. Loss and the ASTSGD threshold θ on the loss's own scale.
    loss = NowcastingLoss(intensity_weighted=args.intensity_weighted)
    threshold = args.threshold
    if "scs" in args.models and args.truncation == "astsgd" and threshold is None:
        threshold = persistence_loss(train_ds, loss, max_batches=20)
        print(f"ASTSGD: θ = persistence loss on training batches = {threshold:.4f} "
              f"(q0 = {args.truncation_rate:g}, α = 1, L0 measured over the first 10 steps)")

    # 4-6. Train, evaluate, export.
    exported = {}

    def on_trained(name, model, history):
        logs = history.history
        if "truncation_rate" in logs:
            print(f"{name}: truncation_rate per epoch "
                  + " ".join(f"{v:.2f}" for v in logs["truncation_rate"])
                  + f"; L0 = {float(model.truncation_initial_loss.numpy()):.4f}")
        if args.export and name == args.export_model:
            sample_x, _ = P.fixed_sample(test_ds, 2)
            expected = np.asarray(forecast_only(model)(sample_x, training=False))
            path = P.export_forecaster(model, args.export_dir)
            P.check_export(path, sample_x, expected, atol=1e-4)
            exported[name] = path

    rows, _ = P.compare(
        args.models, train_ds, test_ds, args.input_frames, args.target_frames, image_size,
        args.epochs, widths=args.widths, logdir=args.logdir, seed=args.seed,
        verbose=args.verbose, on_trained=on_trained,
        next_frame_head=not args.no_next_frame_head, loss=loss,
        learning_rate=args.learning_rate, truncation=args.truncation,
        threshold=threshold, truncation_rate=args.truncation_rate,
        spatial_loss_weight=args.spatial_loss_weight)

    total = time.perf_counter() - start
    print(f"\nMSE per lead time ([0, 1] scale):\n{P.per_lead_table(rows, 'mse')}")
    if any("csi_30dbz" in r["per_lead"] for r in rows):
        print(f"\nCSI at 30 dBZ per lead time:\n{P.per_lead_table(rows, 'csi_30dbz')}")
    print(f"\nTest set: {info['test_windows']} windows; {args.epochs} epoch(s) per neural "
          f"model; scores averaged over the {args.target_frames} lead times; total "
          f"{total:.0f} s.")
    if args.logdir:
        print(f"TensorBoard: tensorboard --logdir {args.logdir}")
    print()
    print(P.results_table(rows))
    for name, path in exported.items():
        print(f"\nSavedModel ({name}): {path}  [serving_default: frames (None, "
              f"{args.input_frames}, {image_size[0]}, {image_size[1]}, 1) float32 in [0, 1] "
              f"-> forecast (None, {args.target_frames}, {image_size[0]}, {image_size[1]}, 1);"
              " reloaded and checked with tf.saved_model.load]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
