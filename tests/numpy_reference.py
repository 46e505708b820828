"""Independent NumPy implementation of the SCS cell and stream equations for tests.

Written from the equations, not from the layer code: explicit loops over
time, TF-style "same"/"valid" padding computed by hand, max-pooling by hand,
and back-propagation through time derived on paper.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- dense ---------------------------------------------------------------

def dense_forward(x, ws, wx, u, bs, bg, c0=None):
    """x: (B, T, D). Returns h (B, T, U), gates g (B, T, U), spatial s."""
    b, t_len, _ = x.shape
    units = ws.shape[1]
    c = np.zeros((b, units)) if c0 is None else c0
    hs, gs, ss = [], [], []
    for t in range(t_len):
        s = np.tanh(x[:, t] @ ws + bs)
        g = sigmoid(x[:, t] @ wx + c @ u + bg)
        hs.append(s * g)
        gs.append(g)
        ss.append(s)
        c = g
    return np.stack(hs, 1), np.stack(gs, 1), np.stack(ss, 1)


def dense_input_gradient(x, ws, wx, u, bs, bg, upstream, temporal_keep=None,
                         spatial_keep=None):
    """dL/dx for L = sum(h * upstream), with BPTT through the gate.

    ``temporal_keep[t] = 0`` removes the temporal stream's input path at step
    t from the gradient (what truncation does); the recurrence is kept.
    ``spatial_keep`` does the same for the spatial stream's input path.
    """
    h, g, s = dense_forward(x, ws, wx, u, bs, bg)
    b, t_len, _ = x.shape
    keep = np.ones(t_len) if temporal_keep is None else temporal_keep
    keep_s = np.ones(t_len) if spatial_keep is None else spatial_keep
    dx = np.zeros_like(x)
    dz_next = np.zeros_like(g[:, 0])
    for t in reversed(range(t_len)):
        dh = upstream[:, t]
        ds = dh * g[:, t]
        dg = dh * s[:, t] + dz_next @ u.T  # c_t = g_t feeds step t+1
        dz = dg * g[:, t] * (1.0 - g[:, t])
        dx[:, t] = (keep_s[t] * (ds * (1.0 - s[:, t] ** 2)) @ ws.T
                    + keep[t] * (dz @ wx.T))
        dz_next = dz
    return dx


# -- 2-D convolution ------------------------------------------------------

def _pads(size, k, stride, padding):
    if padding == "valid":
        return 0, 0, (size - k) // stride + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2, out


def conv2d(x, w, stride=1, padding="same"):
    """x: (N, H, W, C), w: (kh, kw, C, F). TF semantics, by explicit loops."""
    n, h, wd, _ = x.shape
    kh, kw, _, f = w.shape
    top, bottom, oh = _pads(h, kh, stride, padding)
    left, right, ow = _pads(wd, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = np.einsum("nhwc,hwcf->nf", patch, w)
    return out


def max_pool_3x3(x, stride):
    n, h, wd, c = x.shape
    top, bottom, oh = _pads(h, 3, stride, "same")
    left, right, ow = _pads(wd, 3, stride, "same")
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)),
                constant_values=-np.inf)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = xp[:, i * stride:i * stride + 3,
                              j * stride:j * stride + 3].max(axis=(1, 2))
    return out


def conv_forward(x, ws, wx, u, bs, bg, stride=1, padding="same"):
    """x: (B, T, H, W, C). Strided conv cell (state at input resolution, gate max-pooled). Returns (h, final c)."""
    b, t_len = x.shape[:2]
    c = None
    hs = []
    for t in range(t_len):
        s = np.tanh(conv2d(x[:, t], ws, stride, padding) + bs)
        z = conv2d(x[:, t], wx, 1, padding) + bg
        if c is None:
            c = np.zeros_like(z)
        g = sigmoid(z + conv2d(c, u, 1, "same"))
        gp = g if stride == 1 else max_pool_3x3(g, stride)
        hs.append(s * gp)
        c = g
    return np.stack(hs, 1), c


def dense_streams(x, ws, wx, u, bs, bg):
    """The decoupled streams of one dense layer fed ``x`` (T¹ spatial-only, T² temporal-only)."""
    sigma = np.tanh(x @ ws + bs)
    b, t_len, _ = x.shape
    c_hat = np.zeros((b, ws.shape[1]))
    taus = []
    for t in range(t_len):
        z = x[:, t] @ wx + c_hat @ u + bg
        c_hat = sigmoid(z)
        taus.append(np.maximum(z, 0.0))
    return sigma, np.stack(taus, 1)
