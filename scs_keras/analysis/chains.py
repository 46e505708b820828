"""Expected number of intact back-propagation chains under stochastic truncation.

Why stochastic truncation helps deep SCS stacks: cutting gradient paths at
random leaves many short back-propagation chains (CNN-like ones that never
walk back in time among them) next to the long ones.  This module counts
them in expectation.  It is pure Python/NumPy and does not import TensorFlow.

Model of the graph
------------------
- Layers l = 1..L, time steps t = 1..T. Layer 0 is the input data. A chain
  starts at the top-layer output h(L, t) (for every t by default:
  ``loss_at="all"``; or only t = T: ``loss_at="last"``) and ends when it
  reaches layer 0.
- At h(l, t) a chain either leaves downward through the SPATIAL edge of (l, t)
  to h(l−1, t), or enters the gate g(l, t). From the gate g(l, t') it may walk
  back in time to g(l, t'−1) (through the state c; this is never cut), any
  number of steps, or leave downward through the TEMPORAL edge of (l, t') to
  h(l−1, t'). So from h(l, t): spatial-down to (l−1, t), or for k = 0..t−1:
  walk back k steps then temporal-down to (l−1, t−k).
- Truncation draws one event per (layer, step), shared by all chains: with mode
  "temporal" and rate p: temporal edge cut with prob p, spatial never cut. Mode
  "exclusive" with rate q: at most one edge is cut (q ≥ 0.5: temporal cut q,
  spatial cut (1−q)², neither q(1−q); q < 0.5: temporal cut q², spatial cut
  1−q, neither q(1−q)); exactly one of {temporal cut, spatial cut, neither}
  happens per (l, t). Mode "none": nothing is cut.
- A chain is intact if none of the downward edges it uses is cut. Because a
  chain uses exactly one downward edge per layer, the edges on one chain are
  independent, so the expectation is a sum over chains of the product of
  survival probabilities:
  E(l, t) = P_s_surv · E(l−1, t) + P_t_surv · Σ_{k=0..t−1} E(l−1, t−k),
  E(0, ·) = 1.

Implementation
--------------
``expected_chains`` evaluates the recurrence with prefix sums over t, in
O(L·T) time. ``expected_chains_by_length`` additionally tracks the total number
of time steps K a chain has walked back (summed over all layers); with
F(l, t, K) the expected number of intact chains from h(l, t) to layer 0 that
walk back K steps in total,

    F(l, t, K) = P_s_surv · F(l−1, t, K)
                 + P_t_surv · Σ_{k=0..min(t−1, K)} F(l−1, t−k, K−k),

    F(0, t, K) = [K = 0].

The inner sum runs along a diagonal of the (t, K) table and is accumulated as
D(t, K) = F(t, K) + D(t−1, K−1), so the whole table costs O(L·T²). Chains with
K = 0 never walk back in time: these are the short, CNN-like chains.

Counts grow combinatorially in L and T; they are returned as float64 and may
overflow to ``inf`` for very large stacks or sequences.

Command line::

    python -m scs_keras.analysis.chains --layers 15 --steps 10 --rate 0.5 --mode temporal
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from scs_keras.utils import validation

__all__ = [
    "MODES",
    "LOSS_AT",
    "truncation_probabilities",
    "expected_chains",
    "expected_chains_by_length",
    "main",
]

MODES = ("temporal", "exclusive", "none")
LOSS_AT = ("all", "last")

DEFAULT_TABLE_RATES = (0.0, 0.25, 0.5, 0.75, 1.0)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def truncation_probabilities(rate, mode="temporal"):
    """Per-(layer, step) truncation event probabilities.

    Exactly one of the events {temporal edge cut, spatial edge cut, neither}
    happens at every (layer, step).

    Args:
        rate: the truncation rate, a real number in [0, 1] (``p`` for mode
            "temporal", ``q`` for mode "exclusive"; ignored, but still
            validated, for mode "none").
        mode: "temporal", "exclusive" or "none".

    Returns:
        A tuple ``(p_temporal_cut, p_spatial_cut, p_neither)`` of floats that
        sums to 1.

    Raises:
        TypeError: if ``rate`` is not a number.
        ValueError: if ``rate`` is not in [0, 1] or ``mode`` is unknown.

    Example:
        >>> truncation_probabilities(0.3, "temporal")
        (0.3, 0.0, 0.7)
        >>> truncation_probabilities(0.75, "exclusive")
        (0.75, 0.0625, 0.1875)
        >>> truncation_probabilities(0.25, "exclusive")
        (0.0625, 0.75, 0.1875)
    """
    rate = validation.rate("rate", rate)
    mode = validation.one_of("mode", mode, MODES)
    if mode == "none":
        return (0.0, 0.0, 1.0)
    if mode == "temporal":
        return (rate, 0.0, 1.0 - rate)
    q = rate
    if q >= 0.5:
        return (q, (1.0 - q) ** 2, q * (1.0 - q))
    return (q * q, 1.0 - q, q * (1.0 - q))


def _survival(rate, mode):
    p_t_cut, p_s_cut, _ = truncation_probabilities(rate, mode)
    return 1.0 - p_s_cut, 1.0 - p_t_cut


def expected_chains(num_layers, num_steps, rate, mode="temporal", loss_at="all"):
    """Expected number of intact back-propagation chains in an unrolled stack.

    Evaluates E(l, t) = P_s_surv·E(l−1, t) + P_t_surv·Σ_{k=0..t−1} E(l−1, t−k)
    with E(0, ·) = 1 (see the module docstring) in O(L·T) time.

    Args:
        num_layers: L, the number of SCS layers (integer >= 1).
        num_steps: T, the number of time steps (integer >= 1).
        rate: the truncation rate in [0, 1].
        mode: "temporal" (default), "exclusive" or "none".
        loss_at: "all" (default: a chain starts at h(L, t) for every t) or
            "last" (chains start only at h(L, T)).

    Returns:
        The expected number of intact chains, a float.

    Raises:
        TypeError: naming the offending argument if it has the wrong type
            (a count that is not an integer, a rate that is not a number).
        ValueError: naming the offending argument if it is out of range.

    Example:
        >>> expected_chains(1, 3, 0.0, mode="none")  # (1+1) + (1+2) + (1+3)
        9.0
        >>> expected_chains(4, 5, 1.0, mode="temporal")  # only spatial chains
        5.0
    """
    num_layers = validation.positive_int("num_layers", num_layers)
    num_steps = validation.positive_int("num_steps", num_steps)
    s_surv, t_surv = _survival(rate, mode)
    loss_at = validation.one_of("loss_at", loss_at, LOSS_AT)

    e = np.ones(num_steps, dtype=np.float64)  # E(0, t), t = 1..T
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_layers):
            e = s_surv * e + t_surv * np.cumsum(e)
    if loss_at == "last":
        return float(e[-1])
    return float(np.sum(e))


def expected_chains_by_length(
    num_layers, num_steps, rate, mode="temporal", loss_at="all"
):
    """Expected number of intact chains, split by total steps walked back in time.

    Args:
        num_layers: L, the number of SCS layers (integer >= 1).
        num_steps: T, the number of time steps (integer >= 1).
        rate: the truncation rate in [0, 1].
        mode: "temporal" (default), "exclusive" or "none".
        loss_at: "all" (default) or "last"; see :func:`expected_chains`.

    Returns:
        A float64 NumPy array of length T: entry K is the expected number of
        intact chains that walk back K time steps in total over all layers
        (K = 0..T−1). Entry 0 counts the short, CNN-like chains. The array
        sums to :func:`expected_chains` with the same arguments.

    Raises:
        TypeError: naming the offending argument if it has the wrong type
            (a count that is not an integer, a rate that is not a number).
        ValueError: naming the offending argument if it is out of range.

    Example:
        >>> expected_chains_by_length(1, 3, 0.0, mode="none")
        array([6., 2., 1.])
        >>> expected_chains_by_length(2, 2, 0.5, mode="temporal", loss_at="last")
        array([2.25, 1.5 ])
    """
    num_layers = validation.positive_int("num_layers", num_layers)
    num_steps = validation.positive_int("num_steps", num_steps)
    s_surv, t_surv = _survival(rate, mode)
    loss_at = validation.one_of("loss_at", loss_at, LOSS_AT)

    T = num_steps
    # f[t, K] for t = 0..T (row 0 is padding, always zero), K = 0..T−1.
    f = np.zeros((T + 1, T), dtype=np.float64)
    f[1:, 0] = 1.0
    d = np.zeros_like(f)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_layers):
            # d[t, K] = Σ_{k=0..min(t−1, K)} f[t−k, K−k], along diagonals.
            d[:] = 0.0
            for t in range(1, T + 1):
                d[t, 0] = f[t, 0]
                d[t, 1:] = f[t, 1:] + d[t - 1, :-1]
            f = s_surv * f + t_surv * d
    if loss_at == "last":
        return f[T].copy()
    return f[1:].sum(axis=0)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _format_count(x):
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-3):
        return f"{x:.4e}"
    return f"{x:.4f}"


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scs_keras.analysis.chains",
        description=(
            "Expected number of intact back-propagation chains in an unrolled "
            "SCS stack under stochastic truncation."
        ),
    )
    parser.add_argument("--layers", type=int, default=15, help="L (default 15)")
    parser.add_argument("--steps", type=int, default=10, help="T (default 10)")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.5,
        help="truncation rate for the length distribution (default 0.5)",
    )
    parser.add_argument("--mode", choices=MODES, default="temporal")
    parser.add_argument("--loss-at", dest="loss_at", choices=LOSS_AT, default="all")
    return parser


def main(argv=None):
    """Print a table of expected chain counts; returns the exit status.

    Args:
        argv: command-line arguments (defaults to ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on invalid arguments.

    Example:
        >>> main(["--layers", "2", "--steps", "2"])  # doctest: +SKIP
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        # Validate everything once before printing anything.
        expected_chains(args.layers, args.steps, args.rate, args.mode, args.loss_at)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))

    rates = sorted(set(DEFAULT_TABLE_RATES) | {float(args.rate)})
    print(
        f"Expected intact back-propagation chains: L={args.layers}, "
        f"T={args.steps}, mode={args.mode}, loss_at={args.loss_at}"
    )
    header = (
        f"{'rate':>6}  {'P(t cut)':>8}  {'P(s cut)':>8}  "
        f"{'expected chains':>16}  {'short chains':>14}  {'short frac':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in rates:
        p_t, p_s, _ = truncation_probabilities(r, args.mode)
        total = expected_chains(args.layers, args.steps, r, args.mode, args.loss_at)
        by_len = expected_chains_by_length(
            args.layers, args.steps, r, args.mode, args.loss_at
        )
        short = float(by_len[0])
        frac = short / total if total > 0 and math.isfinite(total) else float("nan")
        mark = " *" if r == float(args.rate) else ""
        print(
            f"{r:6.2f}  {p_t:8.4f}  {p_s:8.4f}  {_format_count(total):>16}  "
            f"{_format_count(short):>14}  {frac:10.4f}{mark}"
        )
    print("(short chains: never walk back in time, i.e. CNN-like; * = --rate)")

    by_len = expected_chains_by_length(
        args.layers, args.steps, args.rate, args.mode, args.loss_at
    )
    total = float(by_len.sum())
    print()
    print(f"By total steps walked back, rate={args.rate:g}:")
    print(f"{'K':>3}  {'expected chains':>16}  {'fraction':>10}")
    for k, v in enumerate(by_len):
        frac = v / total if total > 0 and math.isfinite(total) else float("nan")
        print(f"{k:>3}  {_format_count(float(v)):>16}  {frac:10.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
