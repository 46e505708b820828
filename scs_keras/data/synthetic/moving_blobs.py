"""In-memory sequences whose class is the direction a blob moves.

A Gaussian blob starts at a uniformly random position on a torus (it wraps
around the frame edges) and moves left, right, up or down.  Because the start
position is uniform and the motion wraps, the blob's position is uniformly
distributed in *every* frame for every class: no single frame carries any
information about the class, so a per-frame model stays at chance while a
model with memory can reach 100%.  It is the quick learning check used by the
tests and the quick-start demo; the video-file generator for the action task
is ``scs_keras.data.synthetic.motion_videos``.
"""

import numpy as np

from scs_keras.utils.validation import check_int, positive_int

DIRECTIONS = ("left", "right", "up", "down")
_VELOCITY = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def make_moving_blobs(num_samples, num_frames=6, size=12, speed=(1.0, 2.0),
                      blob_width=1.2, seed=0):
    """Generates blob-motion sequences and their direction labels.

    Args:
        num_samples: Number of sequences (classes are balanced, cycling).
        num_frames: Frames per sequence (>= 2: motion needs two frames).
        size: Frame height and width in pixels (>= 4).
        speed: ``(low, high)`` speed range in pixels per frame.
        blob_width: Standard deviation of the Gaussian blob in pixels.
        seed: Seed of the NumPy generator.

    Returns:
        ``(frames, labels)``: float32 ``(num_samples, num_frames, size, size,
        1)`` in [0, 1] and int32 ``(num_samples,)`` indexing ``DIRECTIONS``.

    Example:

    >>> x, y = make_moving_blobs(8, num_frames=4, size=8)
    >>> x.shape, y[:4].tolist()
    ((8, 4, 8, 8, 1), [0, 1, 2, 3])
    """
    num_samples = positive_int("num_samples", num_samples)
    num_frames = check_int("num_frames", num_frames, minimum=2)
    size = check_int("size", size, minimum=4)
    rng = np.random.default_rng(seed)
    labels = (np.arange(num_samples) % len(DIRECTIONS)).astype("int32")
    start = rng.uniform(0, size, (num_samples, 2))
    speeds = rng.uniform(speed[0], speed[1], num_samples)
    velocity = np.array([_VELOCITY[DIRECTIONS[c]] for c in labels], "float64")
    velocity *= speeds[:, None]
    t = np.arange(num_frames)
    centres = (start[:, None, :] + velocity[:, None, :] * t[None, :, None]) % size
    grid = np.arange(size)
    # Wrapped distance along each axis, so the blob is whole at the edges.
    dist = np.abs(grid[None, None, :, None] - centres[:, :, None, :])
    dist = np.minimum(dist, size - dist)  # (N, T, size, 2)
    dy2 = dist[..., 0][:, :, :, None] ** 2
    dx2 = dist[..., 1][:, :, None, :] ** 2
    frames = np.exp(-(dy2 + dx2) / (2 * blob_width ** 2))
    return frames[..., None].astype("float32"), labels
