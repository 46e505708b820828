"""The action-recognition task as the shared runner and ``scs-keras`` see it.

Videos (UCF-101 layout, class folders or extracted frames) → clips → class.
Models: a deep residual SCS network (STSGD by default), a per-frame CNN, a
CNN+LSTM and a ConvLSTM of the same depth, widths and head.
"""

from __future__ import annotations

import argparse

from scs_keras.data.video import AugmentConfig
from scs_keras.tasks.action_recognition import data, export, models, training
from scs_keras.tasks.base import Task, TaskData
from scs_keras.tasks.training import fixed_sample
from scs_keras.training.schedules import OverlapCoherence
from scs_keras.utils.validation import int_sequence

__all__ = ["ActionRecognitionTask", "parse_clips", "parse_stem"]


def parse_clips(text):
    """``"K,n,r"`` → ``(K, n, r)``: K clips of n frames overlapping by r."""
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


class ActionRecognitionTask(Task):
    """Action recognition: deep SCS vs a per-frame CNN, CNN+LSTM and ConvLSTM."""

    name = "action-recognition"
    title = "action recognition"
    model_names = models.MODEL_NAMES
    neural_models = models.MODEL_NAMES
    reference_model = "convlstm"
    defaults = dict(epochs=12, batch_size=32, learning_rate=1e-2, truncation="stsgd",
                    truncation_rate=0.5, truncation_mode="exclusive")
    table_columns = training.TABLE_COLUMNS
    export_input_name = export.INPUT_NAME
    export_output_names = export.OUTPUT_NAMES

    # -- flags ----------------------------------------------------------

    def add_arguments(self, parser):
        g = parser.add_argument_group(self.title)
        g.add_argument("--layout", default="ucf101",
                       choices=("ucf101", "folders", "hmdb51", "kinetics", "frames"),
                       help="on-disk layout of --data-dir")
        g.add_argument("--split-index", type=int, default=1, help="UCF-101 split 1-3")
        g.add_argument("--videos-per-class", type=int, default=160,
                       help="generated videos per class (a quarter are test videos)")
        g.add_argument("--frames", type=int, default=8, help="frames per clip")
        g.add_argument("--video-frames", type=int, default=16,
                       help="frames per generated video (clips sample them evenly)")
        g.add_argument("--image-size", type=int, default=32, help="frame side in pixels")
        g.add_argument("--widths", default="16,32", help="stage widths")
        g.add_argument("--depth", type=int, default=4, help="recurrent layers, stem included")
        g.add_argument("--stem", default="5,2", type=parse_stem,
                       help="stem kernel,stride[,pool] (the paper's: 7,2,pool)")
        g.add_argument("--input-norm", default="frame", choices=("frame", "scale"),
                       help="per-frame standardisation, or plain [-1, 1] scaling")
        g.add_argument("--no-aux", action="store_true",
                       help="no T¹ spatial-only auxiliary loss (SCS)")
        g.add_argument("--flow", action="store_true",
                       help="T² optical-flow heads after every stage (SCS)")
        g.add_argument("--clips", type=parse_clips, default=None, metavar="K,n,r",
                       help="overlap-coherence training on K clips of n frames, overlap r")
        g.add_argument("--coherence-weight", type=float, default=1000.0,
                       help="weight of the overlap-coherence loss (on probabilities)")

    def check_arguments(self, args, error):
        for name in ("frames", "video_frames", "depth", "videos_per_class", "split_index"):
            if getattr(args, name) < 1:
                error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
        if args.image_size < 16:
            error(f"--image-size must be >= 16; got {args.image_size}")
        try:
            args.widths = int_sequence("--widths", args.widths)
        except (TypeError, ValueError) as e:
            error(str(e))
        if args.clips is not None:
            if args.model != "scs" or args.compare:
                error("--clips (overlap-coherence training) needs --model scs and no --compare")
            if args.flow:
                error("--clips cannot be combined with --flow (flow targets are per frame "
                      "and are not cut into clips)")
        if args.flow and args.model != "scs" and not args.compare:
            error("--flow needs --model scs (the T² stream exists only in SCS)")
        if args.truncation == "astsgd" and args.no_aux:
            error("--truncation astsgd needs the T¹ head; drop --no-aux")

    # -- data -----------------------------------------------------------

    def _num_frames(self, args):
        if args.clips is not None:
            return data.overlap_sequence_length(*args.clips)
        return args.frames

    def generate(self, out_dir, args):
        from scs_keras.data.synthetic.motion_videos import make_motion_videos

        make_motion_videos(out_dir, classes=("left", "right", "up", "down"),
                           videos_per_class=args.videos_per_class,
                           num_frames=max(args.video_frames, self._num_frames(args)),
                           size=args.image_size, seed=args.seed, progress=True)
        return out_dir

    def load_data(self, args):
        num_frames = self._num_frames(args)
        if args.data_dir:
            root, layout, augment = args.data_dir, args.layout, None
            source = f"{root} ({layout} layout)"
        else:
            root = data.generated_motion_data(
                args.generated_dir, videos_per_class=args.videos_per_class,
                num_frames=max(args.video_frames, num_frames), size=args.image_size,
                seed=args.seed, progress=bool(args.verbose))
            # Direction classes on synthetic videos: no flip, no crop.
            layout, augment = "ucf101", AugmentConfig(flip=False, crop_scale=None)
            source = f"generated motion videos in {root}"
        train, test, info = data.make_action_datasets(
            root, layout=layout, split_index=args.split_index, num_frames=num_frames,
            image_size=args.image_size, batch_size=args.batch_size, augment=augment,
            cache=not args.data_dir, seed=args.seed, on_bad=args.on_bad)
        names = info["class_names"]
        info.update(num_frames=num_frames, image_size=args.image_size)
        description = (f"Data: {source}; {len(names)} classes ({', '.join(names[:8])}"
                       f"{'...' if len(names) > 8 else ''}); clips of {num_frames} frames "
                       f"{args.image_size}x{args.image_size}; batch {args.batch_size}")
        return TaskData(train, test, info, info.pop("reports"), description)

    # -- models ---------------------------------------------------------

    def build_model(self, name, data_, args):
        kernel, stride, pool = args.stem
        return models.build_model(
            name, len(data_.info["class_names"]), (None, args.image_size, args.image_size, 3),
            widths=tuple(args.widths), depth=args.depth, stem_kernel=kernel,
            stem_stride=stride, stem_pool=pool, truncation_rate=args.truncation_rate,
            truncation_mode=args.truncation_mode, aux_spatial_loss=not args.no_aux,
            flow_heads=args.flow and name == "scs", seed=args.seed,
            input_norm=args.input_norm)

    def compile_model(self, model, name, data_, args):
        overlap = None
        if args.clips is not None:
            _, n, r = args.clips
            overlap = OverlapCoherence(n, r, args.coherence_weight, output="frame_probs")
        return training.compile_action_model(
            model, len(data_.info["class_names"]), learning_rate=args.learning_rate,
            truncation=args.truncation, truncation_rate=args.truncation_rate,
            overlap=overlap)

    def fit(self, model, name, data_, args, logdir=None):
        # Validation only when pictures are drawn: it costs a pass per epoch.
        val = data.model_targets(data_.test, model) if logdir else None
        return training.fit_action_model(
            model, data.model_targets(data_.train, model), args.epochs, val_ds=val,
            logdir=logdir, class_names=data_.info["class_names"], verbose=args.verbose)

    def evaluate(self, model, data_, args):
        return training.evaluate_action_model(model, data.model_targets(data_.test, model),
                                              len(data_.info["class_names"]))

    # -- export ---------------------------------------------------------

    def serving_model(self, model):
        return export.serving_model(model)

    def export(self, model, data_, base_dir, version=None):
        return export.export_action_model(model, data_.info["num_frames"],
                                          data_.info["image_size"], base_dir, version=version)

    def export_check_inputs(self, data_, count=2):
        return fixed_sample(data_.test, count)[0]
