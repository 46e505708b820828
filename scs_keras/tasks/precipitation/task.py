"""The precipitation-nowcasting task as the shared runner and ``scs-keras`` see it.

Radar frames (HKO-7-style PNG event folders or HDF5) → ``N`` observed frames
→ ``M`` forecast frames.  Models: the SCS encoder–forecaster (ASTSGD by
default), its ConvLSTM twin of equal depth and width, a ConvLSTM twin of
equal depth and parameter count, persistence and optical-flow extrapolation.
"""

from __future__ import annotations

import math

from scs_keras.data.contract import DataError
from scs_keras.metrics.nowcasting import CSI, NowcastMSE
from scs_keras.tasks.base import Task, TaskData
from scs_keras.tasks.precipitation import baselines, data, export, models, training
from scs_keras.tasks.training import fixed_sample
from scs_keras.utils.validation import int_sequence

__all__ = ["PrecipitationTask"]


class PrecipitationTask(Task):
    """Precipitation nowcasting: SCS vs ConvLSTM, persistence and optical flow."""

    name = "precipitation"
    title = "precipitation nowcasting"
    model_names = models.MODEL_NAMES + baselines.BASELINE_NAMES
    neural_models = models.MODEL_NAMES
    reference_model = "convlstm"
    defaults = dict(epochs=20, batch_size=16, learning_rate=2e-3, truncation="astsgd",
                    truncation_rate=0.5, truncation_mode="temporal")
    # The main job runs the best SCS configuration of the depth study
    # (docs/precipitation.md, "Depth study"): ten residual layers at 16x16.
    # `train` keeps the faster 2-level pyramid.
    demo_defaults = dict(widths="32", depth=10)
    table_columns = training.TABLE_COLUMNS
    export_input_name = export.INPUT_NAME
    export_output_names = export.OUTPUT_NAMES

    # -- flags ----------------------------------------------------------

    def add_arguments(self, parser):
        g = parser.add_argument_group(self.title)
        g.add_argument("--format", choices=data.FORMATS, default="png",
                       help="on-disk format of the generated data")
        g.add_argument("--image-size", type=int, default=32,
                       help="side of the generated frames, in pixels")
        g.add_argument("--resize", type=int, default=None,
                       help="resize frames to this side (real radar frames are large)")
        g.add_argument("--input-frames", type=int, default=5, help="N, observed frames")
        g.add_argument("--target-frames", type=int, default=5, help="M, forecast frames")
        g.add_argument("--train-events", type=int, default=24, help="generated train events")
        g.add_argument("--test-events", type=int, default=8, help="generated test events")
        g.add_argument("--frames-per-event", type=int, default=30,
                       help="frames per generated event (6 min apart)")
        g.add_argument("--stride", type=int, default=2, help="frames between window starts")
        g.add_argument("--widths", default="16,32",
                       help="channels of each level (each halves the resolution): the "
                            "recurrent layers, or with --depth the CNN encoder's convolutions")
        g.add_argument("--strides", default="2",
                       help="stride of each level (one int for all): of the recurrent "
                            "layers, or with --depth of the CNN encoder's convolutions "
                            "(--widths 32 --depth L: recurrent layers at 1/2 resolution)")
        g.add_argument("--depth", type=int, default=None,
                       help="deep topology: this many recurrent layers of width widths[-1] "
                            "at constant resolution behind a CNN encoder, with residual "
                            "shortcuts (None: the pyramid, one recurrent layer per width)")
        g.add_argument("--no-residual", action="store_true",
                       help="with --depth: a plain stack, without residual shortcuts")
        g.add_argument("--threshold", type=float, default=None,
                       help="ASTSGD threshold θ (default: the persistence loss)")
        g.add_argument("--spatial-loss-weight", type=float, default=0.5,
                       help="weight of the T¹ (spatial-only) head's loss")
        g.add_argument("--no-next-frame-head", action="store_true",
                       help="train without the one-step head")
        g.add_argument("--intensity-weighted", action="store_true",
                       help="weight the loss by rain intensity (HKO-7 balanced loss)")

    def check_arguments(self, args, error):
        for name in ("image_size", "input_frames", "target_frames", "train_events",
                     "test_events", "frames_per_event", "stride"):
            if getattr(args, name) < 1:
                error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
        if args.resize is not None and args.resize < 1:
            error(f"--resize must be >= 1; got {args.resize}")
        if args.input_frames < 2:
            error("--input-frames must be >= 2 (optical flow and the forecasters need motion)")
        if args.data_dir is None and args.frames_per_event < args.input_frames + args.target_frames:
            error(f"--frames-per-event ({args.frames_per_event}) must be >= input + target "
                  f"frames ({args.input_frames + args.target_frames})")
        if args.depth is not None and args.depth < 1:
            error(f"--depth must be >= 1; got {args.depth}")
        if args.spatial_loss_weight < 0:
            error(f"--spatial-loss-weight must be >= 0; got {args.spatial_loss_weight}")
        if args.threshold is not None and args.threshold < 0:
            error(f"--threshold must be >= 0; got {args.threshold}")
        try:
            args.widths = int_sequence("--widths", args.widths)
            args.strides = models.level_strides(args.strides, len(args.widths), "--strides")
        except (TypeError, ValueError) as e:
            error(str(e))
        size = args.resize or (args.image_size if args.data_dir is None else None)
        factor = math.prod(args.strides)
        if size is not None and size % factor:
            error(f"the frame size ({size}) must be divisible by the product of the strides "
                  f"({factor})")

    # -- data -----------------------------------------------------------

    def _generation_args(self, args):
        return dict(fmt=args.format, image_size=args.image_size,
                    train_events=args.train_events, test_events=args.test_events,
                    frames_per_event=args.frames_per_event, seed=args.seed)

    def generate(self, out_dir, args):
        data.write_generated_data(out_dir, progress=True, **self._generation_args(args))
        return out_dir

    def load_data(self, args):
        if args.data_dir:
            train_path, test_path = data.split_data_dir(args.data_dir)
            source = (f"{args.data_dir} (train {train_path}, test "
                      f"{test_path or 'the last 20% of the windows'})")
        else:
            paths = data.generated_data(args.generated_dir, progress=bool(args.verbose),
                                        **self._generation_args(args))
            train_path, test_path = paths["train"], paths["test"]
            source = (f"generated {args.format.upper()} radar events in {paths['root']} "
                      f"({'cached' if paths['cached'] else 'written now'})")
        train, test, info = data.load_datasets(
            train_path, test_path, args.input_frames, args.target_frames,
            batch_size=args.batch_size, stride=args.stride, resize=args.resize,
            seed=args.seed, on_bad=args.on_bad)
        h, w = info["image_size"]
        factor = math.prod(args.strides)
        if h % factor or w % factor:
            raise DataError(args.data_dir, f"frames of {h}x{w} are not divisible by the "
                                           f"product of the strides ({factor}); pass --resize")
        description = (f"Data: {source}; {info['train_windows']} train / "
                       f"{info['test_windows']} test windows, {args.input_frames} -> "
                       f"{args.target_frames} frames of {h}x{w}, batch {args.batch_size}")
        return TaskData(train, test, info, info.pop("reports"), description)

    # -- models ---------------------------------------------------------

    def build_model(self, name, data_, args):
        if name in baselines.BASELINE_NAMES:
            return baselines.build_baseline(name, args.input_frames, args.target_frames)
        return models.build_model(
            name, args.input_frames, args.target_frames, data_.info["image_size"],
            widths=args.widths, strides=args.strides, depth=args.depth,
            residual=not args.no_residual, truncation_mode=args.truncation_mode,
            truncation_rate=args.truncation_rate,
            next_frame_head=not args.no_next_frame_head, seed=args.seed)

    def compile_model(self, model, name, data_, args):
        loss = training.NowcastingLoss(intensity_weighted=args.intensity_weighted)
        threshold = args.threshold
        if name == "scs" and args.truncation == "astsgd" and threshold is None:
            # θ on the loss's own scale: the T¹ head sees one frame, so
            # persistence is about the best it can do.  Computed for every
            # model, not cached: reading the shuffled training pipeline
            # advances its epoch order, and a model must see the same orders
            # whether it is trained alone or after others (runner.compare).
            threshold = training.persistence_loss(data_.train, loss, max_batches=20)
        training.compile_forecaster(
            model, learning_rate=args.learning_rate, loss=loss, truncation=args.truncation,
            threshold=threshold, truncation_rate=args.truncation_rate,
            spatial_loss_weight=args.spatial_loss_weight, metrics=[CSI(30.0), NowcastMSE()])
        return model

    def fit(self, model, name, data_, args, logdir=None):
        return training.fit_forecaster(model, data_.train, args.epochs, val_ds=data_.test,
                                       logdir=logdir, verbose=args.verbose)

    def evaluate(self, model, data_, args):
        return training.evaluate_forecaster(model, data_.test, args.target_frames)

    # -- export ---------------------------------------------------------

    def serving_model(self, model):
        return export.serving_model(model)

    def export(self, model, data_, base_dir, version=None):
        return export.export_forecaster(model, base_dir, version=version)

    def export_check_inputs(self, data_, count=2):
        return fixed_sample(data_.test, count)[0]
