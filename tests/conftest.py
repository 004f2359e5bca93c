"""Renders the template with Copier's Python API, once per example per test run.

Under pytest-xdist the workers share one rendered project per example: the first worker to
ask renders it under a file lock, the others wait for it and reuse it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import copier
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yml"))
# The example whose suite also runs the end-to-end cases that do not depend on the answers.
PRIMARY_EXAMPLE = "fi-actual-generation"


STALE_LOCK = "\nIf uv.lock is stale: run `python scripts/run.py lock` and commit template/uv.lock.jinja."


def load_example(name: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / f"{name}.yml").read_text())


def render(destination: Path, data: dict) -> Path:
    copier.run_copy(str(ROOT), destination, data=data, defaults=True, vcs_ref="HEAD", quiet=True, unsafe=False)
    return destination


def uv(project: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["uv", *args], cwd=project, capture_output=True, text=True, timeout=timeout)


@contextmanager
def locked(path: Path):
    """Holds an exclusive lock on `path` (a file), across processes."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pytest_collection_modifyitems(items):
    """Groups for `--dist loadgroup`, longest first, so the two workers end together.

    One worker runs an example's tests, in file order; a `part` of the primary example's suite
    other than "rest" is a group of its own. xdist hands groups out in collection order (with
    --no-loadscope-reorder, as scripts/run.py asks), so the order here is the schedule.
    """
    groups = {}
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params
        if params and params.get("example"):
            part = params.get("part", "rest")
            group = params["example"] if part in ("all", "rest") else f"{params['example']}-{part}"
            item.add_marker(pytest.mark.xdist_group(group))
        marker = item.get_closest_marker("xdist_group")
        groups[item] = marker.args[0] if marker else None
    first = [f"{PRIMARY_EXAMPLE}-event-path", PRIMARY_EXAMPLE, "image", *EXAMPLES]
    items.sort(key=lambda item: first.index(groups[item]) if groups[item] in first else len(first))


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A folder every xdist worker of this run sees (the run's base temp folder)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def rendered(shared_dir):
    """example name -> rendered project folder, rendered once per run on first use."""

    def get(name: str) -> Path:
        project = shared_dir / "rendered" / name / "project"
        project.parent.mkdir(parents=True, exist_ok=True)
        done = project.parent / "rendered.ok"
        with locked(project.parent / "lock"):
            if not done.exists():
                render(project, load_example(name))
                done.touch()
        return project

    return get


@pytest.fixture(scope="session")
def synced(rendered):
    """example name -> rendered project with its environment installed (`uv sync`), once per run."""

    def get(name: str) -> Path:
        project = rendered(name)
        with locked(project.parent / "lock"):
            done = project.parent / "synced.ok"
            if not done.exists():
                sync = uv(project, "sync", "--quiet", "--locked")  # a stale lock fails, not rewritten
                assert sync.returncode == 0, sync.stderr + STALE_LOCK
                done.touch()
        return project

    return get
