"""Same-budget comparisons of SCS against baselines, printed as tables."""

import time


def format_table(rows, columns, floatfmt="{:.4g}"):
    """Renders ``rows`` (dicts) as a Markdown table with ``columns`` in order.

    Example:

    >>> print(format_table([{"model": "scs", "acc": 0.9}], ["model", "acc"]))
    | model | acc |
    |---|---|
    | scs | 0.9 |
    """
    def cell(value):
        if isinstance(value, float):
            return floatfmt.format(value)
        return str(value)

    lines = ["| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def run_comparison(candidates, train_fn, evaluate_fn):
    """Trains and evaluates every candidate with the same budget.

    Args:
        candidates: Dict ``name -> factory``; each factory returns a fresh
            model (or baseline object).
        train_fn: Callable ``(name, model) -> None`` doing the training (a
            no-op for non-learned baselines).
        evaluate_fn: Callable ``(name, model) -> dict`` of metric values.

    Returns:
        A list of dicts: ``{"model": name, "train_s": seconds, **metrics,
        "params": count}``, in the order given.
    """
    rows = []
    for name, factory in candidates.items():
        model = factory()
        start = time.perf_counter()
        train_fn(name, model)
        seconds = time.perf_counter() - start
        metrics = evaluate_fn(name, model)
        params = model.count_params() if hasattr(model, "count_params") else 0
        rows.append({"model": name, "train_s": round(seconds, 1), "params": params,
                     **metrics})
    return rows
