"""The rendered deploy files pass the real linters: zizmor, actionlint, hadolint; and keep the rules."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from workflow_rules import BIN, assert_no_actionlint_findings, assert_no_zizmor_findings, assert_pinned_and_unprivileged

from conftest import EXAMPLES, load_example, render


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_workflows_have_no_zizmor_findings(rendered, example):
    assert_no_zizmor_findings(workflows(rendered(example)))


@pytest.mark.parametrize("example", EXAMPLES)
def test_workflows_have_no_actionlint_findings(rendered, example):
    assert_no_actionlint_findings(workflows(rendered(example)))


@pytest.mark.parametrize("example", EXAMPLES)
def test_dockerfile_passes_hadolint(rendered, example):
    result = subprocess.run(
        [str(BIN / "hadolint"), str(rendered(example) / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


@pytest.mark.parametrize("example", EXAMPLES)
def test_workflows_pin_actions_and_start_from_no_permissions(rendered, example):
    for path in workflows(rendered(example)):
        assert_pinned_and_unprivileged(path)


@pytest.mark.parametrize("example", EXAMPLES)
def test_deploy_workflow_is_one_click_with_oidc(rendered, example):
    project = rendered(example)
    deploy = yaml.safe_load((project / ".github" / "workflows" / "deploy.yml").read_text())
    assert set(deploy[True]) == {"workflow_dispatch"}  # YAML 1.1 reads the key `on` as True
    job = deploy["jobs"]["deploy"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    answers = load_example(example)
    assert deploy["env"]["DEPLOY_ROLE_ARN"].startswith(f"arn:aws:iam::{answers['aws_account_id']}:role/")
    names = [step["name"] for step in job["steps"]]
    assert any("pulumi up" in n for n in names) and any("push message through the front door" in n for n in names)
    assert not any("AWS_ACCESS_KEY_ID" in json.dumps(step) for step in job["steps"])


@pytest.mark.parametrize("example", EXAMPLES)
def test_deploy_reruns_of_one_commit_push_a_new_tag_to_the_immutable_registry(rendered, example):
    """Defect 10: the image tag differs per run and per attempt, never only the commit SHA."""
    job = yaml.safe_load((rendered(example) / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]["deploy"]
    tag = job["env"]["IMAGE_TAG"]
    assert all(part in tag for part in ("github.sha", "github.run_id", "github.run_attempt")), tag


@pytest.mark.parametrize("example", EXAMPLES)
def test_destroy_logs_in_to_aws_before_touching_prefect_and_never_the_lake(rendered, example):
    """Defect 11: a failed AWS login stops Destroy before the Prefect side is gone.
    Defect 9: Destroy selects only the pipeline stack; the lake lives in the bootstrap stack."""
    destroy = yaml.safe_load((rendered(example) / ".github" / "workflows" / "destroy.yml").read_text())
    steps = destroy["jobs"]["destroy"]["steps"]
    login = next(i for i, s in enumerate(steps) if "configure-aws-credentials" in s.get("uses", ""))
    teardown = next(i for i, s in enumerate(steps) if "prefect_cloud.py teardown" in s.get("run", ""))
    assert login < teardown
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert destroy["env"]["PULUMI_STACK"] == "prod" and "bootstrap" not in scripts


def run_step(script: str, cwd: Path, stubs: dict[str, str]) -> subprocess.CompletedProcess:
    """A step's `run:` as GitHub's runner runs it (`bash --noprofile --norc -eo pipefail`), with
    these commands replaced by shell stubs that append their arguments to calls.log."""
    bin_dir = cwd / "stub-bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{cwd}/calls.log"\n{body}\n')
        stub.chmod(0o755)
    script_file = cwd / "step.sh"
    script_file.write_text(script)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PULUMI_STACK": "prod", "AWS_REGION": "eu-north-1", "HOME": str(cwd)}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_destroy_reaches_pulumi_destroy_when_the_registry_is_already_gone(rendered, example, tmp_path):
    """Issue 22 item 3: a partial destroy may have removed the registry; every AWS CLI call then
    fails, and nothing may stand between the re-run and `pulumi destroy` (the repository's
    force_delete empties it)."""
    destroy = yaml.safe_load((rendered(example) / ".github" / "workflows" / "destroy.yml").read_text())
    (step,) = [s for s in destroy["jobs"]["destroy"]["steps"] if "pulumi destroy" in s.get("run", "")]
    missing = 'echo "An error occurred (RepositoryNotFoundException)" >&2; exit 254'
    result = run_step(
        step["run"],
        tmp_path,
        {"aws": missing, "pulumi": 'case "$1" in stack) [ "$2" = output ] && echo 1.dkr.ecr/x ;; esac; exit 0'},
    )
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[-1] == "pulumi destroy --yes --skip-preview", calls


@pytest.mark.parametrize("example", EXAMPLES)
def test_prefect_yaml_schedule_follows_the_answer(rendered, example):
    spec = yaml.safe_load((rendered(example) / "prefect.yaml").read_text())
    poll = next(d for d in spec["deployments"] if d["name"].endswith("-poll"))
    cron = load_example(example)["schedule_cron"].strip()
    assert [s["cron"] for s in poll["schedules"]] == ([cron] if cron else [])
    assert spec["definitions"]["work_pool"]["name"] == load_example(example)["prefect_work_pool"]


def test_two_projects_default_to_a_work_pool_each(tmp_path):
    """Issue 22 item 10: two projects in one Prefect workspace. Each deploy writes its own
    submitter's AWS keys into its pool and each Destroy deletes its pool, so a pool both
    default to is broken by whichever deployed last, and deleted by either's teardown."""
    pools = []
    for name in ("Load Watch", "Price Watch"):
        project = render(tmp_path / name.replace(" ", "-"), {"project_name": name})
        pool = yaml.safe_load((project / ".copier-answers.yml").read_text())["prefect_work_pool"]
        assert yaml.safe_load((project / "prefect.yaml").read_text())["definitions"]["work_pool"]["name"] == pool
        assert f'WORK_POOL = "{pool}"' in (project / "deploy" / "prefect_cloud.py").read_text()
        assert f'PREFECT_WORK_POOL = "{pool}"' in (project / "infrastructure" / "answers.py").read_text()
        pools.append(pool)
    assert pools == ["load-watch-ecs-push", "price-watch-ecs-push"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_pulumi_cli_comes_from_pulumis_action_pinned_by_commit_at_one_version(rendered, example):
    """Issue 22 item 9: no `curl | sh` in workflows that pin every action: Pulumi's own action,
    pinned by commit, installs an exact CLI version (install only: the steps run pulumi)."""
    for name in ("deploy.yml", "destroy.yml"):
        workflow = yaml.safe_load((rendered(example) / ".github" / "workflows" / name).read_text())
        (job,) = workflow["jobs"].values()
        runs = [step.get("run", "") for step in job["steps"]]
        assert not [run for run in runs if re.search(r"\b(curl|wget)\b[^\n]*\|\s*(ba|z)?sh\b", run)], name
        (install,) = [i for i, step in enumerate(job["steps"]) if step.get("uses", "").startswith("pulumi/actions@")]
        step = job["steps"][install]
        assert re.fullmatch(r"pulumi/actions@[0-9a-f]{40}", step["uses"]), name
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(step["with"]["pulumi-version"])), name
        assert "command" not in step["with"], name
        assert install < min(i for i, run in enumerate(runs) if re.search(r"^\s*pulumi ", run, re.M)), name


