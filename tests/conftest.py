"""Renders the template with Copier's Python API, once per example per test session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import copier
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yml"))


def load_example(name: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / f"{name}.yml").read_text())


def render(destination: Path, data: dict) -> Path:
    copier.run_copy(str(ROOT), destination, data=data, defaults=True, vcs_ref="HEAD", quiet=True, unsafe=False)
    return destination


def uv(project: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["uv", *args], cwd=project, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """example name -> rendered project folder (rendered on first use)."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = render(tmp_path_factory.mktemp(name) / "project", load_example(name))
        return cache[name]

    return get
