"""The precipitation nowcasting path end to end (SPEC §8d, §9).

data on disk → ``tf.data`` → model → training (ASTSGD) → evaluation against
baselines → TensorBoard → versioned SavedModel.  The functions here are what
``examples/precipitation_forecasting.py`` strings together; each can be used
on its own.

* :func:`generated_data` writes (once, cached) a synthetic radar data set in
  the readers' real formats (PNG event folders or HDF5) with separate
  train and test events.
* :func:`load_datasets` builds the training and test pipelines from those
  files or from a real data set (:func:`split_data_dir`).
* :func:`train_forecaster` fits a model with TensorBoard scalars and
  input/target/prediction picture strips (:func:`strip_images`).
* :func:`evaluate_forecaster` scores any forecaster (Keras model or
  baseline) with the same metrics; :func:`compare` runs every model with
  the same budget and returns the rows of the comparison table.
* :func:`export_forecaster` writes the serving model and
  :func:`check_export` reloads it with TensorFlow alone.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from scs_keras.callbacks import ImageSummary
from scs_keras.data.precipitation import make_precipitation_dataset
from scs_keras.export import export_for_serving
from scs_keras.metrics.nowcasting import CSI, NowcastMSE, nowcasting_metrics
from scs_keras.tasks.comparison import format_table, run_comparison
from scs_keras.tasks.precipitation.baselines import OpticalFlowModel, PersistenceModel
from scs_keras.tasks.precipitation.models import (
    FORECAST,
    NEXT_FRAME,
    SPATIAL,
    NowcastingLoss,
    build_convlstm_forecaster,
    build_scs_forecaster,
    compile_forecaster,
    forecast_only,
    persistence_loss,
)

#: Models accepted by :func:`make_candidate` and the example's ``--model``.
MODEL_NAMES = ("scs", "convlstm", "persistence", "optical_flow")
NEURAL_MODELS = ("scs", "convlstm")
#: Reflectivity thresholds (dBZ) of the comparison table.
TABLE_THRESHOLDS = (20.0, 30.0, 40.0)
TABLE_COLUMNS = ["model", "mse", "mae", "ssim", "csi_20dbz", "csi_30dbz", "csi_40dbz",
                 "hss_20dbz", "hss_30dbz", "hss_40dbz", "params", "train_s", "eval_s"]
DEFAULT_DATA_ROOT = os.path.join("generated_data", "precipitation")
DEFAULT_EXPORT_DIR = os.path.join("saved_models", "precipitation")
_FORMATS = ("png", "hdf5")
_MARKER = "manifest.json"


# ----------------------------------------------------------------------------
# Data.
# ----------------------------------------------------------------------------


def generated_data(root=DEFAULT_DATA_ROOT, fmt="png", image_size=32, train_events=24,
                   test_events=8, frames_per_event=30, seed=0, progress=False):
    """Writes (or reuses) a synthetic radar data set with train/test events.

    The files go to ``root/<key>/`` where ``<key>`` encodes every argument,
    so a different configuration never reuses stale files; a finished set
    holds ``manifest.json`` (written last), an unfinished one is rewritten.
    Train and test events come from different seeds.

    Args:
        root: Cache folder (git-ignored ``generated_data/precipitation``).
        fmt: ``"png"`` (HKO-7-style event folders ``train/`` and ``test/``)
            or ``"hdf5"`` (``train.h5`` and ``test.h5``, read through
            tensorflow-io).
        image_size: Frame height and width.
        train_events, test_events: Events per split.
        frames_per_event: Frames per event (6 minutes apart).
        seed: Base seed (test events use ``seed + 1000``).
        progress: Show tqdm bars while writing.

    Returns:
        ``{"train": path, "test": path, "root": folder, "cached": bool}``.

    Example:

    >>> paths = generated_data("/tmp/rain", "hdf5", image_size=16,
    ...                        train_events=2, test_events=1, frames_per_event=12)
    >>> sorted(paths)
    ['cached', 'root', 'test', 'train']
    """
    from scs_keras.data.synthetic.rain import write_hdf5, write_png_events

    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {_FORMATS}; received {fmt!r}.")
    for name, value in (("image_size", image_size), ("train_events", train_events),
                        ("test_events", test_events), ("frames_per_event", frames_per_event)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int; received {value!r}.")
    key = (f"{fmt}_{image_size}px_{frames_per_event}f_{train_events}+{test_events}ev_"
           f"seed{seed}")
    folder = os.path.join(root, key)
    names = {"train": "train", "test": "test"} if fmt == "png" else {
        "train": "train.h5", "test": "test.h5"}
    paths = {split: os.path.join(folder, n) for split, n in names.items()}
    marker = os.path.join(folder, _MARKER)
    if os.path.exists(marker):
        return {**paths, "root": folder, "cached": True}
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    config = dict(height=image_size, width=image_size, frames_per_event=frames_per_event,
                  progress=progress)
    for split, events, split_seed in (("train", train_events, seed),
                                      ("test", test_events, seed + 1000)):
        if fmt == "png":
            write_png_events(paths[split], num_events=events, seed=split_seed, **config)
        else:
            write_hdf5(paths[split], num_events=events, seed=split_seed, **config)
    with open(marker, "w") as f:
        json.dump({"format": fmt, "image_size": image_size, "train_events": train_events,
                   "test_events": test_events, "frames_per_event": frames_per_event,
                   "seed": seed, "paths": paths}, f, indent=1)
    return {**paths, "root": folder, "cached": False}


def split_data_dir(data_dir):
    """Finds the train and test parts of a real data set.

    ``data_dir`` may hold ``train`` and ``test`` (or ``valid``/``val``)
    entries, each a PNG event folder or an HDF5 file (``train.h5``...); else
    it is one data set (a folder of PNG events or an HDF5 file) that
    :func:`load_datasets` splits in time.

    Args:
        data_dir: Folder or HDF5 file.

    Returns:
        ``(train_path, test_path)``; ``test_path`` is ``None`` when there is
        no explicit split.

    Raises:
        FileNotFoundError: ``data_dir`` does not exist.

    Example:

    >>> train, test = split_data_dir("data/hko7")   # doctest: +SKIP
    """
    if not os.path.exists(data_dir):
        raise FileNotFoundError(f"--data-dir {data_dir!r} does not exist.")
    if not os.path.isdir(data_dir):
        return data_dir, None

    def find(stems):
        for stem in stems:
            for suffix in ("", ".h5", ".hdf5"):
                p = os.path.join(data_dir, stem + suffix)
                if os.path.exists(p):
                    return p
        return None

    train, test = find(("train",)), find(("test", "valid", "val"))
    if train and test:
        return train, test
    return data_dir, None


def _resize(size):
    def fn(x, y):
        def r(t):
            shape = tf.shape(t)
            frames = tf.reshape(t, tf.concat([[-1], shape[2:]], 0))
            frames = tf.image.resize(frames, (size, size), method="area")
            return tf.reshape(frames, tf.concat([shape[:2], [size, size, 1]], 0))
        return r(x), r(y)
    return fn


def load_datasets(train_path, test_path=None, input_frames=5, target_frames=5,
                  batch_size=16, stride=2, test_fraction=0.2, resize=None, seed=0,
                  on_bad="skip"):
    """Training and test ``tf.data`` pipelines of ``(inputs, targets)``.

    Windows come from :func:`scs_keras.data.precipitation.make_precipitation_dataset`
    (PNG folders or HDF5 through tensorflow-io).  The training set is
    shuffled every epoch; the test set is not.  Without ``test_path`` the
    windows of ``train_path`` are split in time: the last ``test_fraction``
    of them (the latest events) are the test set.

    Args:
        train_path: PNG event folder or HDF5 file.
        test_path: Same, or ``None`` for a split in time.
        input_frames, target_frames: ``N`` and ``M``.
        batch_size: Windows per batch.
        stride: Frames between window starts.
        test_fraction: Share of windows held out without ``test_path``.
        resize: Optional int: frames are resized (area) to ``resize`` ×
            ``resize``; real radar frames are large.
        seed: Shuffle seed.
        on_bad: ``"skip"`` (default) or ``"raise"`` for bad frames.

    Returns:
        ``(train_ds, test_ds, info)`` with ``info`` holding ``image_size``,
        ``train_windows``, ``test_windows`` and the readers' reports.

    Example:

    >>> paths = generated_data(image_size=16, train_events=2, test_events=1,
    ...                        frames_per_event=12)            # doctest: +SKIP
    >>> train, test, info = load_datasets(paths["train"], paths["test"], 3, 2)  # doctest: +SKIP
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); received {test_fraction!r}.")
    if resize is not None and (isinstance(resize, bool) or not isinstance(resize, int)
                               or resize < 1):
        raise ValueError(f"resize must be a positive int or None; received {resize!r}.")
    common = dict(input_frames=input_frames, target_frames=target_frames, stride=stride,
                  on_bad=on_bad, return_report=True)
    info = {}
    if test_path is not None:
        train, report = make_precipitation_dataset(train_path, batch_size=batch_size,
                                                   shuffle=True, seed=seed, **common)
        test, test_report = make_precipitation_dataset(test_path, batch_size=batch_size,
                                                       **common)
        info.update(train_windows=report.num_windows, test_windows=test_report.num_windows,
                    reports=[report, test_report])
    else:
        windows, report = make_precipitation_dataset(train_path, batch_size=1, **common)
        total = report.num_windows
        n_test = max(1, int(round(total * float(test_fraction))))
        if total - n_test < 1:
            raise ValueError(f"{train_path!r} has {total} window(s): too few to split.")
        windows = windows.unbatch()
        train = (windows.take(total - n_test)
                 .shuffle(min(total - n_test, 512), seed=seed, reshuffle_each_iteration=True)
                 .batch(batch_size).prefetch(tf.data.AUTOTUNE))
        test = windows.skip(total - n_test).batch(batch_size).prefetch(tf.data.AUTOTUNE)
        info.update(train_windows=total - n_test, test_windows=n_test, reports=[report])
    size = report.frame_shape
    if resize is not None and tuple(size) != (resize, resize):
        train, test = train.map(_resize(resize)), test.map(_resize(resize))
        size = (resize, resize)
    info["image_size"] = tuple(size)
    return train, test, info


