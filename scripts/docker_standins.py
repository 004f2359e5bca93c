"""A Docker daemon and stand-ins for the two images the rendered Dockerfile pins.

    python scripts/run.py docker      (as root; .ci/run does it before the tests)

Where Docker Hub and ghcr.io cannot be reached, the rendered Dockerfile's base images are built
here and tagged with the exact names it pins, so the Dockerfile is built unchanged:
- python:3.11.14-slim-bookworm: a Debian bookworm root filesystem (debootstrap, minbase, with
  python3 3.11, passwd for useradd, ca-certificates), `python`/`python3.11` where uv looks,
  this machine's CA bundle and SSL_CERT_FILE, so uv reaches the package index during the build;
- ghcr.io/astral-sh/uv:0.9.7: FROM scratch holding /uv and /uvx from the uv wheel of the same
  version on PyPI.
A tag that exists is kept (delete it with `docker rmi TAG` to rebuild it); where the real
image can be pulled, it is pulled instead.

Needs Debian's docker.io and debootstrap (`apt-get install docker.io debootstrap`). Starts
dockerd (overlay2, no bridge: build and run with --network host) when none answers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PYTHON_TAG = "python:3.11.14-slim-bookworm"
UV_TAG = "ghcr.io/astral-sh/uv:0.9.7"
UV_VERSION = UV_TAG.rsplit(":", 1)[1]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DOCKERD_LOG = Path(tempfile.gettempdir()) / "dockerd.log"
DOCKERD = [
    "dockerd",
    "--storage-driver=overlay2",
    "--bridge=none",
    "--iptables=false",
    "--ip6tables=false",
]


def log(message: str) -> None:
    print(f"[docker] {message}", flush=True)


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], check=True, **kwargs)


def daemon_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def unavailable_reason() -> str | None:
    """None when a daemon answers or could be started here; else one line saying why not."""
    if daemon_answers():
        return None
    if not shutil.which("docker") or not shutil.which("dockerd"):
        return "Docker is not installed (Debian: apt-get install docker.io debootstrap docker-registry)"
    if os.geteuid() != 0:
        return "no Docker daemon answers and starting one (dockerd) needs root"
    return None


def ensure_daemon(timeout_s: float = 60) -> None:
    """Starts dockerd in the background when no daemon answers; waits for it with a deadline."""
    if daemon_answers():
        return
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    log(f"starting {' '.join(DOCKERD)} (log: {DOCKERD_LOG})")
    with DOCKERD_LOG.open("ab") as out:
        subprocess.Popen(DOCKERD, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if daemon_answers():
            return
        time.sleep(0.5)
    raise RuntimeError(f"dockerd did not answer within {timeout_s:.0f} s; see {DOCKERD_LOG}")


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 or one-line sources), else the default."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file() or path.suffix not in {".list", ".sources"}:
            continue
        text = path.read_text(errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            suites = re.search(r"^Suites:.*\bbookworm\b", stanza, re.MULTILINE)
            if uris and suites and "security" not in uris.group(1):
                return uris.group(1)
        for line in text.splitlines():
            match = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
            if match and "security" not in match.group(1):
                return match.group(1)
    return DEFAULT_MIRROR


def build_python_standin() -> None:
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="bookworm-") as tmp:
        root = Path(tmp) / "root"
        log(f"debootstrap bookworm from {mirror}")
        run(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,passwd,ca-certificates",
            "bookworm",
            root,
            mirror,
            stdout=subprocess.DEVNULL,
        )
        # Where the official image has its interpreter names; uv finds `python3` or `python`.
        for name in ("python", "python3"):
            link = root / "usr" / "local" / "bin" / name
            link.unlink(missing_ok=True)
            link.symlink_to("/usr/bin/python3.11")
        if CA_BUNDLE.is_file():  # this machine's bundle: the package index may sit behind its CA
            shutil.copyfile(CA_BUNDLE, root / "etc" / "ssl" / "certs" / "ca-certificates.crt")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        tarball = Path(tmp) / "root.tar"
        run("tar", "-C", root, "-cf", tarball, ".")
        run(
            "docker",
            "import",
            "--change",
            "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            f"ENV SSL_CERT_FILE={CA_BUNDLE}",
            "--change",
            'CMD ["python3"]',
            tarball,
            PYTHON_TAG,
            stdout=subprocess.DEVNULL,
        )


def uv_wheel(directory: Path) -> Path:
    """uv's manylinux wheel of the pinned version, from the package index pip uses here."""
    run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        "manylinux_2_17_x86_64",
        "--python-version",
        "3.11",
        "--dest",
        directory,
        f"uv=={UV_VERSION}",
    )
    return next(directory.glob(f"uv-{UV_VERSION}-*.whl"))


def build_uv_standin() -> None:
    with tempfile.TemporaryDirectory(prefix="uv-") as tmp:
        context = Path(tmp)
        with zipfile.ZipFile(uv_wheel(context)) as wheel:
            for name in ("uv", "uvx"):
                member = f"uv-{UV_VERSION}.data/scripts/{name}"
                (context / name).write_bytes(wheel.read(member))
                (context / name).chmod(0o755)
        (context / "Dockerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
        run("docker", "build", "--quiet", "--tag", UV_TAG, context, stdout=subprocess.DEVNULL)


def pulled(tag: str) -> bool:
    """The real image, where its registry answers (a developer's machine); fails fast here."""
    try:
        return subprocess.run(["docker", "pull", "--quiet", tag], capture_output=True, timeout=300).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def ensure_standins() -> None:
    for tag, build in ((PYTHON_TAG, build_python_standin), (UV_TAG, build_uv_standin)):
        if image_exists(tag):
            log(f"{tag}: present")
            continue
        if pulled(tag):
            log(f"{tag}: pulled")
            continue
        if os.geteuid() != 0:
            raise RuntimeError(
                f"{tag} is neither present nor pullable; build its stand-in as root: sudo python scripts/run.py docker"
            )
        started = time.monotonic()
        build()
        log(f"{tag}: built in {time.monotonic() - started:.0f} s")


def main() -> None:
    started = time.monotonic()
    ensure_daemon()
    ensure_standins()
    log(f"ready in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        sys.exit(f"[docker] {exc}")
