#!/usr/bin/env python
"""Training-step speed and peak memory of the SCS layers against Keras baselines.

Usage::

    KERAS_BACKEND=tensorflow python benchmarks/bench_layers.py [--quick]
        [--only NAME[,NAME...]] [--json OUT] [--breakdown]

Every configuration runs in its own fresh Python subprocess (so the layers do
not pollute each other's memory measurement or warm each other's caches):

1. build the model and the seeded input, build the optimizer (SGD), and trace
   the training step: a ``tf.function`` (``jit_compile=False``) doing forward
   (``training=True``) + loss + ``GradientTape`` gradient + ``apply_gradients``,
   as ``model.fit`` does;
2. memory baseline: current process RSS (after ``malloc_trim``, peak RSS
   reset) and current TensorFlow allocator usage (after
   ``reset_memory_stats``);
3. ``--warmup`` untimed steps (the first one includes graph optimisation),
   then ``--reps`` timed steps; the time of one step is the median.

Peak memory is the growth over that baseline.  The primary figure (the one the
memory target is checked on) is, on CPU, the process peak RSS (VmHWM, reset via
``/proc/self/clear_refs``; ``ru_maxrss`` where that is unavailable) and, on
GPU, ``tf.config.experimental.get_memory_info('GPU:0')['peak']``.  The
secondary figure is the TensorFlow CPU allocator's peak
(``get_memory_info('CPU:0')``: tensors only, no runtime overhead) on CPU and
the host RSS on GPU.

The script prints a table, ratios against the baselines of the same run next
to the targets of the issue, PASS/MISS per target, and always exits 0 (it is a
measurement, not a test).  See benchmarks/README.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SEED = 1234

# ---------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------

# Shapes per group: (full, quick).
GROUP_SHAPES = {
    # batch, time, rows, cols, channels -> filters, kernel
    "conv": (
        dict(batch=8, steps=10, rows=32, cols=32, channels=16, filters=32,
             kernel=3),
        dict(batch=2, steps=4, rows=16, cols=16, channels=8, filters=8,
             kernel=3),
    ),
    # batch, time, features -> units
    "rnn": (
        dict(batch=64, steps=100, features=128, units=256),
        dict(batch=8, steps=10, features=16, units=32),
    ),
    # 15-layer stacks
    "deep": (
        dict(batch=8, steps=10, rows=32, cols=32, channels=16,
             widths=[16] * 15, strides=1, kernel=3),
        dict(batch=2, steps=4, rows=16, cols=16, channels=8,
             widths=[8] * 4, strides=1, kernel=3),
    ),
    # 6-layer stacks with and without the decoupled streams (modest shapes:
    # the ratio, not the absolute time, is what is measured).
    "decoupled": (
        dict(batch=4, steps=8, rows=16, cols=16, channels=8,
             widths=[16] * 6, strides=1, kernel=3),
        dict(batch=2, steps=4, rows=8, cols=8, channels=4,
             widths=[8] * 6, strides=1, kernel=3),
    ),
}

# name -> (group, label, is_baseline)
CONFIGS = {
    "convlstm2d": ("conv", "ConvLSTM2D", True),
    "convscs2d": ("conv", "ConvSCS2D", False),
    "convscs2d_unfused": ("conv", "ConvSCS2D(fused=False)", False),
    "convscs2d_convs": ("conv", "ConvSCS2D convs only", False),
    "lstm": ("rnn", "LSTM", True),
    "gru": ("rnn", "GRU", True),
    "scs": ("rnn", "SCS", False),
    "rnn_scscell": ("rnn", "RNN(SCSCell)", False),
    "scs_unfused": ("rnn", "SCS(fused=False)", False),
    "deep_convlstm": ("deep", "ConvLSTM2D x{n} stack", True),
    "deep_scs": ("deep", "DeepSCS x{n} (residual)", False),
    "deep_scs_recompute": ("deep", "DeepSCS x{n} recompute", False),
    "deep6_coupled": ("decoupled", "DeepSCS x{n} coupled", True),
    "deep6_decoupled": ("decoupled", "DeepSCS x{n} decoupled", False),
}

# (label, numerator, denominator, metric, target or None).  metric is "time"
# (median ms/step), "mem" (the primary peak memory: process RSS on CPU, the
# TensorFlow GPU allocator on GPU) or "mem2" (the other one: the TensorFlow
# CPU allocator on CPU, host RSS on GPU); a target is an upper bound on the
# ratio.
RATIOS = [
    ("ConvSCS2D / ConvLSTM2D", "convscs2d", "convlstm2d", "time", 0.30),
    ("ConvSCS2D / ConvLSTM2D", "convscs2d", "convlstm2d", "mem", None),
    ("ConvSCS2D / ConvLSTM2D", "convscs2d", "convlstm2d", "mem2", None),
    ("ConvSCS2D(fused=False) / ConvLSTM2D", "convscs2d_unfused", "convlstm2d",
     "time", None),
    ("ConvSCS2D / ConvSCS2D(fused=False)", "convscs2d", "convscs2d_unfused",
     "time", None),
    # The floor: ConvSCS2D's convolutions (and their gradients) alone.
    ("ConvSCS2D convs only / ConvLSTM2D", "convscs2d_convs",
     "convlstm2d", "time", None),
    ("SCS / LSTM", "scs", "lstm", "time", 0.30),
    ("SCS / LSTM", "scs", "lstm", "mem", None),
    ("SCS / LSTM", "scs", "lstm", "mem2", None),
    ("SCS / GRU", "scs", "gru", "time", None),
    ("SCS / GRU", "scs", "gru", "mem", None),
    ("RNN(SCSCell) / LSTM", "rnn_scscell", "lstm", "time", None),
    ("SCS(fused=False) / LSTM", "scs_unfused", "lstm", "time", None),
    ("SCS / RNN(SCSCell)", "scs", "rnn_scscell", "time", None),
    ("DeepSCS / ConvLSTM stack", "deep_scs", "deep_convlstm", "time", 0.35),
    ("DeepSCS / ConvLSTM stack", "deep_scs", "deep_convlstm", "mem", 0.50),
    ("DeepSCS / ConvLSTM stack", "deep_scs", "deep_convlstm", "mem2", 0.50),
    ("DeepSCS recompute / ConvLSTM stack", "deep_scs_recompute",
     "deep_convlstm", "time", None),
    ("DeepSCS recompute / ConvLSTM stack", "deep_scs_recompute",
     "deep_convlstm", "mem", None),
    # The three streams (coupled, spatial-only, temporal-only) are about
    # 1.75x the coupled stream's work.
    ("6-layer decoupled / coupled DeepSCS", "deep6_decoupled",
     "deep6_coupled", "time", 1.90),
]


def group_shapes(group, quick):
    return GROUP_SHAPES[group][1 if quick else 0]


def config_label(name, quick):
    group, label, _ = CONFIGS[name]
    if group in ("deep", "decoupled"):
        label = label.format(n=len(group_shapes(group, quick)["widths"]))
    return label


def describe_groups(quick):
    c = group_shapes("conv", quick)
    r = group_shapes("rnn", quick)
    d = group_shapes("deep", quick)
    e = group_shapes("decoupled", quick)
    return {
        "conv": (
            f"input {c['batch']}x{c['steps']}x{c['rows']}x{c['cols']}x"
            f"{c['channels']} (batch x time x rows x cols x ch) -> "
            f"{c['filters']} filters, {c['kernel']}x{c['kernel']}, "
            "padding='same', return_sequences=True"
        ),
        "rnn": (
            f"input {r['batch']}x{r['steps']}x{r['features']} "
            f"(batch x time x features) -> {r['units']} units, "
            "return_sequences=True"
        ),
        "deep": (
            f"input {d['batch']}x{d['steps']}x{d['rows']}x{d['cols']}x"
            f"{d['channels']}; {len(d['widths'])} layers, widths "
            f"{d['widths']}, strides {d['strides']}, {d['kernel']}x"
            f"{d['kernel']}, padding='same'; DeepSCS(residual=True, "
            "batch_norm=False, activation='tanh') vs a plain Sequential of "
            "ConvLSTM2D(return_sequences=True)"
        ),
        "decoupled": (
            f"input {e['batch']}x{e['steps']}x{e['rows']}x{e['cols']}x"
            f"{e['channels']}; {len(e['widths'])} layers, widths "
            f"{e['widths']}, {e['kernel']}x{e['kernel']}, padding='same'; "
            "DeepSCS(residual=True, batch_norm=False) with decoupled=False "
            "vs decoupled=True (loss: the sum over the three streams)"
        ),
    }


# ---------------------------------------------------------------------------
# Child process: one configuration
# ---------------------------------------------------------------------------


def _proc_status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _ru_maxrss_kib():
    import resource

    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / 1024 if sys.platform == "darwin" else value  # bytes on macOS


def _malloc_trim():
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except Exception:  # not glibc
        pass


class MemoryProbe:
    """Peak memory growth over a baseline, in MiB, measured two ways.

    * process RSS: ``VmHWM`` (peak RSS, reset through ``/proc/self/clear_refs``)
      minus ``VmRSS`` at the baseline; where that is unavailable,
      ``ru_maxrss`` after minus ``ru_maxrss`` at the baseline.  Includes
      everything the process allocates (activations, gradients, TensorFlow
      runtime and graph-optimisation overhead).
    * TensorFlow allocator of the device (``GPU:0``, or ``CPU:0``):
      ``get_memory_info(dev)['peak']`` after ``reset_memory_stats(dev)``,
      minus ``'current'`` at the baseline.  Tensor memory only.
    """

    def __init__(self, tf, device):
        self.tf = tf
        self.device = device
        self.can_reset_rss = self._reset_hwm()
        self.rss_method = (
            "process peak RSS growth (VmHWM, reset via /proc/self/clear_refs, "
            "minus VmRSS at baseline)"
            if self.can_reset_rss
            else "process peak RSS growth (ru_maxrss after - ru_maxrss at "
            "baseline)"
        )
        self.tf_method = (
            f"TensorFlow allocator peak growth "
            f"(get_memory_info('{device}')['peak'] after reset_memory_stats, "
            "minus 'current' at baseline)"
        )

    @staticmethod
    def _reset_hwm():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return _proc_status_kib("VmHWM") is not None
        except OSError:
            return False

    def _rss_peak_kib(self):
        if self.can_reset_rss:
            return _proc_status_kib("VmHWM")
        return _ru_maxrss_kib()

    def start(self):
        """Takes the baseline (call it right before the first step)."""
        exp = self.tf.config.experimental
        try:
            exp.reset_memory_stats(self.device)
            self.tf_base = exp.get_memory_info(self.device)["current"]
        except Exception:  # allocator without statistics
            self.tf_base = None
        _malloc_trim()
        if self.can_reset_rss:
            self._reset_hwm()
            self.rss_base = _proc_status_kib("VmRSS")
        else:
            self.rss_base = _ru_maxrss_kib()

    def rss_peak_mib(self):
        return max(0.0, (self._rss_peak_kib() - self.rss_base) / 1024.0)

    def tf_peak_mib(self):
        if self.tf_base is None:
            return None
        try:
            peak = self.tf.config.experimental.get_memory_info(
                self.device)["peak"]
        except Exception:
            return None
        return max(0.0, (peak - self.tf_base) / 2**20)


def _environment(tf, keras):
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"GPU:0 ({details.get('device_name', 'GPU')})"
    else:
        device = "CPU"
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from tensorflow.python.util import _pywrap_util_port

        onednn = bool(_pywrap_util_port.IsMklEnabled())
    except Exception:
        onednn = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    env_vars = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                  "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS",
                  "CUDA_VISIBLE_DEVICES", "KERAS_BACKEND")
        if k in os.environ
    }
    return {
        "device": device,
        "gpus": len(gpus),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "onednn": onednn,
        "env": env_vars,
    }


def _convolutions_only(keras, filters, kernel):
    """A layer that runs the convolutions a ConvSCS2D layer needs, and
    nothing else: the spatial and gate input convolutions over all frames
    and the chain of recurrent convolutions ``c_t = z_t + U * c_{t-1}`` (no
    activations, no gating), so that its training step is the convolutions'
    forward and backward work.  Its time is a lower bound for ConvSCS2D's
    step on the same input and shows what the time target leaves for
    everything else.
    """
    import tensorflow as tf

    class ConvolutionsOnly(keras.layers.Layer):
        def build(self, input_shape):
            channels = input_shape[-1]
            self.spatial_kernel = self.add_weight(
                shape=(kernel, kernel, channels, filters))
            self.temporal_kernel = self.add_weight(
                shape=(kernel, kernel, channels, filters))
            self.recurrent_kernel = self.add_weight(
                shape=(kernel, kernel, filters, filters))

        def call(self, x):
            shape = tf.shape(x)
            frames = tf.reshape(x, tf.concat([[-1], shape[2:]], 0))

            def per_frame(kernel_):
                y = tf.nn.conv2d(frames, kernel_, 1, "SAME")
                return tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0))

            s = per_frame(self.spatial_kernel)
            z = tf.unstack(per_frame(self.temporal_kernel), axis=1)
            c, states = z[0], [z[0]]
            for z_t in z[1:]:
                c = z_t + tf.nn.conv2d(c, self.recurrent_kernel, 1, "SAME")
                states.append(c)
            return s + tf.stack(states, axis=1)

    return ConvolutionsOnly()


def _build_model(name, quick, keras, seed):
    from scs_keras.layers import SCS, ConvSCS2D, DeepSCS, SCSCell

    group = CONFIGS[name][0]
    s = group_shapes(group, quick)
    if group == "rnn":
        input_shape = (s["steps"], s["features"])
        units = s["units"]
        layer = {
            "lstm": lambda: keras.layers.LSTM(units, return_sequences=True),
            "gru": lambda: keras.layers.GRU(units, return_sequences=True),
            "scs": lambda: SCS(units, return_sequences=True, seed=seed),
            "scs_unfused": lambda: SCS(units, return_sequences=True,
                                       fused=False, seed=seed),
            "rnn_scscell": lambda: keras.layers.RNN(
                SCSCell(units, seed=seed), return_sequences=True),
        }[name]()
        layers = [layer]
        batch = s["batch"]
    else:
        input_shape = (s["steps"], s["rows"], s["cols"], s["channels"])
        batch = s["batch"]
        if group == "conv":
            common = dict(padding="same", return_sequences=True)
            f, k = s["filters"], s["kernel"]
            layers = [{
                "convlstm2d": lambda: keras.layers.ConvLSTM2D(f, k, **common),
                "convscs2d": lambda: ConvSCS2D(f, k, seed=seed, **common),
                "convscs2d_unfused": lambda: ConvSCS2D(
                    f, k, fused=False, seed=seed, **common),
                "convscs2d_convs": lambda: _convolutions_only(keras, f, k),
            }[name]()]
        elif group == "decoupled":
            layers = [DeepSCS(
                s["widths"], strides=s["strides"], kernel_size=s["kernel"],
                residual=True, seed=seed, decoupled=name == "deep6_decoupled",
                layer_kwargs={"padding": "same"})]
        else:  # deep
            if name in ("deep_scs", "deep_scs_recompute"):
                layers = [DeepSCS(
                    s["widths"], strides=s["strides"], kernel_size=s["kernel"],
                    residual=True, seed=seed,
                    layer_kwargs={"padding": "same", "recompute_spatial":
                                  name == "deep_scs_recompute"})]
            else:
                if s["strides"] != 1:
                    raise ValueError("the ConvLSTM stack is built with stride 1")
                layers = [
                    keras.layers.ConvLSTM2D(w, s["kernel"], padding="same",
                                            return_sequences=True)
                    for w in s["widths"]
                ]
    model = keras.Sequential([keras.Input(input_shape)] + layers, name=name)
    return model, (batch,) + input_shape


def _loss(tf, y):
    """``mean(square(y))``, summed over the streams of a decoupled stack."""
    ys = list(y.values()) if isinstance(y, dict) else [y]
    return tf.add_n([tf.reduce_mean(tf.square(v)) for v in ys])


def _timed(fn, arg, n, sync):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        sync(fn(arg))
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def run_child(name, quick, warmup, reps, breakdown, out_path,
              intra_op=None, inter_op=None):
    """Measures one configuration; writes a JSON dict to ``out_path``."""
    import numpy as np
    import tensorflow as tf
    import keras

    if intra_op is not None:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    if inter_op is not None:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)

    result = {"name": name}
    if name == "__env__":
        result["environment"] = _environment(tf, keras)
        with open(out_path, "w") as f:
            json.dump(result, f)
        return

    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    memory = MemoryProbe(tf, "GPU:0" if on_gpu else "CPU:0")
    keras.utils.set_random_seed(SEED)

    model, shape = _build_model(name, quick, keras, SEED)
    x = tf.constant(
        np.random.default_rng(SEED).standard_normal(shape).astype("float32"))
    optimizer = keras.optimizers.SGD(learning_rate=1e-3)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=False)
    def train_step(inputs):
        with tf.GradientTape() as tape:
            loss = _loss(tf, model(inputs, training=True))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    def sync(value):
        return value.numpy()  # forces completion on GPU as well

    t0 = time.perf_counter()
    train_step.get_concrete_function(x)
    trace_s = time.perf_counter() - t0
    result.update(
        label=config_label(name, quick),
        group=CONFIGS[name][0],
        input_shape=list(shape),
        output_shape=list(model.output_shape["output"]
                          if isinstance(model.output_shape, dict)
                          else model.output_shape),
        params=int(model.count_params()),
        trace_s=trace_s,
        on_gpu=on_gpu,
        # The primary memory figure: RSS on CPU, the GPU allocator on GPU.
        memory_method=memory.tf_method if on_gpu else memory.rss_method,
        memory2_method=memory.rss_method if on_gpu else memory.tf_method,
    )

    memory.start()
    warm_times = _timed(train_step, x, warmup, sync)
    times = _timed(train_step, x, reps, sync)
    rss, alloc = memory.rss_peak_mib(), memory.tf_peak_mib()
    result["rss_peak_mib"] = rss
    result["tf_alloc_peak_mib"] = alloc
    result["peak_mib"] = alloc if on_gpu else rss
    result["peak2_mib"] = rss if on_gpu else alloc
    result["first_step_ms"] = warm_times[0] if warm_times else None
    result["warmup_ms"] = warm_times
    result["times_ms"] = times
    result["median_ms"] = statistics.median(times)
    result["min_ms"] = min(times)

    if breakdown:
        # Forward alone (training=True, loss included) and forward+gradient
        # without the optimizer update, each its own tf.function.  They are
        # timed interleaved with the full step (train, fwd, fwd+grad, train,
        # ...) so that load changes on a shared machine hit all three alike;
        # memory was measured above, before these run.
        @tf.function(jit_compile=False)
        def forward(inputs):
            return _loss(tf, model(inputs, training=True))

        @tf.function(jit_compile=False)
        def forward_backward(inputs):
            with tf.GradientTape() as tape:
                loss = _loss(tf, model(inputs, training=True))
            grads = tape.gradient(loss, variables)
            return tf.add_n([tf.reduce_sum(g) for g in grads if g is not None])

        fns = {"train": train_step, "forward": forward,
               "forward_backward": forward_backward}
        for fn in fns.values():
            _timed(fn, x, max(warmup, 1), sync)
        samples = {key: [] for key in fns}
        for _ in range(reps):
            for key, fn in fns.items():
                samples[key] += _timed(fn, x, 1, sync)
        for key, values in samples.items():
            result[f"bd_{key}_ms"] = statistics.median(values)

    with open(out_path, "w") as f:
        json.dump(result, f)


# ---------------------------------------------------------------------------
# Parent process: spawn children, print the report
# ---------------------------------------------------------------------------


def _spawn(name, args):
    fd, out_path = tempfile.mkstemp(suffix=".json", prefix=f"bench_{name}_")
    os.close(fd)
    cmd = [sys.executable, os.path.abspath(__file__), "--_child", name,
           "--_out", out_path, "--warmup", str(args.warmup),
           "--reps", str(args.reps)]
    if args.quick:
        cmd.append("--quick")
    if args.breakdown:
        cmd.append("--breakdown")
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.cpu:
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    if args.intra_op is not None:
        cmd += ["--intra-op", str(args.intra_op)]
    if args.inter_op is not None:
        cmd += ["--inter-op", str(args.inter_op)]
    # Let the child import scs_keras from this checkout.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"]
                                if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=args.timeout)
        rc, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = "timeout", (e.stderr or b"")
        err = err.decode(errors="replace") if isinstance(err, bytes) else err
    wall = time.perf_counter() - t0
    try:
        with open(out_path) as f:
            text = f.read()
        result = json.loads(text) if text else None
    finally:
        os.unlink(out_path)
    if rc != 0 or result is None:
        tail = "\n".join((err or "").strip().splitlines()[-15:])
        return {"name": name, "error": f"child exited with {rc}",
                "stderr_tail": tail, "wall_s": wall}
    result["wall_s"] = wall
    return result


def _merge_rounds(runs):
    """Pools the rounds of one configuration.

    Time: median (and min) over all timed steps of all rounds.  Memory: the
    largest peak of any round.  Breakdown: median of the per-round medians.
    """
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    merged = dict(ok[-1])
    times = [t for r in ok for t in r["times_ms"]]
    merged["times_ms"] = times
    merged["median_ms"] = statistics.median(times)
    merged["min_ms"] = min(times)
    merged["round_medians_ms"] = [r["median_ms"] for r in ok]
    merged["first_step_ms"] = statistics.median(
        r["first_step_ms"] for r in ok if r["first_step_ms"] is not None) \
        if any(r["first_step_ms"] is not None for r in ok) else None
    for key in ("peak_mib", "peak2_mib", "rss_peak_mib", "tf_alloc_peak_mib"):
        values = [r[key] for r in ok if r.get(key) is not None]
        merged[key] = max(values) if values else None
        merged[key + "_rounds"] = [r.get(key) for r in ok]
    for key in ("bd_train_ms", "bd_forward_ms", "bd_forward_backward_ms"):
        values = [r[key] for r in ok if key in r]
        if values:
            merged[key] = statistics.median(values)
    merged["rounds"] = len(ok)
    merged["failed_rounds"] = len(runs) - len(ok)
    merged["wall_s"] = sum(r["wall_s"] for r in runs)
    return merged


def _select(only):
    if not only:
        return list(CONFIGS)
    wanted = [w.strip().lower() for w in only.split(",") if w.strip()]
    names = []
    for w in wanted:
        matches = [n for n, (g, _, _) in CONFIGS.items() if w in (n, g)]
        if not matches:
            raise SystemExit(
                f"--only: unknown configuration or group {w!r}; choose from "
                f"{sorted(set(CONFIGS) | set(GROUP_SHAPES))}")
        names += [m for m in matches if m not in names]
    return [n for n in CONFIGS if n in names]


def _fmt(value, spec, width):
    if value is None:
        return "-".rjust(width)
    return format(value, spec).rjust(width)


def _print_header(envinfo, args, names):
    print("=" * 78)
    print("scs_keras layer benchmark: training step (fwd + bwd + SGD update in "
          "a tf.function, jit_compile=False)")
    print("=" * 78)
    if envinfo:
        print(f"device          : {envinfo['device']}"
              + (f"   [{envinfo['cpu_model']}]" if envinfo.get("cpu_model")
                 else ""))
        print(f"versions        : TensorFlow {envinfo['tensorflow']}, Keras "
              f"{envinfo['keras']} (backend {envinfo['keras_backend']}), "
              f"Python {envinfo['python']}")
        print(f"CPUs            : os.cpu_count()={envinfo['cpu_count']}, "
              f"usable (affinity)={envinfo['cpu_affinity']}")
        intra, inter = envinfo["intra_op_threads"], envinfo["inter_op_threads"]
        print(f"threads         : intra_op={intra}, inter_op={inter} "
              "(0 = TensorFlow default: all usable cores); oneDNN="
              f"{envinfo['onednn']}; env {envinfo['env'] or '{}'}")
    print(f"mode            : {'QUICK (shrunk shapes, smoke check)' if args.quick else 'full'}; "
          f"{args.rounds} round(s) x [{args.warmup} warm-up + {args.reps} "
          "timed steps] per config,\n                  one fresh subprocess "
          "per config and round, rounds run round-robin; median over\n"
          "                  the pooled timed steps")
    print("loss / optimizer: mean(square(output)) / keras SGD(lr=1e-3); "
          f"seed {SEED}; SCS layers use their default truncation "
          "(rate 0.5, 'temporal')")
    descr = describe_groups(args.quick)
    for group in GROUP_SHAPES:
        if any(CONFIGS[n][0] == group for n in names):
            print(f"{group:<16}: {descr[group]}")
    print()


def _mem_names(on_gpu):
    """Column / metric names of the primary and secondary memory figures."""
    if on_gpu:
        return "GPU peak MiB", "host RSS MiB", "GPU mem", "host RSS"
    return "RSS peak MiB", "TF-alloc MiB", "RSS", "TF alloc"


def _print_table(results, names, quick, on_gpu):
    col1, col2, _, _ = _mem_names(on_gpu)
    print(f"{'configuration':<30} {'median ms':>10} {'min ms':>9} "
          f"{'1st step ms':>11} {col1:>13} {col2:>13} {'params':>9}")
    print("-" * 100)
    group = None
    for name in names:
        r = results[name]
        if CONFIGS[name][0] != group:
            if group is not None:
                print()
            group = CONFIGS[name][0]
        label = config_label(name, quick)
        if "error" in r:
            print(f"{label:<30} ERROR: {r['error']}")
            continue
        print(f"{label:<30} {_fmt(r['median_ms'], '.1f', 10)} "
              f"{_fmt(r['min_ms'], '.1f', 9)} "
              f"{_fmt(r['first_step_ms'], '.0f', 11)} "
              f"{_fmt(r['peak_mib'], '.1f', 13)} "
              f"{_fmt(r['peak2_mib'], '.1f', 13)} {r['params']:>9}")
    if any("bd_forward_ms" in results[n] for n in names):
        print()
        print("breakdown (--breakdown; median ms, the three timed interleaved "
              "in the same child):")
        print(f"{'configuration':<30} {'train step':>10} {'forward':>9} "
              f"{'fwd+grad':>9} {'grad':>8} {'update':>8} {'grad/fwd':>8}")
        print("-" * 87)
        for name in names:
            r = results[name]
            if "bd_forward_ms" not in r:
                continue
            t, f, fb = (r["bd_train_ms"], r["bd_forward_ms"],
                        r["bd_forward_backward_ms"])
            print(f"{config_label(name, quick):<30} {t:>10.1f} {f:>9.1f} "
                  f"{fb:>9.1f} {fb - f:>8.1f} {t - fb:>8.1f} "
                  f"{(fb - f) / f:>8.2f}")
        print("  grad = fwd+grad - forward (the backward pass); update = train "
              "step - fwd+grad\n  (SGD apply; noisy, can come out slightly "
              "negative).")


def _ratios(results, on_gpu=False):
    rows = []
    for label, num, den, metric, target in RATIOS:
        if on_gpu and metric == "mem2":
            target = None  # host RSS says little about a GPU run's memory
        a, b = results.get(num), results.get(den)
        if not a or not b or "error" in a or "error" in b:
            continue
        key = {"time": "median_ms", "mem": "peak_mib",
               "mem2": "peak2_mib"}[metric]
        ratio = (a[key] / b[key]
                 if a.get(key) is not None and b.get(key) else None)
        verdict = None
        if target is not None and ratio is not None:
            verdict = "PASS" if ratio <= target else "MISS"
        rows.append(dict(label=label, metric=metric, ratio=ratio,
                         target=target, verdict=verdict))
    return rows


def _print_ratios(rows, on_gpu):
    if not rows:
        return
    _, _, m1, m2 = _mem_names(on_gpu)
    metric_names = {"time": "time", "mem": m1, "mem2": m2}
    print()
    print(f"{'ratio (same run)':<38} {'metric':<9} {'ratio':>7} "
          f"{'target':>8} {'result':>7}")
    print("-" * 73)
    for r in rows:
        target = f"<= {r['target']:.2f}" if r["target"] is not None else "-"
        print(f"{r['label']:<38} {metric_names[r['metric']]:<9} "
              f"{_fmt(r['ratio'], '.3f', 7)} {target:>8} "
              f"{(r['verdict'] or '(info)'):>7}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Configurations: " + ", ".join(CONFIGS) + "; groups: "
        + ", ".join(GROUP_SHAPES) + ".")
    parser.add_argument("--quick", action="store_true",
                        help="shrink every configuration (smoke check)")
    parser.add_argument("--only", metavar="NAME[,NAME...]",
                        help="run only these configurations or groups")
    parser.add_argument("--json", metavar="OUT",
                        help="write the results to this JSON file")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed warm-up steps (default 2)")
    parser.add_argument("--reps", type=int, default=5,
                        help="timed steps; the median is reported (default 5)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="run the whole list this many times, round-robin "
                        "(fresh subprocess each time), and pool the timed "
                        "steps; default 3 (1 with --quick)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time forward alone and forward+gradient")
    parser.add_argument("--cpu", action="store_true",
                        help="hide GPUs (CUDA_VISIBLE_DEVICES=-1)")
    parser.add_argument("--intra-op", type=int, default=None,
                        help="tf.config.threading intra-op threads for the "
                        "children (default: TensorFlow's, 0)")
    parser.add_argument("--inter-op", type=int, default=None,
                        help="tf.config.threading inter-op threads for the "
                        "children (default: TensorFlow's, 0)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds allowed per configuration (default 900)")
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._child:
        run_child(args._child, args.quick, args.warmup, args.reps,
                  args.breakdown, args._out, args.intra_op, args.inter_op)
        return 0

    if args.warmup < 0 or args.reps < 1:
        parser.error("--warmup must be >= 0 and --reps >= 1")
    names = _select(args.only)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1:
        parser.error("--rounds must be >= 1")
    args.rounds = rounds
    start = time.perf_counter()
    env_result = _spawn("__env__", args)
    envinfo = env_result.get("environment")
    if envinfo is None:
        print(f"warning: could not read the environment: "
              f"{env_result.get('error')}\n{env_result.get('stderr_tail', '')}")
    _print_header(envinfo, args, names)

    per_round = {name: [] for name in names}
    for rnd in range(rounds):
        for name in names:
            print(f"  round {rnd + 1}/{rounds}: {name} ...", end="", flush=True)
            r = _spawn(name, args)
            per_round[name].append(r)
            if "error" in r:
                print(f" ERROR ({r['error']}, {r['wall_s']:.0f} s)")
                print("    " + r["stderr_tail"].replace("\n", "\n    "))
            else:
                print(f" {r['median_ms']:.1f} ms/step, peak "
                      f"{r['peak_mib']:.1f} MiB ({r['wall_s']:.0f} s)")
    results = {name: _merge_rounds(per_round[name]) for name in names}
    print()
    done = [r for r in results.values() if "error" not in r]
    on_gpu = any(r.get("on_gpu") for r in done)
    _print_table(results, names, args.quick, on_gpu)
    rows = _ratios(results, on_gpu)
    _print_ratios(rows, on_gpu)
    total = time.perf_counter() - start
    print()
    if done:
        col1, col2, _, _ = _mem_names(on_gpu)
        print("memory: growth over a baseline taken after model build + trace, "
              "right before the\n  first step; covers warm-up (incl. the "
              "first run) and timed steps.")
        print(f"  {col1}: {done[0]['memory_method']}  [primary; targets]")
        print(f"  {col2}: {done[0]['memory2_method']}")
    print("1st step ms: the first call after tracing (graph optimisation + "
          "first run); not in the median.")
    print(f"total wall time: {total:.0f} s")

    if args.json:
        payload = {
            "environment": envinfo,
            "quick": args.quick,
            "warmup": args.warmup,
            "reps": args.reps,
            "rounds": args.rounds,
            "seed": SEED,
            "groups": {g: describe_groups(args.quick)[g] for g in GROUP_SHAPES},
            "results": results,
            "ratios": rows,
            "total_wall_s": total,
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
