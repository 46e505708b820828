"""Non-learned nowcasting baselines: persistence and optical-flow extrapolation.

Both take observed sequences ``(batch, N, H, W, 1)`` (numpy, on the readers'
[0, 1] scale) and return forecasts ``(batch, M, H, W, 1)`` (float32).

**Persistence** repeats the last observed frame for every lead time.

**Optical-flow extrapolation** (the operational standard of radar nowcasting):

1. Dense optical flow (OpenCV Farneback or DIS) is estimated *backwards* in
   time, from each observed frame to the one before it: ``f(x)`` is where the
   echo now at ``x`` was one step earlier.  With ``flow_frames > 2`` the flows
   of the last ``flow_frames - 1`` pairs are averaged, which damps noise in
   the motion estimate.
2. The motion is assumed stationary (Lagrangian persistence).  Semi-Lagrangian
   backward advection then traces every target pixel back along the flow,
   one step per lead time: ``p_0 = x``, ``p_k = p_{k-1} + f(p_{k-1})`` (the
   flow is sampled at the current departure point with ``cv2.remap``), and the
   forecast for lead ``k`` is the last observed frame sampled at ``p_k``
   (bilinear).  Sampling the *original* last frame at the accumulated
   departure point, instead of re-advecting the previous forecast, avoids
   compounding interpolation blur over lead times.
3. Departure points outside the image take ``outside_value`` (0: no echo
   flows in from beyond the radar's range, the usual assumption).

The wrappers :class:`PersistenceModel` and :class:`OpticalFlowModel` offer a
Keras-like ``predict`` (arrays, tensors or ``tf.data`` datasets) and an
``evaluate`` that feeds the same Keras metrics as the neural models.

Example:
    >>> model = OpticalFlowModel(target_frames=10, method="farneback")
    >>> forecast = model.predict(inputs)              # (B, 10, H, W, 1)
    >>> model.evaluate(dataset, nowcasting_metrics(lead_times=10))
"""

from __future__ import annotations

import numpy as np

from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import check_int, one_of, positive_int

_METHODS = ("farneback", "dis")
#: Farneback parameters suited to radar echoes of tens to hundreds of pixels.
DEFAULT_FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                         poly_sigma=1.2, flags=0)


def _check_inputs(inputs, name="inputs"):
    x = np.asarray(inputs)
    if x.ndim != 5 or x.shape[-1] != 1:
        raise ValueError(f"{name} must be (batch, N, H, W, 1), got shape {x.shape}")
    if x.shape[1] < 1:
        raise ValueError(f"{name} holds no observed frames (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or Inf values")
    return x.astype(np.float32, copy=False)


def _cv2():
    return optional_import("cv2", "the optical-flow baseline")


def _check_target_frames(target_frames):
    return positive_int("target_frames", target_frames)


def _check_flow_frames(flow_frames, observed):
    check_int("flow_frames", flow_frames, minimum=2)
    if observed < flow_frames:
        raise ValueError(f"flow_frames={flow_frames} needs at least that many observed frames, "
                         f"got {observed}")


def persistence_forecast(inputs, target_frames: int) -> np.ndarray:
    """Repeat the last observed frame for every lead time.

    Args:
        inputs: observed frames ``(batch, N, H, W, 1)``.
        target_frames: number of lead times M.

    Returns:
        float32 array ``(batch, M, H, W, 1)``.

    Example:
        >>> persistence_forecast(np.zeros((2, 5, 32, 32, 1)), 10).shape
        (2, 10, 32, 32, 1)
    """
    x = _check_inputs(inputs)
    m = _check_target_frames(target_frames)
    return np.repeat(x[:, -1:], m, axis=1).astype(np.float32)


