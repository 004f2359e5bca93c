"""A newcomer's first steps around Copier, run as the README writes them: render from the
clone, put the project in git, and `copier update` works (and fails, saying why, without git)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from test_docs_commands import problems

from conftest import ROOT

BIN = Path(sys.executable).parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Newcomer",
    "GIT_AUTHOR_EMAIL": "newcomer@example.com",
    "GIT_COMMITTER_NAME": "Newcomer",
    "GIT_COMMITTER_EMAIL": "newcomer@example.com",
}


def render_your_own_block() -> list[str]:
    """The README's "Render your own" commands, one per line, comments dropped."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Render your own") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no command block after 'Render your own'"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_IDENTITY, "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_renders_from_a_real_address_and_names_the_tools_it_needs():
    lines = render_your_own_block()
    assert not any("OWNER/REPO" in line for line in lines)
    assert "pip install copier uv" in lines
    assert any(line.startswith("git init") and "git commit" in line for line in lines)


def test_the_readme_steps_render_commit_and_update(tmp_path):
    """The no-prompt render from the clone's path, then the git line, then `copier update`."""
    lines = render_your_own_block()
    (copy,) = [line for line in lines if line.startswith("copier copy --defaults")]
    # A clone holds what is committed (a clone with uncommitted changes is the warning's case).
    clone = tmp_path / "template"
    assert run(f"git clone --quiet {shlex.quote(str(ROOT))} {clone}", tmp_path).returncode == 0
    said = run(copy.replace("/path/to/this/clone", str(clone)), tmp_path)  # from any folder
    assert said.returncode == 0, said.stderr[-3000:]
    project = tmp_path / "my-pipeline"
    message = said.stdout + said.stderr
    # The post-copy message gives the git step and why; the rendered README says it too.
    assert "git init -b main && git add -A && git commit" in message and "copier update" in message
    readme = (project / "README.md").read_text()
    assert "git init -b main && git add -A && git commit" in readme
    assert "latest template release" not in readme and "--vcs-ref" in readme
    assert problems(readme) == [], "the rendered README names a command that does not exist"
    # The package the README runs is the one rendered.
    (demo,) = [line for line in lines if " demo" in line]
    package = demo.split("python -m ")[1].split()[0]
    assert (project / "src" / package / "__main__.py").is_file()

    refused = run("copier update --defaults", project)
    assert refused.returncode != 0 and "git" in refused.stderr
    (git_line,) = [line for line in lines if line.startswith("git init")]
    assert run(git_line, project).returncode == 0
    updated = run("copier update --defaults", project)
    assert updated.returncode == 0, updated.stderr[-3000:]
    assert run("git status --porcelain", project).stdout.strip() == ""
