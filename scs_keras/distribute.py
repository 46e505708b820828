"""Choosing a ``tf.distribute`` strategy, and sharding the input pipelines.

``scs-keras train <task> --strategy {default,mirrored,multi-worker}`` builds
and compiles its models under :func:`make_strategy`'s ``scope()``;
``SCSModel`` keeps the truncation schedule, the logged loss and gradient
clipping those of the global batch under any of them.

Input pipelines are sharded by data (:func:`shard_by_data`): every worker
builds the same pipeline (the generated data sets are deterministic from
``--seed``; a real data set is read from the same path on every machine) and
keeps its own share of every global batch.  TensorFlow's default (``AUTO``)
would first try to give each worker whole files, which fails on pipelines
built from Python generators and in-memory arrays, as the package's readers
are, and would fall back to data sharding with a warning.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from scs_keras.utils.validation import one_of

__all__ = ["STRATEGIES", "make_strategy", "shard_by_data", "is_chief"]

#: Values of ``--strategy``.
STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name="default"):
    """The ``tf.distribute`` strategy called ``name``.

    Args:
        name: ``"default"`` (one device, no distribution),
            ``"mirrored"`` (``MirroredStrategy`` over every local GPU, or the
            CPU) or ``"multi-worker"`` (``MultiWorkerMirroredStrategy``
            over the workers listed in the ``TF_CONFIG`` environment
            variable, which each worker sets to its own ``task.index``).

    Returns:
        A ``tf.distribute.Strategy``.

    Raises:
        ValueError: an unknown ``name``, or ``"multi-worker"`` without a
            ``TF_CONFIG`` that lists workers.

    Example:

    >>> make_strategy("default").num_replicas_in_sync
    1
    """
    one_of("strategy", name, STRATEGIES)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    config = _tf_config()
    if not config.get("cluster", {}).get("worker"):
        raise ValueError(
            "--strategy multi-worker reads the cluster from the TF_CONFIG environment "
            "variable, e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
            "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' "
            "(index 1 on the second machine); it is not set.")
    return tf.distribute.MultiWorkerMirroredStrategy()


def _tf_config():
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from None


def is_chief():
    """Whether this process writes the results (worker 0, or a single process).

    Every worker of a multi-worker run executes the same command; only the
    chief should write checkpoints, exports and summaries to their final
    places.
    """
    config = _tf_config()
    task = config.get("task")
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def shard_by_data(dataset):
    """``dataset`` with auto-sharding by data (see the module docstring).

    Returns:
        The same pipeline with ``auto_shard_policy = DATA``.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)
