"""The cache of generated data sets, shared by every task.

Tasks train on synthetic data written in the real on-disk format.  Writing it
takes a while, so each configuration is written once into its own folder,
``<cache>/<key>``, where the key spells out every parameter (a different
configuration never reuses stale files).  A ``manifest.json`` holding the
parameters is written last: a folder without it (an interrupted run) is
rewritten.
"""

from __future__ import annotations

import json
import os
import shutil

__all__ = ["MANIFEST", "cached_data_set"]

MANIFEST = "manifest.json"


def _key(params):
    return "_".join(f"{k}{'-'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                    for k, v in params.items())


def cached_data_set(cache_dir, params, write):
    """The folder of the data set generated with ``params``, written if needed.

    Args:
        cache_dir: The task's cache folder (git-ignored ``generated_data/<task>``).
        params: Dict of the generator's parameters (JSON-serialisable); it
            names the folder and is stored in its manifest.
        write: ``folder -> None`` writing the data set into an existing,
            empty ``folder``.

    Returns:
        ``(folder, cached)``: the data set's folder and whether it was
        already there.

    Example:

    >>> folder, cached = cached_data_set("/tmp/cache", {"size": 8},
    ...                                  lambda f: open(f + "/x", "w").close())
    >>> os.path.basename(folder)
    'size8'
    """
    folder = os.path.join(cache_dir, _key(params))
    marker = os.path.join(folder, MANIFEST)
    if os.path.isfile(marker):
        with open(marker) as f:
            if json.load(f) == json.loads(json.dumps(params)):
                return folder, True
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    write(folder)
    with open(marker, "w") as f:
        json.dump(params, f, indent=1)
    return folder, False
