"""The figure and table of intact back-propagation chains on docs/method.md.

Computes ``scs_keras.expected_chains`` for stacks of 1 to 20 SCS layers
unrolled over 10 time steps (a loss at every step), with no truncation and
with the two truncation modes at two rates each, and writes

* a self-contained SVG line chart (log scale on y; drawn by hand, so the
  docs need no plotting library): ``docs/img/chains_vs_depth.svg``;
* with ``--table``, the same numbers as a Markdown table on stdout (the
  table between the ``chains-table`` markers in ``docs/method.md``).

Run from the repository root::

    python docs/scripts/plot_chains.py            # rewrites the SVG
    python docs/scripts/plot_chains.py --table    # prints the table

``tests/test_docs.py`` checks that the committed SVG and table are what this
script produces now.
"""

import argparse
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:  # run as a script: find the package of this checkout
    sys.path.insert(0, ROOT)

from scs_keras.analysis.chains import expected_chains  # noqa: E402

SVG_PATH = os.path.join(ROOT, "docs", "img", "chains_vs_depth.svg")
STEPS = 10
DEPTHS = tuple(range(1, 21))
TABLE_DEPTHS = (1, 2, 3, 4, 6, 8, 10, 12, 15, 17, 20)

# (legend label, mode, rate, colour, dash pattern)
SERIES = (
    ("no truncation", "none", 0.0, "#444444", ""),
    ("temporal, p = 0.5", "temporal", 0.5, "#1f77b4", ""),
    ("temporal, p = 0.9", "temporal", 0.9, "#1f77b4", "6 4"),
    ("exclusive, q = 0.5", "exclusive", 0.5, "#d62728", ""),
    ("exclusive, q = 0.75", "exclusive", 0.75, "#d62728", "6 4"),
)

# Layout of the chart, in pixels.
WIDTH, HEIGHT = 720, 460
LEFT, RIGHT, TOP, BOTTOM = 80, 30, 50, 60

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def chain_counts():
    """``{label: [expected chains at each depth of DEPTHS]}``."""
    return {
        label: [expected_chains(depth, STEPS, rate, mode) for depth in DEPTHS]
        for label, mode, rate, _, _ in SERIES
    }


def format_count(value):
    """Three significant digits; powers of ten from 10⁴ on (``2.25·10⁹``)."""
    if value < 1e4:
        return f"{float(f'{value:.3g}'):g}"  # 1550, not 1.55e+03
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}·10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def markdown_table(counts=None):
    """The Markdown table of the counts at the depths of TABLE_DEPTHS."""
    counts = chain_counts() if counts is None else counts
    labels = [label for label, *_ in SERIES]
    lines = [
        "| layers L | " + " | ".join(labels) + " |",
        "|---:|" + "---:|" * len(labels),
    ]
    for depth in TABLE_DEPTHS:
        i = DEPTHS.index(depth)
        row = [format_count(counts[label][i]) for label in labels]
        lines.append(f"| {depth} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _decades(counts):
    values = [v for series in counts.values() for v in series]
    return math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))


def svg(counts=None):
    """The chart as SVG text."""
    counts = chain_counts() if counts is None else counts
    low, high = _decades(counts)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x_of(depth):
        return LEFT + (depth - DEPTHS[0]) / (DEPTHS[-1] - DEPTHS[0]) * plot_w

    def y_of(value):
        return TOP + (high - math.log10(value)) / (high - low) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2:.1f}" y="24" text-anchor="middle" font-size="14">'
        f"Expected intact back-propagation chains, T = {STEPS} steps, "
        "a loss at every step</text>",
    ]
    # Grid and y ticks: one per decade.
    for exponent in range(low, high + 1):
        y = y_of(10.0 ** exponent)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                   'stroke="#e0e0e0"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">10'
                   f'<tspan dy="-6" font-size="9">{exponent}</tspan></text>')
    # X ticks.
    for depth in (1, 5, 10, 15, 20):
        x = x_of(depth)
        out.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" '
                   f'y2="{TOP + plot_h + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 19}" '
                   f'text-anchor="middle">{depth}</text>')
    # Axes and their titles.
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" '
               'fill="none" stroke="black"/>')
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 16}" '
               'text-anchor="middle">number of SCS layers L</text>')
    out.append(f'<text x="20" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 20 {TOP + plot_h / 2:.1f})">'
               "expected intact chains (log scale)</text>")
    # The series.
    for label, _, _, colour, dash in SERIES:
        points = " ".join(f"{x_of(d):.1f},{y_of(v):.1f}"
                          for d, v in zip(DEPTHS, counts[label]))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"{dash_attr}/>')
    # Legend, top left (the curves start low on the left).
    legend_x, legend_y = LEFT + 14, TOP + 14
    out.append(f'<rect x="{legend_x - 8}" y="{legend_y - 6}" width="190" '
               f'height="{len(SERIES) * 20 + 4}" fill="white" stroke="#999999"/>')
    for i, (label, _, _, colour, dash) in enumerate(SERIES):
        y = legend_y + 8 + i * 20
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{legend_x}" y1="{y}" x2="{legend_x + 34}" y2="{y}" '
                   f'stroke="{colour}" stroke-width="2"{dash_attr}/>')
        out.append(f'<text x="{legend_x + 42}" y="{y + 4}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=SVG_PATH, help="SVG file to write")
    parser.add_argument("--table", action="store_true",
                        help="print the Markdown table instead of writing the SVG")
    args = parser.parse_args(argv)
    counts = chain_counts()
    if args.table:
        sys.stdout.write(markdown_table(counts))
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(svg(counts))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
