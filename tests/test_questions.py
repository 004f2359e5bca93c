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
    "monthly_budget_usd",
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
    ("monthly_budget_usd", {"monthly_budget_usd": 0}, "positive amount of US dollars"),
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
    import runpy

    assert COPIER["entsoe_area"]["choices"] == "{{ entsoe_areas | tojson }}"
    assert sorted(name for _, name in COPIER["entsoe_areas"]["default"]) == sorted(area.name for area in Area)
    generator = runpy.run_path(str(ROOT / "scripts" / "sync_areas.py"))
    assert generator["areas_block"]() in (ROOT / "copier.yml").read_text(), (
        "copier.yml's entsoe_areas drifted from entsoe-py: run `python scripts/sync_areas.py`"
    )


def test_the_area_question_lists_areas_by_readable_name_in_order():
    names = [label.rsplit(" – ", 1)[0].casefold() for label, _ in COPIER["entsoe_areas"]["default"]]
    assert names == sorted(names)
    by_name = {name: label for label, name in COPIER["entsoe_areas"]["default"]}
    assert by_name["SE_3"] == "Sweden (SE3) – SE_3"
    assert by_name["DE_LU"] == "Germany (DE-LU) – DE_LU"
    assert by_name["FI"] == "Finland – FI"


@pytest.mark.parametrize(
    "feed, area, message",
    [
        (
            "day_ahead_prices",
            "DE",
            "entsoe_area DE does not publish day-ahead prices (A44), published per bidding zone; "
            "choose one of DE_AT_LU, DE_LU",
        ),
        ("day_ahead_prices", "IE", "choose one of IE_SEM"),
        ("actual_generation", "CWE", "published per bidding zone, control area or country"),
    ],
)
def test_an_area_that_does_not_publish_the_feed_is_refused_naming_the_valid_choice(tmp_path, feed, area, message):
    with pytest.raises(ValueError) as caught:
        render(tmp_path / "project", {"data_feed": feed, "entsoe_area": area})
    assert "'entsoe_area'" in str(caught.value) and message in str(caught.value)


def test_a_country_publishes_generation_and_a_bidding_zone_prices(tmp_path):
    render(tmp_path / "generation", {"data_feed": "actual_generation", "entsoe_area": "DE"})
    render(tmp_path / "prices", {"data_feed": "day_ahead_prices", "entsoe_area": "DE_LU"})


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


@pytest.mark.parametrize(
    "project_name, package_name",
    [
        ("Ääni", "aani"),
        ("Sähkö hinnat", "sahko_hinnat"),
        ("Straße & Strøm", "strasse_strom"),
        ("Łódź Œuvre Ærø", "lodz_oeuvre_aero"),
        ("2025 prices", "_2025_prices"),
    ],
)
def test_project_name_letters_are_transliterated_into_the_package_name(tmp_path, project_name, package_name):
    project = render(tmp_path / "project", {"project_name": project_name})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == package_name
    assert (project / "src" / package_name / "__init__.py").exists()


@pytest.mark.parametrize("project_name", ["!!!", "日本電力", "---"])
def test_a_project_name_that_gives_no_package_name_is_refused_naming_the_question(tmp_path, project_name):
    with pytest.raises(ValueError, match="'project_name'.*gives no package name.*set package_name"):
        render(tmp_path / "project", {"project_name": project_name})
    assert not (tmp_path / "project").exists() or not any((tmp_path / "project").iterdir())


def test_at_the_prompt_a_name_that_gives_no_package_name_is_asked_again_not_a_crash(tmp_path):
    """What a user sees: the validator's message under the question, and the prompt still open."""
    import fcntl
    import os
    import pty
    import re
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time
    from pathlib import Path

    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    copier = Path(sys.executable).parent / "copier"
    process = subprocess.Popen(
        [str(copier), "copy", "--vcs-ref", "HEAD", str(ROOT), str(tmp_path / "p")],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(terminal)
    seen = b""

    def screen_until(pattern: str, timeout_s: float = 60) -> str:
        nonlocal seen
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536) if select.select([master], [], [], 0.2)[0] else b""
            except OSError:  # the terminal closed: copier exited
                chunk = b""
            seen += chunk
            if not chunk and process.poll() is not None:
                break
            text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
            if re.search(pattern, text):
                return text
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))

    try:
        screen_until("Human name of your pipeline")
        os.write(master, b"\x7f" * 40 + b"!!!\r")  # erase the default, type the name, press Enter
        text = screen_until("gives no package name|Traceback|Validation error for question 'package_name'")
        assert "'project_name': project_name '!!!' gives no package name" in text, text[-2000:]
        time.sleep(1)
        assert "Traceback" not in screen_until("Traceback", timeout_s=1) and process.poll() is None, "still asking"
    finally:
        process.kill()
        process.wait()
        os.close(master)


def test_a_project_name_without_ascii_letters_renders_with_an_explicit_package_name(tmp_path):
    project = render(tmp_path / "project", {"project_name": "日本電力", "package_name": "nihon_denryoku"})
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["project_name"] == "日本電力"


def test_a_project_name_whose_package_name_is_reserved_is_refused_before_the_package_question(tmp_path):
    with pytest.raises(ValueError, match="'import'.*set package_name"):
        render(tmp_path / "project", {"project_name": "Import"})


def test_the_transliteration_table_agrees_with_unicode_decomposition():
    import unicodedata

    table = COPIER["transliterations"]["default"]
    latin = [chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha() and chr(c).islower()] + ["ș", "ț"]
    assert set(latin) <= set(table), "every lower-case letter of Latin-1 and Latin Extended-A is transliterated"
    for letter, ascii_ in table.items():
        decomposed = unicodedata.normalize("NFKD", letter).encode("ascii", "ignore").decode()
        assert ascii_.isascii() and ascii_.isalpha(), letter
        assert not decomposed or decomposed.lower() == ascii_, f"{letter}: table {ascii_!r}, NFKD {decomposed!r}"
