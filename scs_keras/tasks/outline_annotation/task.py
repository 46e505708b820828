"""The outline-annotation task as the shared runner and ``scs-keras`` see it.

Cityscapes polygons (or generated scenes in the same layout) -> object crops
-> polygons drawn vertex by vertex on a ``crop/8`` grid.  Models: the deep
SCS decoder, the same decoder with ConvLSTM layers of equal depth, and the
original 2-layer ConvLSTM Polygon-RNN, all with the same encoder; and
``square``, a fixed polygon (the floor a trained decoder must beat).
"""

from __future__ import annotations

from scs_keras.tasks.base import Task, TaskData
from scs_keras.tasks.outline_annotation import baselines, data, export, models, training
from scs_keras.tasks.training import fixed_sample
from scs_keras.utils.validation import int_sequence

__all__ = ["OutlineAnnotationTask"]


class OutlineAnnotationTask(Task):
    """Outline annotation: deep SCS vs ConvLSTM decoders of Polygon-RNN."""

    name = "outline-annotation"
    title = "outline annotation"
    model_names = models.MODEL_NAMES + baselines.BASELINE_NAMES
    neural_models = models.MODEL_NAMES
    reference_model = "convlstm"
    # 60 epochs: after 8 on the default generated data no decoder
    # has learnt to draw outlines yet (they score below the fixed square;
    # docs/outline_annotation.md, Results).
    defaults = dict(epochs=60, batch_size=16, learning_rate=2e-3, truncation="stsgd",
                    truncation_rate=0.5, truncation_mode="temporal")
    table_columns = training.TABLE_COLUMNS
    export_input_name = export.INPUT_NAME
    export_output_names = export.OUTPUT_NAMES

    # -- flags ----------------------------------------------------------

    def add_arguments(self, parser):
        g = parser.add_argument_group(self.title)
        g.add_argument("--crop-size", type=int, default=64,
                       help="object crop side in pixels (a multiple of 8; the grid is crop/8)")
        g.add_argument("--max-vertices", type=int, default=16,
                       help="longest polygon (longer ones are subsampled evenly)")
        g.add_argument("--depth", type=int, default=2,
                       help="recurrent layers of the scs and convlstm decoders (paper: 15)")
        g.add_argument("--width", type=int, default=16,
                       help="channels of the image features and of every decoder layer")
        g.add_argument("--images", type=int, default=48, help="generated training images")
        g.add_argument("--test-images", type=int, default=16,
                       help="generated validation (test) images")
        g.add_argument("--image-size", default="64,128",
                       help="height,width of the generated images")
        g.add_argument("--first-vertex-weight", type=float, default=1.0,
                       help="weight of the first-vertex loss")

    def check_arguments(self, args, error):
        for name in ("depth", "width", "images", "test_images"):
            if getattr(args, name) < 1:
                error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
        if args.crop_size < 16 or args.crop_size % 8:
            error(f"--crop-size must be a multiple of 8, at least 16; got {args.crop_size}")
        if args.max_vertices < 3:
            error(f"--max-vertices must be >= 3; got {args.max_vertices}")
        if args.first_vertex_weight < 0:
            error(f"--first-vertex-weight must be >= 0; got {args.first_vertex_weight}")
        if args.truncation == "astsgd":
            error("--truncation astsgd needs a spatial-only head, which the outline models "
                  "do not have; use stsgd or none")
        try:
            args.image_size = int_sequence("--image-size", args.image_size, length=2,
                                           minimum=16)
        except (TypeError, ValueError) as e:
            error(str(e))

    # -- data -----------------------------------------------------------

    def generate(self, out_dir, args):
        return data.write_generated_data(out_dir, args.images, args.test_images,
                                         args.image_size, args.seed, progress=True)

    def load_data(self, args):
        if args.data_dir:
            root, source = args.data_dir, args.data_dir
        else:
            root, cached = data.generated_outline_data(
                args.generated_dir, args.images, args.test_images, args.image_size, args.seed,
                progress=bool(args.verbose))
            source = f"generated scenes in {root} ({'cached' if cached else 'written now'})"
        train, test, info = data.load_datasets(root, args.crop_size, args.max_vertices,
                                               args.batch_size, args.seed, args.on_bad)
        description = (f"Data: {source}; {info['train_objects']} train / "
                       f"{info['test_objects']} {data.TEST_SPLIT} objects, crops of "
                       f"{args.crop_size} px, grid {info['grid_size']}, at most "
                       f"{args.max_vertices} vertices, batch {args.batch_size}")
        return TaskData(train, test, info, info.pop("reports"), description)

    # -- models ---------------------------------------------------------

    def build_model(self, name, data_, args):
        if name in baselines.BASELINE_NAMES:
            return baselines.build_baseline(name, args.crop_size)
        return models.build_model(name, args.crop_size, args.max_vertices, depth=args.depth,
                                  width=args.width, truncation_rate=args.truncation_rate,
                                  truncation_mode=args.truncation_mode, seed=args.seed)

    def compile_model(self, model, name, data_, args):
        return training.compile_outline_model(
            model, args.learning_rate, truncation=args.truncation,
            truncation_rate=args.truncation_rate, first_vertex_weight=args.first_vertex_weight)

    def fit(self, model, name, data_, args, logdir=None):
        return training.fit_outline_model(model, data.training_targets(data_.train), args.epochs,
                                          val_ds=data_.test, logdir=logdir,
                                          crop_size=args.crop_size, verbose=args.verbose)

    def evaluate(self, model, data_, args):
        return training.evaluate_outline_model(model, data_.test, data_.info["crop_size"])

    # -- export ---------------------------------------------------------

    def serving_model(self, model):
        return export.serving_model(model)

    def export(self, model, data_, base_dir, version=None):
        return export.export_outline_model(model, base_dir, version=version)

    def export_check_inputs(self, data_, count=2):
        return fixed_sample(data_.test, count)[0]["image"]
