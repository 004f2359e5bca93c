"""`python -m <package> demo`: the whole pipeline on this machine, no account, no internet.

Starts what production has elsewhere (a Prefect server unless PREFECT_API_URL is set, the
stand-in ENTSO-E API, an SMTP server writing to outbox/), then runs the same flow production
runs, on the bundled sample push message of your feed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .local_prefect import local_prefect_server
from .outbox import local_smtp_server
from .settings import Settings
from .stand_in_api import DEMO_API_KEY, samples_dir, stand_in_api

DEMO_KEY_BLOCK = "entsoe-demo-key"


def sample_push_message(feed: str) -> str:
    return (samples_dir() / "push" / f"{feed}.xml").read_text(encoding="utf-8")


@contextlib.contextmanager
def prefect_api() -> str:
    """The configured Prefect API, or a local server started for the demo."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    with local_prefect_server() as api_url, temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield api_url


@contextlib.contextmanager
def local_environment(workdir: Path):
    """Everything the flow needs, on localhost; yields (api_url, outbox, stand-in API)."""
    with prefect_api() as api_url, stand_in_api() as api, local_smtp_server(workdir / "outbox") as outbox:
        from prefect.blocks.system import Secret

        Secret(value=DEMO_API_KEY).save(DEMO_KEY_BLOCK, overwrite=True)
        overrides = {
            "PIPELINE_ENTSOE_API_URL": api.url,
            "PIPELINE_ENTSOE_API_KEY_BLOCK": DEMO_KEY_BLOCK,
            "PIPELINE_SMTP_HOST": outbox.host,
            "PIPELINE_SMTP_PORT": str(outbox.port),
            "PIPELINE_SMTP_SECURITY": "insecure",
            "PIPELINE_SMTP_USERNAME": "",
            "PIPELINE_SMTP_PASSWORD_BLOCK": "",
            "PIPELINE_LAKE_DIR": str(workdir / "lake"),
            "PIPELINE_LAKE_BLOCK": "",
        }
        saved = {k: os.environ.get(k) for k in overrides}
        os.environ.update(overrides)
        try:
            yield api_url, outbox, api
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def flush_logs() -> None:
    """Send buffered run logs while the (possibly temporary) server is still up."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)


def run_demo(workdir: Path) -> int:
    from .flows import process_message

    feed = Settings().feed
    print(f"Starting the local stand-ins (Prefect server, ENTSO-E API, SMTP) for the {feed} feed...")
    with local_environment(workdir) as (api_url, outbox, _):
        print(f"Prefect API: {api_url}")
        summary = process_message(sample_push_message(feed))
        print()
        print(f"Newsletter: {summary['subject']!r} to {', '.join(summary['recipients'])}")
        for received in outbox.received:
            print(f"  saved as {received.path.resolve()}")
        print("Lake files:")
        for path in summary["lake_files"]:
            print(f"  {path}")
        flush_logs()
    return 0
