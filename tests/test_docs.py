"""The documentation site builds strictly, and the newsletter it shows is a real, non-blank page."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

from PIL import Image

from conftest import ROOT, uv

BIN = Path(sys.executable).parent
BAR_BLUE = bytes((43, 108, 176))  # #2b6cb0, the chart's bars


def test_docs_build_strictly(tmp_path):
    result = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "tutorial" / "first-pipeline" / "index.html").is_file()


def test_readme_links_the_tutorial_and_the_update_how_to():
    readme = (ROOT / "README.md").read_text()
    assert "docs/tutorial/first-pipeline.md" in readme and "docs/how-to/update.md" in readme


def test_newsletter_screenshot_is_a_real_page(rendered, tmp_path):
    project = rendered("fi-actual-generation")
    assert uv(project, "sync", "--quiet").returncode == 0
    shot = runpy.run_path(str(ROOT / "scripts" / "screenshot_newsletter.py"))["screenshot"]
    image = Image.open(shot(project, tmp_path / "newsletter.png")).convert("RGB")
    assert image.size[0] >= 600 and image.size[1] >= 600
    data = image.tobytes()
    pixels = [data[i : i + 3] for i in range(0, len(data), 3)]
    background = max(set(pixels), key=pixels.count)
    assert sum(p != background for p in pixels) / len(pixels) > 0.2, "the page is (nearly) blank"
    assert len(set(pixels)) > 50, "a real page has text and a chart, so many colours"
    assert sum(p == BAR_BLUE for p in pixels) > 2000, "the chart's bars are missing"
