"""One progress bar for the data generators and readers.

tqdm is imported (through :func:`scs_keras.utils.optional.optional_import`)
only when a bar is shown, so ``progress=False`` works without it.

Example:

>>> with progress_bar(3, enabled=False, desc="frames") as bar:
...     for _ in range(3):
...         bar.update(1)
"""

from __future__ import annotations

from scs_keras.utils.optional import optional_import

__all__ = ["progress_bar"]


class _NoBar:
    """Stands in for a tqdm bar when none is shown."""

    def update(self, n=1):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def progress_bar(total: int, enabled: bool, desc: str, unit: str = "it"):
    """A tqdm bar of ``total`` steps, or a silent stand-in when not ``enabled``.

    Args:
        total: Number of steps.
        enabled: Show the bar.
        desc: Label in front of the bar.
        unit: What one step is (``"frame"``, ``"video"``...).

    Returns:
        An object with ``update(n)`` and ``close()``, usable as a context manager.
    """
    if not enabled:
        return _NoBar()
    tqdm = optional_import("tqdm", "progress bars").tqdm
    return tqdm(total=total, desc=desc, unit=unit)
