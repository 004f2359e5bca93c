"""The settings that point the pipeline at the local stand-ins: one place for the demo and the tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def local_settings(
    *, api_url: str, api_key_block: str, smtp_host: str, smtp_port: int, lake_dir: Path
) -> dict[str, str]:
    """`PIPELINE_*` variables for a run on this machine: stand-in API, local SMTP, a lake folder."""
    return {
        "PIPELINE_ENTSOE_API_URL": api_url,
        "PIPELINE_ENTSOE_API_KEY_BLOCK": api_key_block,
        "PIPELINE_SMTP_HOST": smtp_host,
        "PIPELINE_SMTP_PORT": str(smtp_port),
        "PIPELINE_SMTP_SECURITY": "insecure",
        "PIPELINE_SMTP_USERNAME": "",
        "PIPELINE_SMTP_PASSWORD_BLOCK": "",
        "PIPELINE_LAKE_DIR": str(lake_dir),
        "PIPELINE_LAKE_BLOCK": "",
    }


@contextlib.contextmanager
def environment_variables(values: dict[str, str]) -> Iterator[None]:
    """Sets `values` in os.environ for the block, then puts back what was there."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
