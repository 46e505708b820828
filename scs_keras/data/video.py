"""tf.data readers for action-recognition videos (UCF-101, HMDB-51, Kinetics layouts).

Three on-disk layouts are read:

``layout="ucf101"``
    ``<root>/<Class>/v_<Class>_gXX_cYY.avi`` plus the official split folder
    (default ``<root>/ucfTrainTestlist/``) with ``classInd.txt``
    (``"1 ApplyEyeMakeup"``), ``trainlist0N.txt``
    (``"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"``) and ``testlist0N.txt``
    (paths only; the label comes from the class folder).
``layout="folders"`` (aliases ``"hmdb51"``, ``"kinetics"``)
    ``<root>/<Class>/<video file>`` without split files.  All videos of the
    class folders are listed; ``split="all"`` keeps them all, ``"train"`` /
    ``"test"`` make a deterministic split by hashing each video's
    ``Class/file`` name against ``split_ratio`` (stable across machines and
    runs, and a video never changes side when others are added).  For
    pre-split trees (Kinetics ``train/`` and ``val/``) pass the split folder as
    ``root`` with ``split="all"`` and the same ``class_names`` for both.
``layout="frames"``
    ``<root>/<split>/<Class>/<video>/<frame>.jpg`` (also ``.jpeg``/``.png``);
    the frames of a video are sorted by name with numbers compared as numbers
    (``img_2`` before ``img_10``; zero-padded names sort the same either way).

Videos are decoded with OpenCV (``cv2.VideoCapture``) inside tf.data through
``tf.numpy_function`` with declared output shapes, in a parallel ``map``,
followed by ``prefetch``.  Only the sampled frames are converted and resized;
the others are skipped with ``grab()``.

**Outputs.** Frames are ``float32`` RGB in ``[0, 1]`` (no mean/std
normalisation: that belongs to the model), resized to ``image_size`` without
keeping the aspect ratio.  Labels are ``int32`` class indices in the order of
the returned class names.  One element is ``(frames, label)`` with frames
``(num_frames, H, W, 3)``, or ``(K, n, H, W, 3)`` with ``clips=(K, n, r)``;
batching adds a leading batch axis.

**Frame sampling.**

* One clip (``clips=None``): :func:`uniform_frame_indices` spreads
  ``num_frames`` over the whole video (one frame per equal segment).  Test:
  the segment centres.  Training: one random offset shared by all segments,
  so the spacing - and thus the apparent motion speed - stays constant.
* Overlapping clips (``clips=(K, n, r)``; the paper's long-video setting is
  six 5-frame clips with overlap rate 0.25, ``(6, 5, 0.25)``):
  :func:`overlapping_clip_indices`.  A long video is cut into K clips that
  the model reads one after another; consecutive clips share
  :func:`overlap_frame_count` frames, which are the *same* video frames so that
  the overlap-coherence loss compares like with like.
* Short videos (fewer frames than needed) repeat frames: indices are spread
  over the available frames and rounded down, so each frame appears about
  equally often, in order (a slowed-down video), never beyond the last frame.

**Augmentation** (training only; :class:`AugmentConfig`): horizontal flip,
random crop resized back to the output size, brightness/contrast/saturation
jitter.  One set of random parameters is drawn per video and applied to every
frame of every clip of that video, so motion is not corrupted and overlapping
frames stay identical.  Caution: a horizontal flip swaps left and right; turn
it off (``AugmentConfig(flip=False)``) for classes defined by direction, e.g.
the synthetic ``MoveLeft`` / ``MoveRight`` / ``RotateClockwise`` data of
:mod:`scs_keras.data.synthetic.motion_videos`.

**The reader contract** (:mod:`scs_keras.data.contract`).
:func:`make_video_dataset` returns ``(dataset, report)``, the class names in
``report.class_names``.  Unreadable videos (cannot be opened, zero decodable
frames, empty frame folder, unreadable image) are found up front
(``check_videos=True``, the default: every video is opened and its first
frame decoded, in parallel threads).  ``on_bad="raise"`` (default) then
raises a :class:`~scs_keras.data.contract.DataError` naming the file;
``on_bad="skip"`` drops the video, logs a warning and lists it in
``report.problems``.  No readable video is a ``DataError`` whatever
``on_bad``.  A video that passes the check but fails later (cut off half-way)
is met while iterating: with ``"raise"`` TensorFlow stops with a
``tf.errors.OpError`` whose message names the file; with ``"skip"`` it is
dropped and added to ``report.problems`` then (and ``report.num_samples``
lowered).  ``check_videos=False`` leaves all checks to iteration time.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import logging
import math
import os
import re
import threading
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from scs_keras.data.contract import DataError, DataReport, check_on_bad, raise_or_record
from scs_keras.data.progress import progress_bar
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_float, image_hw, one_of, positive_int

logger = logging.getLogger(__name__)

__all__ = [
    "VIDEO_EXTENSIONS",
    "FRAME_EXTENSIONS",
    "BadVideoError",
    "VideoDataReport",
    "VideoList",
    "AugmentConfig",
    "read_class_index",
    "list_ucf101",
    "list_class_folders",
    "list_frame_folders",
    "list_videos",
    "uniform_frame_indices",
    "overlap_frame_count",
    "overlapping_clip_indices",
    "probe_video",
    "read_video",
    "read_frame_folder",
    "augment_video",
    "make_video_dataset",
]

#: File extensions recognised as videos (case-insensitive).
VIDEO_EXTENSIONS: Tuple[str, ...] = (
    ".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv",
)
#: File extensions recognised as extracted frames (case-insensitive).
FRAME_EXTENSIONS: Tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")

_LAYOUTS = {"ucf101": "ucf101", "folders": "folders", "hmdb51": "folders",
            "kinetics": "folders", "frames": "frames"}


# --------------------------------------------------------------------------
# Errors and reports
# --------------------------------------------------------------------------


class BadVideoError(DataError):
    """A video (file or frame folder) that cannot be decoded.

    A :class:`~scs_keras.data.contract.DataError`: the message names the path.

    Attributes:
        path: The offending path.
        reason: Why it failed.
    """


@dataclasses.dataclass
class VideoDataReport(DataReport):
    """What :func:`make_video_dataset` listed and which videos it left out.

    Each unreadable video is one problem (kind ``"unreadable"``) and is not
    counted in ``num_samples``, so ``num_samples == num_listed -
    num_problems``.  With the default up-front check the report is complete
    when the reader returns; videos that fail only while iterating are added
    as they are met (each once, even over several epochs).

    Attributes:
        source: Data root.
        num_samples: Videos in the data set.
        problems: The unreadable videos (:class:`~scs_keras.data.contract.DataProblem`).
        layout: Normalised layout name.
        split: Split name.
        class_names: Class names in label order (label ``i`` is ``class_names[i]``).
        num_listed: Videos listed for the split (before skipping).

    Example:
        >>> report = VideoDataReport(num_samples=2, num_listed=2)
        >>> _ = report.add_problem("/data/x.avi", "unreadable", "OpenCV cannot open it")
        >>> report.num_samples, report.bad_paths
        (1, ['/data/x.avi'])
    """

    layout: str = ""
    split: str = ""
    class_names: List[str] = dataclasses.field(default_factory=list)
    num_listed: int = 0

    def __post_init__(self):
        # Decoding runs in several tf.data threads at once.
        self._lock = threading.Lock()

    def add_problem(self, path, kind, message, index=None):
        """Records an unreadable video once, takes it off ``num_samples`` and logs it.

        Returns:
            The :class:`~scs_keras.data.contract.DataProblem` (the earlier one
            when the video was already recorded).
        """
        with self._lock:
            known = next((p for p in self.problems if p.path == str(path)), None)
            if known is not None:
                return known
            self.num_samples -= 1
            problem = super().add_problem(path, kind, message, index)
        logger.warning("skipping unreadable video %s (%s)", path, message)
        return problem

    def summary(self) -> str:
        """One line: layout, split, listed count, samples and skipped videos."""
        return (f"{self.layout} split {self.split!r}, {self.num_listed} video(s) listed: "
                + super().summary())


@dataclasses.dataclass
class VideoList:
    """Listed videos of one split.

    Attributes:
        paths: Video files (or frame folders for ``layout="frames"``).
        labels: Class index of each path.
        class_names: Class names in label order.
    """

    paths: List[str]
    labels: List[int]
    class_names: List[str]

    def __len__(self) -> int:
        return len(self.paths)


# --------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _has_ext(name: str, exts: Sequence[str]) -> bool:
    return name.lower().endswith(tuple(e.lower() for e in exts))


def _content_lines(path: str) -> Iterator[Tuple[int, str]]:
    """Yield ``(line number, stripped line)`` for the lines of a list file that
    hold an entry, skipping blank lines and ``#`` comments.

    ``utf-8-sig`` so that a byte-order mark (left by some editors) does not
    stick to the first entry.
    """
    with open(path, "r", encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                yield lineno, line


def read_class_index(path: str) -> List[str]:
    """Read a UCF-101 ``classInd.txt`` (``"1 ApplyEyeMakeup"`` per line).

    Args:
        path: The file.

    Returns:
        Class names in label order (label ``i`` is index ``i + 1`` in the file).

    Raises:
        FileNotFoundError: The file does not exist.
        DataError: A malformed line, duplicate/missing indices or no classes.

    Example:
        >>> names = read_class_index("UCF101/ucfTrainTestlist/classInd.txt")  # doctest: +SKIP
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"class index file not found: {path!r}")
    entries: Dict[int, str] = {}
    for lineno, line in _content_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(path, f"line {lineno}: expected '<index> <ClassName>', got {line!r}")
        idx = int(parts[0])
        if idx in entries:
            raise DataError(path, f"line {lineno}: class index {idx} appears twice")
        entries[idx] = parts[1]
    if not entries:
        raise DataError(path, "the class index file lists no classes")
    expected = list(range(1, len(entries) + 1))
    if sorted(entries) != expected:
        raise DataError(path, f"class indices must be 1..{len(entries)} without gaps, "
                         f"got {sorted(entries)[:10]}...")
    return [entries[i] for i in expected]


