"""Seeded synthetic driving routes in the steering readers' real formats.

A car drives along a winding two-lane road seen through a forward camera.
The road is a chain of clothoids (its curvature changes linearly with the
distance between random knots, with straight stretches), the car keeps to the
right lane with a steering controller that looks a little ahead, and a slowly
varying "weave" (a smoothed random process, like a driver's small
corrections) is added to the curvature it steers.  Speed varies smoothly
between about 6 and 32 m/s.  The logged angle is the steering-wheel angle of
a car with a 2.7 m wheelbase and a 15:1 steering ratio,
``degrees(15 * atan(2.7 * curvature))``; positive turns left.

Why one frame is not enough: a frame shows the road ahead (its curvature,
the car's offset and heading in the lane), but the weave part of the
steering only shows as motion between frames: the distant hills on the
horizon slide sideways at the car's yaw rate (speed times the steered
curvature), and the lane dashes and ground texture move at the speed.

Rendering: a pinhole camera 1.3 m above flat ground (focal length 0.8 x
image width, horizon at 42 % of the height), the road with solid edge lines
and a dashed centre line drawn with per-pixel coverage (so thin far lines
fade instead of flickering), textured grass, sky and a silhouette of hills
that turns with the car's heading.  Road conditions change per segment of
``segment_frames`` frames (drawn at random): lighting ``day`` / ``dusk`` /
``night`` (darker, tinted; at night only the headlight cone is lit), lane
markings ``lanes`` / ``no_lanes`` and weather ``clear`` / ``rain`` (streaks
and sensor noise) / ``haze`` (contrast fading with distance).  They are
written per route to ``conditions/<route>.json``
(:func:`scs_keras.data.driving.write_route_conditions`) and come back per
clip through the readers' ``"condition"`` target, labels such as
``"night/no_lanes/rain"``.

Writers:

- :func:`write_comma_like`: the comma.ai layout, ``camera/<route>.h5``
  (``X`` uint8 ``(N, 3, H, W)``, RGB, 20 Hz, one frame per chunk) and
  ``log/<route>.h5`` at 100 Hz, five rows per frame: ``steering_angle``,
  ``speed``, ``times`` and ``cam1_ptr`` (float, like the published files).
  Frame ``k`` shows the scene at its last log row ``5k + 4``.
- :func:`write_video_csv_like`: ``<route>.avi`` (Motion-JPEG, 20 fps) and
  ``<route>.csv`` (``timestamp,steering_angle,speed`` at 100 Hz, seconds from
  the first frame, so frame ``k`` at ``k / 20`` s has a row at the same time).

A few log rows per route get a glitch angle (|angle| of 250..700 degrees),
as real logs have; the manifest lists them.

Example:

>>> manifest = write_comma_like("out/roads", num_routes=2, frames_per_route=60,
...                             image_size=(40, 80), progress=False)  # doctest: +SKIP
>>> manifest.routes                                                 # doctest: +SKIP
['route_000', 'route_001']
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from scs_keras.data.driving import write_route_conditions
from scs_keras.utils.optional import optional_import
from scs_keras.utils.validation import image_hw, non_negative_int, positive_int

__all__ = [
    "LIGHTING",
    "LANE_MARKINGS",
    "WEATHER",
    "CONDITION_FACTORS",
    "CAMERA_HZ",
    "LOG_HZ",
    "RoadsManifest",
    "simulate_drive",
    "draw_condition_segments",
    "render_frame",
    "write_comma_like",
    "write_video_csv_like",
]

LIGHTING = ("day", "dusk", "night")
LANE_MARKINGS = ("lanes", "no_lanes")
WEATHER = ("clear", "rain", "haze")
#: Condition factors, in the order of the labels ("day/lanes/clear").
CONDITION_FACTORS = ("lighting", "lane_markings", "weather")
_FACTOR_VALUES = {"lighting": LIGHTING, "lane_markings": LANE_MARKINGS, "weather": WEATHER}

CAMERA_HZ = 20
LOG_HZ = 100
_ROWS_PER_FRAME = LOG_HZ // CAMERA_HZ
STEERING_RATIO = 15.0
#: Driver weave: std (1/m) and time constant (s) of the curvature added to the
#: lane-keeping command.
WEAVE_STD, WEAVE_TIME = 0.003, 0.6
#: Natural frequency (rad/s) of the lane-keeping loop.
LANE_KEEPING_OMEGA = 1.5
WHEELBASE_M = 2.7

_LANE_WIDTH = 3.5        # m; the car keeps to the centre of the right lane
_PAINT_HALF = 0.08       # m, half width of a painted line
_DASH, _DASH_PERIOD = 3.0, 9.0
_CAMERA_HEIGHT = 1.3     # m
_FOCAL = 0.8             # x image width
_HORIZON = 0.42          # x image height
_ROAD_STEP = 0.5         # m, resolution of the road profile
_LOOK_AHEAD = 160.0      # m of road ahead that are drawn
_FAR = 1e4               # m, stands in for the distance of sky rows


@dataclasses.dataclass
class RoadsManifest:
    """What a writer wrote.

    Attributes:
        out_dir: The output folder.
        layout: ``"comma"`` or ``"video_csv"``.
        routes: Route names, in order.
        frames_per_route: Camera frames per route.
        image_size: ``(H, W)`` of the frames.
        glitch_rows: ``route -> sorted log/CSV row indices`` holding a glitch angle.
        seed: The seed.
    """

    out_dir: str
    layout: str
    routes: list
    frames_per_route: int
    image_size: tuple
    glitch_rows: dict
    seed: int


# ----------------------------------------------------------------------------
# Driving simulation (100 Hz).
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class _Road:
    """Curvature and heading of the road centre line on a grid of arc length."""

    curvature: np.ndarray   # 1/m, positive turns left
    heading: np.ndarray     # rad

    def at(self, table, s):
        """Linear interpolation of ``table`` (curvature or heading) at arc length ``s``."""
        pos = np.clip(np.asarray(s, dtype=np.float64) / _ROAD_STEP, 0.0, table.size - 1.0)
        i = np.minimum(pos.astype(np.int64), table.size - 2)
        return table[i] + (pos - i) * (table[i + 1] - table[i])


def _make_road(rng, length_m) -> _Road:
    """Clothoid chain: curvature linear between knots 25..60 m apart."""
    knots = [0.0]
    while knots[-1] < length_m:
        knots.append(knots[-1] + rng.uniform(25.0, 60.0))
    radius = rng.uniform(45.0, 250.0, size=len(knots))
    values = np.where(rng.random(len(knots)) < 0.35, 0.0,
                      rng.choice([-1.0, 1.0], size=len(knots)) / radius)
    values[0] = 0.0
    s = np.arange(0.0, knots[-1] + _ROAD_STEP, _ROAD_STEP)
    curvature = np.interp(s, knots, values)
    # Trapezoid rule: the exact integral of the piecewise-linear curvature.
    heading = np.concatenate([[0.0], np.cumsum(curvature[:-1] + curvature[1:]) * _ROAD_STEP / 2])
    return _Road(curvature, heading)


@dataclasses.dataclass
class _Drive:
    """Per log row state of a simulated drive."""

    road: _Road
    times: np.ndarray
    speed: np.ndarray          # m/s
    distance: np.ndarray       # m along the road
    offset: np.ndarray         # m left of the lane centre
    heading_error: np.ndarray  # rad, car heading minus road heading
    yaw: np.ndarray            # rad, absolute car heading
    steering_angle: np.ndarray  # degrees (steering wheel), positive left
    hills: np.ndarray          # phases of the horizon silhouette


def _smooth_noise(rng, n, dt, tau, sigma, smoothing=0.25):
    """A smooth random process with stationary std ``sigma``.

    An Ornstein-Uhlenbeck process (time constant ``tau``) passed through a
    first-order low-pass filter (time constant ``smoothing``): the OU process
    alone has no derivative, which would make steering and speed jitter from
    one log row to the next.
    """
    a = dt / tau
    c = dt / smoothing
    # Stationary variance of the filtered process is sigma_ou^2 * c' / (a' + c')
    # with the continuous rates a' = 1/tau, c' = 1/smoothing.
    sigma_ou = sigma * np.sqrt((1.0 / tau + 1.0 / smoothing) * smoothing)
    step = sigma_ou * np.sqrt(2.0 * a)
    x = rng.normal(0.0, sigma_ou)
    y = x
    out = np.empty(n)
    for i, xi in enumerate(rng.normal(size=n)):
        x += -a * x + step * xi
        y += c * (x - y)
        out[i] = y
    return out


def simulate_drive(num_rows, rng) -> _Drive:
    """Simulates ``num_rows`` log rows (100 Hz) of a car following the lane.

    The car steers the curvature ``k_road(s + 0.4 v) - (w / v)**2 * offset
    - (1.6 w / v) * heading_error + weave`` (a lane-keeping loop of natural
    frequency ``w = LANE_KEEPING_OMEGA``, damping 0.8, looking 0.4 s ahead;
    limited to a 20 m radius) and moves along the road by its offset from the
    lane centre and its heading relative to the road; its heading turns at
    exactly ``speed * curvature`` per second.

    Args:
        num_rows: Rows to simulate.
        rng: A ``numpy.random.Generator``.

    Returns:
        The per-row state (private structure used by :func:`render_frame`).
    """
    num_rows = positive_int("num_rows", num_rows)
    dt = 1.0 / LOG_HZ
    t = np.arange(num_rows) * dt
    base = rng.uniform(12.0, 25.0)
    speed = base + rng.uniform(2.0, 6.0) * np.sin(2 * np.pi * t / rng.uniform(20.0, 60.0)
                                                   + rng.uniform(0, 2 * np.pi))
    speed = np.clip(speed + _smooth_noise(rng, num_rows, dt, 4.0, 1.5), 6.0, 32.0)
    distance = np.concatenate([[0.0], np.cumsum(speed[:-1]) * dt])
    road = _make_road(rng, distance[-1] + _LOOK_AHEAD + 2 * _ROAD_STEP + 40.0)
    weave = _smooth_noise(rng, num_rows, dt, WEAVE_TIME, WEAVE_STD)
    omega, zeta = LANE_KEEPING_OMEGA, 0.8
    offset = np.empty(num_rows)
    heading_error = np.empty(num_rows)
    steered = np.empty(num_rows)
    d, psi = rng.normal(0.0, 0.2), rng.normal(0.0, 0.01)
    for i in range(num_rows):
        v, s = speed[i], distance[i]
        kappa = (road.at(road.curvature, s + 0.4 * v) - (omega / v) ** 2 * d
                 - (2 * zeta * omega / v) * psi + weave[i])
        kappa = float(np.clip(kappa, -0.05, 0.05))
        offset[i], heading_error[i], steered[i] = d, psi, kappa
        d += v * np.sin(psi) * dt
        # The car turns by v * kappa * dt; the road under it by its exact
        # heading change, so the yaw rate is exactly v * kappa.
        psi += v * kappa * dt - (road.at(road.heading, s + v * dt) - road.at(road.heading, s))
    yaw = road.at(road.heading, distance) + heading_error
    angle = np.degrees(STEERING_RATIO * np.arctan(WHEELBASE_M * steered))
    return _Drive(road, t, speed, distance, offset, heading_error, yaw, angle,
                  rng.uniform(0, 2 * np.pi, size=3))


def draw_condition_segments(num_frames, segment_frames, rng) -> list:
    """Random road conditions for consecutive segments of frames.

    Args:
        num_frames: Frames of the route.
        segment_frames: Frames per segment (the last may be shorter).
        rng: A ``numpy.random.Generator``.

    Returns:
        A list of ``{"start", "stop", "lighting", "lane_markings", "weather"}``
        dicts tiling ``[0, num_frames)``.
    """
    segments = []
    for start in range(0, num_frames, segment_frames):
        seg = {"start": start, "stop": min(start + segment_frames, num_frames)}
        seg.update({f: str(rng.choice(_FACTOR_VALUES[f])) for f in CONDITION_FACTORS})
        segments.append(seg)
    return segments


# ----------------------------------------------------------------------------
# Rendering.
# ----------------------------------------------------------------------------


def _coverage(q, centre, half, pixel):
    """Fraction of each pixel (width ``pixel`` m) inside ``|q - centre| <= half``."""
    return np.clip((half - np.abs(q - centre)) / pixel + 0.5, 0.0, 1.0)


def _road_ahead(drive, row):
    """Lane centre ahead in the car frame: forward X, left Y, arc length."""
    s = drive.distance[row]
    sigma = np.arange(0.0, _LOOK_AHEAD, _ROAD_STEP)
    theta = (drive.road.at(drive.road.heading, s + sigma) - drive.road.at(drive.road.heading, s)
             - drive.heading_error[row])
    psi, d = drive.heading_error[row], drive.offset[row]
    x = d * np.sin(psi) + np.concatenate([[0.0], np.cumsum(np.cos(theta[:-1]))]) * _ROAD_STEP
    y = -d * np.cos(psi) + np.concatenate([[0.0], np.cumsum(np.sin(theta[:-1]))]) * _ROAD_STEP
    # Draw the road while it still heads away from the camera (x increasing).
    turned = np.flatnonzero(np.cos(theta) < 0.25)
    end = int(turned[0]) if turned.size else sigma.size
    return x[:max(end, 2)], y[:max(end, 2)], sigma[:max(end, 2)]


def render_frame(drive, row, condition, image_size, rng) -> np.ndarray:
    """Draws the camera frame at log row ``row`` under ``condition``.

    Args:
        drive: A simulated drive (:func:`simulate_drive`).
        row: Log row whose state is drawn.
        condition: Dict with ``lighting``, ``lane_markings`` and ``weather``.
        image_size: ``(H, W)``.
        rng: Generator for the rain streaks and sensor noise.

    Returns:
        ``uint8`` RGB ``(H, W, 3)``.
    """
    h, w = image_hw("image_size", image_size)
    focal, cx, horizon = _FOCAL * w, (w - 1) / 2.0, _HORIZON * h
    yy = np.arange(h, dtype=np.float64)[:, None] + 0.5
    uu = np.arange(w, dtype=np.float64)[None, :]
    below = yy - horizon
    ground = below > 0.3
    # Ground distance of each row (sky rows get a far, finite stand-in: masked below).
    z = np.where(ground, focal * _CAMERA_HEIGHT / np.maximum(below, 0.3), _FAR)  # (H, 1)
    pixel = z / focal                              # metres per pixel across
    lateral = (cx - uu) * pixel                    # (H, W), left positive

    x_ahead, y_ahead, sigma = _road_ahead(drive, row)
    on_road_rows = ground & (z <= x_ahead[-1])
    zc = np.where(on_road_rows, z, x_ahead[0])
    q = lateral - np.interp(zc, x_ahead, y_ahead)  # left of the lane centre
    along = drive.distance[row] + np.interp(zc, x_ahead, sigma)

    # Ground: grass with stripes that move with the car, asphalt, paint.
    grass = np.array([0.25, 0.45, 0.18]) * (
        1.0 + 0.15 * np.sin(2 * np.pi * along / 6.0) * np.cos(0.7 * q))[..., None]
    asphalt = np.array([0.38, 0.38, 0.40]) * (1.0 + 0.05 * np.sin(2 * np.pi * along / 2.3))[..., None]
    road = _coverage(q, _LANE_WIDTH / 2, _LANE_WIDTH + 0.3, pixel) * on_road_rows
    img = grass + road[..., None] * (asphalt - grass)
    if condition["lane_markings"] == "lanes":
        dashes = (np.mod(along, _DASH_PERIOD) < _DASH).astype(np.float64)
        paint = np.maximum.reduce([
            _coverage(q, -_LANE_WIDTH / 2, _PAINT_HALF, pixel),
            _coverage(q, 1.5 * _LANE_WIDTH, _PAINT_HALF, pixel),
            _coverage(q, _LANE_WIDTH / 2, _PAINT_HALF, pixel) * dashes]) * on_road_rows
        img += paint[..., None] * (np.array([0.92, 0.92, 0.85]) - img)

    # Sky and hills: the silhouette is fixed in the world, so it slides
    # sideways as the car turns (the yaw rate shows only across frames).
    bearing = drive.yaw[row] + np.arctan((cx - uu) / focal)
    p = drive.hills
    top = horizon - focal * (0.04 + 0.015 * np.sin(3 * bearing + p[0])
                             + 0.01 * np.sin(7 * bearing + p[1]) + 0.006 * np.sin(17 * bearing + p[2]))
    up = np.clip((horizon - yy) / horizon, 0.0, 1.0)[..., None]
    lighting = condition["lighting"]
    sky_low, sky_high = {"day": ([0.75, 0.85, 0.95], [0.35, 0.55, 0.85]),
                         "dusk": ([0.95, 0.6, 0.35], [0.3, 0.25, 0.45]),
                         "night": ([0.05, 0.05, 0.1], [0.01, 0.01, 0.04])}[lighting]
    sky = np.array(sky_low) + up * (np.array(sky_high) - np.array(sky_low))
    hill = np.clip(yy - top + 0.5, 0.0, 1.0)[..., None]   # coverage of the silhouette
    above = ~ground[..., None]
    img = np.where(above, sky + hill * (np.array([0.33, 0.38, 0.42]) - sky), img)

    # Lighting.
    if lighting == "dusk":
        img = np.where(above, img, img * 0.6 * np.array([1.1, 0.85, 0.7]))
    elif lighting == "night":
        beam = np.clip(0.3 * z + 2.5 - np.abs(lateral), 0.0, 1.0)
        light = 0.1 + 1.1 * np.exp(-(z - 3.5) / 15.0) * beam
        img = np.where(above, img * 0.3, img * np.minimum(light, 1.0)[..., None])

    # Weather and sensor noise.
    weather = condition["weather"]
    if weather == "haze":
        fog = np.where(ground, 1.0 - np.exp(-z / 50.0), 1.0)[..., None] * 0.85
        tone = {"day": 0.75, "dusk": 0.45, "night": 0.1}[lighting]
        img = img * (1.0 - fog) + fog * tone
    elif weather == "rain":
        cv2 = optional_import("cv2", "drawing synthetic rain")
        img = np.ascontiguousarray(img * 0.85 + 0.03, dtype=np.float32)
        for _ in range(max(2, h * w // 600)):
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            length = rng.uniform(0.05, 0.15) * h
            cv2.line(img, (int(x0), int(y0)), (int(x0 + 0.2 * length), int(y0 + length)),
                     (0.8, 0.8, 0.85), 1)
        img = img + rng.normal(0.0, 0.03, img.shape)
    img = img + rng.normal(0.0, 0.01, img.shape)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------
# Writers.
# ----------------------------------------------------------------------------


def _check_writer_args(num_routes, frames_per_route, image_size, seed, segment_frames,
                       glitch_rows):
    return (positive_int("num_routes", num_routes),
            positive_int("frames_per_route", frames_per_route),
            image_hw("image_size", image_size), non_negative_int("seed", seed),
            positive_int("segment_frames", segment_frames),
            non_negative_int("glitch_rows", glitch_rows))


def _routes(out_dir, num_routes, frames_per_route, image_size, seed, segment_frames,
            glitch_rows, progress, desc):
    """Yields ``(name, drive, glitch rows, frame iterator)`` per route.

    Every route has its own generator seeded by ``(seed, index)``, so a route
    does not change when more routes are asked for.  Writes the condition file.
    """
    tqdm = optional_import("tqdm", "progress bars").tqdm
    with tqdm(total=num_routes * frames_per_route, disable=not progress, desc=desc,
              unit="frame") as bar:
        for index in range(num_routes):
            name = f"route_{index:03d}"
            rng = np.random.default_rng([seed, index])
            drive = simulate_drive(frames_per_route * _ROWS_PER_FRAME, rng)
            glitches = np.sort(rng.choice(drive.times.size, size=min(glitch_rows, drive.times.size),
                                          replace=False))
            drive.steering_angle[glitches] = (rng.choice([-1.0, 1.0], size=glitches.size)
                                              * rng.uniform(250.0, 700.0, size=glitches.size))
            segments = draw_condition_segments(frames_per_route, segment_frames, rng)
            write_route_conditions(os.path.join(out_dir, "conditions", f"{name}.json"),
                                   frames_per_route, segments, CONDITION_FACTORS)

            def frames(drive=drive, segments=segments, rng=rng):
                for seg in segments:
                    for k in range(seg["start"], seg["stop"]):
                        # Frame k shows the state of its last log row.
                        yield render_frame(drive, _ROWS_PER_FRAME * k + _ROWS_PER_FRAME - 1,
                                           seg, image_size, rng)
                        bar.update(1)

            yield name, drive, [int(g) for g in glitches], frames()


def write_comma_like(out_dir, num_routes=4, frames_per_route=400, image_size=(160, 320),
                     seed=0, progress=True, segment_frames=100, glitch_rows=3) -> RoadsManifest:
    """Writes synthetic routes in the comma.ai research layout.

    Args:
        out_dir: Output folder; ``camera/``, ``log/`` and ``conditions/`` are
            created in it.
        num_routes: Routes to write.
        frames_per_route: Camera frames per route (20 Hz).
        image_size: ``(H, W)`` of the frames (the published data: 160 x 320).
        seed: Seed of everything (roads, driving, conditions, noise).
        progress: Show a tqdm progress bar.
        segment_frames: Frames per road-condition segment.
        glitch_rows: Log rows per route given a glitch angle.

    Returns:
        A :class:`RoadsManifest`.
    """
    h5py = optional_import("h5py", "writing comma.ai HDF5 routes")
    num_routes, frames_per_route, (h, w), seed, segment_frames, glitch_rows = _check_writer_args(
        num_routes, frames_per_route, image_size, seed, segment_frames, glitch_rows)
    out_dir = os.fspath(out_dir)
    for sub in ("camera", "log"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    manifest = RoadsManifest(out_dir, "comma", [], frames_per_route, (h, w), {}, seed)
    for name, drive, glitches, frames in _routes(out_dir, num_routes, frames_per_route, (h, w),
                                                 seed, segment_frames, glitch_rows, progress,
                                                 "comma-like routes"):
        with h5py.File(os.path.join(out_dir, "camera", f"{name}.h5"), "w") as cam:
            # One frame per chunk: a clip is a cheap hyperslab read.
            x = cam.create_dataset("X", shape=(frames_per_route, 3, h, w), dtype=np.uint8,
                                   chunks=(1, 3, h, w))
            for k, frame in enumerate(frames):
                x[k] = frame.transpose(2, 0, 1)
        with h5py.File(os.path.join(out_dir, "log", f"{name}.h5"), "w") as log:
            log["steering_angle"] = drive.steering_angle
            log["speed"] = drive.speed
            log["times"] = drive.times
            log["cam1_ptr"] = (np.arange(drive.times.size) // _ROWS_PER_FRAME).astype(np.float64)
        manifest.routes.append(name)
        manifest.glitch_rows[name] = glitches
    return manifest


def write_video_csv_like(out_dir, num_routes=2, frames_per_route=200, image_size=(160, 320),
                         seed=0, progress=True, segment_frames=100,
                         glitch_rows=3) -> RoadsManifest:
    """Writes synthetic routes as ``<route>.avi`` + ``<route>.csv``.

    The same drives as :func:`write_comma_like` with the same arguments.
    Each route's frames are held in memory while its video is written, so
    keep routes short.  CSV rows start at the first frame's time (the four
    earlier log rows of the comma layout are not written); ``glitch_rows``
    of the manifest are CSV data-row indices (0 = first row after the header).

    Args:
        out_dir: Output folder (``conditions/`` is created in it).
        num_routes, frames_per_route, image_size, seed, progress,
        segment_frames, glitch_rows: As in :func:`write_comma_like`.

    Returns:
        A :class:`RoadsManifest`.
    """
    from scs_keras.data.synthetic.motion_videos import write_video

    num_routes, frames_per_route, (h, w), seed, segment_frames, glitch_rows = _check_writer_args(
        num_routes, frames_per_route, image_size, seed, segment_frames, glitch_rows)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    manifest = RoadsManifest(out_dir, "video_csv", [], frames_per_route, (h, w), {}, seed)
    first = _ROWS_PER_FRAME - 1   # the row of frame 0
    for name, drive, glitches, frames in _routes(out_dir, num_routes, frames_per_route, (h, w),
                                                 seed, segment_frames, glitch_rows, progress,
                                                 "video+CSV routes"):
        bgr = np.stack([f[:, :, ::-1] for f in frames])
        write_video(os.path.join(out_dir, f"{name}.avi"), bgr, fps=float(CAMERA_HZ))
        with open(os.path.join(out_dir, f"{name}.csv"), "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["timestamp", "steering_angle", "speed"])
            for i in range(first, drive.times.size):
                out.writerow([f"{(i - first) / LOG_HZ:.6f}", repr(float(drive.steering_angle[i])),
                              repr(float(drive.speed[i]))])
        manifest.routes.append(name)
        manifest.glitch_rows[name] = [g - first for g in glitches if g >= first]
    return manifest
