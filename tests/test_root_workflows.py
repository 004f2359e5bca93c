"""The template's own workflows (.github/workflows/ at the root) keep the rules the rendered ones keep."""

from __future__ import annotations

import subprocess
import sys

import yaml
from workflow_rules import assert_no_actionlint_findings, assert_no_zizmor_findings, assert_pinned_and_unprivileged

from conftest import EXAMPLES, ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_root_workflows_have_no_actionlint_findings():
    assert_no_actionlint_findings(WORKFLOWS)


def test_root_workflows_have_no_zizmor_findings():
    assert_no_zizmor_findings(WORKFLOWS)


def test_root_workflows_pin_actions_and_start_from_no_permissions():
    assert WORKFLOWS
    for path in WORKFLOWS:
        assert_pinned_and_unprivileged(path)


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