class _FlowEstimator:
    """Dense optical flow between two [0, 1] frames with OpenCV."""

    def __init__(self, method="farneback", params=None):
        method = one_of("method", str(method).lower(), _METHODS)
        cv2 = _cv2()
        self.method = method
        self.params = dict(params or {})
        if method == "farneback":
            unknown = set(self.params) - set(DEFAULT_FARNEBACK)
            if unknown:
                raise ValueError(f"Unknown Farneback parameter(s) {sorted(unknown)}; "
                                 f"known: {sorted(DEFAULT_FARNEBACK)}")
            self._fb = {**DEFAULT_FARNEBACK, **self.params}
        else:
            preset = self.params.pop("preset", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
            self._dis = cv2.DISOpticalFlow_create(preset)
            for key, value in self.params.items():
                setter = getattr(self._dis, "set" + key[0].upper() + key[1:], None)
                if setter is None:
                    raise ValueError(f"Unknown DIS parameter {key!r} (e.g. 'patchSize', "
                                     "'patchStride', 'finestScale')")
                setter(value)

    def __call__(self, frame0, frame1):
        """Flow f with frame0(y, x) ~ frame1(y + f[..., 1], x + f[..., 0])."""
        if self.method == "farneback":
            # Farneback accepts float images: keep full precision (0..255 range
            # so its internal thresholds behave as for 8-bit input).
            a = (frame0 * 255.0).astype(np.float32)
            b = (frame1 * 255.0).astype(np.float32)
            return _cv2().calcOpticalFlowFarneback(a, b, None, **self._fb)
        # DIS needs 8-bit single-channel input.
        a = np.clip(np.rint(frame0 * 255.0), 0, 255).astype(np.uint8)
        b = np.clip(np.rint(frame1 * 255.0), 0, 255).astype(np.uint8)
        return self._dis.calc(a, b, None)


def estimate_motion(frames, method: str = "farneback", flow_frames: int = 2,
                    flow_params: dict | None = None) -> np.ndarray:
    """Backward motion field of the last observed frames.

    Args:
        frames: ``(N, H, W)`` or ``(N, H, W, 1)`` observed frames on [0, 1].
        method: ``"farneback"`` or ``"dis"``.
        flow_frames: how many of the last frames to use (>= 2); the flows of
            their ``flow_frames - 1`` consecutive pairs are averaged.
        flow_params: OpenCV parameters (Farneback keyword arguments, or DIS
            ``preset`` plus setter names like ``patchSize``).

    Returns:
        float32 ``(H, W, 2)`` field ``f`` (x, y components in pixels per
        step): the echo at ``p`` in the last frame was at ``p + f(p)`` one
        step earlier.

    Example:
        >>> f = estimate_motion(seq[0, :, :, :, 0], flow_frames=3)
    """
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"frames must be (N, H, W) or (N, H, W, 1), got {np.shape(frames)}")
    _check_flow_frames(flow_frames, x.shape[0])
    return _estimate_motion(x, _FlowEstimator(method, flow_params), flow_frames)


def _estimate_motion(x, est, flow_frames):
    """Mean backward flow of the last ``flow_frames - 1`` pairs of (N, H, W)."""
    last = x.shape[0] - 1
    flows = [est(x[k], x[k - 1]) for k in range(last, last - flow_frames + 1, -1)]
    return np.mean(flows, axis=0).astype(np.float32)


