"""Running a SavedModel with TensorFlow alone, in a fresh process, for tests."""

import json
import os
import subprocess
import sys

import numpy as np


def serve_in_subprocess(script, export_path, inputs, tmp_path, timeout=120):
    """Runs ``script`` (argv: export path, .npy inputs) and returns its JSON.

    The script loads the export with ``tf.saved_model.load`` in a new Python
    process (so nothing of ``scs_keras`` is imported there unless the export
    needs it, which the scripts assert against) and prints one JSON line.
    """
    np.save(tmp_path / "x.npy", inputs)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script, export_path,
                             str(tmp_path / "x.npy")],
                            capture_output=True, text=True, env=env, cwd=str(tmp_path),
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
