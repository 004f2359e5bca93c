"""copier.yml: every validator refuses bad answers with a message naming the question."""

from __future__ import annotations

import pytest
import yaml
from entsoe.mappings import Area

from conftest import ROOT, render

COPIER = yaml.safe_load((ROOT / "copier.yml").read_text())


# The question names other issues, the examples, docs and tests rely on.
CONTRACT = {
    "project_name",
    "package_name",
    "description",
    "author_name",
    "author_email",
    "aws_region",
    "aws_account_id",
    "data_feed",
    "entsoe_area",
    "email_sender",
    "email_recipients",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "schedule_cron",
    "prefect_work_pool",
    "github_repository",
    "ecs_cpu",
    "ecs_memory",
}

BAD_ANSWERS = [
    ("project_name", {"project_name": "   "}, "must not be empty"),
    ("package_name", {"package_name": "Bad-Name"}, "lower-case Python identifier"),
    ("package_name", {"package_name": "import"}, "clashes with a Python keyword"),
    ("author_email", {"author_email": "not-an-email"}, "must look like name@domain.tld"),
    ("aws_region", {"aws_region": "mars-north-1"}, "Invalid choice"),
    ("aws_account_id", {"aws_account_id": "12345"}, "exactly 12 digits"),
    ("data_feed", {"data_feed": "gas_prices"}, "Invalid choice"),
    ("entsoe_area", {"entsoe_area": "ATLANTIS"}, "Invalid choice"),
    ("email_sender", {"email_sender": "newsletter"}, "must look like name@domain.tld"),
    ("email_recipients", {"email_recipients": []}, "non-empty list"),
    ("email_recipients", {"email_recipients": ["a@example.com", "bob"]}, "'bob' is not an email address"),
    ("smtp_host", {"smtp_host": "smtp host"}, "host name or IP address"),
    ("smtp_port", {"smtp_port": 70000}, "between 1 and 65535"),
    ("smtp_security", {"smtp_security": "tls"}, "Invalid choice"),
    ("smtp_username", {"smtp_username": "two words"}, "without spaces"),
    ("schedule_cron", {"schedule_cron": "every day"}, "5-field cron"),
    ("schedule_cron", {"schedule_cron": "* * *"}, "5-field cron"),
    ("prefect_work_pool", {"prefect_work_pool": "My Pool"}, "lower-case letters, digits and hyphens"),
    ("github_repository", {"github_repository": "just-a-name"}, "owner/name"),
    ("ecs_cpu", {"ecs_cpu": 300}, "Invalid choice"),
    ("ecs_memory", {"ecs_cpu": 256, "ecs_memory": 4096}, "not a valid Fargate size for ecs_cpu 256"),
]


@pytest.mark.parametrize(
    "question, data, message", BAD_ANSWERS, ids=[f"{q}-{i}" for i, (q, _, _) in enumerate(BAD_ANSWERS)]
)
def test_bad_answer_is_refused_naming_the_question_and_nothing_is_written(tmp_path, question, data, message):
    destination = tmp_path / "project"
    with pytest.raises(ValueError) as caught:
        render(destination, data)
    assert f"'{question}'" in str(caught.value)
    assert message in str(caught.value)
    assert not destination.exists() or not any(destination.iterdir())


def test_every_question_has_help_and_validation_or_choices():
    questions = {k: v for k, v in COPIER.items() if not k.startswith("_") and v.get("when") is not False}
    assert set(questions) == CONTRACT
    for name, spec in questions.items():
        assert spec.get("help"), name
        if name not in {"description", "author_name"}:
            assert "validator" in spec or "choices" in spec, name


def test_area_choices_match_entsoe_py():
    assert COPIER["entsoe_area"]["choices"] == "{{ entsoe_areas | tojson }}"
    assert COPIER["entsoe_areas"]["default"] == [area.name for area in Area], (
        "copier.yml's entsoe_areas drifted from entsoe-py: run `python scripts/sync_areas.py`"
    )


def test_template_uses_no_unsafe_copier_feature():
    assert not {"_tasks", "_migrations", "_jinja_extensions"} & set(COPIER)


def test_norway_stays_a_string_through_yaml(tmp_path):
    project = render(tmp_path / "project", {"entsoe_area": "NO"})
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["entsoe_area"] == "NO"


def test_all_defaults_render_without_a_prompt(tmp_path):
    project = render(tmp_path / "project", {})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "entso_e_newsletter"
    assert answers["ecs_memory"] == 2048


def test_question_reference_is_generated_from_copier_yml():
    import runpy

    generator = runpy.run_path(str(ROOT / "scripts" / "gen_question_docs.py"))
    assert (ROOT / "docs" / "reference" / "questions.md").read_text() == generator["render"](), (
        "docs/reference/questions.md is stale: run `python scripts/gen_question_docs.py`"
    )


def test_copier_cli_takes_every_answer_on_the_command_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from conftest import load_example

    answers = load_example("es-day-ahead-prices")
    flags = []
    for name, value in answers.items():
        text = yaml.safe_dump(value, default_flow_style=True).strip() if isinstance(value, list) else str(value)
        flags += ["--data", f"{name}={text}"]
    copier = Path(sys.executable).parent / "copier"
    result = subprocess.run(
        [str(copier), "copy", "--defaults", "--vcs-ref", "HEAD", *flags, str(ROOT), str(tmp_path / "project")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    recorded = yaml.safe_load((tmp_path / "project" / ".copier-answers.yml").read_text())
    assert {k: recorded[k] for k in answers} == answers


def test_copier_cli_refuses_a_bad_answer_with_the_validator_message(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    copier = Path(sys.executable).parent / "copier"
    result = subprocess.run(
        [
            str(copier),
            "copy",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "smtp_port=0",
            str(ROOT),
            str(tmp_path / "p"),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert "smtp_port must be between 1 and 65535" in result.stdout + result.stderr
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())