@pytest.mark.parametrize("example", EXAMPLES)
def test_no_secret_in_any_rendered_file(rendered, example):
    project = rendered(example)
    pattern = re.compile(
        r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|pnu_[A-Za-z0-9]{20,}|password\s*[:=]\s*['\"][^'\"]+)"
    )
    for path in project.rglob("*"):
        if path.is_file() and ".venv" not in path.parts and path.suffix not in {".pyc"}:
            assert not pattern.search(path.read_text(encoding="utf-8", errors="ignore")), path


@pytest.mark.parametrize("example", EXAMPLES)
def test_deploy_workflow_installs_the_packages_prefect_yaml_steps_require(rendered, example):
    """`prefect deploy` would pip-install a step's `requires:`, and a uv venv has no pip."""
    project = rendered(example)
    spec = yaml.safe_load((project / "prefect.yaml").read_text())
    required = {
        re.match(r"[\w-]+", body["requires"]).group().replace("_", "-")
        for section in ("build", "push")
        for step in spec.get(section) or []
        for body in step.values()
        if body.get("requires")
    }
    assert "prefect-docker" in required
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    steps = yaml.safe_load((project / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]["deploy"]["steps"]
    runs = [step.get("run", "") for step in steps]
    deploy_at = next(i for i, run in enumerate(runs) if "prefect --no-prompt deploy" in run)
    sync = next(run for run in runs[:deploy_at] if run.startswith("uv sync"))
    groups = re.findall(r"--group (\S+)", sync) + pyproject["tool"]["uv"]["default-groups"]
    installed = {
        re.match(r"[\w-]+", requirement).group().replace("_", "-")
        for requirement in pyproject["project"]["dependencies"]
        + [r for group in groups for r in pyproject["dependency-groups"][group]]
    }
    assert required <= installed, f"{sorted(required - installed)} not in the groups `{sync}` installs"


@pytest.mark.parametrize("example", EXAMPLES)
def test_template_update_pushes_with_a_token_that_may_change_workflows_or_names_the_missing_secret(
    rendered, example, tmp_path
):
    """Issue 22 item 8: GITHUB_TOKEN can never push a change to .github/workflows/*, so the
    update pushes and opens its pull request with a GitHub App's token or a fine-grained token,
    and with neither configured it stops at once, naming the secrets to set."""
    workflow = yaml.safe_load((rendered(example) / ".github" / "workflows" / "template-update.yml").read_text())
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}, "GITHUB_TOKEN needs no write access"
    check, *steps = job["steps"]
    mint = next(s for s in steps if s.get("uses", "").startswith("actions/create-github-app-token@"))
    assert {k: v for k, v in mint["with"].items() if k.startswith("permission-")} == {
        "permission-contents": "write",
        "permission-pull-requests": "write",
        "permission-workflows": "write",
    }
    (push,) = [s for s in steps if "git push" in s.get("run", "")]
    assert push["env"]["GH_TOKEN"] == "${{ steps.app-token.outputs.token || secrets.TEMPLATE_UPDATE_TOKEN }}"
    assert "github.token" not in json.dumps(steps) and "GITHUB_TOKEN" not in json.dumps(steps)

    def first_step(**configured: bool) -> tuple[subprocess.CompletedProcess, str]:
        output = tmp_path / "output"
        output.write_text("")
        flags = {name: str(configured.get(name, False)).lower() for name in ("HAS_APP_ID", "HAS_APP_KEY", "HAS_TOKEN")}
        assert set(flags) == set(check["env"]), "the step reads these three"
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", check["run"]],
            env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), **flags},
            capture_output=True,
            text=True,
        )
        return result, output.read_text()

    nothing, _ = first_step()
    assert nothing.returncode == 1
    assert "::error::Missing secret TEMPLATE_UPDATE_TOKEN" in nothing.stdout
    assert "TEMPLATE_UPDATE_APP_CLIENT_ID and TEMPLATE_UPDATE_APP_PRIVATE_KEY" in nothing.stdout
    half, _ = first_step(HAS_APP_ID=True)
    assert half.returncode == 1 and "one is missing" in half.stdout
    token, chosen = first_step(HAS_TOKEN=True)
    assert token.returncode == 0 and chosen == "app=false\n"
    app, chosen = first_step(HAS_APP_ID=True, HAS_APP_KEY=True, HAS_TOKEN=True)
    assert app.returncode == 0 and chosen == "app=true\n"


@pytest.mark.parametrize("example", EXAMPLES)
def test_deploy_and_destroy_steps_fail_on_a_failed_command_inside_a_pipe(rendered, example):
    """With no `shell`, GitHub's runner runs a step as `bash -e {0}` (GitHub docs, workflow syntax,
    jobs.<job_id>.steps[*].shell): `aws ecr get-login-password | docker login` would go on
    after a failed `aws`. `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`."""
    for name in ("deploy.yml", "destroy.yml"):
        workflow = yaml.safe_load((rendered(example) / ".github" / "workflows" / name).read_text())
        (job,) = workflow["jobs"].values()
        shells = {step.get("shell") for step in job["steps"] if "run" in step} - {None}
        assert workflow["defaults"]["run"]["shell"] == "bash" and not shells, name
        assert "defaults" not in job, name