def with_output_names(dataset, names):
    """Maps ``(x, y)`` to ``(x, {name: y for name in names})``.

    Models here have dict outputs; every output (the forecast and the T¹
    head's) is scored against the same future frames.

    Args:
        dataset: ``tf.data.Dataset`` of ``(inputs, targets)``.
        names: Output names.

    Returns:
        The mapped dataset.

    Example:

    >>> ds = with_output_names(train_ds, ["forecast", "spatial"])  # doctest: +SKIP
    """
    names = list(names)

    def targets(x, y):
        # The one-step head predicts observed frames 2..N from frames 1..N-1.
        return x, {n: (x[:, 1:] if n == NEXT_FRAME else y) for n in names}

    return dataset.map(targets)


def fixed_sample(dataset, count=3):
    """The first ``count`` windows of a dataset as NumPy ``(inputs, targets)``.

    Args:
        dataset: Batched ``(inputs, targets)`` dataset (not shuffled, for a
            fixed sample).
        count: Number of windows.

    Returns:
        ``(inputs, targets)`` arrays.
    """
    xs, ys, n = [], [], 0
    for x, y in dataset:
        xs.append(np.asarray(x))
        ys.append(np.asarray(y))
        n += len(xs[-1])
        if n >= count:
            break
    if not xs:
        raise ValueError("The dataset is empty.")
    return np.concatenate(xs)[:count], np.concatenate(ys)[:count]


