"""The steering task as the shared runner and ``scs-keras`` see it.

Driving video (comma.ai HDF5 routes, or videos with CSV logs) → clips of
``T`` frames → the steering angle of the last frame.  Models: an SCS network
(ASTSGD by default) with T¹ and T² heads, comma.ai's single-frame CNN, a
CNN+LSTM and a ConvLSTM of equal depth.
"""

from __future__ import annotations

from scs_keras.metrics.steering import DEFAULT_THRESHOLDS, steering_metrics
from scs_keras.tasks.base import Task, TaskData
from scs_keras.tasks.comparison import format_table
from scs_keras.tasks.steering import data, export, models, training
from scs_keras.tasks.training import fixed_sample
from scs_keras.utils.validation import image_hw, int_sequence

__all__ = ["SteeringTask"]

#: Columns of the printed T¹ vs T² table.
STREAM_COLUMNS = ["condition", "clips", "full", "T1", "T2", "carrier"]


class SteeringTask(Task):
    """Steering from driving video: SCS vs comma.ai's CNN, CNN+LSTM and ConvLSTM."""

    name = "steering"
    title = "steering from driving video"
    model_names = models.MODEL_NAMES
    neural_models = models.MODEL_NAMES
    reference_model = "convlstm"
    defaults = dict(epochs=10, batch_size=16, learning_rate=1e-3, truncation="astsgd",
                    truncation_rate=0.5, truncation_mode="temporal")
    table_columns = training.table_columns(DEFAULT_THRESHOLDS)
    export_input_name = export.INPUT_NAME
    export_output_names = export.OUTPUT_NAMES

    # -- flags ----------------------------------------------------------

    def add_arguments(self, parser):
        g = parser.add_argument_group(self.title)
        g.add_argument("--layout", choices=data.LAYOUTS, default="comma",
                       help="on-disk layout of --data-dir (generated data: comma)")
        g.add_argument("--image-size", default="40,80",
                       help="H,W the frames are resized to (and generated at)")
        g.add_argument("--length", type=int, default=8, help="frames per clip")
        g.add_argument("--stride", type=int, default=2, help="frames between clip ends")
        g.add_argument("--routes", type=int, default=16, help="generated routes")
        g.add_argument("--frames-per-route", type=int, default=240,
                       help="frames per generated route (20 Hz)")
        g.add_argument("--segment-frames", type=int, default=60,
                       help="frames per generated road-condition segment")
        g.add_argument("--test-routes", type=int, default=3,
                       help="routes (the last by name) kept for testing")
        g.add_argument("--widths", default="16,32",
                       help="channels of the recurrent layers (each halves the resolution)")
        g.add_argument("--hidden", type=int, default=64, help="units of the head's hidden layer")
        g.add_argument("--thresholds", default="1,3,5,10",
                       help="λ (degrees) of the accuracy-within-λ columns")
        g.add_argument("--threshold", type=float, default=None,
                       help="ASTSGD threshold θ in degrees² (default: the loss of "
                            "predicting the training mean, the angles' variance)")
        g.add_argument("--spatial-loss-weight", type=float, default=0.5,
                       help="weight of the T¹ (spatial-only) head's loss")
        g.add_argument("--temporal-loss-weight", type=float, default=0.5,
                       help="weight of the T² (temporal-only) head's loss")

    def check_arguments(self, args, error):
        for name in ("length", "stride", "routes", "frames_per_route", "segment_frames",
                     "test_routes", "hidden"):
            if getattr(args, name) < 1:
                error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
        for name in ("spatial_loss_weight", "temporal_loss_weight"):
            if getattr(args, name) < 0:
                error(f"--{name.replace('_', '-')} must be >= 0; got {getattr(args, name)}")
        if args.threshold is not None and args.threshold < 0:
            error(f"--threshold must be >= 0; got {args.threshold}")
        try:
            args.image_size = image_hw("--image-size", int_sequence("--image-size",
                                                                    args.image_size, length=2))
            args.widths = int_sequence("--widths", args.widths)
            args.thresholds = tuple(float(t) for t in str(args.thresholds).split(",")
                                    if t.strip())
            steering_metrics(args.thresholds)  # checks them: >= 0, distinct, at least one
        except (TypeError, ValueError) as e:
            error(str(e))
        # The table's columns follow --thresholds.
        self.table_columns = training.table_columns(args.thresholds)
        if args.data_dir is None and args.frames_per_route < args.length:
            error(f"--frames-per-route ({args.frames_per_route}) must be >= --length "
                  f"({args.length})")
        # `generate` writes routes and splits nothing.
        if (args.data_dir is None and getattr(args, "command", "train") != "generate"
                and args.routes <= args.test_routes):
            error(f"--routes ({args.routes}) must exceed --test-routes ({args.test_routes})")

    # -- data -----------------------------------------------------------

    def generate(self, out_dir, args):
        from scs_keras.data.synthetic.roads import write_comma_like

        write_comma_like(out_dir, num_routes=args.routes, frames_per_route=args.frames_per_route,
                         image_size=args.image_size, seed=args.seed,
                         segment_frames=args.segment_frames, progress=True)
        return out_dir

    def load_data(self, args):
        if args.data_dir:
            root, layout, source = args.data_dir, args.layout, args.data_dir
        else:
            root, cached = data.generated_routes(
                args.generated_dir, routes=args.routes, frames_per_route=args.frames_per_route,
                image_size=args.image_size, segment_frames=args.segment_frames, seed=args.seed,
                progress=bool(args.verbose))
            layout = "comma"
            source = f"generated comma.ai-layout routes in {root} " \
                     f"({'cached' if cached else 'written now'})"
        train, test, info = data.load_datasets(
            root, layout, length=args.length, image_size=args.image_size,
            batch_size=args.batch_size, stride=args.stride, test_routes=args.test_routes,
            seed=args.seed, on_bad=args.on_bad)
        info["angle_mean"], info["angle_std"] = data.angle_statistics(train)
        h, w = info["image_size"]
        description = (f"Data: {source}; {info['train_clips']} train clips "
                       f"({len(info['train_routes'])} routes) / {info['test_clips']} test clips "
                       f"({len(info['test_routes'])}), {args.length} frames of {h}x{w}, "
                       f"angle {info['angle_mean']:.1f} ± {info['angle_std']:.1f} degrees, "
                       f"batch {args.batch_size}")
        return TaskData(train, test, info, info.pop("reports"), description)

    # -- models ---------------------------------------------------------

    def build_model(self, name, data_, args):
        return models.build_model(
            name, data_.info["image_size"], None, widths=args.widths, hidden=args.hidden,
            angle_mean=data_.info["angle_mean"], angle_std=data_.info["angle_std"],
            truncation_rate=args.truncation_rate, truncation_mode=args.truncation_mode,
            seed=args.seed)

    def compile_model(self, model, name, data_, args):
        threshold = args.threshold
        if threshold is None:
            threshold = training.mean_prediction_loss(data_.info["angle_std"])
        return training.compile_steering_model(
            model, learning_rate=args.learning_rate, truncation=args.truncation,
            truncation_rate=args.truncation_rate, threshold=threshold,
            spatial_weight=args.spatial_loss_weight, temporal_weight=args.temporal_loss_weight,
            thresholds=args.thresholds)

    def fit(self, model, name, data_, args, logdir=None):
        # Validation (and pictures) only with a logdir: it costs a pass per epoch.
        return training.fit_steering_model(model, data_.train, args.epochs,
                                           val_ds=data_.test if logdir else None,
                                           logdir=logdir, verbose=args.verbose)

    def evaluate(self, model, data_, args):
        scores, streams = training.evaluate_steering_model(
            model, data_.test, args.thresholds, data_.info["condition_names"])
        if streams:
            data_.info.setdefault("streams", {})[model.name] = streams
            print(f"\nT¹ (spatial-only) vs T² (temporal-only) heads of {model.name}, "
                  "accuracy within 5 degrees per road condition:\n"
                  + format_table(streams, STREAM_COLUMNS, floatfmt="{:.3f}"), flush=True)
        return scores

    # -- export ---------------------------------------------------------

    def serving_model(self, model):
        return export.serving_model(model)

    def export(self, model, data_, base_dir, version=None):
        return export.export_steering_model(model, base_dir, version=version)

    def export_check_inputs(self, data_, count=2):
        return fixed_sample(data_.test, count)[0]
