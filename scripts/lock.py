"""Regenerates template/uv.lock.jinja, the lock file every rendered project ships with.

    python scripts/run.py lock [--upgrade]

Renders the default example, runs `uv lock` in it (keeping the versions the current lock pins
unless --upgrade), and writes the result back with the project's name replaced by
`{{ project_slug }}`. Run it after changing any dependency in template/pyproject.toml.jinja;
tests/test_examples.py fails while the lock and the pyproject disagree. Nothing else in the
lock depends on the answers: the dependencies are the same for every project.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import copier
import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_LOCK = ROOT / "template" / "uv.lock.jinja"
EXAMPLE = ROOT / "examples" / "fi-actual-generation.yml"


def main(argv: list[str]) -> None:
    upgrade = "--upgrade" in argv
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        copier.run_copy(
            str(ROOT), project, data=yaml.safe_load(EXAMPLE.read_text()), defaults=True, vcs_ref="HEAD", quiet=True
        )
        slug = tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]
        command = ["uv", "lock", *(["--upgrade"] if upgrade else [])]
        subprocess.run(command, cwd=project, check=True)
        text = (project / "uv.lock").read_text()
    text, count = re.subn(rf'^name = "{re.escape(slug)}"$', 'name = "{{ project_slug }}"', text, flags=re.MULTILINE)
    if count != 1 or slug in text:
        sys.exit(f"expected the project name {slug!r} exactly once in uv.lock, as its package name")
    if re.search(r"{[{%#]", text.replace("{{ project_slug }}", "")):
        sys.exit("uv.lock contains Jinja delimiters; wrap it in {% raw %} before writing the template")
    TEMPLATE_LOCK.write_text(text)
    print(f"wrote {TEMPLATE_LOCK.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