# ----------------------------------------------------------------------------
# Pictures.
# ----------------------------------------------------------------------------


def _strip(frames, gap=2):
    """(T, H, W, 1) -> (H, T*W + (T-1)*gap, 1), frames side by side."""
    t, h, _, _ = frames.shape
    sep = np.ones((h, gap, 1), np.float32)
    parts = []
    for i in range(t):
        if i:
            parts.append(sep)
        parts.append(np.asarray(frames[i], np.float32))
    return np.concatenate(parts, axis=1)


def strip_images(inputs, targets, predictions):
    """TensorBoard pictures: radar input, target and prediction strips.

    Args:
        inputs: ``(B, N, H, W, 1)`` observed frames on [0, 1].
        targets: ``(B, M, H, W, 1)`` observed future frames.
        predictions: ``(B, M, H, W, 1)`` forecast.

    Returns:
        ``{"radar/input": (B, H, ·, 1), "radar/target": ...,
        "radar/prediction": ..., "radar/panel": ...}``: strips of frames
        side by side (white gaps), and a panel stacking the three rows
        (input on top, then target, then prediction).

    Example:

    >>> imgs = strip_images(np.zeros((1, 3, 8, 8, 1)), np.zeros((1, 2, 8, 8, 1)),
    ...                     np.zeros((1, 2, 8, 8, 1)))
    >>> imgs["radar/input"].shape
    (1, 8, 28, 1)
    """
    inputs, targets, predictions = (np.clip(np.asarray(a, np.float32), 0, 1)
                                    for a in (inputs, targets, predictions))
    out = {"radar/input": np.stack([_strip(s) for s in inputs]),
           "radar/target": np.stack([_strip(s) for s in targets]),
           "radar/prediction": np.stack([_strip(s) for s in predictions])}
    width = max(v.shape[2] for v in out.values())
    rows = []
    for key in ("radar/input", "radar/target", "radar/prediction"):
        v = out[key]
        pad = np.zeros(v.shape[:2] + (width - v.shape[2], 1), np.float32)
        rows.append(np.concatenate([v, pad], axis=2))
        rows.append(np.ones(v.shape[:1] + (2, width, 1), np.float32))
    out["radar/panel"] = np.concatenate(rows[:-1], axis=1)
    return out


