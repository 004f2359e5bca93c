"""Serve the push deployment locally with the trigger prefect.yaml defines: one definition for both."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.events import DeploymentEventTrigger

PREFECT_YAML = Path(__file__).resolve().parents[3] / "prefect.yaml"


def push_deployment() -> dict:
    spec = yaml.safe_load(PREFECT_YAML.read_text())
    return next(d for d in spec["deployments"] if d["name"].endswith("-push"))


def push_trigger() -> DeploymentEventTrigger:
    (trigger,) = push_deployment()["triggers"]
    return DeploymentEventTrigger(
        expect=set(trigger["expect"]),
        match=trigger["match"],
        parameters=trigger["parameters"],
        enabled=trigger.get("enabled", True),
    )


def serve_push_deployment() -> None:
    """Blocks: runs process-message for every matching event, in this machine's processes."""
    from ..flows import process_message

    process_message.serve(name=push_deployment()["name"], triggers=[push_trigger()], print_starting_message=False)
