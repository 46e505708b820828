"""Per-layer gradient norms of the precipitation forecasters, before and after training.

    python docs/scripts/precipitation_gradients.py [precipitation flags]

Takes the flags of ``scs-keras train precipitation`` (``--widths``,
``--depth``, ``--epochs``, ``--truncation``...), builds the SCS forecaster
and its ConvLSTM twin on the same data and seed, and prints the L2 norm of
the loss gradient over each recurrent layer's weights (mean over 4 test
batches), at initialisation and after ``--epochs`` of training.  Used for
docs/precipitation.md, "Why the deep SCS forecaster fails".
"""

import sys

import keras
import numpy as np

from scs_keras.analysis.gradients import layer_gradient_norms
from scs_keras.cli import parse_task_args
from scs_keras.tasks.base import get_task
from scs_keras.tasks.precipitation.data import with_output_names

BATCHES = 4


def mean_norms(model, dataset):
    batches = with_output_names(dataset, list(model.output.keys())).take(BATCHES)
    norms = [layer_gradient_norms(model, x, y) for x, y in batches]
    return {k: float(np.mean([n[k] for n in norms])) for k in norms[0]}


def main(argv):
    task = get_task("precipitation")
    args = parse_task_args("train", task, argv)
    data = task.load_data(args)
    print(data.description)
    columns = {}
    for name in ("scs", "convlstm"):
        keras.utils.set_random_seed(args.seed)
        model = task.build_model(name, data, args)
        task.compile_model(model, name, data, args)
        columns[f"{name} init"] = mean_norms(model, data.test)
        task.fit(model, name, data, args)
        columns[f"{name} trained"] = mean_norms(model, data.test)
    layers = [k for k in columns["scs init"]
              if k.startswith(("encoder_", "forecaster_", "stem_", "decoder"))]
    print("\n| layer | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for layer in layers:
        print(f"| {layer} | " + " | ".join(f"{c.get(layer, float('nan')):.3g}"
                                           for c in columns.values()) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