# ----------------------------------------------------------------------------
# Models, training, evaluation.
# ----------------------------------------------------------------------------


def make_candidate(name, input_frames, target_frames, image_size, widths=(16, 32),
                   seed=0, truncation_mode="temporal", flow_method="farneback",
                   next_frame_head=True):
    """A fresh model (or baseline) by name.

    Args:
        name: One of :data:`MODEL_NAMES`.
        input_frames, target_frames, image_size, widths: Model sizes.
        seed: Seeds Keras before building (same initial state every time).
        truncation_mode: SCS truncation mode.
        flow_method: Optical-flow method (``"farneback"`` or ``"dis"``).
        next_frame_head: Give the neural models the one-step head (see
            :mod:`scs_keras.tasks.precipitation.models`).  Default ``True``.

    Returns:
        A Keras model (``"scs"``, ``"convlstm"``) or a baseline object.

    Raises:
        ValueError: unknown ``name``.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model {name!r}; choose from {MODEL_NAMES}.")
    keras.utils.set_random_seed(seed)
    if name == "scs":
        return build_scs_forecaster(input_frames, target_frames, image_size, widths=widths,
                                    truncation_mode=truncation_mode, seed=seed,
                                    next_frame_head=next_frame_head)
    if name == "convlstm":
        return build_convlstm_forecaster(input_frames, target_frames, image_size,
                                         widths=widths, next_frame_head=next_frame_head)
    if name == "persistence":
        return PersistenceModel(target_frames)
    # Averaging the flow of the last two pairs damps noise; >= 2 frames needed.
    return OpticalFlowModel(target_frames, method=flow_method,
                            flow_frames=min(3, max(2, input_frames)))


def train_forecaster(model, train_ds, epochs, val_ds=None, logdir=None, sample=None,
                     verbose=2, **compile_kwargs):
    """Compiles (unless already compiled) and fits a forecaster.

    Args:
        model: From :func:`make_candidate` / the builders.
        train_ds: ``(inputs, targets)`` batches (targets a tensor).
        epochs: Positive int.
        val_ds: Optional validation batches (same form).
        logdir: TensorBoard folder: scalars (losses, metrics,
            ``truncation_rate``) from ``keras.callbacks.TensorBoard`` and
            picture strips (:func:`strip_images`) of ``sample`` every epoch.
        sample: ``(inputs, targets)`` NumPy arrays to draw (default: the
            first 3 windows of ``val_ds``).
        verbose: ``fit`` verbosity.
        **compile_kwargs: For :func:`compile_forecaster` (``threshold``,
            ``learning_rate``, ``truncation``...).  Default ``metrics``: CSI
            at 30 dBZ and MSE of the forecast (pooled over lead times).

    Returns:
        The Keras ``History``.

    Raises:
        ValueError: ``epochs`` < 1.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int; received {epochs!r}.")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        if compile_kwargs.get("metrics") is None:
            # Logged per epoch (History, TensorBoard) for the forecast output.
            compile_kwargs["metrics"] = [CSI(30.0), NowcastMSE()]
        compile_forecaster(model, **compile_kwargs)
    names = list(model.output.keys())
    train = with_output_names(train_ds, names)
    val = with_output_names(val_ds, names) if val_ds is not None else None
    callbacks = []
    if logdir:
        callbacks.append(keras.callbacks.TensorBoard(logdir, write_graph=False,
                                                     histogram_freq=0, update_freq="epoch"))
        if sample is None and val_ds is not None:
            sample = fixed_sample(val_ds)
        if sample is not None:
            sx, sy = sample

            def render(m):
                pred = m(sx, training=False)[FORECAST]
                return strip_images(sx, sy, np.asarray(pred))

            callbacks.append(ImageSummary(logdir, render, max_outputs=len(sx)))
    # The pipelines shuffle themselves (shuffle=False only silences Keras).
    return model.fit(train, epochs=epochs, validation_data=val, verbose=verbose,
                     callbacks=callbacks, shuffle=False)


