"""The newsletter in a real browser (headless Chromium) at desktop and phone widths: nothing
wider than the screen, and the period, the chart's peak and its labels as the reader sees them.

Chromium's headless window is at least 500 px wide, so each width is an iframe of that width
(`srcdoc`: same origin, so the host page can measure inside it); the newsletter's own
viewport and layout are those of a 390 px screen there.
"""

from __future__ import annotations

import json
import re
import runpy
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import ROOT, uv

SCREENSHOT = runpy.run_path(str(ROOT / "scripts" / "screenshot_newsletter.py"))
LAST_LINE = "sys.stdout.write(newsletter_for(feed, area, document, reference).html)"
WINDOW = """
import json
newsletter = newsletter_for(feed, area, document, reference)
start, end = document.frame["start"].min(), (document.frame["start"] + document.frame["resolution"]).max()
sys.stdout.write(json.dumps({"html": newsletter.html, "subject": newsletter.subject, "tz": area.tz,
                             "start": start.isoformat(), "end": end.isoformat()}))
"""
MEASURE = """<!doctype html><html><body style="margin:0">
<iframe id="page" style="border:0;width:WIDTHpx;height:1200px"></iframe>
<script>
const frame = document.getElementById("page");
frame.onload = () => {
  const page = frame.contentDocument, width = page.documentElement.clientWidth;
  const rect = e => e.getBoundingClientRect();
  const result = {
    viewport: width,
    scrollWidth: page.documentElement.scrollWidth,
    wider: [...page.body.querySelectorAll("*")].filter(e => rect(e).right > width + 0.5)
      .slice(0, 10).map(e => `${e.tagName}.${e.className} right=${Math.round(rect(e).right)}`),
    title: page.title,
    text: page.body.innerText,
    axis: [...page.querySelectorAll(".y-axis")].map(e => e.textContent.trim()),
    labels: [...page.querySelectorAll("[title]")].map(e => e.getAttribute("title")),
  };
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
};
frame.srcdoc = NEWSLETTER;
</script></body></html>"""


@pytest.fixture(scope="module")
def composed(synced) -> dict:
    """The real newsletter of the primary example's bundled sample, with the document's window."""
    project = synced("fi-actual-generation")
    compose = SCREENSHOT["COMPOSE"].format(package=next(p.name for p in (project / "src").iterdir() if p.is_dir()))
    assert LAST_LINE in compose, "scripts/screenshot_newsletter.py composes differently now"
    done = uv(project, "run", "python", "-c", compose.replace(LAST_LINE, WINDOW))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def in_browser(html: str, width: int, tmp_path: Path) -> dict:
    host = tmp_path / f"host-{width}.html"
    host.write_text(MEASURE.replace("WIDTH", str(width)).replace("NEWSLETTER", json.dumps(html)), encoding="utf-8")
    dom = subprocess.run(
        [
            SCREENSHOT["chromium"](),
            *[flag for flag in SCREENSHOT["CHROMIUM_FLAGS"] if not flag.startswith("--window-size")],
            "--window-size=1200,1300",
            "--virtual-time-budget=5000",
            f"--user-data-dir={tmp_path}/profile-{width}",
            "--dump-dom",
            host.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    measured = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert measured, f"the page did not load in Chromium: {dom[-2000:]}"
    return json.loads(measured.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


@pytest.mark.parametrize("width", [1000, 390])
def test_the_newsletter_fits_the_screen_and_reads_right(composed, width, tmp_path):
    page = in_browser(composed["html"], width, tmp_path)
    assert page["viewport"] == width
    assert page["scrollWidth"] <= width and page["wider"] == [], f"wider than a {width} px screen: {page['wider']}"

    # The period: the subject and the header name the window's first and last local days.
    tz = ZoneInfo(composed["tz"])
    start = datetime.fromisoformat(composed["start"]).astimezone(tz)
    end = datetime.fromisoformat(composed["end"]).astimezone(tz)
    assert page["title"] == composed["subject"]
    days = f"{start.day}–{end:%-d %B %Y}" if (start.month, start.year) == (end.month, end.year) else None
    assert days is None or composed["subject"].endswith(days), (composed["subject"], days)
    assert f"{start:%-d %B %Y %H:%M} to {end:%-d %B %Y %H:%M} ({composed['tz']})" in page["text"]

    # The chart: its axis runs from 0 to the peak its caption states; its labels are local times
    # from the header's start day.
    peak = re.search(r"peak of [\w-]+ averages ([\d,.]+)", page["text"])
    assert peak and page["axis"] == [peak.group(1), "0"]
    labels = [title.split(": ")[0] for title in page["labels"] if re.match(r"\d+ \w{3} \d\d:\d\d: ", title)]
    assert labels and labels[0].startswith(f"{start.day} {start:%b}")
