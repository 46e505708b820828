"""Every ```python block of README.md and docs/*.md runs.

Conventions for documentation authors:

* The blocks of one page run in order, in one namespace (a later block may
  use what an earlier one defined, e.g. ``keras`` and ``sk``).
* A block may use the names ``x`` and ``y`` without defining them: the test
  provides tiny stand-in training data (``x`` of shape ``(8, 5, 16)``,
  float32, and integer class labels ``y`` in ``[0, 10)``), matching the
  README's ``keras.Input((None, 16))`` / ``Dense(10)`` example.
* Blocks that load ``saved_models/precipitation/1``,
  ``saved_models/action_recognition/1`` or
  ``saved_models/outline_annotation/1`` get small stand-in exports with the
  same signature names (inputs ``frames``; outputs ``forecast`` and
  ``clip_probabilities``), written by :func:`_stand_in_exports`.
* A block that is not meant to run starts with a line
  ``# not run: <reason>``; it is listed as skipped with that reason, never
  run silently nor dropped silently.

Besides running, each block's compiled models are checked for a probability
loss (``*_crossentropy`` as a string, or a loss object with
``from_logits=False``) on an output without a squashing activation: such a
model trains, but on the wrong objective.
"""

import os
import re

import keras
import numpy as np
import pytest

from scs_keras.export import export_for_serving

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_RUN = re.compile(r"^\s*#\s*not run:\s*(.+)$")


def _pages():
    """README.md and docs/*.md, each once (docs/index.md links to README)."""
    paths = [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "docs", name)
        for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md"))
    seen, pages = set(), []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            pages.append(os.path.relpath(path, ROOT))
    return pages


def python_blocks(page):
    """``[(first line number, source), ...]`` of the page's ```python blocks."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks, start = [], None
    for number, line in enumerate(lines, start=1):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            blocks.append((start + 1, "\n".join(lines[start:number - 1])))
            start = None
    assert start is None, f"{page}:{start}: unclosed ```python block"
    return blocks


CASES = [(page, index) for page in _pages()
         for index in range(len(python_blocks(page)))]


_PROBABILITY_LOSSES = ("sparse_categorical_crossentropy",
                       "categorical_crossentropy", "binary_crossentropy")


def _probability_loss(loss):
    if isinstance(loss, str):
        return loss in _PROBABILITY_LOSSES
    config = getattr(loss, "get_config", lambda: {})()
    return (config.get("from_logits") is False
            and "crossentropy" in type(loss).__name__.lower())


def _logit_outputs(model):
    """Names of the model's outputs made by a layer with a linear activation."""
    names = []
    for name, tensor in zip(model.output_names, model.outputs):
        layer = tensor._keras_history.operation
        activation = getattr(layer, "activation", None)
        if activation is not None and keras.activations.serialize(activation) == "linear":
            names.append(name)
    return names


def check_losses(namespace, where):
    for value in list(namespace.values()):
        if not isinstance(value, keras.Model) or not value.compiled:
            continue
        loss = value.loss
        losses = (loss if isinstance(loss, dict)
                  else dict(zip(value.output_names, loss)) if isinstance(loss, (list, tuple))
                  else {name: loss for name in value.output_names})
        bad = [name for name in _logit_outputs(value)
               if _probability_loss(losses.get(name))]
        assert not bad, (
            f"{where}: outputs {bad} are logits (linear activation) but the "
            "loss expects probabilities; use from_logits=True")


def _stand_in_exports(folder):
    """Tiny SavedModels with the signatures the pages' serving blocks use."""
    frames = keras.Input((5, 32, 32, 1))
    export_for_serving(keras.Model(frames, keras.layers.Dense(1)(frames)),
                       os.path.join(folder, "saved_models", "precipitation"),
                       input_name="frames", output_names=["forecast"], version=1)
    frames = keras.Input((8, 32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling3D()(frames)
    probabilities = keras.layers.Dense(5, activation="softmax")(pooled)
    export_for_serving(keras.Model(frames, probabilities),
                       os.path.join(folder, "saved_models", "action_recognition"),
                       input_name="frames", output_names=["clip_probabilities"],
                       version=1)
    image = keras.Input((64, 64, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(image)
    vertices = keras.layers.Reshape((12, 2))(keras.layers.Dense(24)(pooled))
    count = keras.layers.Lambda(
        lambda t: keras.ops.cast(keras.ops.sum(t * 0.0, axis=-1) + 3.0, "int32"))(pooled)
    export_for_serving(keras.Model(image, {"vertices": vertices, "num_vertices": count}),
                       os.path.join(folder, "saved_models", "outline_annotation"),
                       input_name="image", version=1)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    _stand_in_exports(str(folder))
    return folder


def _stand_in_data():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(0, 1, (8, 5, 16)).astype("float32"),
            "y": rng.integers(0, 10, (8,))}


def _run(page, number, source, namespace):
    where = f"{page}:{number}"
    first = source.strip().splitlines()[0] if source.strip() else ""
    match = NOT_RUN.match(first)
    if match:
        pytest.skip(f"{where} not run: {match.group(1)}")
    if re.search(r"\bx\b", source) and re.search(r"\by\b", source):
        for name, value in _stand_in_data().items():
            namespace.setdefault(name, value)
    exec(compile(source, where, "exec"), namespace)
    check_losses(namespace, where)


@pytest.mark.parametrize("page, index", CASES,
                         ids=[f"{page}#{index + 1}" for page, index in CASES])
def test_block_runs(page, index, exports, monkeypatch):
    monkeypatch.chdir(exports)
    blocks = python_blocks(page)
    namespace = {"__name__": "__snippet__"}
    # The page's earlier blocks set up the namespace (each is a test itself).
    for number, source in blocks[:index]:
        if not NOT_RUN.match((source.strip().splitlines() or [""])[0]):
            exec(compile(source, f"{page}:{number}", "exec"), namespace)
    _run(page, *blocks[index], namespace)


def test_every_page_with_code_is_covered():
    # Guard against the collection silently finding nothing.
    pages = {page for page, _ in CASES}
    assert {"README.md", "docs/method.md"} <= pages
    assert len(CASES) >= 8
