"""`copier update` never loses a user's work: old release -> user edits -> new release -> update.

Each test tags a temporary copy of this repository as v1.0.0 and, after a template change,
v1.1.0 (PEP 440 tags), exactly as a user's update would see two releases.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import copier
import pytest
import yaml

from conftest import ROOT, load_example, uv

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
    prefect_yaml.write_text(prefect_yaml.read_text().replace("max_concurrency: 4", "max_concurrency: 2"))
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


# A release that adds a column to every table: the next schema version of tables.py.
LAST_FIELD = '    NestedField(18, "area_name", StringType(), required=False, doc="short area name, e.g. FI or DE_LU"),'


def add_a_column(template: Path) -> None:
    tables = template / "template" / "src" / "{{package_name}}" / "tables.py"
    text = tables.read_text()
    for old, new in [
        ("SCHEMA_VERSION = 2", "SCHEMA_VERSION = 3"),
        (
            LAST_FIELD + "\n)",
            LAST_FIELD + '\n    NestedField(19, "quality", StringType(), required=False, doc="added in v1.1.0"),\n)',
        ),
        ('            "sequence": data', '            "quality": "checked",\n            "sequence": data'),
    ]:
        assert text.count(old) == 1, f"tables.py changed: {old!r} is the anchor of this release's edit"
        text = text.replace(old, new)
    tables.write_text(text)


# Lands the feed's sample push message under another mRID and, if given, another area (so it
# replaces no earlier rows) in a local lake, with the project's own code; reports the schema
# version, the columns and each document's `quality` values.
WRITE_ONE_DOCUMENT = """
import json, sys
from pathlib import Path
from {package} import defaults
from {package}.documents import read_document
from {package}.feeds import FEEDS
from {package}.settings import Settings
from {package}.tables import SCHEMA_VERSION, open_catalog, open_tables, rows, table_names, write_document

lake, mrid, area = sys.argv[1], sys.argv[2], sys.argv[3:]
settings = Settings(lake_dir=Path(lake))
feed = FEEDS[defaults.FEED]
message = Path("samples/push", defaults.FEED + ".xml").read_text(encoding="utf-8")
sample = read_document(message)
message = message.replace(sample.mrid, mrid, 1)
document = read_document(message.replace(sample.area, area[0]) if area else message)
tables = open_tables(open_catalog(settings), settings.catalog_database, table_names(feed)[0])
write_document(tables, document, rows(document, document.frame, feed))
table = tables.latest
arrow = table.scan().to_arrow()
mrids = arrow.column("document_mrid").to_pylist()
quality = arrow.column("quality").to_pylist() if "quality" in arrow.column_names else [None] * len(mrids)
values = {{}}
counts = {{}}
for mrid, value in zip(mrids, quality):
    values.setdefault(mrid, set()).add(str(value))
    counts[mrid] = counts.get(mrid, 0) + 1
print(json.dumps({{
    "version": SCHEMA_VERSION,
    "columns": [f.name for f in table.schema().fields],
    "quality": {{mrid: sorted(found) for mrid, found in values.items()}},
    "rows": counts,
}}))
"""


def write_one_document(project: Path, package: str, lake: Path, mrid: str, *area: str) -> dict:
    synced = uv(project, "sync", "--locked", "--quiet")
    assert synced.returncode == 0, synced.stderr
    result = uv(
        project, "run", "--locked", "python", "-c", WRITE_ONE_DOCUMENT.format(package=package), str(lake), mrid, *area
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


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
    assert "max_concurrency: 2" in everything["prefect.yaml"]
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


def test_a_release_that_adds_a_column_migrates_the_lake_the_old_one_wrote(releases, tmp_path):
    """Schema version 2 -> 3: the tables written by v1.0.0 gain the column on the first write
    after `copier update` (tables.migrate: Iceberg schema evolution, metadata only); the rows
    written before read it as null, the new rows carry it, nothing is rewritten or lost."""
    template, project, package = releases
    lake = tmp_path / "lake"
    before = write_one_document(project, package, lake, "written-by-v1")
    assert before["version"] == 2 and "quality" not in before["columns"]

    add_a_column(template)
    release(template, "v1.1.0")
    update(project, vcs_ref="v1.1.0")
    after = write_one_document(project, package, lake, "written-by-v2", "10YNO-4--------9")
    assert after["version"] == 3
    assert after["columns"] == [*before["columns"], "quality"]
    assert after["quality"] == {"written-by-v1": ["None"], "written-by-v2": ["checked"]}
    assert after["rows"]["written-by-v1"] == before["rows"]["written-by-v1"] > 0, "no row of v1.0.0 is lost"