def _class_lookup(class_names: Sequence[str]) -> Callable[[str], Optional[int]]:
    exact = {n: i for i, n in enumerate(class_names)}
    lower = {n.lower(): i for i, n in enumerate(class_names)}

    def lookup(name: str) -> Optional[int]:
        # Case-insensitive fallback: UCF-101 spells one class "HandstandPushups"
        # in classInd.txt and "HandStandPushups" in file names.
        i = exact.get(name)
        return i if i is not None else lower.get(name.lower())

    return lookup


def list_ucf101(
    root: str,
    split: str = "train",
    split_index: int = 1,
    split_dir: Optional[str] = None,
    check_exists: bool = True,
) -> VideoList:
    """List one official UCF-101 split.

    Args:
        root: Folder holding the ``<Class>/`` video folders.
        split: ``"train"`` or ``"test"``.
        split_index: 1, 2 or 3 (``trainlist0N.txt`` / ``testlist0N.txt``); any
            positive integer whose file exists is accepted.
        split_dir: Split folder; default ``<root>/ucfTrainTestlist``.
        check_exists: Check that every listed video exists (one ``stat`` each).

    Returns:
        A :class:`VideoList` (class names from ``classInd.txt``).

    Raises:
        FileNotFoundError: Missing split folder, ``classInd.txt``, split list
            or listed videos (the message names them).
        ValueError: Bad ``split`` or ``split_index``.
        DataError: A malformed line, an unknown class name, a label that
            disagrees with the class folder, or an empty list.

    Example:
        >>> vl = list_ucf101("/data/UCF-101", "test", 1)  # doctest: +SKIP
        >>> vl.class_names[0]  # doctest: +SKIP
        'ApplyEyeMakeup'
    """
    one_of("split", split, ("train", "test"))
    split_index = positive_int("split_index", split_index)
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"UCF-101 root folder not found: {root!r}")
    split_dir = os.path.abspath(split_dir) if split_dir else os.path.join(root, "ucfTrainTestlist")
    if not os.path.isdir(split_dir):
        raise FileNotFoundError(
            f"UCF-101 split folder not found: {split_dir!r} (pass split_dir= where "
            f"classInd.txt and {split}list0{int(split_index)}.txt are)")
    class_names = read_class_index(os.path.join(split_dir, "classInd.txt"))
    lookup = _class_lookup(class_names)
    list_file = os.path.join(split_dir, f"{split}list{int(split_index):02d}.txt")
    if not os.path.isfile(list_file):
        have = sorted(f for f in os.listdir(split_dir) if f.endswith(".txt"))
        raise FileNotFoundError(f"UCF-101 split file not found: {list_file!r} (folder has {have})")

    paths: List[str] = []
    labels: List[int] = []
    missing: List[str] = []
    for lineno, line in _content_lines(list_file):
        parts = line.split()
        rel = parts[0].replace("\\", "/")
        where = f"line {lineno}"
        if "/" not in rel:
            raise DataError(list_file, f"{where}: expected '<Class>/<video>', got {parts[0]!r}")
        folder = rel.split("/", 1)[0]
        folder_label = lookup(folder)
        if len(parts) >= 2:
            try:
                label = int(parts[1]) - 1
            except ValueError:
                raise DataError(list_file, f"{where}: label {parts[1]!r} is not an integer") \
                    from None
            if not 0 <= label < len(class_names):
                raise DataError(list_file, f"{where}: label {parts[1]} outside "
                                           f"1..{len(class_names)} of classInd.txt")
            if folder_label is not None and folder_label != label:
                raise DataError(list_file, f"{where}: label {parts[1]} ({class_names[label]}) "
                                           f"disagrees with class folder {folder!r}")
        else:
            if folder_label is None:
                raise DataError(list_file,
                                f"{where}: unknown class name {folder!r} (not in classInd.txt: "
                                f"{class_names[:5]}{' ...' if len(class_names) > 5 else ''})")
            label = folder_label
        path = os.path.join(root, *rel.split("/"))
        if check_exists and not os.path.isfile(path):
            missing.append(path)
        paths.append(path)
        labels.append(label)
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} video(s) named in {list_file!r} are missing under {root!r}, "
            f"e.g. {missing[:5]}")
    if not paths:
        raise DataError(list_file, "the UCF-101 split file lists no videos (empty dataset)")
    return VideoList(paths, labels, class_names)