def _predict_fn(model):
    if isinstance(model, keras.Model):
        predictor = forecast_only(model)
        fn = tf.function(lambda x: predictor(x, training=False), reduce_retracing=True)
        return lambda x: fn(tf.convert_to_tensor(x, tf.float32)).numpy()
    if hasattr(model, "forecast"):
        return model.forecast
    raise TypeError(f"Cannot forecast with {model!r}.")


def evaluate_forecaster(model, dataset, target_frames, thresholds=TABLE_THRESHOLDS):
    """Scores a forecaster (Keras model or baseline) on ``dataset``.

    Metrics (:mod:`scs_keras.metrics.nowcasting`): MSE, MAE and SSIM on the
    [0, 1] scale, CSI and HSS at each threshold (dBZ), each averaged over
    lead times, plus the per-lead MSE and CSI at 30 dBZ (or the middle
    threshold).

    Args:
        model: Keras model from this module, or a baseline with
            ``forecast(inputs)``.
        dataset: ``(inputs, targets)`` batches.
        target_frames: ``M``.
        thresholds: dBZ thresholds.

    Returns:
        A dict: ``mse``, ``mae``, ``ssim``, ``csi_<t>dbz``, ``hss_<t>dbz``
        (floats) and ``per_lead`` (``{"mse": [...], "csi_30dbz": [...]}``).

    Example:

    >>> scores = evaluate_forecaster(PersistenceModel(5), test_ds, 5)  # doctest: +SKIP
    """
    predict = _predict_fn(model)
    metrics = None
    for x, y in dataset:
        if metrics is None:
            size = min(11, int(y.shape[2]), int(y.shape[3]))
            metrics = nowcasting_metrics(lead_times=target_frames, thresholds=thresholds,
                                         scores=("csi", "hss"),
                                         continuous=("mse", "mae", "ssim"),
                                         ssim_filter_size=size)
        pred = predict(np.asarray(x))
        for m in metrics:
            m.update_state(y, pred)
    if metrics is None:
        raise ValueError("evaluate_forecaster() got an empty dataset.")
    out = {m.name: float(m.result()) for m in metrics}
    by_name = {m.name: m for m in metrics}
    mid = f"csi_{thresholds[len(thresholds) // 2]:g}dbz"
    out["per_lead"] = {key: [float(v) for v in np.asarray(by_name[key].result_per_lead())]
                       for key in ("mse", mid) if key in by_name}
    return out


def compare(models, train_ds, test_ds, input_frames, target_frames, image_size, epochs,
            widths=(16, 32), logdir=None, seed=0, verbose=2, on_trained=None,
            next_frame_head=True, **compile_kwargs):
    """Trains and evaluates every model with the same data and epochs.

    Args:
        models: Names from :data:`MODEL_NAMES`.
        train_ds, test_ds: ``(inputs, targets)`` batches.
        input_frames, target_frames, image_size, widths: Sizes.
        epochs: Epochs for every neural model.
        logdir: TensorBoard root; each neural model logs to
            ``<logdir>/<model>``.
        seed: Keras seed before each build.
        verbose: ``fit`` verbosity.
        on_trained: Optional callable ``(name, model, history)`` called after
            each neural model's training (e.g. to export it).
        next_frame_head: One-step head for both neural models.
        **compile_kwargs: For :func:`compile_forecaster` (``threshold`` for
            ASTSGD, ``learning_rate``...).

    Returns:
        ``(rows, histories)``: table rows (dicts with :data:`TABLE_COLUMNS`
        and ``per_lead``) in the given order, and ``{name: History}``.
    """
    for name in models:
        if name not in MODEL_NAMES:
            raise ValueError(f"Unknown model {name!r}; choose from {MODEL_NAMES}.")
    histories, eval_seconds = {}, {}
    sample = fixed_sample(test_ds) if logdir else None

    def train_fn(name, model):
        if name not in NEURAL_MODELS:
            return
        if verbose:
            print(f"\n== training {name} ({model.count_params():,} parameters) for "
                  f"{epochs} epoch(s)", flush=True)
        kwargs = dict(compile_kwargs)
        if name != "scs":
            kwargs["truncation"] = None
        histories[name] = train_forecaster(
            model, train_ds, epochs, val_ds=test_ds,
            logdir=os.path.join(logdir, name) if logdir else None, sample=sample,
            verbose=verbose, **kwargs)
        if on_trained is not None:
            on_trained(name, model, histories[name])

    def evaluate_fn(name, model):
        start = time.perf_counter()
        scores = evaluate_forecaster(model, test_ds, target_frames)
        eval_seconds[name] = round(time.perf_counter() - start, 1)
        return scores

    candidates = {name: (lambda name=name: make_candidate(
        name, input_frames, target_frames, image_size, widths=widths, seed=seed,
        next_frame_head=next_frame_head))
        for name in models}
    rows = run_comparison(candidates, train_fn, evaluate_fn)
    for row in rows:
        row["train_s"] = f"{row['train_s']:.0f}"
        row["eval_s"] = f"{eval_seconds[row['model']]:.1f}"
        if row["model"] not in NEURAL_MODELS:
            row["params"] = "-"
    return rows, histories


