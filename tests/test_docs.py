"""The documentation site.

* It builds with ``mkdocs build --strict`` (broken nav entries, links or
  anchors fail), and its API reference pages show the documented names with
  their parsed docstrings.
* No page cites the internal method description ("SPEC"): users do not have
  it.
* The chains figure and table on the method page are what
  ``docs/scripts/plot_chains.py`` produces now, and they show the quantity
  the page claims (checked against counts worked out by hand).
* The griffe extension that adapts Keras-style docstrings does what it says.
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "docs", "scripts")


def _load_script(name):
    spec = importlib.util.spec_from_file_location(
        f"docs_script_{name}", os.path.join(SCRIPTS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_docs_pages_resolve():
    # index.md and benchmarks.md are links to the READMEs, so the site and
    # the repository never disagree.
    for page, target in [("index.md", "README.md"),
                         ("benchmarks.md", os.path.join("benchmarks", "README.md"))]:
        path = os.path.join(ROOT, "docs", page)
        assert os.path.samefile(path, os.path.join(ROOT, target)), page


# -- the built site ---------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    return out


PAGES = ("index.html", "method/index.html", "cli/index.html",
         "precipitation/index.html", "action_recognition/index.html",
         "benchmarks/index.html")

# Page -> names whose documentation must be on it (as a rendered heading).
API_NAMES = {
    "api/layers": ("SCSCell", "SCS", "FrameWise", "ConvSCS1D", "ConvSCS2D",
                   "ConvSCS3D", "ConvSCS2DCell", "DeepSCS", "call_streams",
                   "mask_gradient", "keep_factors"),
    "api/training": ("SCSModel", "STSGD", "ASTSGD", "OverlapCoherence",
                     "rate_at", "clip_starts"),
    "api/analysis": ("expected_chains", "expected_chains_by_length",
                     "truncation_probabilities"),
    "api/data": ("DataError", "DataReport", "raise_or_record",
                 "make_precipitation_dataset", "scan_png_events",
                 "make_video_dataset", "list_ucf101"),
    "api/metrics": ("CSI", "HSS", "NowcastSSIM", "nowcasting_metrics",
                    "TopKAccuracy", "MeanAveragePrecision"),
    "api/export": ("export_for_serving", "next_version"),
    "api/utils": ("positive_int", "int_sequence", "optional_import",
                  "ImageSummary"),
}

# Classes whose rendered documentation must include their parsed ``Args:``.
# Static analysis alone would render these without any docstring (they are
# set from f-strings or on classes built by a factory).
DOCUMENTED_ARGS = {
    "api/layers": ("scs_keras.layers.scs.SCSCell", "scs_keras.layers.scs.SCS",
                   "scs_keras.layers.conv_scs.ConvSCS2D",
                   "scs_keras.layers.deep_scs.DeepSCS"),
    "api/training": ("scs_keras.training.schedules.ASTSGD",),
}


def _section(html, anchor):
    """The HTML from the heading with id ``anchor`` to the next object."""
    start = html.index(f'id="{anchor}"')
    end = html.find('<div class="doc doc-object ', start)
    return html[start:] if end < 0 else html[start:end]


@pytest.mark.slow
def test_mkdocs_site_builds_strictly(site):
    for page in PAGES:
        assert (site / page).is_file(), page
    assert "Semi-Coupled Structure" in (site / "index.html").read_text()
    # The README's links into docs/ point at the site's pages.
    assert 'href="method/#astsgd"' in (site / "index.html").read_text()
    assert (site / "img" / "chains_vs_depth.svg").is_file()
    assert "chains_vs_depth.svg" in (site / "method" / "index.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(API_NAMES))
def test_api_reference_documents_the_public_names(site, page):
    html = (site / page / "index.html").read_text()
    for name in API_NAMES[page]:
        assert re.search(rf'<h\d id="scs_keras\.[\w.]*\b{name}"', html), (page, name)
    for anchor in DOCUMENTED_ARGS.get(page, ()):
        assert "Parameters:" in _section(html, anchor), anchor


@pytest.mark.slow
def test_api_reference_renders_examples_as_code(site):
    html = (site / "api" / "layers" / "index.html").read_text()
    section = _section(html, "scs_keras.layers.scs.SCSCell")
    assert 'class="language-pycon"' in section
    assert "<summary>Call arguments</summary>\n  <ul>" in section


# -- no citations of the internal method description --------------------


def _doc_sources():
    yield os.path.join(ROOT, "README.md")
    yield os.path.join(ROOT, "benchmarks", "README.md")
    yield os.path.join(ROOT, "mkdocs.yml")
    for folder, _, files in os.walk(os.path.join(ROOT, "docs")):
        for name in files:
            if name.endswith((".md", ".py", ".svg", ".yml")):
                yield os.path.join(folder, name)


def test_no_page_cites_spec():
    sources = list(_doc_sources())
    assert any(p.endswith("method.md") for p in sources)
    offenders = [
        f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(_read(path).splitlines(), 1)
        if "SPEC" in line
    ]
    assert not offenders, "\n".join(offenders)


# -- the chains figure and table ------------------------------------------


@pytest.fixture(scope="module")
def plot_chains():
    return _load_script("plot_chains")


def test_chains_svg_is_what_the_script_writes_now(plot_chains, tmp_path):
    out = tmp_path / "chains.svg"
    assert plot_chains.main(["--out", str(out)]) == 0
    committed = _read(os.path.join(ROOT, "docs", "img", "chains_vs_depth.svg"))
    assert out.read_text(encoding="utf-8") == committed, (
        "docs/img/chains_vs_depth.svg is stale: run "
        "`python docs/scripts/plot_chains.py` and commit the result")
    assert committed.startswith("<svg") and len(plot_chains.SERIES) == committed.count(
        "<polyline")


def test_chains_table_on_method_page_is_current(plot_chains):
    page = _read(os.path.join(ROOT, "docs", "method.md"))
    match = re.search(r"<!-- chains-table:start -->\n(.*?)<!-- chains-table:end -->",
                      page, re.S)
    assert match, "the chains table markers are missing from docs/method.md"
    assert match.group(1) == plot_chains.markdown_table(), (
        "the table in docs/method.md is stale: paste the output of "
        "`python docs/scripts/plot_chains.py --table` between the markers")


def test_chains_table_shows_the_counts_the_page_describes(plot_chains):
    # One layer, T = 10 steps, a loss at every step: from h(1, t) a chain
    # goes down the spatial edge (survives with P_s) or walks back k = 0..t-1
    # steps and goes down a temporal edge (each survives with P_t), so the
    # expected count is sum over t of P_s + t * P_t.
    steps = range(1, 11)
    by_hand = {
        "no truncation": sum(1 + t for t in steps),                 # 65
        "temporal, p = 0.9": sum(1 + 0.1 * t for t in steps),       # 15.5
        "exclusive, q = 0.5": sum(0.75 + 0.5 * t for t in steps),   # 35
    }
    first_row = plot_chains.markdown_table().splitlines()[2].strip("| ").split(" | ")
    labels = [label for label, *_ in plot_chains.SERIES]
    assert first_row[0] == "1"
    for label, value in by_hand.items():
        assert float(first_row[1 + labels.index(label)]) == pytest.approx(value), label
    assert plot_chains.format_count(2.25e9) == "2.25·10⁹"
    assert plot_chains.format_count(1550.0) == "1550"


# -- the griffe extension for Keras-style docstrings -----------------------


@pytest.fixture(scope="module")
def keras_docstrings():
    return _load_script("keras_docstrings")


def test_doctests_become_fenced_code(keras_docstrings):
    text = "Summary.\n\nExample:\n    >>> x = [1, 2][:2]\n    >>> x\n    [1, 2]\n\nAfter."
    assert keras_docstrings.adapt(text) == (
        "Summary.\n\nExample:\n    ```pycon\n    >>> x = [1, 2][:2]\n    >>> x\n"
        "    [1, 2]\n    ```\n\nAfter.")
    # After a paragraph line the fence gets a blank line of its own.
    assert keras_docstrings.adapt("Text\n>>> 1\n1") == "Text\n\n```pycon\n>>> 1\n1\n```"


def test_call_arguments_become_a_list(keras_docstrings):
    text = ("Call arguments:\n    inputs: A tensor\n        on two lines.\n"
            "    training: A bool.\n\nmask: not an entry.")
    assert keras_docstrings.adapt(text) == (
        "Call arguments:\n    - `inputs`: A tensor\n        on two lines.\n"
        "    - `training`: A bool.\n\nmask: not an entry.")


def test_literal_block_markers_lose_one_colon(keras_docstrings):
    assert keras_docstrings.adapt("Per step::\n\n    h = s * g") == (
        "Per step:\n\n    h = s * g")