def _hash_fraction(key: str) -> float:
    # md5, not hash(): Python's hash() of str is salted per process.
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / float(1 << 32)


def list_class_folders(
    root: str,
    split: str = "all",
    split_ratio: float = 0.8,
    class_names: Optional[Sequence[str]] = None,
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
) -> VideoList:
    """List the videos of ``<root>/<Class>/`` folders (HMDB-51, Kinetics, ...).

    Args:
        root: Folder holding one sub-folder per class.
        split: ``"all"``, ``"train"`` or ``"test"`` (``"val"`` = ``"test"``).
            Train/test is a deterministic split: a video is in train when the
            MD5 of ``"<Class>/<file name>"`` mapped to ``[0, 1)`` is below
            ``split_ratio``.
        split_ratio: Fraction (about) of each class in train.
        class_names: Classes in label order.  Default: the sorted names of the
            sub-folders that contain at least one video.  Give it explicitly to
            keep labels identical across separately-listed trees.
        extensions: Video file extensions to list.

    Returns:
        A :class:`VideoList`, sorted by class then file name.

    Raises:
        FileNotFoundError: ``root`` or a named class folder is missing.
        ValueError: Bad arguments.
        DataError: No video found (empty dataset).

    Example:
        >>> vl = list_class_folders("/data/hmdb51", "train", 0.7)  # doctest: +SKIP
    """
    if split == "val":
        split = "test"
    one_of("split", split, ("all", "train", "test"))
    if split != "all":
        check_float("split_ratio", split_ratio, 0.0, 1.0, min_inclusive=False,
                    max_inclusive=False)
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"video root folder not found: {root!r}")

    def videos_of(cdir: str) -> List[str]:
        return sorted((f for f in os.listdir(cdir)
                       if _has_ext(f, extensions) and os.path.isfile(os.path.join(cdir, f))),
                      key=_natural_key)

    if class_names is None:
        class_names = [d for d in sorted(os.listdir(root))
                       if not d.startswith(".") and os.path.isdir(os.path.join(root, d))
                       and videos_of(os.path.join(root, d))]
    else:
        class_names = list(class_names)
        for c in class_names:
            if not os.path.isdir(os.path.join(root, c)):
                raise FileNotFoundError(f"class folder {c!r} not found under {root!r}")
    if not class_names:
        raise DataError(root, f"no class folder with videos ({', '.join(extensions[:4])} ...) "
                              "(empty dataset)")
    paths: List[str] = []
    labels: List[int] = []
    for label, c in enumerate(class_names):
        for f in videos_of(os.path.join(root, c)):
            if split != "all":
                in_train = _hash_fraction(f"{c}/{f}") < split_ratio
                if in_train != (split == "train"):
                    continue
            paths.append(os.path.join(root, c, f))
            labels.append(label)
    if not paths:
        raise DataError(root, f"no videos for split {split!r} (empty dataset)")
    return VideoList(paths, labels, list(class_names))


