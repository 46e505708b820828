"""Synthetic action-recognition videos whose class is a *motion*, not an appearance.

A small data set in the real on-disk format whose learning signal needs time:
no single frame tells the class, only the motion does, so it checks that a
model uses the sequence.  This module writes a UCF-101-style tree of real,
decodable ``.avi`` files (Motion-JPEG, written with ``cv2.VideoWriter``)::

    <out>/<ClassName>/v_<ClassName>_gXX_c01.avi
    <out>/ucfTrainTestlist/classInd.txt      "1 MoveLeft"
    <out>/ucfTrainTestlist/trainlist01.txt   "MoveLeft/v_MoveLeft_g05_c01.avi 1"
    <out>/ucfTrainTestlist/testlist01.txt    "MoveLeft/v_MoveLeft_g01_c01.avi"

and, optionally, the pre-extracted-frames layout
``<out>/frames/<split>/<ClassName>/<video>/<frame>.jpg`` (see ``layout``).

Every video shows a textured, asymmetric blob on a textured background.  Only
the blob's *motion* depends on the class:

============  ====================  ==========================================
pattern       class folder          motion
============  ====================  ==========================================
``left``      ``MoveLeft``          translation to the left at medium speed
``right``     ``MoveRight``         translation to the right at medium speed
``up``        ``MoveUp``            translation upwards at medium speed
``down``      ``MoveDown``          translation downwards at medium speed
``cw``        ``RotateClockwise``   rotation in place, clockwise
``ccw``       ``RotateAnticlockwise`` rotation in place, anticlockwise
``slow``      ``MoveSlow``          slow translation in a random direction
``fast``      ``MoveFast``          fast translation in a random direction
============  ====================  ==========================================

Why no single frame reveals the class: the blob's start position is uniform
over the frame, its start orientation uniform over 360°, and its size, colours,
texture and the background are drawn from the same distributions for every
class.  Translation wraps around the frame edges (the frame is a torus), so the
blob's position stays uniformly distributed at *every* time step, not only the
first — a "move right" video is not more likely to show the blob on the left.
The tests check this (a nearest-centroid classifier on first frames is near
chance, while a frame-difference motion estimate separates the classes).

Training on these classes: turn off horizontal-flip augmentation
(``AugmentConfig(flip=False)`` in :mod:`scs_keras.data.video`) - a mirrored
``MoveLeft`` video moves right, and mirroring also swaps clockwise and
anticlockwise.

CLI::

    python -m scs_keras.data.synthetic.motion_videos --out /tmp/motion \\
        --classes left,right,up,down --videos-per-class 10 --frames 16 --size 64
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from scs_keras.data.progress import progress_bar
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_float, check_int, image_hw, one_of

__all__ = [
    "PATTERNS",
    "CLASS_NAMES",
    "MotionVideoSet",
    "make_motion_videos",
    "render_motion_video",
    "write_video",
    "write_corrupt_video",
    "main",
]

#: pattern key -> UCF-style CamelCase class (folder) name.
CLASS_NAMES: Dict[str, str] = {
    "left": "MoveLeft",
    "right": "MoveRight",
    "up": "MoveUp",
    "down": "MoveDown",
    "cw": "RotateClockwise",
    "ccw": "RotateAnticlockwise",
    "slow": "MoveSlow",
    "fast": "MoveFast",
}
#: The accepted pattern keys, in a fixed order.
PATTERNS: Tuple[str, ...] = tuple(CLASS_NAMES)

# Speeds in frame-sizes per frame.  Kept apart so "slow" / medium / "fast"
# cannot be confused even with sub-pixel rendering and JPEG noise.
_SPEED_MEDIUM = (0.04, 0.07)
_SPEED_SLOW = (0.012, 0.025)
_SPEED_FAST = (0.10, 0.14)
# Rotation speed in degrees per frame.
_OMEGA_DEG = (10.0, 18.0)


@dataclasses.dataclass
class MotionVideoSet:
    """What :func:`make_motion_videos` wrote.

    Attributes:
        root: The data-set root (``<out>``); pass it to
            ``scs_keras.data.video.make_video_dataset(root, layout="ucf101")``.
        class_names: Class folder names in label order (label ``i`` is
            ``class_names[i]``, line ``i + 1`` of ``classInd.txt``).
        patterns: The pattern key of each class, same order.
        split_dir: The ``ucfTrainTestlist`` folder.
        train: ``(relative_path, label)`` pairs of ``trainlist01.txt``.
        test: ``(relative_path, label)`` pairs of ``testlist01.txt``.
        frames_root: Root of the extracted-frames layout, or ``None`` when it
            was not written.
        num_frames: Frames per video.
        size: ``(height, width)`` of every frame.
    """

    root: str
    class_names: List[str]
    patterns: List[str]
    split_dir: str
    train: List[Tuple[str, int]]
    test: List[Tuple[str, int]]
    frames_root: Optional[str]
    num_frames: int
    size: Tuple[int, int]

    def paths(self, split: str = "train") -> List[str]:
        """Absolute video paths of ``split`` ("train", "test" or "all")."""
        if split == "all":
            items = self.train + self.test
        elif split in ("train", "test"):
            items = getattr(self, split)
        else:
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        return [os.path.join(self.root, rel) for rel, _ in items]

    def labels(self, split: str = "train") -> List[int]:
        """Labels of ``split`` in the same order as :meth:`paths`."""
        if split == "all":
            return [lab for _, lab in self.train + self.test]
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        return [lab for _, lab in getattr(self, split)]


def _as_size(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    h, w = image_hw("size", size)
    # Smaller frames leave no room for a textured sprite and its motion.
    if h < 16 or w < 16:
        raise ValueError(f"frames must be at least 16x16 pixels, got {h}x{w}")
    return h, w


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random-coloured, low-frequency textured background (float32 BGR)."""
    cv2 = optional_import("cv2", "rendering synthetic videos")
    base = rng.uniform(40, 215, size=3)
    coarse = rng.normal(0.0, 1.0, size=(max(2, h // 6), max(2, w // 6), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0.0, 1.0, size=(h, w, 3)).astype(np.float32)
    bg = base[None, None, :] + rng.uniform(15, 35) * smooth + 6.0 * fine
    return bg.astype(np.float32)


def _sprite(rng: np.random.Generator, h: int, w: int):
    """A textured, asymmetric ellipse drawn at the canvas centre.

    Returns (colour, alpha) float32 arrays of the full frame size.  The stripes
    make translation visible; the off-centre marker dot breaks the ellipse's
    180° symmetry so that clockwise and anticlockwise rotation differ.
    """
    s = min(h, w)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    a = rng.uniform(0.17, 0.24) * s  # semi-major axis
    b = a * rng.uniform(0.55, 0.8)  # semi-minor axis
    c1, c2, c3 = (rng.uniform(0, 255, size=3) for _ in range(3))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    # Stripes across the major axis, random period and phase.
    period = rng.uniform(0.25, 0.45) * a
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * dx / period + rng.uniform(0, 2 * np.pi))
    colour = c1[None, None, :] * stripes[..., None] + c2[None, None, :] * (1 - stripes[..., None])
    # Marker dot near one end of the major axis.
    mr = 0.35 * b
    marker = ((dx - 0.55 * a) ** 2 + dy ** 2) <= mr ** 2
    colour[marker] = c3
    # Anti-aliased alpha: a soft edge keeps sub-pixel motion smooth.
    r = np.sqrt((dx / a) ** 2 + (dy / b) ** 2)
    alpha = np.clip((1.0 - r) * a / 1.0, 0.0, 1.0)
    return colour.astype(np.float32), alpha.astype(np.float32)


def render_motion_video(
    pattern: str,
    num_frames: int = 16,
    size: Union[int, Sequence[int]] = 64,
    rng: Optional[np.random.Generator] = None,
    noise: float = 3.0,
) -> np.ndarray:
    """Render one synthetic video in memory.

    Args:
        pattern: One of :data:`PATTERNS` (``"left"``, ``"right"``, ``"up"``,
            ``"down"``, ``"cw"``, ``"ccw"``, ``"slow"``, ``"fast"``).
        num_frames: Number of frames (>= 2).
        size: Frame size, an int or ``(height, width)`` (>= 16 each).
        rng: NumPy generator; a fresh unseeded one when ``None``.
        noise: Standard deviation of per-frame Gaussian pixel noise (0–255
            scale), so that consecutive frames never match exactly.

    Returns:
        ``uint8`` array ``(num_frames, height, width, 3)`` in **BGR** order
        (OpenCV's convention, ready for ``cv2.VideoWriter`` / ``cv2.imwrite``).

    Example:
        >>> import numpy as np
        >>> v = render_motion_video("left", 8, 32, np.random.default_rng(0))
        >>> v.shape, v.dtype
        ((8, 32, 32, 3), dtype('uint8'))
    """
    if pattern not in CLASS_NAMES:
        raise ValueError(f"unknown motion pattern {pattern!r}; choose from {list(PATTERNS)}")
    cv2 = optional_import("cv2", "rendering synthetic videos")
    num_frames = check_int("num_frames", num_frames, minimum=2)  # a motion needs two frames
    h, w = _as_size(size)
    rng = rng if rng is not None else np.random.default_rng()
    s = min(h, w)

    bg = _background(rng, h, w)
    colour, alpha = _sprite(rng, h, w)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    # Uniform start position and orientation for every class (see module doc).
    py, px = rng.uniform(0, h), rng.uniform(0, w)
    theta0 = rng.uniform(0, 360)

    vx = vy = 0.0
    omega = 0.0
    if pattern in ("left", "right", "up", "down"):
        speed = rng.uniform(*_SPEED_MEDIUM) * s
        vx, vy = {"left": (-speed, 0.0), "right": (speed, 0.0),
                  "up": (0.0, -speed), "down": (0.0, speed)}[pattern]
    elif pattern in ("slow", "fast"):
        speed = rng.uniform(*(_SPEED_SLOW if pattern == "slow" else _SPEED_FAST)) * s
        phi = rng.uniform(0, 2 * np.pi)
        vx, vy = speed * math.cos(phi), speed * math.sin(phi)
    else:
        # cv2.getRotationMatrix2D: a positive angle turns the picture
        # anticlockwise as displayed (y axis pointing down).
        omega = rng.uniform(*_OMEGA_DEG) * (1.0 if pattern == "ccw" else -1.0)

    frames = np.empty((num_frames, h, w, 3), np.uint8)
    for t in range(num_frames):
        rot = cv2.getRotationMatrix2D((cx, cy), theta0 + omega * t, 1.0)
        # Rotate about the sprite's own centre first (no wrap), then translate
        # with BORDER_WRAP: rotating a wrapped tiling would move its copies.
        col_r = cv2.warpAffine(colour, rot, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)
        alp_r = cv2.warpAffine(alpha, rot, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)
        shift = np.float32([[1, 0, px + vx * t - cx], [0, 1, py + vy * t - cy]])
        col_t = cv2.warpAffine(col_r, shift, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_WRAP)
        alp_t = cv2.warpAffine(alp_r, shift, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_WRAP)[..., None]
        img = bg * (1.0 - alp_t) + col_t * alp_t
        if noise > 0:
            img = img + rng.normal(0.0, noise, size=img.shape)
        frames[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return frames


def write_video(path: str, frames: np.ndarray, fps: float = 25.0, verify: bool = True) -> str:
    """Write BGR ``uint8`` frames to a Motion-JPEG ``.avi`` with OpenCV.

    Args:
        path: Output file (parent folders are created).
        frames: ``(T, H, W, 3)`` ``uint8`` BGR frames.
        fps: Frame rate stored in the container.
        verify: Re-open the file with ``cv2.VideoCapture`` and check that it
            decodes to exactly ``T`` frames of ``H × W``; raise otherwise.

    Returns:
        ``path``.

    Raises:
        RuntimeError: OpenCV could not open a writer, or the written file does
            not decode back to the expected frames.

    Example:
        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.avi")
        >>> _ = write_video(p, np.zeros((4, 32, 32, 3), np.uint8))
    """
    cv2 = optional_import("cv2", "writing videos")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # MJPG in AVI: every frame is an independent JPEG, so the file decodes with
    # any FFmpeg-enabled OpenCV build and the frame count is exact.
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), float(fps), (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter could not open {path!r} (MJPG/AVI)")
    try:
        for f in frames:
            writer.write(np.ascontiguousarray(f))
    finally:
        writer.release()
    if verify:
        cap = cv2.VideoCapture(path)
        n = 0
        try:
            while True:
                ok, f = cap.read()
                if not ok:
                    break
                if f.shape != (h, w, 3):
                    raise RuntimeError(f"{path!r} decodes to frames of {f.shape}, expected {(h, w, 3)}")
                n += 1
        finally:
            cap.release()
        if n != t:
            raise RuntimeError(f"{path!r} decodes to {n} frames, expected {t}")
    return path


def write_corrupt_video(path: str, kind: str = "garbage", seed: int = 0,
                        source: Optional[str] = None) -> str:
    """Write a file that looks like a video by name but cannot be decoded.

    Used by tests of the ``on_bad`` handling of the readers.

    Args:
        path: Output path (e.g. ``<root>/<Class>/v_<Class>_g99_c01.avi``).
        kind: ``"garbage"`` (random bytes), ``"empty"`` (zero bytes) or
            ``"truncated"`` (the first half of ``source``, a valid AVI; OpenCV
            cannot open an AVI whose index was cut off).
        seed: Seed of the random bytes for ``"garbage"``.
        source: A valid video, required for ``"truncated"``.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> p = write_corrupt_video(os.path.join(tempfile.mkdtemp(), "bad.avi"))
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if kind == "garbage":
        data = np.random.default_rng(seed).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    elif kind == "empty":
        data = b""
    elif kind == "truncated":
        if source is None or not os.path.isfile(source):
            raise ValueError("kind='truncated' needs source=<path of a valid video>")
        with open(source, "rb") as fh:
            full = fh.read()
        data = full[: len(full) // 2]
    else:
        raise ValueError(f"kind must be 'garbage', 'empty' or 'truncated', got {kind!r}")
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _video_name(class_name: str, group: int, clip: int = 1) -> str:
    return f"v_{class_name}_g{group:02d}_c{clip:02d}"


def make_motion_videos(
    out: str,
    classes: Sequence[str] = ("left", "right", "up", "down"),
    videos_per_class: int = 8,
    num_frames: int = 16,
    size: Union[int, Sequence[int]] = 64,
    seed: int = 0,
    fps: float = 25.0,
    test_fraction: float = 0.25,
    layout: str = "ucf101",
    progress: bool = True,
    verify: bool = True,
    noise: float = 3.0,
) -> MotionVideoSet:
    """Write a seeded UCF-101-style data set of motion-pattern videos.

    Each video is its own UCF "group" ``gXX`` (clip ``c01``).  As in UCF-101
    split 1, the *first* groups of every class form the test list: the first
    ``max(1, round(videos_per_class * test_fraction))`` groups are test, the
    rest train.

    Args:
        out: Root folder to write (created; existing files are overwritten).
        classes: Pattern keys from :data:`PATTERNS`, in label order.
        videos_per_class: Videos per class (>= 2, so both splits are non-empty).
        num_frames: Frames per video (>= 2).
        size: Frame size, an int or ``(height, width)``.
        seed: Seed; the same seed writes byte-identical frames.  Each video's
            generator is derived from ``(seed, class index, video index)``, so
            adding videos does not change the existing ones.
        fps: Frame rate stored in the AVI files.
        test_fraction: Fraction of each class's groups in the test list.
        layout: ``"ucf101"`` (``.avi`` files + ``ucfTrainTestlist``),
            ``"frames"`` (only ``<out>/frames/<split>/<class>/<video>/NNNNN.jpg``
            plus ``<out>/frames/classInd.txt``) or ``"both"``.
        progress: Show a tqdm progress bar.
        verify: Decode every written ``.avi`` back and check its frame count.
        noise: Per-frame pixel noise (see :func:`render_motion_video`).

    Returns:
        A :class:`MotionVideoSet` describing what was written.

    Example:
        >>> import tempfile
        >>> ds = make_motion_videos(tempfile.mkdtemp(), classes=("left", "right"),
        ...                         videos_per_class=4, num_frames=8, size=32,
        ...                         progress=False)
        >>> ds.class_names
        ['MoveLeft', 'MoveRight']
    """
    classes = list(classes)
    if not classes:
        raise ValueError("classes must name at least one pattern")
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"unknown motion pattern(s) {unknown}; choose from {list(PATTERNS)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes contains duplicates: {classes}")
    # Two videos per class at least, so that both splits get one.
    videos_per_class = check_int("videos_per_class", videos_per_class, minimum=2)
    test_fraction = check_float("test_fraction", test_fraction, 0.0, 1.0,
                                min_inclusive=False, max_inclusive=False)
    one_of("layout", layout, ("ucf101", "frames", "both"))
    num_frames = check_int("num_frames", num_frames, minimum=2)
    h, w = _as_size(size)
    cv2 = optional_import("cv2", "writing synthetic videos")
    n_test = min(videos_per_class - 1, max(1, int(round(videos_per_class * test_fraction))))

    out = os.path.abspath(out)
    split_dir = os.path.join(out, "ucfTrainTestlist")
    frames_root = os.path.join(out, "frames") if layout in ("frames", "both") else None
    write_avi = layout in ("ucf101", "both")
    class_names = [CLASS_NAMES[c] for c in classes]

    jobs = [(ci, vi) for ci in range(len(classes)) for vi in range(videos_per_class)]
    train: List[Tuple[str, int]] = []
    test: List[Tuple[str, int]] = []
    with progress_bar(len(jobs), progress, "motion videos", "video") as bar:
        for ci, vi in jobs:
            cname = class_names[ci]
            group = vi + 1
            stem = _video_name(cname, group)
            rel = f"{cname}/{stem}.avi"
            is_test = group <= n_test
            rng = np.random.default_rng([int(seed), ci, vi])
            frames = render_motion_video(classes[ci], num_frames, (h, w), rng, noise=noise)
            if write_avi:
                write_video(os.path.join(out, cname, stem + ".avi"), frames, fps=fps, verify=verify)
            if frames_root is not None:
                vdir = os.path.join(frames_root, "test" if is_test else "train", cname, stem)
                os.makedirs(vdir, exist_ok=True)
                for t, f in enumerate(frames):
                    # Zero-padded names sort correctly as plain strings too.
                    if not cv2.imwrite(os.path.join(vdir, f"{t + 1:05d}.jpg"), f):
                        raise RuntimeError(f"cv2.imwrite failed in {vdir!r}")
            (test if is_test else train).append((rel, ci))
            bar.update(1)

    class_ind = "".join(f"{i + 1} {name}\n" for i, name in enumerate(class_names))
    if write_avi:
        os.makedirs(split_dir, exist_ok=True)
        with open(os.path.join(split_dir, "classInd.txt"), "w") as fh:
            fh.write(class_ind)
        with open(os.path.join(split_dir, "trainlist01.txt"), "w") as fh:
            fh.write("".join(f"{rel} {lab + 1}\n" for rel, lab in train))
        with open(os.path.join(split_dir, "testlist01.txt"), "w") as fh:
            fh.write("".join(f"{rel}\n" for rel, _ in test))
    if frames_root is not None:
        # Pins the label order of the frames layout (the reader prefers it to
        # guessing from folder names, which could differ between splits).
        with open(os.path.join(frames_root, "classInd.txt"), "w") as fh:
            fh.write(class_ind)

    return MotionVideoSet(
        root=out,
        class_names=class_names,
        patterns=classes,
        split_dir=split_dir,
        train=train,
        test=test,
        frames_root=frames_root,
        num_frames=num_frames,
        size=(h, w),
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point (``python -m scs_keras.data.synthetic.motion_videos``)."""
    p = argparse.ArgumentParser(
        prog="python -m scs_keras.data.synthetic.motion_videos",
        description="Write a synthetic UCF-101-style data set whose classes are motions.",
    )
    p.add_argument("--out", required=True, help="output root folder")
    p.add_argument("--classes", default="left,right,up,down",
                   help=f"comma-separated patterns from {','.join(PATTERNS)}")
    p.add_argument("--videos-per-class", type=int, default=8)
    p.add_argument("--frames", type=int, default=16, help="frames per video")
    p.add_argument("--size", type=int, nargs="+", default=[64],
                   help="frame size: one int, or height width")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--layout", choices=("ucf101", "frames", "both"), default="ucf101")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    size = args.size[0] if len(args.size) == 1 else tuple(args.size)
    info = make_motion_videos(
        args.out,
        classes=[c.strip() for c in args.classes.split(",") if c.strip()],
        videos_per_class=args.videos_per_class,
        num_frames=args.frames,
        size=size,
        seed=args.seed,
        fps=args.fps,
        test_fraction=args.test_fraction,
        layout=args.layout,
        progress=not args.no_progress,
    )
    print(f"wrote {len(info.train)} train + {len(info.test)} test videos of "
          f"{len(info.class_names)} classes to {info.root}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
