"""Tests for scs_keras.analysis.chains (expected back-propagation chains); no TensorFlow."""

import itertools
import math

import numpy as np
import pytest

from scs_keras.analysis import chains
from scs_keras.analysis.chains import (
    expected_chains,
    expected_chains_by_length,
    truncation_probabilities,
)

RATES = (0.0, 0.3, 0.5, 0.7, 1.0)
SMALL_CASES = ((2, 2), (2, 3), (3, 2), (1, 3))

# Truncation outcomes of one (layer, step).
TEMPORAL_CUT, SPATIAL_CUT, NEITHER = "T", "S", "N"


# ---------------------------------------------------------------------------
# Independent brute-force reference
# ---------------------------------------------------------------------------


def _reference_event_probs(rate, mode):
    """Per-step truncation event probabilities, written out independently of
    the module under test."""
    if mode == "none":
        return {TEMPORAL_CUT: 0.0, SPATIAL_CUT: 0.0, NEITHER: 1.0}
    if mode == "temporal":
        return {TEMPORAL_CUT: rate, SPATIAL_CUT: 0.0, NEITHER: 1.0 - rate}
    assert mode == "exclusive"
    q = rate
    if q >= 0.5:
        return {TEMPORAL_CUT: q, SPATIAL_CUT: (1 - q) ** 2, NEITHER: q * (1 - q)}
    return {TEMPORAL_CUT: q**2, SPATIAL_CUT: 1 - q, NEITHER: q * (1 - q)}


def _enumerate_paths(num_layers, num_steps, loss_at):
    """Every chain, as an explicit node path, by a recursive walk of the graph.

    Nodes: ("h", l, t) layer outputs, ("g", l, t) gates, ("x", t) input data.
    Edges: h(l,t) -spatial-> h(l-1,t); h(l,t) -> g(l,t);
           g(l,t) -state c-> g(l,t-1) (t > 1); g(l,t) -temporal-> h(l-1,t).
    h(0, t) is the input ("x", t), where a chain ends.
    """
    paths = []

    def down(l, t):
        return ("x", t) if l == 1 else ("h", l - 1, t)

    def walk(node, path):
        path = path + [node]
        kind = node[0]
        if kind == "x":
            paths.append(tuple(path))
            return
        _, l, t = node
        if kind == "h":
            walk(down(l, t), path)  # spatial edge of (l, t)
            walk(("g", l, t), path)  # enter the gate
        else:  # gate
            walk(down(l, t), path)  # temporal edge of (l, t)
            if t > 1:
                walk(("g", l, t - 1), path)  # back in time through c

    starts = range(1, num_steps + 1) if loss_at == "all" else [num_steps]
    for t in starts:
        walk(("h", num_layers, t), [])
    return paths


def _downward_edges(path):
    """The downward edges a path uses: (kind, l, t) with kind in {"S", "T"}."""
    edges = []
    for a, b in zip(path, path[1:]):
        if a[0] == "h" and b[0] in ("h", "x"):
            edges.append(("S", a[1], a[2]))
        elif a[0] == "g" and b[0] in ("h", "x"):
            edges.append(("T", a[1], a[2]))
    return edges


def _walk_back(path):
    """Total number of time steps a path walks back (gate -> earlier gate)."""
    return sum(1 for a, b in zip(path, path[1:]) if a[0] == "g" and b[0] == "g")


def _brute_force(num_layers, num_steps, rate, mode, loss_at):
    """Return (expected total, expected count by walk-back length)."""
    probs = _reference_event_probs(rate, mode)
    paths = _enumerate_paths(num_layers, num_steps, loss_at)
    info = [(_downward_edges(p), _walk_back(p)) for p in paths]
    for edges, _ in info:  # sanity: exactly one downward edge per layer
        assert sorted(e[1] for e in edges) == list(range(1, num_layers + 1))
    cells = [
        (l, t) for l in range(1, num_layers + 1) for t in range(1, num_steps + 1)
    ]
    total = 0.0
    by_len = np.zeros(num_steps)
    for outcome in itertools.product(
        (TEMPORAL_CUT, SPATIAL_CUT, NEITHER), repeat=len(cells)
    ):
        weight = math.prod(probs[o] for o in outcome)
        if weight == 0.0:
            continue
        event = dict(zip(cells, outcome))
        for edges, k in info:
            intact = all(
                not (
                    (kind == "S" and event[(l, t)] == SPATIAL_CUT)
                    or (kind == "T" and event[(l, t)] == TEMPORAL_CUT)
                )
                for kind, l, t in edges
            )
            if intact:
                total += weight
                by_len[k] += weight
    return total, by_len


# ---------------------------------------------------------------------------
# Tests against the brute force
# ---------------------------------------------------------------------------


def test_path_enumeration_hand_count():
    # L=1, T=3, every loss position: (1+1) + (1+2) + (1+3) chains.
    assert len(_enumerate_paths(1, 3, "all")) == 9
    assert len(_enumerate_paths(1, 3, "last")) == 4


