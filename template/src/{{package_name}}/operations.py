"""What keeps the pipeline operable, set up on the Prefect server by the deploy.

- The shared ENTSO-E rate limit: a global concurrency limit whose slots decay, so
  `rate_limit()` in entsoe_api admits at most `api_rate_limit_per_minute` requests a minute
  across every run.
- The alerts: automations.yaml (beside prefect.yaml) holds them; `apply_automations` creates
  each by name, updates only the changed ones (an update resets a trigger's open windows)
  and removes the project's automations the file no longer has.
- Their notification blocks, two channels that share nothing: an email through the project's
  SMTP server (an Apprise `mailto://` URL in Prefect's Apprise-based block, the password read
  from the SMTP Secret block at deploy time and stored encrypted in the block, never in a
  file) and, given PIPELINE_ALERT_WEBHOOK_URL, a webhook (Slack, Discord, or any URL that
  takes a JSON POST). An alert that one channel fails to deliver goes out on the other
  (automations.yaml, alert-undelivered-*); `alert_channel_warnings` says when there is no other.

deploy/prefect_cloud.py calls these against Prefect Cloud; the tests call them against a
local Prefect server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import apprise
import yaml
from prefect.blocks.notifications import SlackWebhook
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.client.schemas.objects import BlockDocument
from prefect.events.actions import RunDeployment, SendNotification
from prefect.events.schemas.automations import AutomationCore
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from pydantic import SecretStr, TypeAdapter

from . import defaults
from .settings import Settings, smtp_password

AUTOMATIONS_FILE = Path(__file__).resolve().parents[2] / "automations.yaml"
EMAIL_BLOCK = f"{defaults.PROJECT_SLUG}-alerts-email"
WEBHOOK_BLOCK = f"{defaults.PROJECT_SLUG}-alerts-webhook"
_PREFIX = f"{defaults.PROJECT_SLUG}-"


# ---------------------------------------------------------------- the shared API rate limit


def rate_limit_shape(per_window: int, window_s: float = 60.0) -> tuple[int, float]:
    """(slots, slots freed per second) that admit at most `per_window` * 1.1 requests in any window.

    A limit whose slots decay lets `slots` requests through at once and `decay * window_s`
    more within the window, so a limit of 300 slots freed at 5 a second would admit 600 in
    a minute. Few slots (a tenth: the burst) and a decay of `per_window / window_s` keep any
    window at `per_window` plus the burst: 330 a minute for 300.
    """
    return max(1, per_window // 10), per_window / window_s


def ensure_rate_limit(settings: Settings, window_s: float = 60.0) -> None:
    """Creates or updates the global concurrency limit every ENTSO-E request takes a slot of.

    `api_rate_limit_per_minute` requests a minute (over `window_s` seconds instead, for
    tests and benchmarks that cannot wait minutes).
    """
    per_window = settings.api_rate_limit_per_minute
    if not 1 <= per_window <= 360:
        raise ValueError(
            "api_rate_limit_per_minute must be between 1 and 360: ENTSO-E bans a token over 400 requests "
            f"a minute and the limit admits a burst of a tenth more, got {per_window}"
        )
    slots, decay = rate_limit_shape(per_window, window_s)
    with get_client(sync_client=True) as client:
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(
                    name=settings.api_rate_limit, limit=slots, slot_decay_per_second=decay, active=True
                )
            )
            print(f"created rate limit {settings.api_rate_limit}: {per_window} requests per {window_s:g} s")
        except ObjectAlreadyExists:  # made earlier, or just now by another process (the demo's webhook)
            client.update_global_concurrency_limit(
                settings.api_rate_limit,
                GlobalConcurrencyLimitUpdate(limit=slots, slot_decay_per_second=decay, active=True),
            )
            print(f"updated rate limit {settings.api_rate_limit}: {per_window} requests per {window_s:g} s")


def remove_rate_limit(settings: Settings) -> None:
    """Deletes the rate limit if the project owns it: its name starts with the project's slug.

    A limit of another name is shared (PIPELINE_API_RATE_LIMIT names one limit for every
    project using the same ENTSO-E token), and other projects' requests need it: kept.
    """
    if not settings.api_rate_limit.startswith(_PREFIX):
        print(f"kept rate limit {settings.api_rate_limit}: shared, not {defaults.PROJECT_SLUG}'s to delete")
        return
    with get_client(sync_client=True) as client:
        try:
            client.delete_global_concurrency_limit_by_name(settings.api_rate_limit)
            print(f"deleted rate limit {settings.api_rate_limit}")
        except ObjectNotFound:
            pass


# ---------------------------------------------------------------- notification blocks


def email_url(settings: Settings, password: str) -> str:
    """The Apprise URL that sends an email through the project's SMTP server to the alert recipients."""
    scheme = "mailto" if settings.smtp_security == "insecure" else "mailtos"
    login = f"{quote(settings.smtp_username, safe='')}:{quote(password, safe='')}@" if settings.smtp_username else ""
    query = urlencode(
        {
            "smtp": settings.smtp_host,
            "from": settings.email_sender,
            "to": ",".join(settings.alert_recipients),
            "mode": settings.smtp_security,
        }
    )
    return f"{scheme}://{login}{settings.smtp_host}:{settings.smtp_port}?{query}"


