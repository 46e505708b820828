"""Action recognition with a deep SCS network: data → training → evaluation → export.

The whole path (SPEC §8a): videos on disk → tf.data → model → training with
STSGD → top-1 / top-5 / mAP against baselines → TensorBoard → SavedModel.

By default a small data set of generated motion videos is written (once, cached
under ``generated_data/action_recognition``): four classes (move left, right,
up, down) whose only difference is the motion, so a per-frame model cannot do
better than chance.  ``--data-dir`` points at a real data set instead (UCF-101
layout with ``ucfTrainTestlist/``; ``--layout folders``/``frames`` for HMDB-51,
Kinetics or extracted frames).

Examples::

    # train the SCS network, log to TensorBoard, export a SavedModel
    python examples/action_recognition.py --logdir logs/action --export
    # a baseline instead: cnn, cnn_lstm or convlstm
    python examples/action_recognition.py --model convlstm
    # overlap-coherence truncated BPTT (SPEC §7): 3 clips of 4 frames, r=0.25
    python examples/action_recognition.py --clips 3,4,0.25
    # T² optical-flow heads (Farneback targets computed in tf.data)
    python examples/action_recognition.py --flow
    # the results tables of docs/action_recognition.md
    python examples/action_recognition.py --compare
    python examples/action_recognition.py --depth-sweep 2,6,10 --no-aux --epochs 10
    python examples/action_recognition.py --ablation --lr 0.003
    # a real data set
    python examples/action_recognition.py --data-dir /data/UCF-101 --size 112 \\
        --frames 16 --widths 64,128,256,512 --depth 15 --stem 7,2,pool --batch-size 8
"""

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from scs_keras import OverlapCoherence, STSGD  # noqa: E402
from scs_keras.callbacks import ImageSummary  # noqa: E402
from scs_keras.data.video import AugmentConfig  # noqa: E402
from scs_keras.tasks.action_recognition.data import (  # noqa: E402
    DEFAULT_DATA_DIR,
    generated_motion_data,
    make_action_datasets,
    overlap_sequence_length,
)
from scs_keras.tasks.action_recognition.models import (  # noqa: E402
    MODEL_NAMES,
    build_action_model,
)
from scs_keras.tasks.action_recognition.training import (  # noqa: E402
    DEFAULT_EXPORT_DIR,
    compile_action_model,
    evaluate_action_model,
    export_action_model,
    render_predictions,
)
from scs_keras.tasks.comparison import format_table, run_comparison  # noqa: E402

COLUMNS = ["model", "top1", "top5", "mAP", "t1_top1", "params", "train_s"]

#: SCS variants of ``--ablation``: (model overrides, training overrides).
ABLATIONS = {
    "default": ({}, {}),
    "no_aux": ({"aux_spatial_loss": False}, {}),
    "q0.25": ({}, {"truncation_rate": 0.25}),
    "q0.75": ({}, {"truncation_rate": 0.75}),
    "no_truncation": ({"truncation_mode": "none"}, {}),
    "no_aux_no_truncation": ({"aux_spatial_loss": False, "truncation_mode": "none"}, {}),
    "lr1e-3": ({}, {"lr": 1e-3}),
    "lr1e-2": ({}, {"lr": 1e-2}),
}


def _int_list(text, what):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be comma-separated ints, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{what} must be positive ints, got {text!r}")
    return values


def parse_clips(text):
    """``"K,n,r"`` → ``(K, n, r)`` (SPEC §7), with a clear error otherwise."""
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        k, n, r = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--clips takes K,n,r (clips, frames per clip, overlap rate), e.g. "
            f"3,4,0.25; got {text!r}") from None
    if k < 1 or n < 2 or not 0.0 <= r < 1.0:
        raise argparse.ArgumentTypeError(
            f"--clips needs K >= 1, n >= 2 and 0 <= r < 1; got {text!r}")
    try:
        OverlapCoherence(n, r)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--clips {text!r}: {e}") from None
    return k, n, r


def parse_stem(text):
    """``"kernel,stride[,pool]"`` → ``(kernel, stride, pool)``."""
    parts = text.split(",")
    try:
        kernel, stride = int(parts[0]), int(parts[1])
        pool = len(parts) > 2 and parts[2] == "pool"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not pool) or kernel < 1 or stride < 1:
            raise ValueError
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"--stem takes kernel,stride[,pool], e.g. 7,2,pool; got {text!r}") from None
    return kernel, stride, pool


