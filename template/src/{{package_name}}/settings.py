"""One typed settings object for the whole pipeline.

Defaults come from your template answers (defaults.py) and point at local things, so the
demo needs no account. Production changes them with `PIPELINE_*` environment variables
(e.g. `PIPELINE_LAKE_BLOCK=lake`); secrets never live here, only the names of the Prefect
blocks that hold them.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import defaults

if TYPE_CHECKING:
    from prefect.blocks.core import Block

ENTSOE_API_URL = "https://web-api.tp.entsoe.eu/api"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_", extra="ignore")

    feed: Literal["actual_generation", "wind_solar_forecast", "total_load", "day_ahead_prices"] = defaults.FEED
    area: str = defaults.AREA

    # Data lake: a local folder unless an S3Bucket block (prefect-aws) is named.
    lake_dir: Path = Path("lake")
    lake_block: str = ""
    # Tables (Iceberg): a SQLite catalog in lake_dir, or the Glue Data Catalog with the data
    # in the lake block's bucket. The database name is the same in both, so queries port.
    catalog: Literal["sql", "glue"] = "sql"
    catalog_database: str = defaults.PROJECT_SLUG.replace("-", "_")
    aws_region: str = defaults.AWS_REGION
    snapshot_retention_days: float = 7.0

    # ENTSO-E REST API (entsoe-py). The key lives in a Prefect Secret block.
    entsoe_api_url: str = ENTSOE_API_URL
    entsoe_api_key_block: str = "entsoe-api-key"
    entsoe_timeout_s: float = 30.0
    api_retries: int = 4
    api_retry_delay_s: float = 2.0
    # One Prefect global concurrency limit, used as a rate limit, guards every request of
    # every run; the deploy creates it with `api_rate_limit_per_minute` (ENTSO-E allows 400
    # per minute per token, then answers 429 and bans the token for about 10 minutes).
    api_rate_limit: str = f"{defaults.PROJECT_SLUG}-entsoe-api"  # "" switches it off
    api_rate_limit_per_minute: int = 300
    api_ban_s: float = 600.0  # waited out on a 429 that names no Retry-After

    # Newsletter. The SMTP password, if any, lives in a Prefect Secret block.
    email_sender: str = defaults.EMAIL_SENDER
    email_recipients: list[str] = Field(default_factory=lambda: list(defaults.EMAIL_RECIPIENTS))
    smtp_host: str = defaults.SMTP_HOST
    smtp_port: int = defaults.SMTP_PORT
    smtp_security: Literal["ssl", "starttls", "insecure"] = defaults.SMTP_SECURITY
    smtp_username: str = ""
    smtp_password_block: str = ""
    smtp_retries: int = 3
    smtp_retry_delay_s: float = 5.0
    # A circuit breaker: at most this many newsletters per UTC day; beyond, the run fails and
    # the newsletter waits (newsletter_budget.py). A feed sends one per document revision.
    max_newsletters_per_day: int = Field(default=48, ge=1)

    # Day-ahead prices with two sequences (DE-LU/AT): the newsletter shows this one; "1" is
    # the SDAC auction, "2" EXAA. The lake keeps both (the tidy `sequence` column).
    price_sequence: str = "1"

    # Alerts (automations.yaml): who gets them, and the waits that override the file's
    # (seconds; unset keeps the file's value). The deploy saves the notification blocks.
    alert_recipients: list[str] = Field(default_factory=lambda: list(defaults.ALERT_RECIPIENTS))
    alert_silence_s: float | None = None
    alert_waiting_s: float | None = None
    alert_unresponsive_s: float | None = None  # no heartbeat for this long marks a run Crashed
    alert_webhook_url: str = ""  # optional Slack or generic webhook; a secret, so set it in the deploy's env

    # Documents larger than this are refused before parsing.
    max_document_mb: float = 100.0

    @property
    def max_document_bytes(self) -> int:
        return int(self.max_document_mb * 1024 * 1024)


BlockType = TypeVar("BlockType", bound="Block")


class MissingBlock(LookupError, ValueError):
    """A Prefect block that a setting names does not exist. A ValueError too, as Prefect's own
    error is, so callers that create a missing block (deploy/prefect_cloud.py) still catch it."""


def load_block(block_type: type[BlockType], name: str, setting: str = "") -> BlockType:
    """The Prefect block `name`, loaded from synchronous code; `setting` is the variable that
    names it, for the error when it is missing.

    `Block.load` answers sync and async callers under one name, so its declared type is
    `Block | Coroutine` (prefect/_internal/compatibility/async_dispatch.py: async_dispatch);
    from sync code it returns the block itself, which this checks. A missing block is a
    ValueError raised from ObjectNotFound (prefect/blocks/core.py, Block._get_block_document).
    """
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    try:
        block = block_type.load(name)
    except ValueError as error:
        if not isinstance(error.__cause__, ObjectNotFound):
            raise
        named_by = f" (named by {setting})" if setting else ""
        raise MissingBlock(
            f"the Prefect {block_type.__name__} block {name!r}{named_by} does not exist on the Prefect "
            f"server at {PREFECT_API_URL.value() or 'the local ephemeral server'}: save it as the README's "
            '"Deploy" section says, then run again'
        ) from None
    if not isinstance(block, block_type):
        raise TypeError(f"loading the Prefect block {name!r} gave {type(block).__name__}, not {block_type.__name__}")
    return block


def smtp_password(settings: Settings) -> str:
    """The SMTP login's password from the Secret block the settings name ("" without a login):
    the newsletter and the alert email log in alike."""
    if not settings.smtp_password_block:
        return ""
    from prefect.blocks.system import Secret

    return load_block(Secret, settings.smtp_password_block, "PIPELINE_SMTP_PASSWORD_BLOCK").get()