def webhook_url_for_apprise(url: str) -> str:
    """The alert webhook as an Apprise URL: a Slack or Discord webhook as it is, any other
    http(s) URL as Apprise's JSON POST (`json://`, `jsons://`: {"title", "message", "type"}).

    Apprise, not a plain HTTP call, because a failed Apprise notification fails the action
    (prefect/server/events/actions.py, SendNotification.act raises ActionFailed on a
    NotificationError) and so emits `prefect.automation.action.failed`, which the other
    channel reports; Prefect's CustomWebhookNotificationBlock raises an HTTP error instead,
    and the action service emits nothing for that.
    """
    if apprise.Apprise().add(url):
        return url
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("http", "https"):
        return ("jsons" if scheme == "https" else "json") + "://" + rest
    raise ValueError(
        "PIPELINE_ALERT_WEBHOOK_URL must be a Slack or Discord webhook URL, an http(s) URL that takes a JSON "
        f"POST, or an Apprise URL (https://github.com/caronc/apprise/wiki), got one starting {url[:12]!r}"
    )


def save_notification_blocks(settings: Settings, webhook_url: str = "") -> list[str]:
    """Saves the email block and, given a URL, the webhook block; returns the names saved.

    Prefect's server sends the notifications, so the block must be a type the server itself
    can load: `SlackWebhook` is Prefect's Apprise block and, for a URL that is not a Slack
    one, hands it to Apprise unchanged (prefect/blocks/notifications.py,
    SlackWebhook.block_initialization), and Apprise's `mailto://` plugin speaks SMTP.
    Without a URL an earlier webhook block is deleted: the alerts follow the settings.
    """
    password = smtp_password(settings)
    SlackWebhook(url=SecretStr(email_url(settings, password)), notify_type="failure").save(EMAIL_BLOCK, overwrite=True)
    saved = [EMAIL_BLOCK]
    if webhook_url:
        SlackWebhook(url=SecretStr(webhook_url_for_apprise(webhook_url)), notify_type="failure").save(
            WEBHOOK_BLOCK, overwrite=True
        )
        saved.append(WEBHOOK_BLOCK)
    else:
        with get_client(sync_client=True) as client:
            for block in _notification_blocks(client):
                if block.name == WEBHOOK_BLOCK:
                    client.delete_block_document(block.id)
    return saved


def alert_channel_warnings(settings: Settings) -> list[str]:
    """What leaves an alert without a way to reach a person; empty when two channels exist.

    The email goes through the newsletter's SMTP server, so an SMTP outage fails the
    newsletter run and its alert together: only the webhook tells anyone then.
    """
    warnings = []
    if not settings.alert_webhook_url:
        warnings.append(
            "no PIPELINE_ALERT_WEBHOOK_URL: alerts go only by email through the newsletter's SMTP server "
            f"({settings.smtp_host}), so an SMTP outage fails the newsletter and its alert together and "
            "nobody hears of either. Set the GitHub secret ALERT_WEBHOOK_URL (a Slack or Discord webhook, "
            "or any URL taking a JSON POST) and deploy again"
        )
    if settings.smtp_security != "insecure" and not settings.smtp_username:
        warnings.append(
            f"the alert email logs in to {settings.smtp_host} with no user name (smtp_username is empty): "
            "most servers refuse mail from a client that does not log in"
        )
    return warnings


def remove_notification_blocks() -> None:
    with get_client(sync_client=True) as client:
        for block in _notification_blocks(client):
            client.delete_block_document(block.id)
            print(f"deleted block {block.name}")


def _notification_blocks(client: SyncPrefectClient) -> list[BlockDocument]:
    """The notification blocks of the project that exist on the server (email first)."""
    found = []
    for name in (EMAIL_BLOCK, WEBHOOK_BLOCK):
        try:
            found.append(client.read_block_document_by_name(name, block_type_slug=SlackWebhook.get_block_type_slug()))
        except ObjectNotFound:
            continue
    return found


# ---------------------------------------------------------------- automations


CHANNELS = {"email": EMAIL_BLOCK, "webhook": WEBHOOK_BLOCK}


