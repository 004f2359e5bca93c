"""Serve deployments locally as prefect.yaml defines them: the push trigger, the backfill chunks."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from prefect.events import DeploymentEventTrigger

from .forked_runs import fork_served_runs

PREFECT_YAML = Path(__file__).resolve().parents[3] / "prefect.yaml"
FLOWS_MODULE = f"{__name__.split('.')[0]}.flows"


@functools.cache
def _deployments() -> tuple[dict, ...]:
    """prefect.yaml's deployments, read once: the demo and the tests ask for them in poll loops."""
    return tuple(yaml.safe_load(PREFECT_YAML.read_text())["deployments"])


def push_deployment() -> dict:
    return next(d for d in _deployments() if d["name"].endswith("-push"))


def push_trigger() -> DeploymentEventTrigger:
    (trigger,) = push_deployment()["triggers"]
    return DeploymentEventTrigger(
        expect=set(trigger["expect"]),
        match=trigger["match"],
        parameters=trigger["parameters"],
        enabled=trigger.get("enabled", True),
    )


def serve_push_deployment() -> None:
    """Blocks: runs process-message for every matching event, each run its own (forked) process."""
    fork_served_runs(FLOWS_MODULE)  # first: the fork server's imports overlap this process's
    from ..flows import process_message

    process_message.serve(name=push_deployment()["name"], triggers=[push_trigger()], print_starting_message=False)


def backfill_chunk_deployment() -> dict:
    return next(d for d in _deployments() if d["name"].endswith("-backfill-chunk"))


def serve_backfill_chunks(limit: int | None = None) -> None:
    """Blocks: runs backfill chunks started by a backfill run, each its own (forked) process, `limit` at once."""
    fork_served_runs(FLOWS_MODULE)  # flows imports the backfill module too
    from ..backfill import backfill_chunk

    spec = backfill_chunk_deployment()
    backfill_chunk.serve(
        name=spec["name"], limit=limit or spec["concurrency_limit"]["limit"], print_starting_message=False
    )
