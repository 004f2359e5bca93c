"""Renders a project's newsletter for its bundled sample and screenshots it in headless Chromium.

    python scripts/screenshot_newsletter.py PROJECT_DIR OUTPUT.png

PROJECT_DIR is a rendered, `uv sync`ed project; the HTML is the real one the flow sends
(compose() on the sample push message, enriched through the stand-in API), so the picture
in the docs is what a reader gets. Also used by the docs test, which checks the page is not blank.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

COMPOSE = """
import sys
from {package}.areas import area_for_code
from {package}.defaults import FEED
from {package}.documents import read_document
from {package}.entsoe_api import fetch, make_client
from {package}.feeds import FEEDS
from {package}.flows import newsletter_for
from {package}.settings import Settings
from {package}.local.stand_in_api import DEMO_API_KEY, samples_dir, stand_in_api
from {package}.transforms import trim

feed = FEEDS[FEED]
document = read_document((samples_dir() / "push" / f"{{FEED}}.xml").read_bytes())
area = area_for_code(document.area)
with stand_in_api() as api:
    settings = Settings(entsoe_api_url=api.url)
    client = make_client(settings, DEMO_API_KEY)
    fetched = fetch(lambda: feed.enrichment.query(client, area.code, document), settings, "enrichment")
reference = trim(fetched.document.frame, *feed.enrichment.period(document)) if fetched else None
sys.stdout.write(newsletter_for(feed, area, document, reference).html)
"""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=700,860",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("no Chromium found: apt-get install chromium")


def screenshot(project: Path, output: Path) -> Path:
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    html = subprocess.run(
        ["uv", "run", "python", "-c", COMPOSE.format(package=package)],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "newsletter.html"
        page.write_text(html, encoding="utf-8")
        subprocess.run(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp}/profile",
                f"--screenshot={output.resolve()}",
                page.as_uri(),
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
    return output


if __name__ == "__main__":
    print(screenshot(Path(sys.argv[1]), Path(sys.argv[2])))