def load_automations(settings: Settings, path: Path = AUTOMATIONS_FILE) -> list[AutomationCore]:
    """The automations in the file, each notifying the notification blocks that exist.

    Beside Prefect's own automation fields an entry has `notify` (the subject and body of
    the notification, Prefect templates, and `via`: the channels, email and webhook unless
    it names fewer) or its own `actions` (run-unresponsive marks the run Crashed, and
    run-failed notifies), and may have `within_setting` (the settings field that, when set,
    replaces the trigger's `within`) and `runbook` (the RUNBOOK.md section the notification
    links). An entry left with no action (its only channel has no block: the webhook when no
    URL is set) is left out.
    """
    spec = yaml.safe_load(path.read_text())
    with get_client(sync_client=True) as client:
        blocks = {block.name: block.id for block in _notification_blocks(client)}
    if EMAIL_BLOCK not in blocks:
        raise ValueError(f"no notification block {EMAIL_BLOCK!r}: save it first (operations.save_notification_blocks)")
    automations = []
    for entry in spec["automations"]:
        entry = dict(entry)
        notify = entry.pop("notify", None)
        override = entry.pop("within_setting", None)
        runbook = entry.pop("runbook", None)
        if notify and runbook:
            notify = {**notify, "body": notify["body"].rstrip("\n") + f"\nRunbook: {runbook}\n"}
        if not entry["name"].startswith(_PREFIX):
            raise ValueError(f"automation {entry['name']!r} in {path.name} must start with {_PREFIX!r}")
        if override and getattr(settings, override) is not None:
            entry["trigger"] = {**entry["trigger"], "within": getattr(settings, override)}
        via = (notify or {}).get("via", list(CHANNELS))
        unknown = sorted(set(via) - set(CHANNELS))
        if unknown:
            raise ValueError(f"automation {entry['name']!r}: notify via {unknown}, the channels are {sorted(CHANNELS)}")
        entry["actions"] = [*entry.get("actions", [])] + [
            SendNotification(block_document_id=blocks[block], subject=notify["subject"], body=notify["body"])
            for block in [CHANNELS[channel] for channel in via]
            if notify
            if block in blocks
        ]
        if entry["actions"]:
            automations.append(TypeAdapter(AutomationCore).validate_python(entry))
    return automations


def apply_automations(settings: Settings, path: Path = AUTOMATIONS_FILE) -> list[str]:
    """Creates the file's automations by name, updates the changed ones, deletes the project's others.

    An unchanged automation is left alone: the server gives a trigger new ids on every update
    (prefect/server/api/automations.py, `reset_ids`) and the trigger service keys its
    proactive windows by trigger id, so an update would drop every open window (a run
    waiting to start, the feed's silence) and a deploy would silence the alerts it sets up.
    """
    wanted = {a.name: a for a in load_automations(settings, path)}
    with get_client(sync_client=True) as client:
        existing = {a.name: a for a in client.read_automations() if _is_alert(a)}
        for name, automation in wanted.items():
            if name in existing and comparable(existing[name]) == comparable(automation):
                print(f"unchanged automation {name}")
            elif name in existing:
                client.update_automation(existing[name].id, automation)
                print(f"updated automation {name}")
            else:
                client.create_automation(automation)
                print(f"created automation {name}")
        for name, automation in existing.items():
            if name not in wanted:
                client.delete_automation(automation.id)
                print(f"deleted automation {name}")
    return sorted(wanted)


_SERVER_FIELDS = frozenset({"id", "created", "updated", "created_by", "updated_by", "account", "workspace"})


def comparable(automation: AutomationCore) -> Any:
    """What an automation does, the same for the file's and the server's copy of it.

    Both go through the client's model (which drops what it does not know), then ids,
    times and authorship go, and so do empty values, which a server may fill in or leave
    out (`owner_resource: null`, `actions_on_resolve: []`). Lists of names are sorted: a
    trigger's `expect`, `after` and `for_each` are sets, in no order.
    """
    return _without_server_fields(AutomationCore.model_validate(automation.model_dump()).model_dump(mode="json"))


def _without_server_fields(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _without_server_fields(v) for k, v in value.items() if k not in _SERVER_FIELDS}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [_without_server_fields(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    return value


def remove_automations() -> None:
    with get_client(sync_client=True) as client:
        for automation in client.read_automations():
            if _is_alert(automation):
                client.delete_automation(automation.id)
                print(f"deleted automation {automation.name}")


def _is_alert(automation: Any) -> bool:
    """The project's alert automations (deployment triggers from prefect.yaml, which run a
    deployment and are named after it, are not ours)."""
    return automation.name.startswith(_PREFIX) and not any(
        isinstance(action, RunDeployment) for action in automation.actions
    )