def build_parser():
    p = argparse.ArgumentParser(
        description="Action recognition with deep SCS networks and baselines.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--data-dir", help="real data set root (default: generated motion videos)")
    d.add_argument("--layout", default="ucf101",
                   choices=("ucf101", "folders", "hmdb51", "kinetics", "frames"),
                   help="on-disk layout of --data-dir")
    d.add_argument("--split-index", type=int, default=1, help="UCF-101 split 1-3")
    d.add_argument("--generated-dir", default=DEFAULT_DATA_DIR,
                   help="cache folder of the generated data")
    d.add_argument("--videos-per-class", type=int, default=160,
                   help="generated videos per class (a quarter are test videos)")
    d.add_argument("--frames", type=int, default=8, help="frames per clip")
    d.add_argument("--video-frames", type=int, default=16,
                   help="frames per generated video (clips sample them evenly)")
    d.add_argument("--size", type=int, default=32, help="frame side in pixels")
    m = p.add_argument_group("model")
    m.add_argument("--model", default="scs", help=f"one of {', '.join(MODEL_NAMES)}")
    m.add_argument("--widths", default="16,32", help="stage widths")
    m.add_argument("--depth", type=int, default=4, help="recurrent layers, stem included")
    m.add_argument("--stem", default="5,2", type=parse_stem,
                   help="stem kernel,stride[,pool] (paper: 7,2,pool)")
    m.add_argument("--input-norm", default="frame", choices=("frame", "scale"),
                   help="per-frame standardisation, or plain [-1, 1] scaling")
    m.add_argument("--no-aux", action="store_true",
                   help="no T¹ spatial-only auxiliary loss (SCS)")
    m.add_argument("--flow", action="store_true",
                   help="T² optical-flow heads after every stage (SCS)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=12, help="training epochs (every model)")
    t.add_argument("--batch-size", type=int, default=32, help="clips per batch")
    t.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    t.add_argument("--truncation-rate", type=float, default=0.5, help="STSGD rate q")
    t.add_argument("--truncation-mode", default="exclusive",
                   choices=("exclusive", "temporal", "none"), help="SPEC §4 mode")
    t.add_argument("--clips", type=parse_clips, default=None, metavar="K,n,r",
                   help="overlap-coherence training on K clips of n frames, overlap r")
    t.add_argument("--coherence-weight", type=float, default=1000.0,
                   help="λ of the overlap-coherence loss (on probabilities)")
    t.add_argument("--seed", type=int, default=0,
                   help="seed of the generated videos, the pipeline and the weights")
    o = p.add_argument_group("outputs")
    o.add_argument("--logdir", help="TensorBoard folder (scalars, truncation_rate, pictures)")
    o.add_argument("--export", nargs="?", const=DEFAULT_EXPORT_DIR, default=None,
                   metavar="BASE_DIR",
                   help=f"write a versioned SavedModel (default base {DEFAULT_EXPORT_DIR})")
    o.add_argument("--compare", action="store_true",
                   help="train SCS and every baseline with the same budget; print a table")
    o.add_argument("--depth-sweep", type=lambda s: _int_list(s, "--depth-sweep"),
                   metavar="D1,D2,...", help="SCS vs ConvLSTM at each depth; print a table")
    o.add_argument("--sweep-models", default="scs,convlstm",
                   help="models of the depth sweep")
    o.add_argument("--ablation", nargs="?", const=",".join(ABLATIONS), default=None,
                   metavar="V1,V2,...",
                   help=f"train SCS variants (of {', '.join(ABLATIONS)}); print a table")
    o.add_argument("--quiet", action="store_true", help="no per-epoch output")
    return p


def check_args(parser, args):
    if args.model not in MODEL_NAMES:
        parser.error(f"unknown --model {args.model!r}; choose one of {', '.join(MODEL_NAMES)}")
    try:
        args.widths = _int_list(args.widths, "--widths")
        args.sweep_models = [s.strip() for s in args.sweep_models.split(",") if s.strip()]
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))
    bad = [s for s in args.sweep_models if s not in MODEL_NAMES]
    if bad:
        parser.error(f"unknown --sweep-models {bad}; choose from {', '.join(MODEL_NAMES)}")
    if args.ablation is not None:
        args.ablation = [s.strip() for s in args.ablation.split(",") if s.strip()]
        bad = [s for s in args.ablation if s not in ABLATIONS]
        if bad or not args.ablation:
            parser.error(f"unknown --ablation variants {bad}; choose from {', '.join(ABLATIONS)}")
    for name in ("epochs", "batch_size", "frames", "video_frames", "depth",
                 "videos_per_class"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.size < 16:
        parser.error("--size must be >= 16")
    if not 0.0 <= args.truncation_rate <= 1.0:
        parser.error("--truncation-rate must be in [0, 1]")
    if args.clips is not None:
        if args.model != "scs" or args.compare or args.depth_sweep or args.ablation:
            parser.error("--clips (overlap-coherence training) needs --model scs and "
                         "no --compare/--depth-sweep/--ablation")
        if args.flow:
            parser.error("--clips cannot be combined with --flow (flow targets are "
                         "per frame and are not cut into clips)")
    if args.flow and args.model != "scs":
        parser.error("--flow needs --model scs (the T² stream exists only in SCS)")


class Experiment:
    """Everything one invocation shares: data, model arguments, training."""

    def __init__(self, args):
        self.args = args
        stem_kernel, stem_stride, stem_pool = args.stem
        self.model_kwargs = dict(
            widths=tuple(args.widths), depth=args.depth, stem_kernel=stem_kernel,
            stem_stride=stem_stride, stem_pool=stem_pool,
            truncation_rate=args.truncation_rate, truncation_mode=args.truncation_mode,
            aux_spatial_loss=not args.no_aux, flow_heads=args.flow, seed=args.seed,
            input_norm=args.input_norm)
        if args.clips is not None:
            k, n, r = args.clips
            self.num_frames = overlap_sequence_length(k, n, r)
        else:
            self.num_frames = args.frames
        if args.data_dir:
            self.root, self.layout = args.data_dir, args.layout
            self.augment = None  # the reader's default (no flip for direction classes)
        else:
            # Direction classes: no flip; the videos are synthetic, so only
            # colour jitter (no crop either).
            self.augment = AugmentConfig(flip=False, crop_scale=None)
            self.root = generated_motion_data(
                args.generated_dir, videos_per_class=args.videos_per_class,
                num_frames=max(args.video_frames, self.num_frames), size=args.size,
                seed=args.seed)
            self.layout = "ucf101"
        self.class_names = None

    # -- pieces -----------------------------------------------------------

    def build(self, name, **overrides):
        kwargs = {**self.model_kwargs, **overrides}
        if self.class_names is None:
            # The class names (and their number) come from the data set.
            _, _, self.class_names = self.datasets(["clip"])
        return build_action_model(name, len(self.class_names),
                                  (None, self.args.size, self.args.size, 3), **kwargs)

    def datasets(self, output_names, model=None):
        flow_shapes = {}
        if model is not None:
            for name in output_names:
                if name.startswith("flow_"):
                    shape = model.get_layer(name).output.shape  # (B, T, h, w, 2)
                    flow_shapes[name] = (shape[2], shape[3])
        return make_action_datasets(
            self.root, output_names, layout=self.layout, split_index=self.args.split_index,
            num_frames=self.num_frames, image_size=self.args.size,
            batch_size=self.args.batch_size, flow_shapes=flow_shapes,
            cache=not self.args.data_dir, seed=self.args.seed, augment=self.augment)

    def train(self, name, model, logdir=None, validate=True, lr=None, truncation_rate=None):
        args = self.args
        lr = args.lr if lr is None else lr
        rate = args.truncation_rate if truncation_rate is None else truncation_rate
        overlap = None
        if args.clips is not None:
            _, n, r = args.clips
            overlap = OverlapCoherence(n, r, args.coherence_weight, output="frame_probs")
        compile_action_model(model, len(self.class_names), learning_rate=lr,
                             truncation=STSGD(rate), overlap=overlap)
        train_ds, test_ds, _ = self.datasets(model.output_names, model)
        callbacks = []
        if logdir:
            run_dir = os.path.join(logdir, name)
            callbacks.append(keras.callbacks.TensorBoard(run_dir, update_freq="epoch"))
            frames, labels = next(iter(test_ds.unbatch().batch(4)))
            frames = frames.numpy()
            labels = np.asarray(labels["clip"])
            callbacks.append(ImageSummary(
                run_dir,
                lambda m: {"clips_true_vs_predicted": render_predictions(
                    m, frames, labels, self.class_names)},
                every_n_epochs=max(1, args.epochs // 10)))
        model.fit(train_ds, epochs=args.epochs, verbose=0 if args.quiet else 2,
                  validation_data=test_ds if validate else None, callbacks=callbacks)
        return test_ds

    def evaluate(self, model):
        _, test_ds, _ = self.datasets(model.output_names, model)
        return evaluate_action_model(model, test_ds, len(self.class_names))


def describe(exp):
    args = exp.args
    source = args.data_dir or f"generated motion videos in {exp.root}"
    print(f"Data: {source} ({len(exp.class_names)} classes: {', '.join(exp.class_names[:8])}"
          f"{'...' if len(exp.class_names) > 8 else ''}); clips of {exp.num_frames} frames "
          f"{args.size}x{args.size}; batch {args.batch_size}; {args.epochs} epochs; "
          f"Adam lr {args.lr}; STSGD {args.truncation_mode} q={args.truncation_rate}.")


def run_single(exp):
    args = exp.args
    model = exp.build(args.model)
    describe(exp)
    print(f"Model {args.model}: depth {args.depth}, widths {args.widths}, "
          f"{model.count_params():,} parameters, outputs {sorted(model.output_names)}")
    if args.clips is not None:
        print(f"Overlap-coherence training: clips {args.clips} over sequences of "
              f"{exp.num_frames} frames, coherence weight {args.coherence_weight}")
    start = time.perf_counter()
    test_ds = exp.train(args.model, model, logdir=args.logdir)
    seconds = time.perf_counter() - start
    metrics = evaluate_action_model(model, test_ds, len(exp.class_names))
    print(f"\nTest ({seconds:.0f} s training): " +
          ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    if args.logdir:
        print(f"TensorBoard: tensorboard --logdir {args.logdir}")
    if args.export:
        path = export_action_model(model, exp.num_frames, args.size, args.export)
        loaded = tf.saved_model.load(path)
        frames = next(iter(test_ds))[0][:2]
        served = loaded.signatures["serving_default"](frames=tf.constant(frames))
        same = np.allclose(served["clip_probabilities"].numpy().argmax(-1),
                           model.predict_on_batch(frames)["clip"].argmax(-1))
        print(f"Exported {path} (serving_default: frames {tuple(frames.shape[1:])} -> "
              f"frame_probabilities, clip_probabilities; reload check "
              f"{'passed' if same else 'FAILED'})")
    return metrics


def run_compare(exp, variants, depth=None):
    """Trains and evaluates ``variants`` (name -> (model, model/train overrides))."""
    args = exp.args
    exp.build("cnn")  # reads the class names
    train_keys = ("lr", "truncation_rate")

    def factory(name):
        model_name, overrides = variants[name]

        def make():
            keras.utils.set_random_seed(args.seed)
            kwargs = {k: v for k, v in overrides.items() if k not in train_keys}
            if depth is not None:
                kwargs["depth"] = depth
            return exp.build(model_name, **kwargs)
        return make

    def train(name, model):
        print(f"== training {name}" + (f" (depth {depth})" if depth else ""), flush=True)
        extra = {k: v for k, v in variants[name][1].items() if k in train_keys}
        exp.train(name if depth is None else f"{name}_d{depth}", model,
                  logdir=args.logdir, validate=False, **extra)

    def evaluate(name, model):
        return exp.evaluate(model)

    rows = run_comparison({n: factory(n) for n in variants}, train, evaluate)
    for row in rows:
        row["train_s"] = f"{row['train_s']:.0f}"
    return rows


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    warnings.filterwarnings("ignore", message=".*ran out of data.*")
    warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
    keras.utils.set_random_seed(args.seed)
    exp = Experiment(args)
    if not (args.compare or args.depth_sweep or args.ablation):
        run_single(exp)
        return 0
    exp.build("cnn")
    describe(exp)
    if args.compare:
        rows = run_compare(exp, {n: (n, {}) for n in MODEL_NAMES})
        print(f"\nSame data, epochs, widths {args.widths} and depth {args.depth}:\n")
        print(format_table(rows, COLUMNS, floatfmt="{:.3f}"), flush=True)
    if args.depth_sweep:
        rows = []
        for depth in args.depth_sweep:
            variants = {n: (n, {}) for n in args.sweep_models}
            for row in run_compare(exp, variants, depth=depth):
                rows.append({"depth": depth, **row})
        print("\nDepth sweep (same data and epochs):\n")
        print(format_table(rows, ["depth"] + COLUMNS, floatfmt="{:.3f}"), flush=True)
    if args.ablation:
        variants = {f"scs {n}": ("scs", {**ABLATIONS[n][0], **ABLATIONS[n][1]})
                    for n in args.ablation}
        rows = run_compare(exp, variants)
        print(f"\nSCS variants (depth {args.depth}; default: T¹ aux loss, "
              f"{args.truncation_mode} q={args.truncation_rate}, lr {args.lr}):\n")
        print(format_table(rows, COLUMNS, floatfmt="{:.3f}"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
