"""Entry point of the ``scs-keras`` console script: the command, quiet.

It lives outside the ``scs_keras`` package on purpose: importing the package
loads TensorFlow (for every command but ``chains``, which needs neither Keras
nor TensorFlow), and TensorFlow's C++ logging must be set up before that.

* ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user set a level) drops TensorFlow's
  C++ INFO and WARNING lines.
* A few C++ lines ignore that level (they go through absl logging, or are
  logged as errors while meaning "no GPU here"): the grappler cost model's
  ``Error in PredictCost()`` dumps, which can run to kilobytes per traced
  function, and the CUDA plugin registration notices.  They are filtered
  out of the process's standard error by pattern; every other line,
  warnings and errors included, passes through unchanged.
"""

import atexit
import os
import sys
import threading

#: Substrings of the standard-error lines the command drops.
NOISE = (
    b"op_level_cost_estimator.cc",         # grappler cost-model dumps
    b"All log messages before absl::InitializeLog()",
    b"Unable to register cuDNN factory",   # CUDA plugin notices on CPU
    b"Unable to register cuFFT factory",
    b"Unable to register cuBLAS factory",
    b"cudart_stub.cc",
    b"TF-TRT Warning",
)
_NOISE_START = b"W0000"  # absl's prefix: a partial line starting so is held back


def _is_noise(line):
    return any(pattern in line for pattern in NOISE)


def filter_stderr(noise=_is_noise):
    """Routes file descriptor 2 through a thread that drops ``noise`` lines.

    Works below Python, so it also filters what TensorFlow's C++ code writes.
    Partial lines (progress bars redraw with ``\\r``) pass through at once
    unless they may be the start of a noise line.

    Returns:
        A function that restores the original standard error and waits for
        the filter to finish (also registered with ``atexit``).
    """
    read_end, write_end = os.pipe()
    original = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as src:
            while True:
                chunk = src.read(65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                out = b"".join(line + b"\n" for line in lines if not noise(line))
                if pending and not _NOISE_START.startswith(pending[:5]) \
                        and not pending.startswith(_NOISE_START) and not noise(pending):
                    out, pending = out + pending, b""
                if out:
                    os.write(original, out)
        if pending and not noise(pending):
            os.write(original, pending)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the pump sees EOF
        thread.join(timeout=5)

    atexit.register(restore)
    return restore


def main():
    """Runs ``scs_keras.cli.main`` with TensorFlow's C++ noise filtered out."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("SCS_KERAS_RAW_STDERR") != "1":
        filter_stderr()
    from scs_keras.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
