"""Comparison tables used by the task examples."""

from scs_keras.tasks.comparison import format_table, run_comparison


def test_format_table_renders_markdown_in_column_order():
    rows = [{"model": "scs", "mse": 0.013712, "params": 51646},
            {"model": "persistence", "mse": 0.0283}]
    assert format_table(rows, ["model", "mse", "params"]).splitlines() == [
        "| model | mse | params |",
        "|---|---|---|",
        "| scs | 0.01371 | 51646 |",
        "| persistence | 0.0283 |  |",
    ]


def test_run_comparison_trains_and_evaluates_each_candidate_in_order():
    calls = []

    class Dummy:
        def __init__(self, name):
            self.name = name

        def count_params(self):
            return len(self.name)

    rows = run_comparison(
        {"a": lambda: Dummy("a"), "bb": lambda: Dummy("bb")},
        lambda name, model: calls.append(("train", name, model.name)),
        lambda name, model: {"score": float(len(name))},
    )
    assert calls == [("train", "a", "a"), ("train", "bb", "bb")]
    assert [r["model"] for r in rows] == ["a", "bb"]
    assert [r["score"] for r in rows] == [1.0, 2.0]
    assert [r["params"] for r in rows] == [1, 2]
    assert all(r["train_s"] >= 0 for r in rows)