def list_frame_folders(
    root: str,
    split: str = "train",
    class_names: Optional[Sequence[str]] = None,
) -> VideoList:
    """List the videos of an extracted-frames tree ``<root>/<split>/<Class>/<video>/``.

    Args:
        root: Folder holding the split folders.
        split: Split folder name (``"train"``, ``"test"``, ``"val"``, ...).
        class_names: Classes in label order.  Default: ``<root>/classInd.txt``
            (or ``<root>/ucfTrainTestlist/classInd.txt``) when present, else
            the sorted union of the class folders of *all* split folders, so
            train and test get the same labels even if a class is absent from
            one of them.

    Returns:
        A :class:`VideoList` whose paths are video frame folders.

    Raises:
        FileNotFoundError: ``root`` or ``<root>/<split>`` is missing.
        DataError: A class folder not in ``class_names``, or no video.

    Example:
        >>> vl = list_frame_folders("/data/ucf_frames", "test")  # doctest: +SKIP
    """
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"frames root folder not found: {root!r}")
    split_root = os.path.join(root, split)
    if not os.path.isdir(split_root):
        have = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        raise FileNotFoundError(f"split folder {split_root!r} not found (root has {have})")
    if class_names is None:
        for cand in (os.path.join(root, "classInd.txt"),
                     os.path.join(root, "ucfTrainTestlist", "classInd.txt")):
            if os.path.isfile(cand):
                class_names = read_class_index(cand)
                break
    if class_names is None:
        names = set()
        for s in os.listdir(root):
            sdir = os.path.join(root, s)
            if os.path.isdir(sdir) and not s.startswith(".") and s != "ucfTrainTestlist":
                names.update(c for c in os.listdir(sdir)
                             if os.path.isdir(os.path.join(sdir, c)) and not c.startswith("."))
        class_names = sorted(names)
    class_names = list(class_names)
    lookup = _class_lookup(class_names)
    paths: List[str] = []
    labels: List[int] = []
    for c in sorted(os.listdir(split_root)):
        cdir = os.path.join(split_root, c)
        if c.startswith(".") or not os.path.isdir(cdir):
            continue
        label = lookup(c)
        if label is None:
            raise DataError(cdir, f"unknown class name {c!r} (known: {class_names[:5]}"
                                  f"{' ...' if len(class_names) > 5 else ''})")
        for v in sorted(os.listdir(cdir), key=_natural_key):
            vdir = os.path.join(cdir, v)
            if os.path.isdir(vdir) and not v.startswith("."):
                paths.append(vdir)
                labels.append(label)
    if not paths:
        raise DataError(split_root, "no video frame folders (empty dataset)")
    return VideoList(paths, labels, class_names)


def list_videos(
    root: str,
    split: str = "train",
    split_index: int = 1,
    layout: str = "ucf101",
    split_dir: Optional[str] = None,
    class_names: Optional[Sequence[str]] = None,
    split_ratio: float = 0.8,
    check_exists: bool = True,
) -> VideoList:
    """Dispatch to :func:`list_ucf101`, :func:`list_class_folders` or :func:`list_frame_folders`.

    Args:
        root, split, split_index, split_dir: See :func:`make_video_dataset`.
        layout: ``"ucf101"``, ``"folders"`` (= ``"hmdb51"`` = ``"kinetics"``) or ``"frames"``.
        class_names: Label order override (``folders`` and ``frames`` only;
            UCF-101 always uses ``classInd.txt``).
        split_ratio: Train fraction of the hashed split (``folders``).
        check_exists: UCF-101: raise if a listed video is missing (the other
            layouts list only what exists).

    Returns:
        A :class:`VideoList`.

    Example:
        >>> vl = list_videos("/data/UCF-101", "train", 1, "ucf101")  # doctest: +SKIP
    """
    kind = _LAYOUTS[one_of("layout", layout, tuple(_LAYOUTS))]
    if kind == "ucf101":
        if class_names is not None:
            raise ValueError("layout='ucf101' takes its class names from classInd.txt; "
                             "do not pass class_names")
        return list_ucf101(root, split, split_index, split_dir, check_exists)
    if kind == "folders":
        return list_class_folders(root, split, split_ratio, class_names)
    return list_frame_folders(root, split, class_names)


# --------------------------------------------------------------------------
# Frame indices
# --------------------------------------------------------------------------


def uniform_frame_indices(num_video_frames: int, num_frames: int,
                          offset: Optional[float] = None) -> np.ndarray:
    """Indices of ``num_frames`` frames spread uniformly over a video.

    The video is cut into ``num_frames`` equal segments of length
    ``L = T / num_frames``; frame ``i`` is ``floor((i + offset) * L)``.

    Args:
        num_video_frames: ``T``, frames in the video (>= 1).
        num_frames: Frames to sample (>= 1).
        offset: Position inside each segment in ``[0, 1)``, shared by all
            segments (training: random; it keeps the spacing constant).
            ``None`` = 0.5, the segment centres (deterministic, for test).

    Returns:
        ``int64`` array ``(num_frames,)``, non-decreasing, in ``[0, T)``.  When
        ``T < num_frames`` frames repeat (each about ``num_frames / T`` times).

    Example:
        >>> uniform_frame_indices(20, 4).tolist()
        [2, 7, 12, 17]
        >>> uniform_frame_indices(3, 6).tolist()
        [0, 0, 1, 1, 2, 2]
    """
    t, n = int(num_video_frames), int(num_frames)
    if t < 1:
        raise ValueError(f"num_video_frames must be >= 1, got {num_video_frames}")
    if n < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    u = 0.5 if offset is None else float(offset)
    if not 0.0 <= u < 1.0:
        raise ValueError(f"offset must be in [0, 1), got {offset}")
    idx = np.floor((np.arange(n) + u) * (t / n)).astype(np.int64)
    return np.clip(idx, 0, t - 1)


def overlap_frame_count(clip_len: int, overlap_rate: float) -> int:
    """Frames shared by two consecutive clips of :func:`overlapping_clip_indices`.

    The clip stride is ``max(1, floor(clip_len * (1 - overlap_rate)))`` - the
    truncation of the authors' code - and the overlap is ``clip_len - stride``.
    So the reference 5-frame clips at ``r = 0.25`` share **2** frames (stride 3).

    Args:
        clip_len: ``n``, frames per clip (>= 1).
        overlap_rate: ``r`` in ``[0, 1)``.

    Returns:
        The overlap in frames (``0`` when ``r = 0``).

    Example:
        >>> overlap_frame_count(5, 0.25), overlap_frame_count(8, 0.25), overlap_frame_count(5, 0.0)
        (2, 2, 0)
    """
    return int(clip_len) - _clip_stride(clip_len, overlap_rate)


def _clip_stride(clip_len: int, overlap_rate: float) -> int:
    n, r = int(clip_len), float(overlap_rate)
    if n < 1:
        raise ValueError(f"clip length must be >= 1, got {clip_len}")
    if not 0.0 <= r < 1.0:
        raise ValueError(f"overlap_rate must be in [0, 1), got {overlap_rate}")
    # The epsilon keeps exact products (e.g. 8 * 0.75 = 6) from flooring to 5.
    return max(1, int(math.floor(n * (1.0 - r) + 1e-9)))