def semi_lagrangian_extrapolate(frame, flow, steps: int, outside_value: float = 0.0) -> np.ndarray:
    """Advect one frame ``steps`` times along a stationary backward flow.

    Args:
        frame: ``(H, W)`` field to advect (the last observation).
        flow: ``(H, W, 2)`` backward flow from :func:`estimate_motion`.
        steps: number of lead times.
        outside_value: value for departure points outside the image.

    Returns:
        float32 ``(steps, H, W)``.

    Example:
        >>> fc = semi_lagrangian_extrapolate(last, flow, steps=10)
    """
    img = np.asarray(frame, dtype=np.float32)
    flow = np.asarray(flow, dtype=np.float32)
    if img.ndim != 2 or flow.shape != img.shape + (2,):
        raise ValueError(f"frame must be (H, W) and flow (H, W, 2), got {img.shape} and "
                         f"{flow.shape}")
    steps = _check_target_frames(steps)
    cv2 = _cv2()
    h, w = img.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = gx.copy(), gy.copy()
    fx, fy = np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1])
    out = np.empty((steps, h, w), np.float32)
    for k in range(steps):
        # Flow at the current departure point; beyond the edge, the nearest
        # edge velocity (motion fields are smooth, unlike the echoes).
        dx = cv2.remap(fx, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        dy = cv2.remap(fy, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        map_x += dx
        map_y += dy
        out[k] = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=float(outside_value))
    return out


def optical_flow_forecast(
    inputs,
    target_frames: int,
    method: str = "farneback",
    flow_frames: int = 2,
    flow_params: dict | None = None,
    outside_value: float = 0.0,
) -> np.ndarray:
    """Optical-flow extrapolation of every sequence in a batch.

    Args:
        inputs: observed frames ``(batch, N, H, W, 1)`` on [0, 1].
        target_frames: number of lead times M.
        method: ``"farneback"`` or ``"dis"``.
        flow_frames: frames used for the motion estimate (>= 2, <= N).
        flow_params: OpenCV flow parameters (see :func:`estimate_motion`).
        outside_value: value advected in from outside the image.

    Returns:
        float32 ``(batch, M, H, W, 1)``, clipped to [0, 1].

    Example:
        >>> fc = optical_flow_forecast(inputs, 10, method="dis")
    """
    x = _check_inputs(inputs)
    m = _check_target_frames(target_frames)
    est = _FlowEstimator(method, flow_params)
    _check_flow_frames(flow_frames, x.shape[1])
    out = np.empty((x.shape[0], m) + x.shape[2:], np.float32)
    for b in range(x.shape[0]):
        seq = x[b, ..., 0]
        flow = _estimate_motion(seq, est, flow_frames)
        out[b, ..., 0] = semi_lagrangian_extrapolate(seq[-1], flow, m, outside_value)
    # Bilinear sampling stays within the input range; clip guards round-off.
    return np.clip(out, 0.0, 1.0)


class _BaselineModel:
    """Keras-model-like wrapper: predict / evaluate on arrays or datasets."""

    def __init__(self, target_frames: int, name: str):
        self.target_frames = _check_target_frames(target_frames)
        self.name = name

    def forecast(self, inputs) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, inputs):
        """Forecast one batch (array or tensor)."""
        return self.forecast(np.asarray(inputs))

    @staticmethod
    def _iterate(data, batch_size=None):
        """Yield numpy ``(inputs, targets or None, weights or None)`` batches.

        ``data`` is an array / tensor of inputs, a tuple or list
        ``(inputs, targets[, weights])`` of arrays, or an iterable (e.g. a
        ``tf.data.Dataset``) whose elements are input batches or
        ``(inputs, targets[, weights])`` tuples.
        """
        if batch_size is not None:
            positive_int("batch_size", batch_size)

        def arrays(x, y=None, w=None):
            x = np.asarray(x)
            step = batch_size or max(len(x), 1)
            for i in range(0, len(x), step):
                yield (x[i:i + step], None if y is None else np.asarray(y)[i:i + step],
                       None if w is None else np.asarray(w)[i:i + step])

        if isinstance(data, (tuple, list)) and len(data) in (2, 3) \
                and np.ndim(data[0]) == 5:
            yield from arrays(*data)
        elif isinstance(data, np.ndarray) or hasattr(data, "numpy") or hasattr(data, "__array__"):
            yield from arrays(data)
        elif hasattr(data, "__iter__"):
            for element in data:
                if isinstance(element, (tuple, list)):
                    x = np.asarray(element[0])
                    y = np.asarray(element[1]) if len(element) > 1 else None
                    w = np.asarray(element[2]) if len(element) > 2 else None
                else:
                    x, y, w = np.asarray(element), None, None
                yield x, y, w
        else:
            raise TypeError(f"Cannot read batches from {type(data).__name__}")

    def predict(self, x, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Forecast all sequences.

        Args:
            x: array / tensor ``(batch, N, H, W, 1)``, a tuple
                ``(inputs, targets[, weights])``, or an iterable /
                ``tf.data.Dataset`` of batches (inputs alone or
                ``(inputs, targets[, weights])`` tuples); targets are ignored.
            batch_size: batch size for array input (default: all at once).
            verbose: show a tqdm bar over batches if > 0.

        Returns:
            float32 ``(total, M, H, W, 1)``.

        Example:
            >>> PersistenceModel(10).predict(dataset).shape
        """
        batches = self._iterate(x, batch_size)
        if verbose:
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"{self.name} predict", unit="batch")
        outs = [self.forecast(xb) for xb, _, _ in batches]
        if not outs:
            raise ValueError("predict() got no data")
        return np.concatenate(outs, axis=0)

    def evaluate(self, data, metrics, batch_size: int | None = None) -> dict:
        """Forecast and score with Keras metrics (their state is reset first).

        Args:
            data: ``(inputs, targets[, weights])`` arrays or a dataset of
                ``(inputs, targets[, sample_weight])`` batches.
            metrics: Keras metric instances (e.g. ``nowcasting_metrics(M)``).
            batch_size: batch size for array input.

        Returns:
            ``{metric.name: float or list}`` (lists for per-lead results).

        Example:
            >>> OpticalFlowModel(10).evaluate(ds, [CSI(30.0, lead_times=10)])
        """
        if not metrics:
            raise ValueError("evaluate() needs at least one metric")
        for m in metrics:
            m.reset_state()
        seen = False
        for xb, yb, wb in self._iterate(data, batch_size):
            if yb is None:
                raise ValueError("evaluate() needs targets: pass (inputs, targets) or a dataset "
                                 "of (inputs, targets) batches")
            pred = self.forecast(xb)
            if pred.shape != yb.shape:
                raise ValueError(f"forecast shape {pred.shape} differs from targets {yb.shape}; "
                                 f"is target_frames={self.target_frames} right?")
            for m in metrics:
                m.update_state(yb, pred, sample_weight=wb)
            seen = True
        if not seen:
            raise ValueError("evaluate() got no data")
        results = {}
        for m in metrics:
            r = np.asarray(m.result())
            results[m.name] = r.tolist() if r.ndim else float(r)
        return results


class PersistenceModel(_BaselineModel):
    """Persistence baseline with a Keras-like ``predict`` / ``evaluate``.

    Args:
        target_frames: number of lead times M.
        name: a name for logs.

    Example:
        >>> PersistenceModel(10).predict(np.zeros((1, 5, 32, 32, 1))).shape
        (1, 10, 32, 32, 1)
    """

    def __init__(self, target_frames: int, name: str = "persistence"):
        super().__init__(target_frames, name)

    def forecast(self, inputs) -> np.ndarray:
        """Forecast one batch (see :func:`persistence_forecast`)."""
        return persistence_forecast(inputs, self.target_frames)


class OpticalFlowModel(_BaselineModel):
    """Optical-flow extrapolation baseline with a Keras-like interface.

    Args:
        target_frames: number of lead times M.
        method: ``"farneback"`` (default) or ``"dis"``.
        flow_frames: observed frames used for the motion estimate (>= 2).
        flow_params: OpenCV flow parameters (see :func:`estimate_motion`).
        outside_value: value advected in from outside the image.
        name: a name for logs.

    Example:
        >>> model = OpticalFlowModel(10, method="dis", flow_frames=3)
        >>> forecast = model.predict(dataset)
    """

    def __init__(self, target_frames: int, method: str = "farneback", flow_frames: int = 2,
                 flow_params: dict | None = None, outside_value: float = 0.0,
                 name: str = "optical_flow"):
        super().__init__(target_frames, name)
        _FlowEstimator(method, flow_params)  # validate the arguments now, not per batch
        _check_flow_frames(flow_frames, flow_frames)
        self.method = method
        self.flow_frames = flow_frames
        self.flow_params = flow_params
        self.outside_value = outside_value

    def forecast(self, inputs) -> np.ndarray:
        """Forecast one batch (see :func:`optical_flow_forecast`)."""
        return optical_flow_forecast(inputs, self.target_frames, self.method, self.flow_frames,
                                     self.flow_params, self.outside_value)


#: The task's non-neural models.
BASELINE_NAMES = ("persistence", "optical_flow")


def build_baseline(name, input_frames, target_frames, flow_method="farneback"):
    """A non-neural baseline by name: ``"persistence"`` or ``"optical_flow"``.

    The optical-flow baseline averages the flow of the last two frame pairs
    (it damps noise in the motion estimate), or uses the one pair there is.

    Raises:
        ValueError: an unknown name, or fewer than 2 observed frames for
            optical flow.

    Example:

    >>> build_baseline("persistence", 5, 10).target_frames
    10
    """
    one_of("model", name, BASELINE_NAMES)
    if name == "persistence":
        return PersistenceModel(target_frames)
    return OpticalFlowModel(target_frames, method=flow_method,
                            flow_frames=min(3, max(2, positive_int("input_frames", input_frames))))


__all__ = [
    "BASELINE_NAMES", "build_baseline", "persistence_forecast", "estimate_motion", "semi_lagrangian_extrapolate",
    "optical_flow_forecast", "PersistenceModel", "OpticalFlowModel", "DEFAULT_FARNEBACK",
]