def results_table(rows, columns=TABLE_COLUMNS):
    """The Markdown comparison table of :func:`compare` rows.

    Args:
        rows: Rows from :func:`compare`.
        columns: Columns in order.

    Returns:
        A Markdown string.
    """
    return format_table(rows, columns)


def per_lead_table(rows, key="mse"):
    """A Markdown table of one per-lead score: one row per model.

    Args:
        rows: Rows from :func:`compare`.
        key: ``"mse"`` or ``"csi_30dbz"``.

    Returns:
        A Markdown string with columns ``model``, ``lead 1`` ... ``lead M``
        (6-minute steps).
    """
    leads = max(len(r["per_lead"].get(key, [])) for r in rows)
    columns = ["model"] + [f"+{6 * (i + 1)} min" for i in range(leads)]
    table = []
    for r in rows:
        values = r["per_lead"].get(key, [])
        table.append({"model": r["model"],
                      **{columns[i + 1]: float(v) for i, v in enumerate(values)}})
    return format_table(table, columns)


# ----------------------------------------------------------------------------
# Export.
# ----------------------------------------------------------------------------


def export_forecaster(model, base_dir=DEFAULT_EXPORT_DIR, version=None):
    """Writes ``<base_dir>/<version>/``: a SavedModel for TF Serving.

    The ``serving_default`` signature takes ``frames``, float32
    ``(None, N, H, W, 1)`` on [0, 1], and returns ``{"forecast": (None, M,
    H, W, 1)}``.  It loads and runs with TensorFlow alone (no ``scs_keras``);
    the T¹ head is not exported.

    Args:
        model: A trained model from this module.
        base_dir: The model's TF Serving folder.
        version: Integer version (default: the next free one).

    Returns:
        The version folder's path.

    Example:

    >>> path = export_forecaster(model)   # doctest: +SKIP
    >>> loaded = tf.saved_model.load(path)  # doctest: +SKIP
    """
    predictor = forecast_only(model)
    shape = (None,) + tuple(predictor.inputs[0].shape[1:])
    return export_for_serving(predictor, base_dir, input_name="frames",
                              output_names=[FORECAST], version=version, input_shape=shape)


def check_export(path, inputs, expected=None, atol=1e-5):
    """Reloads an export with ``tf.saved_model.load`` and runs it.

    Args:
        path: Version folder from :func:`export_forecaster`.
        inputs: ``(B, N, H, W, 1)`` frames.
        expected: Optional forecast to compare with.
        atol: Tolerance of the comparison.

    Returns:
        The reloaded model's forecast (NumPy).

    Raises:
        AssertionError: the outputs differ from ``expected``.
    """
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["serving_default"](frames=tf.constant(inputs, tf.float32))
    forecast = out[FORECAST].numpy()
    if expected is not None:
        np.testing.assert_allclose(forecast, expected, atol=atol)
    return forecast


__all__ = [
    "MODEL_NAMES", "NEURAL_MODELS", "TABLE_COLUMNS", "TABLE_THRESHOLDS",
    "generated_data", "split_data_dir", "load_datasets", "with_output_names",
    "fixed_sample", "strip_images", "make_candidate", "train_forecaster",
    "evaluate_forecaster", "compare", "results_table", "per_lead_table",
    "export_forecaster", "check_export", "persistence_loss", "NowcastingLoss",
    "SPATIAL",
]
