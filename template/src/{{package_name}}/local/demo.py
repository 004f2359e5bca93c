"""`python -m <package> demo`: the whole pipeline on this machine, no account, no internet.

Starts what production has elsewhere (a Prefect server unless PREFECT_API_URL is set, the
stand-in ENTSO-E API, an SMTP server writing to outbox/, the front door with a stand-in for
the Cloud webhook, and the served push deployment), then posts a push message of your feed and
zone (local/demo_message.py) to the front door, as ENTSO-E would, and waits for the newsletter.

Run again in the same folder, the demo posts the same document revision, which the pipeline
sends once only: it then says so and shows where the earlier newsletter is (a new --workdir
gives a new lake and outbox, and a new newsletter).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from entsoe.mappings import Area

from .. import ledger
from ..documents import Document, read_document
from ..feeds import FEEDS
from ..lake import open_lake, safe_name
from ..operations import ensure_rate_limit
from ..settings import Settings
from .demo_message import demo_message
from .environment import environment_variables, local_settings
from .ports import free_port
from .prefect_server import starting_prefect_server
from .smtp_outbox import Outbox, Received, local_smtp_server
from .stand_in_api import DEMO_API_KEY, StandInApi, samples_dir, stand_in_api

DEMO_KEY_BLOCK = "entsoe-demo-key"
PREFECT_HOME = ".prefect-demo"  # the demo's Prefect database, kept between runs (in .gitignore)
FINISHED = "finished"  # in PREFECT_HOME: the last demo ended cleanly, its database can be reused


def sample_push_message(feed: str) -> str:
    """The feed's bundled push message as it is (the benchmarks post it with new mRIDs)."""
    return (samples_dir() / "push" / f"{feed}.xml").read_text(encoding="utf-8")


@contextlib.contextmanager
def prefect_api(home: Path | None = None) -> Iterator[tuple[str, Callable[[], None]]]:
    """The configured Prefect API, or a local server starting for the demo (its database in `home`).

    Yields the API URL and what waits until that API answers (nothing to wait for when configured).
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield configured, lambda: None
        return
    with starting_prefect_server(home) as server, temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield server.api_url, server.wait_until_healthy


@dataclass(frozen=True)
class LocalEnvironment:
    api_url: str
    outbox: Outbox
    api: StandInApi
    front_door: str | None  # the receiver's URL with its token, when one was asked for


@contextlib.contextmanager
def local_environment(
    workdir: Path, webhook_log: Path | None = None, prefect_home: Path | None = None
) -> Iterator[LocalEnvironment]:
    """Everything the flow needs, on localhost: Prefect API, stand-in API, SMTP into outbox/.

    With `webhook_log`, also the front door and the served push deployment (`python -m
    <package> webhook`, its output in that file), started while the Prefect server starts:
    both spend their first seconds importing, and a 2-core machine can do both at once.
    A local Prefect server keeps its database in `prefect_home` if given.
    """
    with (
        prefect_api(home=prefect_home) as (api_url, until_prefect_answers),
        stand_in_api() as api,
        local_smtp_server(workdir / "outbox") as outbox,
    ):
        overrides = local_settings(
            api_url=api.url,
            api_key_block=DEMO_KEY_BLOCK,
            smtp_host=outbox.host,
            smtp_port=outbox.port,
            lake_dir=workdir / "lake",
        )
        with (
            environment_variables(overrides),
            webhook_process(api_url, webhook_log) if webhook_log else contextlib.nullcontext() as webhook,
        ):
            until_prefect_answers()
            from prefect.blocks.system import Secret
            from pydantic import SecretStr

            Secret(value=SecretStr(DEMO_API_KEY)).save(DEMO_KEY_BLOCK, overwrite=True)
            ensure_rate_limit(Settings())  # as the deploy does: every API request takes a slot
            if webhook is not None:
                webhook.wait_until_ready()
            yield LocalEnvironment(api_url, outbox, api, webhook.front_door if webhook else None)


def flush_logs() -> None:
    """Send buffered run logs while the (possibly temporary) server is still up."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)


