"""One way to import the optional libraries (the ``data`` extra and others).

OpenCV, h5py, tensorflow-io and tqdm are only needed by the data readers,
generators and some baselines.  Modules import them through
:func:`optional_import` at first use, so ``import scs_keras`` works without
them and a missing one gets an error that says which extra installs it.

Example:

>>> cv2 = optional_import("cv2")   # doctest: +SKIP
"""

from __future__ import annotations

import importlib

__all__ = ["optional_import", "EXTRAS"]

#: Import name -> (pip distribution, scs-keras extra that installs it).
EXTRAS = {
    "cv2": ("opencv-python-headless", "data"),
    "h5py": ("h5py", "data"),
    "tensorflow_io": ("tensorflow-io", "data"),
    "tqdm": ("tqdm", "data"),
    "keras_tuner": ("keras-tuner", "tuning"),
}


def optional_import(module: str, purpose: str | None = None):
    """Imports an optional library or explains how to install it.

    Args:
        module: Import name (``"cv2"``, ``"h5py"``, ``"tensorflow_io"``...).
        purpose: What needs it, for the message (e.g. ``"reading videos"``).

    Returns:
        The imported module.

    Raises:
        ImportError: the library is not installed; the message names the pip
            distribution and the ``scs-keras`` extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        dist, extra = EXTRAS.get(module, (module, None))
        hint = f"pip install 'scs-keras[{extra}]'" if extra else f"pip install {dist}"
        what = f" for {purpose}" if purpose else ""
        raise ImportError(f"{module} ({dist}) is needed{what}: {hint}.") from e
