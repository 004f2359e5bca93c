"""Every example renders, lints clean, installs, and passes its own tests."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from conftest import EXAMPLES, PRIMARY_EXAMPLE, ROOT, STALE_LOCK, load_example, uv

# Rendered test files whose outcome does not depend on the answers (the mechanics of the event
# path, alerts, the rate limit, the backfill fan-out, IAM on moto, the benchmarks): they run for
# PRIMARY_EXAMPLE only. Every example still runs what its answers shape: reading its feed's
# documents, the flow end to end on its feed (test_flow), the front door handler on its document
# type (test_front_door), its tables, checks and queries, its stacks and deployments.
ANSWER_INDEPENDENT = [
    "tests/test_demo.py",
    "tests/test_benchmark_event_path.py",
    "tests/test_benchmark_front_door.py",
    "tests/test_event_path.py",
    "tests/test_operations.py",
    "tests/test_backfill.py",
    "tests/test_iam_behaviour.py",
    "tests/test_tables_rule.py",
    "tests/test_query.py",
    "tests/test_redeploy_keeps_tables.py",
    # Deploy and Destroy step by step: about 5 minutes on 2 idle cores. The steps are the same
    # for every answer; what the answers change (names, ARNs, region) is checked per example by
    # test_aws_calls.py and test_infrastructure.py.
    "tests/test_workflow_rehearsal.py",
]
# The primary example's suite runs as two outer tests, this part and the rest, in parallel.
EVENT_PATH = ["tests/test_event_path.py", "tests/test_benchmark_event_path.py"]

# What installing and running a rendered project leaves behind; not rendered files.
CACHES = {".venv", ".ruff_cache", ".pytest_cache", ".hypothesis", "__pycache__", "outbox", "lake"}


@pytest.mark.xdist_group("grouping-check")
def test_xdist_keeps_a_group_on_one_worker(request):
    """Groups are what keep an example's render, sync and tests (and the image build) on one
    worker; xdist marks a grouped test by its node id, which pytest 9.2 stopped honouring."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("not running under pytest-xdist")
    assert request.node.nodeid.endswith("@grouping-check"), "xdist's loadgroup did not group this test"


def test_there_are_examples_for_every_feed():
    feeds = {load_example(name)["data_feed"] for name in EXAMPLES}
    assert feeds == {"actual_generation", "wind_solar_forecast", "total_load", "day_ahead_prices"}


@pytest.mark.parametrize("example", EXAMPLES)
def test_rendered_files_carry_the_answers_and_nothing_unrendered(rendered, example):
    project = rendered(example)
    answers = load_example(example)
    package = project / "src" / yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    assert (package / "flows.py").is_file() and (package / "defaults.py").is_file()
    defaults = (package / "defaults.py").read_text()
    assert f'FEED = "{answers["data_feed"]}"' in defaults
    assert f'AREA = "{answers["entsoe_area"]}"' in defaults
    assert (project / "samples" / "push" / f"{answers['data_feed']}.xml").is_file()
    for path in project.rglob("*"):
        if path.is_file() and not CACHES & set(path.parts) and path.suffix not in {".xml", ".pyc"}:
            assert not path.name.endswith(".jinja"), path
            text = path.read_text(encoding="utf-8")
            if path.suffix != ".j2":  # the newsletter layout is itself a Jinja template
                assert not re.search(r"{{\s*(package_name|project_name|data_feed|_copier)", text), path


@pytest.mark.parametrize("example", EXAMPLES)
def test_answers_file_records_every_answer_and_no_secret(rendered, example):
    recorded = yaml.safe_load((rendered(example) / ".copier-answers.yml").read_text())
    for key, value in load_example(example).items():
        assert recorded[key] == value
    assert not any(word in key for key in recorded for word in ("password", "token", "secret", "api_key"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_rendered_lock_file_matches_the_rendered_pyproject(rendered, example):
    # Dockerfile's `COPY uv.lock` and the workflows' `uv sync --locked` need it from the first push.
    check = uv(rendered(example), "lock", "--locked")
    assert check.returncode == 0, check.stderr + STALE_LOCK


def test_rendered_python_differs_between_examples_only_in_values():
    """Why pyright checks the primary example only: no Python template branches on an answer.

    The answers reach Python files only as values ({{ ... }}), so every example's modules
    have the same statements and the same types. A `{% if %}` in one would end that, and
    this test with it.
    """
    templates = [p for p in (ROOT / "template").rglob("*.py*") if p.suffix in {".py", ".jinja"}]
    assert any(p.name.endswith(".py.jinja") for p in templates)
    for path in templates:
        if path.name.endswith((".py", ".py.jinja")):
            statements = re.findall(r"{%-?\s*(\w+)", path.read_text(encoding="utf-8"))
            assert set(statements) <= {"raw", "endraw"}, f"{path} has Jinja statements {statements}"


@pytest.mark.parametrize("example", EXAMPLES)
def test_rendered_project_lints_clean(synced, example):
    project = synced(example)
    lint = uv(project, "run", "ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = uv(project, "run", "ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    if example == PRIMARY_EXAMPLE:  # the same types in every example: see the test above
        types = uv(project, "run", "--locked", "pyright")
        assert types.returncode == 0, types.stdout[-5000:] + types.stderr


@pytest.mark.parametrize(
    "example, part",
    [(PRIMARY_EXAMPLE, "event-path"), (PRIMARY_EXAMPLE, "rest")]
    + [(example, "all") for example in EXAMPLES if example != PRIMARY_EXAMPLE],
)
def test_rendered_project_passes_its_tests(synced, example, part):
    """The project's own suite; the primary example's in two parts, which two xdist workers share."""
    project = synced(example)
    if part == "event-path":
        selection = EVENT_PATH
    elif part == "rest":
        selection = [f"--ignore={path}" for path in EVENT_PATH]
    else:
        selection = [f"--ignore={path}" for path in ANSWER_INDEPENDENT]
    tests = uv(project, "run", "pytest", "-q", "-p", "no:cacheprovider", *selection, timeout=2400)
    assert tests.returncode == 0, failures_first(tests.stdout) + tests.stderr[-3000:]
    assert re.search(r"\d+ passed", tests.stdout) and " failed" not in tests.stdout


@pytest.mark.parametrize("example", EXAMPLES)
def test_pre_commit_hooks_and_ci_run_the_same_locked_tools(rendered, example):
    project = rendered(example)
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (local,) = [repo for repo in hooks["repos"] if repo["repo"] == "local"]
    entries = [hook["entry"] for hook in local["hooks"]]
    ci = (project / ".github" / "workflows" / "ci.yml").read_text()
    for tool in ("ruff check", "ruff format", "pyright"):
        assert any(entry.startswith(f"uv run --locked {tool}") for entry in entries), tool
        assert f"uv run --locked {tool}" in ci, tool
    assert not any("ruff" in repo["repo"] for repo in hooks["repos"] if repo["repo"] != "local")


def failures_first(output: str) -> str:
    """Which tests failed, then the end of the output: a long failure report cannot hide the names."""
    failed = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return "\n".join(failed) + "\n...\n" + output[-5000:]