def run_demo(workdir: Path) -> int:
    """The event path end to end: post your zone's message to the local receiver, wait for the newsletter."""
    settings = Settings()
    feed = FEEDS[settings.feed]
    message = demo_message(feed, Area[settings.area], samples_dir())
    print(f"Starting the local stand-ins (Prefect server, ENTSO-E API, SMTP) for the {feed.name} feed...")
    log = workdir / "webhook.log"
    started = datetime.now(UTC)
    home = demo_prefect_home(workdir)
    with local_environment(workdir, webhook_log=log, prefect_home=home) as local:
        assert local.front_door is not None
        document = read_document(message.body)
        sent_before = was_sent(feed.name, document)
        print(f"Prefect API: {local.api_url} (the served flow's log: {log})")
        if message.relabelled:
            print(f"No {feed.document_type} document for {settings.area} is bundled: {message.source} relabelled to it")
        print(f"Posting {message.source} to the front door at {local.front_door.rpartition('/')[0]}/<token>")
        deliver_until_a_run_starts(local.front_door, message.body, since=started)
        received = wait_for_newsletter(local.outbox, since=started, log=log)
        wait_for_runs(count=1, since=started)
        print()
        if received is not None:
            print(f"Newsletter: {received.message['Subject']!r} to {', '.join(received.recipients)}")
            print(f"  saved as {received.path.resolve()}")
        elif sent_before:
            print(f"Nothing new to send: {document.mrid} revision {document.revision} was already sent,")
            print("  by an earlier demo in this folder (the pipeline sends each document revision once).")
            earlier = earlier_newsletter(local.outbox.folder, document)
            print(f"  The earlier newsletter: {earlier.resolve() if earlier else 'no longer in outbox/'}")
            print("  For a new one, run the demo in another folder: demo --workdir <new folder>")
        else:
            raise SystemExit(f"the push run sent no newsletter: see the served flow's log {log}")
        print("Lake files:")
        tables = (workdir / "lake" / "tables").resolve()
        for path in sorted((workdir / "lake").rglob("*")):
            if path.is_file() and "ledger" not in path.parts and tables not in path.resolve().parents:
                print(f"  {path.resolve()}")
        names = sorted(f"{d.parent.name}.{d.name}" for d in tables.glob("*/*") if d.is_dir())
        print(f"Tables (Apache Iceberg, under {tables}; `tables` lists their columns, `query` runs SQL):")
        print("".join(f"  {name}\n" for name in names), end="")
        flush_logs()
    if home.exists():
        (home / FINISHED).touch()
    return 0


def was_sent(feed: str, document: Document) -> bool:
    """Whether the lake's ledger already holds this document revision as sent."""
    sent = ledger.sent_revisions(open_lake(Settings()), feed)
    return document.revision in sent.get((document.area, safe_name(document.mrid)), set())


def earlier_newsletter(outbox: Path, document: Document) -> Path | None:
    """The newest saved email that names the document revision (its plain text does)."""
    from email import message_from_bytes, policy

    wanted = f"Document {document.mrid} revision {document.revision},"
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        text = message.get_body(("plain",))
        if text is not None and wanted in text.get_content():
            return path
    return None


def demo_prefect_home(workdir: Path) -> Path:
    """The demo's Prefect database folder: kept after a demo that finished, new after one that did not.

    An interrupted demo can leave push runs scheduled, which the next demo's runner would
    otherwise start against a new lake.
    """
    home = workdir / PREFECT_HOME
    if home.exists() and not (home / FINISHED).exists():
        shutil.rmtree(home)
    (home / FINISHED).unlink(missing_ok=True)
    return home


