"""Data for the action-recognition task: generated videos, tf.data, targets.

The path is *videos on disk → tf.data → model*: :func:`generated_motion_data`
writes (once, cached) a small UCF-101-style tree of real ``.avi`` files whose
class is a motion; :func:`make_action_datasets` reads that tree, or
a real UCF-101 / HMDB-51 / Kinetics / extracted-frames tree, with
:func:`scs_keras.data.video.make_video_dataset` and attaches the targets every
output of a model needs (labels for the class outputs, optical flow computed
with OpenCV's Farneback method for the T² flow heads).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from scs_keras.data.contract import DataError
from scs_keras.data.synthetic.motion_videos import CLASS_NAMES, make_motion_videos
from scs_keras.data.video import AugmentConfig, make_video_dataset
from scs_keras.tasks.generated import cached_data_set
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_int, positive_int

__all__ = [
    "DEFAULT_DATA_DIR",
    "CLASS_OUTPUTS",
    "generated_motion_data",
    "farneback_flow",
    "make_action_datasets",
    "attach_targets",
    "model_targets",
    "overlap_sequence_length",
]

#: Where generated data is cached (git-ignored).
DEFAULT_DATA_DIR = os.path.join("generated_data", "action_recognition")
#: Model outputs whose target is the class label.
CLASS_OUTPUTS = ("frames", "frame_probs", "clip", "spatial")


def generated_motion_data(
    data_dir: str = DEFAULT_DATA_DIR,
    classes: Sequence[str] = ("left", "right", "up", "down"),
    videos_per_class: int = 80,
    num_frames: int = 8,
    size: int = 32,
    seed: int = 0,
    progress: bool = True,
) -> str:
    """Writes (or reuses) a generated motion-video data set; returns its root.

    The videos are those of :func:`scs_keras.data.synthetic.motion_videos.
    make_motion_videos` (a textured blob whose *motion* is the class, in
    UCF-101 layout).  Each parameter set gets its own sub-folder of
    ``data_dir``, reused when complete
    (:func:`scs_keras.tasks.generated.cached_data_set`).

    Args:
        data_dir: Cache folder.
        classes: Motion patterns (see ``motion_videos.PATTERNS``).
        videos_per_class: Videos per class (a quarter go to the test list).
        num_frames: Frames per video.
        size: Frame side in pixels (>= 16).
        seed: Generator seed.
        progress: Show a tqdm bar while generating.

    Returns:
        The data-set root, to read with ``layout="ucf101"``.

    Example:

    >>> root = generated_motion_data("/tmp/ar", videos_per_class=4,
    ...                              num_frames=6, size=16, progress=False)
    >>> sorted(os.listdir(root))[:2]
    ['MoveDown', 'MoveLeft']
    """
    classes = list(classes)
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"unknown motion classes {unknown}; choose from {list(CLASS_NAMES)}")
    params = dict(classes=classes, videos=positive_int("videos_per_class", videos_per_class),
                  frames=positive_int("num_frames", num_frames), size=check_int("size", size, 16),
                  seed=int(seed))
    root, _ = cached_data_set(data_dir, params, lambda folder: make_motion_videos(
        folder, classes=classes, videos_per_class=params["videos"], num_frames=params["frames"],
        size=params["size"], seed=params["seed"], progress=progress))
    return root


def farneback_flow(frames: np.ndarray, sizes: Sequence[Tuple[int, int]]) -> List[np.ndarray]:
    """Dense optical flow of a clip with OpenCV's Farneback method.

    Flow at step ``t`` is the motion from frame ``t - 1`` to frame ``t`` (what
    a recurrent layer can know at ``t``); it is zero at ``t = 0``.  The flow
    is computed at the input resolution and then averaged down (``INTER_AREA``)
    to each requested size, with the vectors rescaled to that grid's pixels.

    Args:
        frames: ``(T, H, W, 3)`` float in ``[0, 1]`` (or ``uint8``), RGB.
        sizes: ``(h, w)`` of each wanted output.

    Returns:
        One ``float32`` array ``(T, h, w, 2)`` per size, channels ``(dx, dy)``.

    Example:

    >>> clip = np.random.rand(3, 16, 16, 3).astype("float32")
    >>> [f.shape for f in farneback_flow(clip, [(8, 8)])]
    [(3, 8, 8, 2)]
    """
    cv2 = optional_import("cv2", "optical-flow targets")
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        frames = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
    t, h, w = frames.shape[:3]
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    full = np.zeros((t, h, w, 2), np.float32)
    for i in range(1, t):
        full[i] = cv2.calcOpticalFlowFarneback(
            gray[i - 1], gray[i], None, pyr_scale=0.5, levels=2, winsize=7,
            iterations=3, poly_n=5, poly_sigma=1.1, flags=0)
    out = []
    for oh, ow in sizes:
        small = np.stack([cv2.resize(f, (ow, oh), interpolation=cv2.INTER_AREA)
                          for f in full]) if (oh, ow) != (h, w) else full.copy()
        small[..., 0] *= ow / w
        small[..., 1] *= oh / h
        out.append(small.astype(np.float32))
    return out


def attach_targets(ds: tf.data.Dataset, output_names: Sequence[str],
                   flow_shapes: Optional[Dict[str, Tuple[int, int]]] = None) -> tf.data.Dataset:
    """Maps ``(frames, label)`` batches to ``(frames, {output: target})``.

    Keras needs a target for every output of a dict-output model: the class
    outputs (:data:`CLASS_OUTPUTS`) get the label, each ``"flow_<k>"`` output
    its Farneback flow (computed here, in the tf.data pipeline, through
    ``tf.numpy_function``).

    Args:
        ds: Batched dataset of ``(frames (B, T, H, W, 3), label (B,))``.
        output_names: The model's output names.
        flow_shapes: ``{flow output name: (h, w)}``; needed for flow outputs.

    Returns:
        The mapped dataset.
    """
    names = list(output_names)
    flow_names = [n for n in names if n.startswith("flow_")]
    unknown = [n for n in names if n not in CLASS_OUTPUTS and n not in flow_names]
    if unknown:
        raise ValueError(f"no target is known for outputs {unknown}")
    flow_shapes = dict(flow_shapes or {})
    missing = [n for n in flow_names if n not in flow_shapes]
    if missing:
        raise ValueError(f"flow_shapes lacks {missing}")
    sizes = [tuple(flow_shapes[n]) for n in flow_names]

    def batch_flow(frames):
        per_clip = [farneback_flow(clip, sizes) for clip in frames]
        return [np.stack([c[i] for c in per_clip]) for i in range(len(sizes))]

    def targets(frames, label):
        y = {n: label for n in names if n in CLASS_OUTPUTS}
        if flow_names:
            flows = tf.numpy_function(batch_flow, [frames], [tf.float32] * len(sizes),
                                      name="farneback_flow")
            for n, f, (h, w) in zip(flow_names, flows, sizes):
                f.set_shape([None, frames.shape[1], h, w, 2])
                y[n] = f
        return frames, y

    return ds.map(targets, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def overlap_sequence_length(num_clips: int, clip_length: int, overlap: float) -> int:
    """Frames covered by ``num_clips`` clips of ``clip_length`` overlapping by ``overlap``.

    Uses the overlap of :class:`scs_keras.OverlapCoherence`
    (``round(overlap * clip_length)`` frames), so a sequence of this length
    is cut by ``SCSModel`` into exactly ``num_clips`` clips.

    Example:

    >>> overlap_sequence_length(3, 4, 0.25)  # clips start at 0, 3, 6
    10
    """
    from scs_keras.training.schedules import OverlapCoherence

    settings = OverlapCoherence(clip_length, overlap)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1; received {num_clips}")
    stride = clip_length - settings.overlap_frames
    return clip_length + (num_clips - 1) * stride


def make_action_datasets(
    root: str,
    layout: str = "ucf101",
    split_index: int = 1,
    num_frames: int = 8,
    image_size: Union[int, Sequence[int]] = 32,
    batch_size: int = 16,
    augment: Union[bool, AugmentConfig, None] = None,
    cache: bool = False,
    seed: Optional[int] = None,
    test_split: str = "test",
    on_bad: str = "raise",
):
    """Training and test pipelines of ``(frames, label)`` batches.

    Targets for a model's outputs are attached afterwards with
    :func:`model_targets` (they depend on the model: flow heads need flow).

    Args:
        root: Data root (see :func:`scs_keras.data.video.make_video_dataset`).
        layout: ``"ucf101"``, ``"folders"``/``"hmdb51"``/``"kinetics"`` or
            ``"frames"``.
        split_index: UCF-101 split (1–3).
        num_frames: Frames per clip.
        image_size: Frame size.
        batch_size: Batch size.
        augment: As ``make_video_dataset``; default: flip off when any class
            name mentions a direction, else the reader's default.
        cache: Decode the training videos once and keep the clips in memory
            (then sampling offsets and augmentation are frozen after the first
            epoch; fine for the short generated videos).
        seed: Pipeline seed.
        test_split: Split evaluated (``"test"``; ``"all"`` for folders).
        on_bad: ``"raise"`` (default) or ``"skip"`` unreadable videos.

    Returns:
        ``(train_ds, test_ds, info)`` with ``info["class_names"]`` and
        ``info["reports"]`` (the readers' reports).

    Raises:
        DataError: unreadable data, or train and test class names differ.
    """
    kw = dict(split_index=split_index, layout=layout, num_frames=num_frames,
              image_size=image_size, batch_size=batch_size, seed=seed, on_bad=on_bad)
    test_ds, test_report = make_video_dataset(root, test_split, training=False, **kw)
    if augment is None:
        directional = any(w in n.lower() for n in test_report.class_names
                          for w in ("left", "right", "clockwise"))
        augment = AugmentConfig(flip=False) if directional else None
    train_ds, report = make_video_dataset(root, "train", training=True, augment=augment, **kw)
    if list(test_report.class_names) != list(report.class_names):
        raise DataError(root, f"train and test class names differ: {report.class_names} vs "
                              f"{test_report.class_names}")
    if cache:
        # Cache single clips, then reshuffle and rebatch every epoch.
        train_ds = (train_ds.unbatch().cache()
                    .shuffle(4096, seed=seed, reshuffle_each_iteration=True)
                    .batch(batch_size))
    return train_ds, test_ds, {"class_names": list(report.class_names),
                               "reports": [report, test_report]}


def model_targets(ds, model):
    """``(frames, label)`` batches → ``(frames, {output: target})`` for ``model``.

    The flow outputs' sizes are read from the model.

    Args:
        ds: Batches from :func:`make_action_datasets`.
        model: An action model.

    Returns:
        The mapped dataset (:func:`attach_targets`).
    """
    flow_shapes = {}
    for name in model.output_names:
        if name.startswith("flow_"):
            shape = model.get_layer(name).output.shape  # (B, T, h, w, 2)
            flow_shapes[name] = (shape[2], shape[3])
    return attach_targets(ds, model.output_names, flow_shapes)
