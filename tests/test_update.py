"""`copier update` never loses a user's work: old release -> user edits -> new release -> update.

Each test tags a temporary copy of this repository as v1.0.0 and, after a template change,
v1.1.0 (PEP 440 tags), exactly as a user's update would see two releases.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import copier
import pytest
import yaml

from conftest import ROOT, load_example

EXAMPLE = "fi-actual-generation"
IGNORE = shutil.ignore_patterns(".git", ".venv", ".work", "node_modules", "__pycache__", ".pytest_cache", "site")


def git(folder: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def release(template: Path, tag: str) -> None:
    git(template, "add", "-A")
    git(template, "commit", "-qm", f"release {tag}", "--allow-empty")
    git(template, "tag", tag)


# What a user changes after the first render: flow, README, prefect.yaml, Pulumi program,
# the newsletter layout, and a file they do not want.
def user_edits(project: Path, package: str) -> None:
    flows = project / "src" / package / "flows.py"
    flows.write_text(
        flows.read_text().replace("def _summary(", "# Our team's note: keep summaries short.\ndef _summary(")
    )
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our team\n\nOn call: the data platform team.\n")
    prefect_yaml = project / "prefect.yaml"
    prefect_yaml.write_text(prefect_yaml.read_text().replace("chunk_days: 7", "chunk_days: 14"))
    components = project / "infrastructure" / "components.py"
    components.write_text(components.read_text().replace("LOG_RETENTION_DAYS = 30", "LOG_RETENTION_DAYS = 90"))
    layout = project / "src" / package / "templates" / "newsletter.html.j2"
    layout.write_text(layout.read_text().replace("#2b6cb0", "#c05621"))
    (project / "benchmarks" / "event_path.py").unlink()


# A template fix that touches none of the lines the user changed.
def template_change(template: Path) -> None:
    transforms = template / "template" / "src" / "{{package_name}}" / "transforms.py"
    transforms.write_text(transforms.read_text() + '\n\ndef template_fix_marker() -> str:\n    return "v1.1.0"\n')
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text().replace("## Settings\n", "## Settings\n\nTemplate fix: settings intro.\n"))
    prefect_yaml = template / "template" / "prefect.yaml.jinja"
    prefect_yaml.write_text(prefect_yaml.read_text().replace("hours: 24", "hours: 48"))
    layout = template / "template" / "src" / "{{package_name}}" / "templates" / "newsletter.html.j2"
    layout.write_text(layout.read_text().replace("Source: ENTSO-E", "Data: ENTSO-E"))
    benchmark = template / "template" / "benchmarks" / "event_path.py.jinja"
    benchmark.write_text(benchmark.read_text() + "\n# template fix in a file the user deleted\n")


def files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts and p.name != ".copier-answers.yml"
    }


@pytest.fixture
def releases(tmp_path):
    """A template copy with v1.0.0 tagged, and a project rendered from it, committed, edited."""
    template = tmp_path / "template-repo"
    shutil.copytree(ROOT, template, ignore=IGNORE)
    git(template, "init", "-q")
    release(template, "v1.0.0")
    project = tmp_path / "project"
    copier.run_copy(str(template), project, data=load_example(EXAMPLE), defaults=True, vcs_ref="v1.0.0", quiet=True)
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "first render")
    user_edits(project, package)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our changes")
    return template, project, package


def update(project: Path, **kwargs) -> None:
    copier.run_update(project, defaults=True, overwrite=True, quiet=True, unsafe=False, **kwargs)


def test_update_keeps_user_edits_and_brings_template_fixes(releases, tmp_path):
    template, project, package = releases
    template_change(template)
    release(template, "v1.1.0")
    update(project, vcs_ref="v1.1.0")

    everything = files(project)
    assert not [name for name in everything if name.endswith(".rej")]
    assert not [name for name, text in everything.items() if "<<<<<<<" in text or ">>>>>>>" in text]
    # User edits survive ...
    assert "# Our team's note" in everything[f"src/{package}/flows.py"]
    assert "## Our team" in everything["README.md"]
    assert "chunk_days: 14" in everything["prefect.yaml"]
    assert "LOG_RETENTION_DAYS = 90" in everything["infrastructure/components.py"]
    assert "#c05621" in everything[f"src/{package}/templates/newsletter.html.j2"]
    assert "benchmarks/event_path.py" not in everything, "a file the user deleted stays deleted"
    # ... and the template's changes arrive.
    assert "def template_fix_marker" in everything[f"src/{package}/transforms.py"]
    assert "Template fix: settings intro." in everything["README.md"]
    assert "hours: 48" in everything["prefect.yaml"]
    # The user's restyled newsletter layout keeps their colours and still receives the fix.
    assert "Data: ENTSO-E" in everything[f"src/{package}/templates/newsletter.html.j2"]
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v1.1.0"

    # A fresh render of v1.1.0 plus the same edits is the updated project, file for file.
    fresh = tmp_path / "fresh"
    copier.run_copy(str(template), fresh, data=load_example(EXAMPLE), defaults=True, vcs_ref="v1.1.0", quiet=True)
    user_edits(fresh, package)
    assert everything == files(fresh)


def test_changing_an_answer_on_update_rerenders_what_depends_on_it(releases):
    template, project, package = releases
    release(template, "v1.0.1")
    update(project, vcs_ref="v1.0.1", data={"entsoe_area": "FR"})
    assert 'AREA = "FR"' in (project / "src" / package / "defaults.py").read_text()
    assert "**FR**" in (project / "README.md").read_text()
    assert "## Our team" in (project / "README.md").read_text()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["entsoe_area"] == "FR"


def test_bad_answer_on_update_is_refused_and_nothing_changes(releases):
    template, project, _ = releases
    release(template, "v1.0.1")
    before = files(project)
    with pytest.raises(ValueError, match="aws_account_id"):
        update(project, vcs_ref="v1.0.1", data={"aws_account_id": "42"})
    assert files(project) == before
