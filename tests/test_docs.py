"""The mkdocs site builds, strictly (broken nav entries or links fail)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_docs_pages_resolve():
    # index.md and benchmarks.md are links to the READMEs, so the site and
    # the repository never disagree.
    for page, target in [("index.md", "README.md"),
                         ("benchmarks.md", os.path.join("benchmarks", "README.md"))]:
        path = os.path.join(ROOT, "docs", page)
        assert os.path.samefile(path, os.path.join(ROOT, target)), page


@pytest.mark.slow
def test_mkdocs_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for page in ("index.html", "benchmarks/index.html",
                 "precipitation/index.html", "action_recognition/index.html"):
        assert (tmp_path / page).is_file(), page
    assert "Semi-Coupled Structure" in (tmp_path / "index.html").read_text()
