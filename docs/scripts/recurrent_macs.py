"""Multiply-accumulates of the recurrent layers: SCS against ConvLSTM.

    python docs/scripts/recurrent_macs.py

Counts, per frame and time step (forward pass, one example), the MACs of
the convolutions of ``ConvSCS2D`` and ``ConvLSTM2D`` layers as the tasks
configure them ("same" padding, k×k kernels).  Used in
docs/precipitation.md and docs/steering.md to say which training-time ratio
the layers allow.  From the equations (docs/method.md):

* a ``ConvSCS2D`` layer of stride ``s`` reading ``H×W×C_in`` computes its
  spatial convolution ``W_s * x`` at the output resolution ``H/s×W/s``, but
  its gate ``g = σ(W_x * x + U * g_prev)`` at the *input* resolution (the
  state lives there and is max-pooled; docs/method.md): two convolutions on
  ``H×W`` pixels;
* a ``ConvLSTM2D`` layer of stride ``s`` computes its four gates at the
  output resolution, from the input (``C_in → 4C``) and from ``h``
  (``C → 4C``);
* ``DeepSCS(decoupled=True)`` (the T¹ and T² streams at every step: the
  steering and action-recognition models) runs the spatial convolution once
  more (T¹) and the gate's two convolutions once more (T²).  The
  precipitation model does not: its T¹ head runs the spatial stream on one
  frame per clip, which is left out.

Everything else (encoders, decoders, heads) is the same for both models in
the tasks' comparisons and is left out.
"""


def conv_macs(pixels, k, c_in, c_out):
    return pixels * k * k * c_in * c_out


def scs_layer(h, w, c_in, c, s, k=3):
    """``(spatial, gate)`` MACs of one ConvSCS2D layer step."""
    spatial = conv_macs((h // s) * (w // s), k, c_in, c)
    gate = conv_macs(h * w, k, c_in, c) + conv_macs(h * w, k, c, c)
    return spatial, gate


def convlstm_layer(h, w, c_in, c, s, k=3):
    out = (h // s) * (w // s)
    return conv_macs(out, k, c_in, 4 * c) + conv_macs(out, k, c, 4 * c)


def stack(layers):
    """MACs of a stack ``[(H, W, C_in, C, stride), ...]``: SCS coupled, SCS
    with the decoupled streams, ConvLSTM."""
    coupled = decoupled = lstm = 0
    for h, w, c_in, c, s in layers:
        spatial, gate = scs_layer(h, w, c_in, c, s)
        coupled += spatial + gate
        decoupled += 2 * (spatial + gate)  # coupled + T¹ (spatial) + T² (gate)
        lstm += convlstm_layer(h, w, c_in, c, s)
    return coupled, decoupled, lstm


CONFIGURATIONS = {
    "precipitation pyramid (main job: 32x32, widths 16,32, stride 2)":
        [(32, 32, 1, 16, 2), (16, 16, 16, 32, 2)],
    "precipitation deep, 8x8 (--depth 4, widths 16,32)":
        [(8, 8, 32, 32, 1)] * 4,
    "precipitation deep, 16x16 (--depth 4 --widths 32)":
        [(16, 16, 32, 32, 1)] * 4,
    "steering (front 20x40x16, widths 16,32, stride 2)":
        [(20, 40, 16, 16, 2), (10, 20, 16, 32, 2)],
}


def main():
    print("| layers | SCS | SCS + T¹/T² streams | ConvLSTM | SCS / ConvLSTM "
          "| SCS + streams / ConvLSTM |")
    print("|---|---|---|---|---|---|")
    for name, layers in CONFIGURATIONS.items():
        coupled, decoupled, lstm = stack(layers)
        print(f"| {name} | {coupled:,} | {decoupled:,} | {lstm:,} | {coupled / lstm:.2f} "
              f"| {decoupled / lstm:.2f} |")


if __name__ == "__main__":
    main()