def overlapping_clip_indices(
    num_video_frames: int,
    num_clips: int,
    clip_len: int,
    overlap_rate: float,
    offset: Optional[float] = None,
) -> np.ndarray:
    """Frame indices of K overlapping clips of n frames, read one after another.

    Clip ``k`` covers the slots ``k * s .. k * s + n - 1`` of a "timeline" of
    ``span = s * (K - 1) + n`` slots, where ``s`` is the stride of
    :func:`overlap_frame_count`.  Slots map to video frames:

    * ``T >= span``: slot ``p`` is frame ``start + p * step`` with
      ``step = T // span`` (temporal subsampling so the clips cover most of
      the video) and ``start`` in ``[0, T - ((span - 1) * step + 1)]``:
      the middle of that range when ``offset`` is ``None`` (test), else
      ``floor(offset * (range + 1))`` (training jitter).
    * ``T < span`` (short video): slot ``p`` is frame ``floor(p * T / span)``
      - frames repeat in order, the last slot is at most the last frame, and
      ``offset`` has no effect.

    In both cases overlapping slots of consecutive clips are the same frames.

    Args:
        num_video_frames: ``T`` (>= 1).
        num_clips: ``K`` (>= 1).
        clip_len: ``n`` (>= 1).
        overlap_rate: ``r`` in ``[0, 1)``.
        offset: ``None`` (deterministic) or a number in ``[0, 1)``.

    Returns:
        ``int64`` array ``(K, n)``.

    Example:
        >>> overlapping_clip_indices(23, 6, 5, 0.25)[:2].tolist()
        [[1, 2, 3, 4, 5], [4, 5, 6, 7, 8]]
    """
    t, k, n = int(num_video_frames), int(num_clips), int(clip_len)
    if t < 1:
        raise ValueError(f"num_video_frames must be >= 1, got {num_video_frames}")
    if k < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    s = _clip_stride(n, overlap_rate)
    if offset is not None and not 0.0 <= float(offset) < 1.0:
        raise ValueError(f"offset must be in [0, 1), got {offset}")
    span = s * (k - 1) + n
    slots = (np.arange(k)[:, None] * s + np.arange(n)[None, :]).astype(np.int64)
    if t >= span:
        step = t // span
        room = t - ((span - 1) * step + 1)
        start = room // 2 if offset is None else min(room, int(math.floor(float(offset) * (room + 1))))
        return start + slots * step
    return np.minimum((slots * t) // span, t - 1)


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def _to_rgb(frame_bgr: np.ndarray, size: Optional[Tuple[int, int]]) -> np.ndarray:
    cv2 = optional_import("cv2", "decoding videos")
    if frame_bgr.ndim == 2:
        frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    if size is not None and rgb.shape[:2] != size:
        h, w = size
        # INTER_AREA avoids aliasing when shrinking; linear when enlarging.
        shrink = h * w < rgb.shape[0] * rgb.shape[1]
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return rgb


def _open_capture(path: str):
    cv2 = optional_import("cv2", "decoding videos")
    if not os.path.isfile(path):
        raise BadVideoError(path, "file does not exist")
    if os.path.getsize(path) == 0:
        raise BadVideoError(path, "file is empty")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise BadVideoError(path, "OpenCV cannot open it (corrupt file or unsupported container/codec)")
    return cap


def _grab_frames(cap, wanted: np.ndarray, size):
    """Decode sequentially, converting only ``wanted`` indices.

    Returns ``(frames_by_index, frames_seen, hit_end)``.
    """
    want = set(int(i) for i in wanted)
    last = max(want)
    out: Dict[int, np.ndarray] = {}
    i = 0
    while i <= last:
        if not cap.grab():
            return out, i, True
        if i in want:
            ok, frame = cap.retrieve()
            if not ok or frame is None:
                return out, i, True
            out[i] = _to_rgb(frame, size)
        i += 1
    return out, i, False


def _assemble(got: Dict[int, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Stack decoded frames in the order (and shape) of the index array."""
    first = got[int(idx.flat[0])]
    return np.stack([got[int(i)] for i in idx.ravel()]).reshape(idx.shape + first.shape)


def _count_frames(path: str) -> int:
    cap = _open_capture(path)
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def _decode_video(path: str, index_fn: Callable[[int], np.ndarray], size) -> np.ndarray:
    """Frames ``index_fn(T)`` of a video file (any index shape), RGB uint8."""
    cv2 = optional_import("cv2", "decoding videos")
    cap = _open_capture(path)
    try:
        # The container's frame count avoids a counting pass; it can be wrong
        # (variable frame rate, broken index), which the fallback below handles.
        reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if reported > 0:
            idx = np.asarray(index_fn(reported))
            got, seen, _ = _grab_frames(cap, idx.ravel(), size)
            if all(int(i) in got for i in idx.ravel()):
                return _assemble(got, idx)
            true_count = seen
        else:
            true_count = None
    finally:
        cap.release()
    if true_count is None:
        true_count = _count_frames(path)
    if true_count == 0:
        raise BadVideoError(path, "no decodable frames")
    idx = np.asarray(index_fn(true_count))
    cap = _open_capture(path)
    try:
        got, _, _ = _grab_frames(cap, idx.ravel(), size)
    finally:
        cap.release()
    if not all(int(i) in got for i in idx.ravel()):
        raise BadVideoError(path, f"frames stop decoding before index {int(idx.max())}")
    return _assemble(got, idx)


def _frame_files(folder: str) -> List[str]:
    if not os.path.isdir(folder):
        raise BadVideoError(folder, "frame folder does not exist")
    files = sorted((f for f in os.listdir(folder) if _has_ext(f, FRAME_EXTENSIONS)), key=_natural_key)
    if not files:
        raise BadVideoError(folder, f"frame folder has no {'/'.join(FRAME_EXTENSIONS)} images")
    return [os.path.join(folder, f) for f in files]


def _decode_frames(folder: str, index_fn: Callable[[int], np.ndarray], size) -> np.ndarray:
    cv2 = optional_import("cv2", "decoding videos")
    files = _frame_files(folder)
    idx = np.asarray(index_fn(len(files)))
    cache: Dict[int, np.ndarray] = {}
    for i in idx.ravel():
        i = int(i)
        if i not in cache:
            img = cv2.imread(files[i], cv2.IMREAD_COLOR)
            if img is None:
                raise BadVideoError(folder, f"unreadable frame image {files[i]!r}")
            cache[i] = _to_rgb(img, size)
    first = cache[int(idx.flat[0])]
    if any(v.shape != first.shape for v in cache.values()):
        raise BadVideoError(folder, "frames differ in size (pass a size to resize them)")
    return np.stack([cache[int(i)] for i in idx.ravel()]).reshape(idx.shape + first.shape)


def probe_video(path: str) -> Tuple[int, int, int]:
    """Check that a video (file or frame folder) decodes; return its shape.

    Args:
        path: Video file or frame folder.

    Returns:
        ``(num_frames, height, width)``.  For files the container's frame
        count is used when it is available (it is not verified by a full pass).

    Raises:
        BadVideoError: Not decodable (message names the path).

    Example:
        >>> probe_video("UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi")  # doctest: +SKIP
        (164, 240, 320)
    """
    cv2 = optional_import("cv2", "decoding videos")
    if os.path.isdir(path):
        files = _frame_files(path)
        img = cv2.imread(files[0], cv2.IMREAD_COLOR)
        if img is None:
            raise BadVideoError(path, f"unreadable frame image {files[0]!r}")
        return len(files), img.shape[0], img.shape[1]
    cap = _open_capture(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise BadVideoError(path, "no decodable frames")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    if n <= 0:
        n = _count_frames(path)
    return n, frame.shape[0], frame.shape[1]


def read_video(path: str, indices: Optional[Sequence[int]] = None,
               size: Union[int, Sequence[int], None] = None) -> np.ndarray:
    """Decode a video file with OpenCV into RGB ``uint8`` frames.

    Args:
        path: Video file.
        indices: Frame indices to return (any order, repeats allowed); all
            frames when ``None``.
        size: Resize every frame to ``(height, width)`` (or an int); keep the
            original size when ``None``.

    Returns:
        ``uint8`` array ``(len(indices) or T, H, W, 3)``, RGB.

    Raises:
        BadVideoError: Cannot be opened, has no frames, or an index is past the end.

    Example:
        >>> frames = read_video("clip.avi", size=112)  # doctest: +SKIP
    """
    hw = None if size is None else image_hw("size", size)
    if indices is None:
        return _decode_video(path, lambda t: np.arange(t), hw)
    idx = np.asarray(indices, np.int64)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < 0:
        raise ValueError(f"indices must be a non-empty 1-D list of non-negative ints, got {indices!r}")

    def index_fn(t):
        if idx.max() >= t:
            raise BadVideoError(path, f"index {int(idx.max())} out of range for {t} frames")
        return idx

    return _decode_video(path, index_fn, hw)


def read_frame_folder(path: str, indices: Optional[Sequence[int]] = None,
                      size: Union[int, Sequence[int], None] = None) -> np.ndarray:
    """Read a video stored as a folder of frame images (sorted by name).

    Args:
        path: The frame folder.
        indices: Frame indices to return; all when ``None``.
        size: Optional ``(height, width)`` (or int) resize.

    Returns:
        ``uint8`` array ``(N, H, W, 3)``, RGB.

    Raises:
        BadVideoError: Missing/empty folder, unreadable image, index out of range.

    Example:
        >>> frames = read_frame_folder("frames/test/MoveLeft/v_MoveLeft_g01_c01")  # doctest: +SKIP
    """
    hw = None if size is None else image_hw("size", size)

    def index_fn(t):
        if indices is None:
            return np.arange(t)
        idx = np.asarray(indices, np.int64)
        if idx.size and (idx.max() >= t or idx.min() < 0):
            raise BadVideoError(path, f"indices out of range for {t} frames")
        return idx

    return _decode_frames(path, index_fn, hw)


# --------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation, one draw per video (see the module docstring).

    Attributes:
        flip: Horizontal flip with probability 0.5.  Swaps left/right: disable
            for direction-defined classes.
        crop_scale: ``(min, max)`` side fraction of a random square-relative
            crop (same fraction for height and width), resized back to the
            output size; ``None`` disables.
        brightness: Max absolute brightness delta (on the ``[0, 1]`` scale).
        contrast: Contrast factor drawn from ``[1 - c, 1 + c]``.
        saturation: Saturation factor drawn from ``[1 - s, 1 + s]``.

    Example:
        >>> AugmentConfig(flip=False, crop_scale=(0.7, 1.0)).flip
        False
    """

    flip: bool = True
    crop_scale: Optional[Tuple[float, float]] = (0.8, 1.0)
    brightness: float = 0.15
    contrast: float = 0.15
    saturation: float = 0.15

    def __post_init__(self):
        if self.crop_scale is not None:
            lo, hi = self.crop_scale
            if not 0.0 < lo <= hi <= 1.0:
                raise ValueError(f"crop_scale must satisfy 0 < min <= max <= 1, got {self.crop_scale}")
        for name in ("brightness", "contrast", "saturation"):
            v = getattr(self, name)
            if not 0.0 <= v < (1.0 if name != "brightness" else float("inf")):
                raise ValueError(f"{name} must be >= 0 (and < 1 for factors), got {v}")


def _seed_pair(seed, k: int):
    seed = tf.cast(tf.reshape(seed, []), tf.int64)
    return tf.stack([seed, tf.constant(k, tf.int64)])


def augment_video(frames: tf.Tensor, seed: tf.Tensor, config: AugmentConfig = AugmentConfig()) -> tf.Tensor:
    """Apply one random flip / crop / colour jitter to every frame of a video.

    Args:
        frames: ``float32`` in ``[0, 1]``, shape ``(..., H, W, 3)`` with static
            ``H``, ``W`` (e.g. ``(T, H, W, 3)`` or ``(K, n, H, W, 3)``).
        seed: Integer scalar tensor; the same seed gives the same transform
            (stateless random ops), different seeds independent draws.
        config: What to apply.

    Returns:
        A tensor of the same shape, ``float32`` clipped to ``[0, 1]``.

    Example:
        >>> import tensorflow as tf
        >>> x = tf.random.uniform((4, 32, 32, 3))
        >>> augment_video(x, tf.constant(3)).shape
        TensorShape([4, 32, 32, 3])
    """
    frames = tf.convert_to_tensor(frames, tf.float32)
    shape = tf.shape(frames)
    h, w = frames.shape[-3], frames.shape[-2]
    if h is None or w is None or frames.shape[-1] != 3:
        raise ValueError(f"frames need static (..., H, W, 3), got {frames.shape}")
    x = tf.reshape(frames, [-1, h, w, 3])
    if config.flip:
        flip = tf.random.stateless_uniform([], _seed_pair(seed, 1)) < 0.5
        x = tf.cond(flip, lambda: tf.reverse(x, axis=[2]), lambda: x)
    if config.crop_scale is not None and config.crop_scale != (1.0, 1.0):
        lo, hi = config.crop_scale
        scale = tf.random.stateless_uniform([], _seed_pair(seed, 2), lo, hi)
        y0 = tf.random.stateless_uniform([], _seed_pair(seed, 3)) * (1.0 - scale)
        x0 = tf.random.stateless_uniform([], _seed_pair(seed, 4)) * (1.0 - scale)
        n = tf.shape(x)[0]
        box = tf.stack([y0, x0, y0 + scale, x0 + scale])
        x = tf.image.crop_and_resize(x, tf.tile(box[None], [n, 1]), tf.range(n), [h, w])
    if config.brightness > 0:
        delta = tf.random.stateless_uniform([], _seed_pair(seed, 5), -config.brightness, config.brightness)
        x = x + delta
    if config.contrast > 0:
        f = tf.random.stateless_uniform([], _seed_pair(seed, 6), 1 - config.contrast, 1 + config.contrast)
        x = tf.image.adjust_contrast(x, f)
    if config.saturation > 0:
        f = tf.random.stateless_uniform([], _seed_pair(seed, 7), 1 - config.saturation, 1 + config.saturation)
        x = tf.image.adjust_saturation(x, f)
    x = tf.clip_by_value(x, 0.0, 1.0)
    return tf.reshape(x, shape)


# --------------------------------------------------------------------------
# The tf.data pipeline
# --------------------------------------------------------------------------


def _unreadable_reason(path: str) -> Optional[str]:
    """Why ``path`` cannot be decoded, or ``None`` when its first frame decodes."""
    try:
        probe_video(path)
    except BadVideoError as e:
        return e.reason
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad video
        return f"{type(e).__name__}: {e}"
    return None


def _check_videos(paths, labels, on_bad, report, progress):
    """The listed videos whose first frame decodes; the others raise or are recorded."""
    # OpenCV releases the GIL while it reads and decodes: threads overlap the I/O.
    workers = min(8, os.cpu_count() or 1)
    keep_p, keep_l = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool, \
            progress_bar(len(paths), progress, "checking videos", "video") as bar:
        for p, lab, reason in zip(paths, labels, pool.map(_unreadable_reason, paths)):
            bar.update(1)
            if reason is not None:
                raise_or_record(report, on_bad, p, "unreadable", reason)
                continue
            keep_p.append(p)
            keep_l.append(lab)
    return keep_p, keep_l


def make_video_dataset(
    root: str,
    split: str = "train",
    split_index: int = 1,
    layout: str = "ucf101",
    *,
    num_frames: int = 16,
    image_size: Union[int, Sequence[int]] = 112,
    batch_size: int = 8,
    training: Optional[bool] = None,
    clips: Optional[Tuple[int, int, float]] = None,
    augment: Union[bool, AugmentConfig, None] = None,
    shuffle: Optional[bool] = None,
    seed: Optional[int] = None,
    on_bad: str = "raise",
    check_videos: bool = True,
    split_dir: Optional[str] = None,
    class_names: Optional[Sequence[str]] = None,
    split_ratio: float = 0.8,
    drop_remainder: bool = False,
    num_parallel_calls: Optional[int] = None,
    progress: bool = False,
) -> Tuple[tf.data.Dataset, VideoDataReport]:
    """Build a batched ``tf.data`` pipeline of ``(frames, label)`` from videos on disk.

    Args:
        root: Data root (see the module docstring for each layout).
        split: ``"train"`` / ``"test"`` (UCF-101); ``"all"`` / ``"train"`` /
            ``"test"`` (folders); a split folder name (frames).
        split_index: UCF-101 official split 1, 2 or 3.
        layout: ``"ucf101"``, ``"folders"`` (``"hmdb51"``, ``"kinetics"``) or ``"frames"``.
        num_frames: Frames per sample when ``clips`` is ``None``.
        image_size: Output ``(height, width)`` or an int.
        batch_size: Batch size (>= 1).
        training: Random sampling offsets, augmentation and shuffling.
            Default: ``split == "train"``.
        clips: ``(K, n, r)``: K overlapping clips of n frames with overlap
            rate r, read one after another (the paper's long-video setting is
            ``(6, 5, 0.25)``).  Then one sample is ``(K, n, H, W, 3)`` and
            ``num_frames`` is not used.
        augment: ``None``/``True``: :class:`AugmentConfig` defaults when
            training; ``False``: none; an :class:`AugmentConfig`: that, when
            training.  Never applied when not training.
        shuffle: Shuffle the video order every epoch; default ``training``.
        seed: Seed of the shuffle, the sampling offsets and the augmentation
            (reproducible pipeline); ``None`` for fresh randomness.
        on_bad: ``"raise"`` (default) or ``"skip"`` for unreadable videos
            (see the module docstring).
        check_videos: Open every video and decode its first frame before
            building the pipeline (parallel threads, a tqdm bar when
            ``progress``), so bad videos are raised or reported up front; with
            ``False`` they are met while iterating.
        split_dir: UCF-101 split folder; default ``<root>/ucfTrainTestlist``.
        class_names: Label order for ``folders`` / ``frames``.
        split_ratio: Train fraction of the hashed ``folders`` split.
        drop_remainder: Drop the last incomplete batch.
        num_parallel_calls: Parallel decoders; default ``tf.data.AUTOTUNE``.
        progress: Show a progress bar while checking videos.

    Returns:
        ``(dataset, report)``: batches ``(frames float32 [0, 1], label int32)``
        with frames ``(B, num_frames, H, W, 3)`` or ``(B, K, n, H, W, 3)``,
        and a :class:`VideoDataReport` (``report.class_names`` in label order,
        ``report.num_samples`` videos, ``report.problems``).

    Raises:
        FileNotFoundError: Missing root, split file/folder or (UCF-101,
            ``check_videos=False``) listed videos.
        TypeError, ValueError: Bad arguments.
        DataError: An unreadable video with ``on_bad="raise"`` (naming it), a
            malformed split file, an unknown class, or no readable video
            (whatever ``on_bad``).

    Example:
        >>> ds, report = make_video_dataset("/data/UCF-101", "train", 1,
        ...                                 num_frames=8, image_size=112,
        ...                                 batch_size=4)  # doctest: +SKIP
        >>> report.class_names[:2]  # doctest: +SKIP
        ['ApplyEyeMakeup', 'ApplyLipstick']
        >>> frames, labels = next(iter(ds))  # doctest: +SKIP
        >>> frames.shape  # doctest: +SKIP
        TensorShape([4, 8, 112, 112, 3])
    """
    on_bad = check_on_bad(on_bad)
    batch_size = positive_int("batch_size", batch_size)
    hw = image_hw("image_size", image_size)
    if clips is not None:
        if len(clips) != 3:
            raise ValueError(f"clips must be (num_clips, clip_len, overlap_rate), got {clips!r}")
        k = positive_int("clips[0] (num_clips)", clips[0])
        n = positive_int("clips[1] (clip_len)", clips[1])
        r = float(clips[2])
        _clip_stride(n, r)  # validates r
        sample_shape: Tuple[int, ...] = (k, n)
    else:
        sample_shape = (positive_int("num_frames", num_frames),)
    training = (split == "train") if training is None else bool(training)
    shuffle = training if shuffle is None else bool(shuffle)
    if augment is None or augment is True:
        aug_cfg: Optional[AugmentConfig] = AugmentConfig() if training else None
    elif augment is False:
        aug_cfg = None
    elif isinstance(augment, AugmentConfig):
        aug_cfg = augment if training else None
    else:
        raise ValueError(f"augment must be None, a bool or an AugmentConfig, got {augment!r}")

    # With the up-front check a missing listed video is one more unreadable
    # video (raised or skipped by on_bad); without it the listing refuses it.
    vl = list_videos(root, split, split_index, layout, split_dir, class_names, split_ratio,
                     check_exists=not check_videos)
    if aug_cfg is not None and aug_cfg.flip:
        directional = [c for c in vl.class_names
                       if re.search(r"left|right|clockwise", c, flags=re.IGNORECASE)]
        if directional:
            # A mirrored "MoveLeft" video shows a move to the right: label noise.
            logger.warning("horizontal-flip augmentation with direction-named classes %s: "
                           "pass augment=AugmentConfig(flip=False) if the direction defines "
                           "the class", directional[:4])
    kind = _LAYOUTS[layout]
    report = VideoDataReport(source=os.path.abspath(root), num_samples=len(vl), layout=kind,
                             split=split, class_names=list(vl.class_names), num_listed=len(vl))

    paths, labels = list(vl.paths), list(vl.labels)
    if check_videos:
        paths, labels = _check_videos(paths, labels, on_bad, report, progress)
        if not paths:
            raise DataError(report.source, f"all {report.num_listed} videos of split "
                                           f"{split!r} are unreadable (empty dataset): "
                                           f"{report.summary()}")

    decode = _decode_frames if kind == "frames" else _decode_video
    out_shape = sample_shape + (hw[0], hw[1], 3)

    def index_fn_for(u: float) -> Callable[[int], np.ndarray]:
        off = None if u < 0 else min(max(u, 0.0), np.nextafter(1.0, 0.0))
        if clips is not None:
            return lambda t: overlapping_clip_indices(t, k, n, r, off)
        return lambda t: uniform_frame_indices(t, sample_shape[0], off)

    def load(path_b, u):
        path = path_b.decode("utf-8") if isinstance(path_b, bytes) else str(path_b)
        try:
            frames = decode(path, index_fn_for(float(u)), hw)
            return frames.reshape(out_shape).astype(np.uint8), np.bool_(True)
        except Exception as e:  # noqa: BLE001 - any decoder failure is a bad video
            reason = e.reason if isinstance(e, BadVideoError) else f"{type(e).__name__}: {e}"
            # "raise": the DataError surfaces as a tf.errors.OpError naming the path.
            raise_or_record(report, on_bad, path, "unreadable", reason)
            return np.zeros(out_shape, np.uint8), np.bool_(False)

    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(paths, tf.string), tf.constant(labels, tf.int32)))
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    # A per-video seed for the sampling offset and the augmentation; stateless
    # ops keep the whole pipeline reproducible when `seed` is given.
    ds = tf.data.Dataset.zip((ds, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)))

    def map_load(elem, rnd):
        path, label = elem
        if training:
            u = tf.random.stateless_uniform([], _seed_pair(rnd, 0))
        else:
            u = tf.constant(-1.0)
        frames, ok = tf.numpy_function(load, [path, u], [tf.uint8, tf.bool], name="decode_video")
        frames.set_shape(out_shape)
        ok.set_shape([])
        return frames, label, ok, rnd

    calls = tf.data.AUTOTUNE if num_parallel_calls is None else int(num_parallel_calls)
    ds = ds.map(map_load, num_parallel_calls=calls)
    if on_bad == "skip":
        ds = ds.filter(lambda f, lab, ok, rnd: ok)

    def finish(frames, label, ok, rnd):
        x = tf.cast(frames, tf.float32) / 255.0
        if aug_cfg is not None:
            x = augment_video(x, rnd, aug_cfg)
        return x, label

    ds = ds.map(finish, num_parallel_calls=calls)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE), report
