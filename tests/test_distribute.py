"""SCSModel under tf.distribute: MirroredStrategy on two logical CPUs, and a
real two-worker MultiWorkerMirroredStrategy run on 127.0.0.1.

Each distributed run is its own process (tests/distributed_runs.py):
logical devices and a cluster must be set before TensorFlow initialises.
The reference is the same model trained on the same global batches by one
device; the tolerances are float32 rounding of a different summation order.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from scs_keras.distribute import STRATEGIES, is_chief, make_strategy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "distributed_runs.py")
# Weights after 12 SGD steps; float32 sums in another order differ ~1e-7.
WEIGHT_ATOL = 1e-5
LOSS_RTOL = 1e-5


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT, KERAS_BACKEND="tensorflow",
               TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _start(mode, out, **env):
    return subprocess.Popen([sys.executable, SCRIPT, mode, str(out)], env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(processes, timeout):
    """Waits for every process (killing all of them on a timeout or failure)."""
    try:
        for p in processes:
            output, _ = p.communicate(timeout=timeout)
            assert p.returncode == 0, output[-3000:]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.communicate()


def _assert_weights_close(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        np.testing.assert_allclose(np.array(wa), np.array(wb), atol=WEIGHT_ATOL)


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored") / "results.json"
    _finish([_start("mirrored", out)], timeout=420)
    return json.loads(out.read_text())


@pytest.mark.slow
def test_mirrored_logs_the_same_loss_as_keras_model_and_one_device(mirrored):
    assert mirrored["replicas"] == 2
    keras_loss = mirrored["mirrored"]["keras_model"]["loss"]
    # The reference: keras.Model under the same strategy, and one device.
    np.testing.assert_allclose(keras_loss, mirrored["single"]["keras_model"]["loss"],
                               rtol=LOSS_RTOL)
    for run in ("astsgd", "stsgd_clipped", "overlap"):
        single = mirrored["single"][run]["history"]
        for key, values in mirrored["mirrored"][run]["history"].items():
            np.testing.assert_allclose(values, single[key], rtol=LOSS_RTOL, err_msg=key)


@pytest.mark.slow
def test_mirrored_astsgd_state_is_global_and_identical_on_replicas(mirrored):
    single, dist = mirrored["single"]["astsgd"], mirrored["mirrored"]["astsgd"]
    for key in ("rate_replicas", "initial_loss_replicas", "step_replicas"):
        assert len(set(dist[key])) == 1, f"{key} differs between replicas: {dist[key]}"
        assert dist[key][0] == pytest.approx(single[key][0], rel=1e-5), key
    # The logged rate is the one every replica uses.
    assert dist["history"]["truncation_rate"][-1] == dist["rate_replicas"][0]
    # Warm-up over, the rate moved below 1 (the schedule really ran).
    assert dist["history"]["truncation_rate"][-1] < 1.0


@pytest.mark.slow
def test_mirrored_training_matches_one_device(mirrored):
    # Truncation draws, clipping of the global gradient, overlap-coherence
    # state carry: any per-replica difference would move the weights.
    for run in ("astsgd", "stsgd_clipped", "overlap"):
        _assert_weights_close(mirrored["mirrored"][run]["weights"],
                              mirrored["single"][run]["weights"])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_workers_train_like_one_process(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [_start("single", tmp_path / "single.json")]
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(_start("worker", tmp_path / f"worker{index}.json",
                                TF_CONFIG=json.dumps(config)))
    _finish(processes, timeout=300)
    single = json.loads((tmp_path / "single.json").read_text())
    results = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    for result in results:
        assert result["replicas"] == 2
        np.testing.assert_allclose(result["history"]["loss"], single["history"]["loss"],
                                   rtol=LOSS_RTOL)
        np.testing.assert_allclose(result["history"]["truncation_rate"],
                                   single["history"]["truncation_rate"], rtol=1e-5)
        _assert_weights_close(result["weights"], single["weights"])
    # Both workers use (and log) the very same rate at every epoch.
    assert results[0]["history"]["truncation_rate"] == results[1]["history"]["truncation_rate"]
    assert results[0]["rate_replicas"] == results[1]["rate_replicas"]


def test_make_strategy_checks_its_name_and_tf_config(monkeypatch):
    assert STRATEGIES == ("default", "mirrored", "multi-worker")
    with pytest.raises(ValueError, match="strategy"):
        make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="JSON"):
        make_strategy("multi-worker")


@pytest.mark.parametrize("config, chief", [
    (None, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker",
                                                               "index": 0}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief",
                                                               "index": 0}}, True),
])
def test_is_chief(monkeypatch, config, chief):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert is_chief() is chief


def test_strategy_flag_of_train(capsys):
    from scs_keras import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["train", "precipitation", "--help"])
    assert info.value.code == 0
    assert "--strategy {default,mirrored,multi-worker}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "precipitation", "--strategy", "tpu"])
    assert info.value.code == 2
    assert "--strategy" in capsys.readouterr().err