def deliver_until_a_run_starts(
    url: str, message: bytes, since: datetime | None = None, timeout_s: float = 300.0, redeliver_s: float = 30.0
) -> None:
    """Posts the message, and again (as ENTSO-E redelivers) while no push run has started.

    A freshly started server can take the event before its trigger service has loaded the
    served deployment's trigger, and the local server's actions service can drop a run it was
    asked to start (docs/explanation/decisions.md); the redelivery lands on the same inbox key
    and the ledger keeps it to one newsletter.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        httpx.post(url, content=message, timeout=30).raise_for_status()
        retry_at = min(deadline, time.monotonic() + redeliver_s)
        while time.monotonic() < retry_at:
            if push_runs(since):
                return
            time.sleep(0.5)
    raise SystemExit(f"no push run started within {timeout_s:.0f} s: see the served flow's log")


def push_runs(since: datetime | None = None) -> list:
    """Flow runs of the served push deployment (those due `since` then, if given), newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    from .served_deployment import push_deployment

    due = None
    if since is not None:  # validated: the filter's field type is Prefect's own datetime class
        due = FlowRunFilter(expected_start_time=FlowRunFilterExpectedStartTime.model_validate({"after_": since}))
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=due,
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[push_deployment()["name"]])),
            sort=FlowRunSort.START_TIME_DESC,
        )


def wait_for_runs(count: int, since: datetime | None = None, timeout_s: float = 300.0) -> list:
    """Waits until `count` push runs (due `since` then) exist and all have finished."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = push_runs(since)
        if len(runs) >= count and all(r.state and r.state.is_final() for r in runs):
            return runs
        time.sleep(0.2)
    raise SystemExit(f"{count} push runs did not finish within {timeout_s:.0f} s")


def wait_for_newsletter(outbox: Outbox, since: datetime, log: Path, timeout_s: float = 300.0) -> Received | None:
    """The first newsletter, or None once every push run (due `since` then) ended without one.

    A run that sends nothing has skipped the document (already sent, or being sent): waiting
    on would only time out.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if outbox.received:
            return outbox.received[0]
        runs = push_runs(since)
        if runs and all(r.state and r.state.is_final() for r in runs):
            if outbox.received:  # sent just before the run ended
                return outbox.received[0]
            failed = [r for r in runs if not (r.state and r.state.is_completed())]
            if failed:
                raise SystemExit(f"the push run {failed[0].name} ended {failed[0].state_name}: see {log}")
            return None
        time.sleep(0.2)
    raise SystemExit(f"no newsletter within {timeout_s:.0f} s: see the served flow's log {log}")


@dataclass(frozen=True)
class WebhookProcess:
    """`python -m <package> webhook` as a child process, which may still be starting."""

    url: str  # the receiver's root
    token: str
    api_url: str
    process: subprocess.Popen

    @property
    def front_door(self) -> str:
        return f"{self.url}{self.token}"

    def wait_until_ready(self) -> None:
        wait_until_ready(self.url, self.api_url, self.process)


@contextlib.contextmanager
def webhook_process(api_url: str, log: Path) -> Iterator[WebhookProcess]:
    """Starts the webhook receiver and served deployment in a child process, until the block ends.

    It yields at once (the child waits for the Prefect API itself); `wait_until_ready` waits
    for the receiver and the served deployment.
    """
    port = free_port()
    token = secrets.token_urlsafe(24)  # the secret path, as the Lambda's function URL has one
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "FRONT_DOOR_TOKEN": token}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", __name__.split(".")[0], "webhook", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield WebhookProcess(f"http://127.0.0.1:{port}/", token, api_url, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until_ready(url: str, api_url: str, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
    """The receiver answers and the served deployment, with its trigger, is registered."""
    from .served_deployment import push_deployment

    name = f"process-message/{push_deployment()['name']}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the webhook receiver exited with code {process.returncode}")
        try:
            healthy = httpx.get(f"{url}health", timeout=2).status_code == 200
            served = httpx.get(f"{api_url}/deployments/name/{name}", timeout=2).status_code == 200
            if healthy and served:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the webhook receiver was not ready within {timeout_s:.0f} s")
