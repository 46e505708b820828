"""The shared runner: every model of a comparison gets the same batches."""

import types

import tensorflow as tf

from scs_keras.tasks import runner
from scs_keras.tasks.base import Task, TaskData


class _Recorder:
    def __init__(self, name):
        self.name = name

    def count_params(self):
        return 1


class _ShuffledTask(Task):
    """A task whose only 'training' records the order of every epoch."""

    name = "shuffled"
    model_names = neural_models = ("a", "b", "c")
    reference_model = "c"
    table_columns = ["first"]

    def __init__(self):
        self.loads = 0
        self.orders = {}

    def load_data(self, args):
        self.loads += 1
        train = (tf.data.Dataset.range(16)
                 .shuffle(16, seed=args.seed, reshuffle_each_iteration=True).batch(16))
        return TaskData(train, tf.data.Dataset.range(4).batch(4), {}, [])

    def build_model(self, name, data, args):
        return _Recorder(name)

    def compile_model(self, model, name, data, args):
        pass

    def fit(self, model, name, data, args, logdir=None):
        # One pass over the pipeline per epoch, as model.fit does.
        self.orders.setdefault(name, []).append(
            [batch.numpy().tolist() for _ in range(args.epochs) for batch in data.train])
        return types.SimpleNamespace(history={})

    def evaluate(self, model, data, args):
        return {"first": float(self.orders[model.name][-1][0][0])}


def _args(**kw):
    return types.SimpleNamespace(**{"seed": 3, "epochs": 3, "logdir": None, "verbose": 0, **kw})


def test_compare_gives_every_model_the_same_epoch_orders_whatever_ran_before():
    task = _ShuffledTask()
    args = _args()
    data = task.load_data(args)
    rows = runner.compare(task, data, args)
    orders = {name: runs[0] for name, runs in task.orders.items()}
    # The pipeline really reshuffles: the epochs differ from one another ...
    assert len({tuple(epoch) for epoch in orders["a"]}) == args.epochs
    # ... yet the second and third models see exactly the first one's epochs.
    assert orders["b"] == orders["a"] and orders["c"] == orders["a"]
    assert task.loads == 4  # the caller's load, then one per model
    assert [r["first"] for r in rows] == [orders["a"][0][0]] * 3

    # A model trained alone, or after a whole comparison on the same data
    # (as a depth study does), sees the same epochs too.
    alone = _ShuffledTask()
    runner.compare(alone, alone.load_data(args), args, models=["c"])
    runner.compare(task, data, args, models=["c"])
    assert alone.orders["c"][0] == orders["a"]
    assert task.orders["c"][1] == orders["a"]


def test_time_per_added_layer_is_the_least_squares_line_over_depth():
    import numpy as np

    rng = np.random.default_rng(0)
    depths = [2, 4, 6, 8, 10]
    rows = []
    for model, (per_layer, fixed) in {"scs": (10.0, 200.0), "convlstm": (40.0, 150.0)}.items():
        for d in depths:
            rows.append({"depth": d, "model": model,
                         "train_s": f"{fixed + per_layer * d + rng.normal(0, 5):.0f}"})
    # A model seen at one depth has no slope.
    rows.append({"depth": 2, "model": "lonely", "train_s": "99"})
    slopes = runner.time_per_added_layer(rows)
    assert set(slopes) == {"scs", "convlstm"}
    for model in ("scs", "convlstm"):
        times = [float(r["train_s"]) for r in rows if r["model"] == model]
        expected_slope, expected_intercept = np.polyfit(depths, times, 1)
        slope, intercept = slopes[model]
        assert abs(slope - expected_slope) < 1e-9
        assert abs(intercept - expected_intercept) < 1e-9
    assert runner.time_per_added_layer(rows[:1]) == {}
