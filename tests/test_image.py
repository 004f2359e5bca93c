"""The rendered Dockerfile, built unchanged by a real Docker daemon; the image deployed and run.

One example is enough: the Dockerfile is not templated, every answer gets the same locked
dependencies (template/uv.lock.jinja), and the answers reach the image only as names (the
package, the project) and as the defaults in defaults.py, which the flow's own tests cover for
every example. Docker Hub and ghcr.io are unreachable here, so scripts/docker_standins.py
builds stand-ins under the exact names the Dockerfile pins (docs/explanation/decisions.md).

The image is built once; `prefect deploy --all` builds it again from the layer cache and
pushes it to a local registry (Debian's docker-registry), then a flow run executes in it.
In CI (CI=true) these tests fail when Docker cannot start; elsewhere they skip saying why.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT, load_example, render, uv

pytestmark = pytest.mark.xdist_group("image")  # one worker: one build, one registry

EXAMPLE = "fi-actual-generation"
CANARY = "canary-secret-3f9a1c"  # in a developer's .env beside the Dockerfile: must stay out

spec = importlib.util.spec_from_file_location("docker_standins", ROOT / "scripts" / "docker_standins.py")
standins = importlib.util.module_from_spec(spec)
spec.loader.exec_module(standins)


@dataclass
class Built:
    project: Path
    package: str
    tag: str
    build_s: float


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=900, **kwargs)


@pytest.fixture(scope="session")
def docker_daemon():
    reason = standins.unavailable_reason()
    if not reason:
        try:
            standins.ensure_daemon()
            standins.ensure_standins()
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            reason = str(exc)
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the image tests: {reason}")
        pytest.skip(f"no usable Docker here: {reason}")


@pytest.fixture(scope="session")
def image(docker_daemon, tmp_path_factory) -> Built:
    project = render(tmp_path_factory.mktemp("image") / "project", load_example(EXAMPLE))
    (project / ".env").write_text(f"PIPELINE_SMTP_PASSWORD={CANARY}\n")
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    tag = f"{package.replace('_', '-')}:image-test"
    started = time.monotonic()
    build = docker("build", "--network", "host", "--tag", tag, str(project))
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return Built(project, package, tag, time.monotonic() - started)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def registry(docker_daemon, tmp_path_factory):
    """Debian's docker-registry on a localhost port (Docker pushes to 127.0.0.1 over plain HTTP)."""
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.fail("docker-registry is not installed (Debian: apt-get install docker-registry)")
    folder = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = folder / "config.yml"
    config.write_text(
        f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: {address}}}\n"
    )
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(address.split(":"), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "docker-registry did not start"
            time.sleep(0.1)
    yield address
    process.terminate()
    process.wait(timeout=10)
    pushed = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference={address}/*").stdout
    if pushed.split():
        docker("rmi", *pushed.split())  # the layers stay, shared with the built image


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[image] {text}", flush=True)


def test_image_runs_as_uid_10001_without_local_stand_ins_or_secrets(image, capsys):
    inspect = json.loads(docker("image", "inspect", image.tag).stdout)[0]
    assert inspect["Config"]["User"] == "10001"
    assert docker("run", "--rm", image.tag, "id", "-u").stdout.strip() == "10001"
    secret_words = ("KEY", "TOKEN", "SECRET", "PASSWORD")
    assert not [e for e in inspect["Config"]["Env"] if any(w in e.split("=")[0].upper() for w in secret_words)]
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image.tag).stdout
    assert CANARY not in history and ".env" not in history

    # Every file of the image's filesystem: the package is there, local/ and the .env are not.
    container = docker("create", image.tag).stdout.strip()
    try:
        export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
        names, leaked = [], []
        with tarfile.open(fileobj=export.stdout, mode="r|") as archive:
            for member in archive:
                names.append(member.name)
                if member.isfile() and CANARY.encode() in archive.extractfile(member).read():
                    leaked.append(member.name)
        assert export.wait() == 0
    finally:
        docker("rm", container)
    installed = f"opt/prefect/app/.venv/lib/python3.11/site-packages/{image.package}/"
    assert f"{installed}flows.py" in names and f"opt/prefect/app/src/{image.package}/flows.py" in names
    assert not [n for n in names if f"{image.package}/local/" in n], "local/ stand-ins are in the image"
    site = "opt/prefect/app/.venv/lib/python3.11/site-packages/"
    for tooling in ("pytest", "moto", "pulumi", "prefect_docker", "aiosmtpd"):  # dev, infra, deploy groups
        assert f"{site}{tooling}/__init__.py" not in names, f"{tooling} is in the image"
    assert not [n for n in names if n.endswith(".env") or n.endswith(".copier-answers.yml")]
    assert leaked == []
    size_mb = inspect["Size"] / 1e6
    report(capsys, f"{image.tag}: {size_mb:.0f} MB, built in {image.build_s:.0f} s")


def test_prefect_deploy_pushes_the_image_and_a_flow_run_executes_in_it(image, registry, tmp_path, capsys):
    in_project = image.project / "tests" / "test_flow_run_in_image.py"
    shutil.copyfile(ROOT / "tests" / "in_image" / "flow_run_in_image.py", in_project)
    sync = uv(image.project, "sync", "--quiet", "--locked", "--group", "deploy")
    assert sync.returncode == 0, sync.stderr
    figures = tmp_path / "figures.json"
    tag = "image-test-sha"
    env = {**os.environ, "IMAGE_TEST_REGISTRY": registry, "IMAGE_TEST_TAG": tag, "IMAGE_TEST_REPORT": str(figures)}
    try:
        result = subprocess.run(
            ["uv", "run", "--locked", "--group", "deploy", "pytest", "-q", "-p", "no:cacheprovider", str(in_project)],
            cwd=image.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    finally:
        # prefect-docker's build (docker-py, rm=False) leaves its intermediate containers behind.
        leftovers = docker("ps", "-aq", "--filter", "status=created", "--filter", f"ancestor={image.tag}").stdout
        if leftovers.split():
            docker("rm", *leftovers.split())
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout[-6000:] + result.stderr[-3000:]
    # prefect deploy's build step reused the layers: the pushed image has the layers built above
    # (prefect-docker adds only labels).
    layers = "{{json .RootFS.Layers}}"
    pushed = docker("image", "inspect", "--format", layers, f"{registry}/{image.package.replace('_', '-')}:{tag}")
    built = docker("image", "inspect", "--format", layers, image.tag)
    assert json.loads(pushed.stdout) == json.loads(built.stdout)
    numbers = json.loads(figures.read_text())
    report(
        capsys,
        f"prefect deploy --all (build from cache, push): {numbers['deploy_s']} s; "
        f"flow run in the image: container start to exit {numbers['container_s']} s, "
        f"flow run {numbers['flow_run_s']} s",
    )
