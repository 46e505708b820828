"""The scripts in ``examples/`` run as written (one epoch, in a scratch folder)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args],
                          capture_output=True, text=True, cwd=str(cwd), env=env, timeout=900)


@pytest.mark.slow
def test_precipitation_script_trains_scores_and_exports(tmp_path):
    done = run_example("precipitation_forecasting.py", ["1"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'mse':" in done.stdout and "'csi_30dbz':" in done.stdout
    # Written where the script says: the generated data and a first export.
    assert os.path.isdir(tmp_path / "generated_data" / "precipitation")
    assert os.path.isdir(tmp_path / "saved_models" / "precipitation" / "1")


@pytest.mark.slow
def test_action_recognition_script_trains_scores_and_exports(tmp_path):
    done = run_example("action_recognition.py", ["1"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'top1':" in done.stdout and "'mAP':" in done.stdout
    assert os.path.isdir(tmp_path / "saved_models" / "action_recognition" / "1")


@pytest.mark.slow
def test_steering_script_trains_scores_exports_and_streams(tmp_path):
    done = run_example("auto_driving.py", ["1", "4"], tmp_path)  # 4 routes: 3 train, 1 test
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'accuracy_5deg':" in done.stdout and "'rmse':" in done.stdout
    assert os.path.isdir(tmp_path / "saved_models" / "steering" / "1")
    # The exported `step` signature, fed the clip frame by frame, ends on
    # the angle `serving_default` gives for the whole clip.
    streamed, whole = map(float, re.search(
        r"streamed angle ([-+0-9.]+) degrees, whole clip ([-+0-9.]+)", done.stdout).groups())
    assert abs(streamed - whole) <= 1e-3 + 1e-4 * abs(whole)