@pytest.mark.parametrize("num_layers,num_steps", SMALL_CASES)
@pytest.mark.parametrize("mode", ["temporal", "exclusive", "none"])
@pytest.mark.parametrize("loss_at", ["all", "last"])
def test_matches_brute_force(num_layers, num_steps, mode, loss_at):
    for rate in RATES:
        ref_total, ref_by_len = _brute_force(num_layers, num_steps, rate, mode, loss_at)
        got = expected_chains(num_layers, num_steps, rate, mode, loss_at)
        by_len = expected_chains_by_length(num_layers, num_steps, rate, mode, loss_at)
        assert got == pytest.approx(ref_total, rel=1e-12, abs=1e-12), rate
        assert by_len.shape == (num_steps,)
        assert float(by_len.sum()) == pytest.approx(ref_total, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(by_len, ref_by_len, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# Hand-checkable cases
# ---------------------------------------------------------------------------


def test_truncation_probabilities_table():
    assert truncation_probabilities(0.3, "temporal") == pytest.approx((0.3, 0, 0.7))
    assert truncation_probabilities(0.7, "none") == (0.0, 0.0, 1.0)
    assert truncation_probabilities(0.75, "exclusive") == pytest.approx(
        (0.75, 0.0625, 0.1875)
    )
    assert truncation_probabilities(0.25, "exclusive") == pytest.approx(
        (0.0625, 0.75, 0.1875)
    )
    assert truncation_probabilities(0.5, "exclusive") == pytest.approx(
        (0.5, 0.25, 0.25)
    )
    for mode in chains.MODES:
        for rate in np.linspace(0, 1, 11):
            probs = truncation_probabilities(rate, mode)
            assert sum(probs) == pytest.approx(1.0, abs=1e-15)
            assert all(p >= 0 for p in probs)


def test_no_truncation_hand_count():
    assert expected_chains(1, 3, 0.0, mode="none", loss_at="all") == 9.0
    assert expected_chains(1, 3, 0.0, mode="none", loss_at="last") == 4.0
    np.testing.assert_array_equal(
        expected_chains_by_length(1, 3, 0.0, mode="none"), [6.0, 2.0, 1.0]
    )
    # "none" ignores the rate; rate 0 in "temporal" mode is the same.
    assert expected_chains(3, 4, 0.9, mode="none") == expected_chains(3, 4, 0.0)
    # One step: every layer has two ways down, 2**L chains.
    assert expected_chains(5, 1, 0.0, mode="none") == 2.0**5


@pytest.mark.parametrize("num_layers,num_steps", [(1, 1), (3, 4), (15, 10)])
def test_full_temporal_truncation_leaves_spatial_chains(num_layers, num_steps):
    # Every temporal edge cut: only purely spatial chains, one per loss position.
    assert expected_chains(num_layers, num_steps, 1.0, "temporal", "all") == num_steps
    assert expected_chains(num_layers, num_steps, 1.0, "temporal", "last") == 1.0
    by_len = expected_chains_by_length(num_layers, num_steps, 1.0, "temporal", "all")
    assert by_len[0] == num_steps and not by_len[1:].any()
    # Exclusive q = 1 is the same event table.
    assert expected_chains(num_layers, num_steps, 1.0, "exclusive") == num_steps


def test_short_chains_are_cnn_like():
    # Chains that never walk back: each layer offers spatial or temporal (k=0).
    L, T, p = 6, 5, 0.4
    by_len = expected_chains_by_length(L, T, p, "temporal")
    assert by_len[0] == pytest.approx(T * (1 + (1 - p)) ** L, rel=1e-12)


# ---------------------------------------------------------------------------
# Monotonicity and scale
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss_at", ["all", "last"])
def test_temporal_mode_monotone_in_rate(loss_at):
    rates = np.linspace(0.0, 1.0, 21)
    for num_layers, num_steps in [(1, 1), (2, 3), (4, 6), (15, 10)]:
        values = [
            expected_chains(num_layers, num_steps, r, "temporal", loss_at) for r in rates
        ]
        assert all(a >= b for a, b in zip(values, values[1:])), values
        # ...and the long-chain fraction shrinks with the rate.
        fractions = [
            expected_chains_by_length(num_layers, num_steps, r, "temporal", loss_at)[0]
            / v
            for r, v in zip(rates, values)
        ]
        assert all(a <= b + 1e-12 for a, b in zip(fractions, fractions[1:]))


def test_by_length_sums_to_total_on_a_deep_stack():
    for mode in chains.MODES:
        for rate in RATES:
            total = expected_chains(15, 10, rate, mode)
            by_len = expected_chains_by_length(15, 10, rate, mode)
            assert np.all(by_len >= 0)
            assert float(by_len.sum()) == pytest.approx(total, rel=1e-12)


# ---------------------------------------------------------------------------
# Argument validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("func", [expected_chains, expected_chains_by_length])
def test_bad_arguments(func):
    with pytest.raises(ValueError, match="num_layers"):
        func(0, 3, 0.5)
    with pytest.raises(TypeError, match="num_layers"):
        func(2.0, 3, 0.5)
    with pytest.raises(TypeError, match="num_layers"):
        func(True, 3, 0.5)
    with pytest.raises(ValueError, match="num_steps"):
        func(2, 0, 0.5)
    with pytest.raises(TypeError, match="num_steps"):
        func(2, "3", 0.5)
    with pytest.raises(ValueError, match="rate"):
        func(2, 3, -0.1)
    with pytest.raises(ValueError, match="rate"):
        func(2, 3, 1.5)
    with pytest.raises(ValueError, match="rate"):
        func(2, 3, float("nan"))
    with pytest.raises(TypeError, match="rate"):
        func(2, 3, None)
    with pytest.raises(ValueError, match="mode"):
        func(2, 3, 0.5, mode="spatial")
    with pytest.raises(ValueError, match="loss_at"):
        func(2, 3, 0.5, loss_at="first")
    # numpy integers are accepted
    assert np.isfinite(np.sum(func(np.int64(2), np.int32(3), np.float32(0.5))))


def test_truncation_probabilities_bad_arguments():
    with pytest.raises(ValueError, match="rate"):
        truncation_probabilities(2.0, "temporal")
    with pytest.raises(ValueError, match="mode"):
        truncation_probabilities(0.5, "both")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_cli_prints_table(capsys):
    assert chains.main(["--layers", "2", "--steps", "3", "--rate", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "expected chains" in out and "short frac" in out
    for rate in ("0.00", "0.25", "0.30", "0.50", "0.75", "1.00"):
        assert rate in out
    # rate 1, "temporal": only the T spatial chains survive
    assert "3.0000" in out


def test_cli_rejects_bad_rate(capsys):
    with pytest.raises(SystemExit):
        chains.main(["--rate", "1.5"])
    assert "rate" in capsys.readouterr().err


def test_module_cli_runs_without_runpy_warning():
    # The package must not import the module that runpy then runs as
    # __main__ (runpy warns about the double import on every run).
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m",
         "scs_keras.analysis.chains", "--layers", "2", "--steps", "2"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning" not in result.stderr
    assert "expected chains" in result.stdout


# -- the commands load neither Keras nor TensorFlow -------------------------

def _imported_top_level(stderr):
    """Top-level package names in ``python -X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.mark.parametrize("args", [
    ["-m", "scs_keras.analysis.chains", "--help"],
    ["-m", "scs_keras.analysis.chains", "--layers", "2", "--steps", "2"],
    ["-m", "scs_keras", "chains", "--help"],
])
def test_module_commands_import_neither_keras_nor_tensorflow(args):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-X", "importtime", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "usage:" in result.stdout or "expected chains" in result.stdout
    imported = _imported_top_level(result.stderr)
    assert "scs_keras" in imported  # the timing lines were read
    assert not imported & {"tensorflow", "keras"}


@pytest.mark.parametrize("args", [["chains", "--help"],
                                  ["chains", "--layers", "2", "--steps", "2"]])
def test_console_command_imports_neither_keras_nor_tensorflow(args):
    # What the `scs-keras` console script does: set argv, call
    # scs_keras_cli.main.
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"sys.argv = ['/venv/bin/scs-keras'] + {args!r}\n"
        "from scs_keras_cli import main\n"
        "try:\n"
        "    status = main()\n"
        "except SystemExit as e:\n"
        "    status = e.code\n"
        "print('status', status, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "usage:" in result.stdout or "expected chains" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "status 0 False False"


@pytest.mark.parametrize("argv, orig_argv, keras_free", [
    (["-m", "--help"], ["py", "-m", "scs_keras.analysis.chains", "--help"], True),
    (["-m"], ["py", "-W", "error", "-mscs_keras.analysis.chains"], True),
    (["-m", "chains"], ["py", "-m", "scs_keras", "chains"], True),
    (["-m", "train", "chains"], ["py", "-m", "scs_keras", "train", "chains"], False),
    (["-m", "-q"], ["py", "-m", "pytest", "-q"], False),
    (["/venv/bin/scs-keras", "chains"], ["py", "/venv/bin/scs-keras", "chains"], True),
    (["/venv/bin/scs-keras", "demo"], ["py", "/venv/bin/scs-keras", "demo"], False),
    (["run.py", "-m", "scs_keras.analysis.chains"],
     ["py", "run.py", "-m", "scs_keras.analysis.chains"], False),
    ([], ["py"], False),
])
def test_which_commands_skip_loading_keras(argv, orig_argv, keras_free):
    import scs_keras

    assert scs_keras._runs_keras_free_command(argv, orig_argv) is keras_free
