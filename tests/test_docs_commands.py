"""Every command the tutorial and the deploy checklist give exists: the package's CLI verbs,
`scripts/run.py` verbs, `deploy/prefect_cloud.py` verbs, workflow names, secret names as the
workflows read them, Pulumi config keys and stack names, and the files they run."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from conftest import ROOT

TEMPLATE = ROOT / "template"
PACKAGE = TEMPLATE / "src" / "{{package_name}}"
WORKFLOWS = TEMPLATE / ".github" / "workflows"
TUTORIAL = ROOT / "docs" / "tutorial" / "first-pipeline.md"
DEPLOY = ROOT / "docs" / "how-to" / "deploy.md"


def parser_verbs(path: Path) -> set[str]:
    return set(re.findall(r'add_parser\(\s*"([\w-]+)"', path.read_text()))


def template_file(relative: str) -> Path | None:
    """A rendered project's file in the template (possibly `.jinja`), or None."""
    for candidate in (TEMPLATE / relative, TEMPLATE / f"{relative}.jinja"):
        if candidate.is_file():
            return candidate
    return None


def workflow_names() -> dict[str, str]:
    """File name (as rendered) -> the workflow's `name:`."""
    names = {}
    for path in WORKFLOWS.glob("*.yml*"):
        (name,) = re.findall(r"^name: (.+)$", path.read_text(), re.M)
        names[path.name.removesuffix(".jinja")] = name.strip()
    return names


def workflow_secrets() -> set[str]:
    return {name for path in WORKFLOWS.iterdir() for name in re.findall(r"secrets\.(\w+)", path.read_text())}


def commands(markdown: str) -> list[str]:
    """Shell lines of the fenced bash blocks and the inline `code` that starts with a tool, joined
    where a line ends in a backslash, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", markdown, re.S)
    lines = " ".join(blocks).replace("\\\n", " ").splitlines()
    lines += re.findall(r"`((?:uv|gh|pulumi|copier|python|git) [^`]+)`", markdown)
    return [line.split(" #")[0].strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def problems(markdown: str) -> list[str]:
    """What in the text names something that does not exist."""
    cli_verbs = parser_verbs(PACKAGE / "cli.py")
    deploy_verbs = parser_verbs(TEMPLATE / "deploy" / "prefect_cloud.py.jinja")
    run_verbs = set(runpy.run_path(str(ROOT / "scripts" / "run.py"))["VERBS"])
    infrastructure = (TEMPLATE / "infrastructure" / "__main__.py").read_text()
    deploy_workflow = (WORKFLOWS / "deploy.yml.jinja").read_text()
    found = []
    for line in commands(markdown):
        if match := re.search(r"python -m \w+ ([\w-]+)", line):
            found += [] if match.group(1) in cli_verbs else [f"no CLI verb {match.group(1)!r}: {line}"]
        if match := re.search(r"scripts/run\.py ([\w-]+)", line):
            found += [] if match.group(1) in run_verbs else [f"no scripts/run.py verb {match.group(1)!r}: {line}"]
        if match := re.search(r"deploy/prefect_cloud\.py ([\w-]+)", line):
            found += [] if match.group(1) in deploy_verbs else [f"no prefect_cloud.py verb {match.group(1)!r}: {line}"]
        if match := re.search(r"gh secret set (\w+)", line):
            found += [] if match.group(1) in workflow_secrets() else [f"no workflow reads secret {match.group(1)}"]
        if match := re.search(r"gh workflow run ([\w.-]+)", line):
            found += [] if match.group(1) in workflow_names() else [f"no workflow file {match.group(1)}"]
        if match := re.search(r"pulumi config set (\w+)", line):
            key = match.group(1)
            found += [] if re.search(rf'config\.\w+\("{key}"\)', infrastructure) else [f"no config key {key}"]
        if match := re.search(r"pulumi stack init (\w+)", line):
            found += [] if match.group(1) in infrastructure else [f"the program knows no stack {match.group(1)}"]
        if match := re.search(r"--stack (\w+)", line):
            found += (
                []
                if f"PULUMI_STACK: {match.group(1)}" in deploy_workflow
                else [f"Deploy uses no stack {match.group(1)}"]
            )
        for path in re.findall(r"(?<![\w/.])((?:deploy|benchmarks|scripts|infrastructure)/[\w/.-]+\.py)", line):
            exists = (ROOT / path).is_file() if path.startswith("scripts/") else template_file(path)
            found += [] if exists else [f"no file {path}: {line}"]
        for path in re.findall(r"examples/[\w.-]+\.yml", line):
            found += [] if (ROOT / path).is_file() else [f"no example {path}"]
    for name in re.findall(r"Actions → \*\*(\w+)\*\*", markdown):
        found += [] if name in workflow_names().values() else [f"no workflow named {name}"]
    return found


def checklist() -> str:
    text = DEPLOY.read_text()
    return text[text.index("## Checklist") : text.index("\n## ", text.index("## Checklist") + 1)]


@pytest.mark.parametrize("document", ["tutorial", "deploy checklist", "README"])
def test_every_command_in_the_document_exists(document):
    texts = {
        "tutorial": TUTORIAL.read_text(),
        "deploy checklist": checklist(),
        "README": (ROOT / "README.md").read_text(),
    }
    text = texts[document]
    assert len(commands(text)) >= 5, "the commands were not found: has the document's format changed?"
    assert problems(text) == []


def test_the_checklist_sets_every_secret_the_deploy_workflow_reads():
    deploy = set(re.findall(r"secrets\.(\w+)", (WORKFLOWS / "deploy.yml.jinja").read_text()))
    assert deploy <= set(re.findall(r"gh secret set (\w+)", checklist()))


def test_the_checker_names_what_does_not_exist():
    wrong = """```bash
uv run python -m my_pipeline frobnicate
python scripts/run.py deploy
uv run python deploy/prefect_cloud.py launch --stack-outputs x.json
gh secret set AWS_SECRET_ACCESS_KEY --env production
gh workflow run release.yml
pulumi config set region eu-north-1
uv run python benchmarks/nothing.py
```
Actions → **Release**
"""
    assert len(problems(wrong)) == 8
