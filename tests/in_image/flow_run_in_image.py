"""`prefect deploy --all` with its build and push steps, then a flow run inside the pushed image.

Not collected by the template's own suite: tests/test_image.py copies this file into a
rendered project as tests/test_flow_run_in_image.py (so the project's own fixtures start the
local Prefect server, the SMTP server and the stand-in ENTSO-E API), after it has built the
image once and started a local registry.

The container is started as prefect-aws's ECS worker starts it for an ECS push pool: the
command `prefect flow-run execute` (prefect/workers/base.py, BaseJobConfiguration
._base_flow_run_command; prefect_aws/workers/ecs_worker.py, ECSWorker._prepare_task_run_overrides
puts configuration.command on the container), the flow run's id in PREFECT__FLOW_RUN_ID
(BaseJobConfiguration._base_flow_run_environment), PREFECT_API_URL, and the deployment's job
variable `env`; the image's own user (uid 10001) and working directory. AWS credentials, which
ECS gives the task through its task role, are moto's test keys here, with S3 at moto's server.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect_aws import AwsCredentials
from support import TEST_KEY_BLOCK, poll, push_message
from test_deployments import STACK_OUTPUTS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = yaml.safe_load((ROOT / ".copier-answers.yml").read_text())["package_name"]
defaults = importlib.import_module(f"{PACKAGE}.defaults")
local_settings = importlib.import_module(f"{PACKAGE}.local.environment").local_settings
free_port = importlib.import_module(f"{PACKAGE}.local.ports").free_port
CLOUD = runpy.run_path(str(ROOT / "deploy" / "prefect_cloud.py"))
PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text())

REGISTRY = os.environ.get("IMAGE_TEST_REGISTRY", "")
TAG = os.environ.get("IMAGE_TEST_TAG", "")
REPORT = Path(os.environ.get("IMAGE_TEST_REPORT", os.devnull))
REPOSITORY = f"{REGISTRY}/{CLOUD['PROJECT']}"
BUCKET = "image-test-lake"
MOTO_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

pytestmark = pytest.mark.skipif(not (REGISTRY and TAG), reason="run by the template's tests/test_image.py")


def report(**figures) -> None:
    if REPORT != Path(os.devnull):
        previous = json.loads(REPORT.read_text()) if REPORT.exists() else {}
        REPORT.write_text(json.dumps({**previous, **figures}))


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    poll(answers, timeout_s=30, what="moto's server")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def deployed(prefect_api_url, tmp_path_factory):
    """The deploy workflow's Prefect steps, then `prefect deploy --all` with the real prefect.yaml."""
    outputs = {**STACK_OUTPUTS, "ecr_repository_url": REPOSITORY, "lake_bucket_name": BUCKET}
    # The submitter block without a key: rotate_submitter_key needs IAM, which test_iam_behaviour covers.
    block_id = str(AwsCredentials(region_name=outputs["aws_region"]).save(CLOUD["SUBMITTER_BLOCK"], overwrite=True))
    CLOUD["save_lake_block"](outputs)
    CLOUD["ensure_work_pool"](block_id, pool_type="ecs")  # "ecs:push" pools exist only in Prefect Cloud
    # The one change to prefect.yaml: the build may not pull the base images (Docker Hub and
    # ghcr.io are unreachable here; the stand-ins are local). In CI the build pulls, as it should.
    local = copy.deepcopy(PREFECT_YAML)
    local["build"][0]["prefect_docker.deployments.steps.build_docker_image"]["pull"] = False
    prefect_file = tmp_path_factory.mktemp("deploy") / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(local, sort_keys=False))
    # As setup does: the rate limit every request takes (strict: none, no request), its name exported.
    settings = CLOUD["deployment_settings"]()
    CLOUD["operations"].ensure_rate_limit(settings)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "IMAGE_TAG": TAG,
        "PIPELINE_API_RATE_LIMIT": settings.api_rate_limit,
        **CLOUD["stack_environment"](outputs),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report(deploy_s=round(time.monotonic() - started, 1))
    with get_client(sync_client=True) as client:
        return {d.name: d for d in client.read_deployments()}


def test_deploy_pushes_the_image_to_the_registry_and_the_deployments_reference_it(deployed):
    tags = httpx.get(f"http://{REGISTRY}/v2/{CLOUD['PROJECT']}/tags/list", timeout=10).json()
    assert TAG in tags.get("tags", []), tags
    manifest = httpx.head(
        f"http://{REGISTRY}/v2/{CLOUD['PROJECT']}/manifests/{TAG}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=10,
    )
    assert manifest.status_code == 200
    names = {d["name"] for d in PREFECT_YAML["deployments"]}
    assert names <= set(deployed)
    for name in names:
        assert deployed[name].job_variables["image"] == f"{REPOSITORY}:{TAG}"


def test_push_flow_run_executes_in_the_image_as_the_ecs_push_pool_starts_it(
    prefect_api_url, deployed, moto_url, api, outbox
):
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name=STACK_OUTPUTS["aws_region"], **_keys())
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": STACK_OUTPUTS["aws_region"]})
    # The Glue database of the tables, as the pipeline stack makes it (prefect.yaml: PIPELINE_CATALOG=glue).
    glue = boto3.client("glue", endpoint_url=moto_url, region_name=STACK_OUTPUTS["aws_region"], **_keys())
    glue.create_database(DatabaseInput={"Name": CLOUD["PROJECT"].replace("-", "_")})
    push = deployed[f"{CLOUD['PROJECT']}-push"]
    with get_client(sync_client=True) as client:
        parameters = {"event_msg": push_message(defaults.FEED)}
        flow_run = client.create_flow_run_from_deployment(push.id, parameters=parameters)

    # What the ECS task gets: Prefect's variables, the job variables' env; here the local
    # stand-ins replace the answers' SMTP server and the ENTSO-E API, and moto the task role.
    settings = local_settings(
        api_url=api.url, api_key_block=TEST_KEY_BLOCK, smtp_host=outbox.host, smtp_port=outbox.port, lake_dir=Path()
    )
    container_env = {
        **{k: v for k, v in settings.items() if k not in ("PIPELINE_LAKE_DIR", "PIPELINE_LAKE_BLOCK")},
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT__FLOW_RUN_ID": str(flow_run.id),
        **push.job_variables["env"],
        # The local outbox takes mail without login: the job variables' SMTP login (checked in the
        # project's tests/test_deployments.py) goes with the answers' server it belongs to.
        "PIPELINE_SMTP_USERNAME": "",
        "PIPELINE_SMTP_PASSWORD_BLOCK": "",
        **MOTO_KEYS,
        "AWS_ENDPOINT_URL_S3": moto_url,
        "AWS_ENDPOINT_URL": moto_url,  # Glue (boto3) and S3 (pyarrow, for the table files)
        "AWS_DEFAULT_REGION": STACK_OUTPUTS["aws_region"],
    }
    command = ["docker", "run", "--rm", "--network", "host"]
    for name in container_env:
        command += ["--env", name]  # values from the environment, not the command line
    command += [push.job_variables["image"], *"prefect flow-run execute".split()]
    started = time.monotonic()
    result = subprocess.run(command, env={**os.environ, **container_env}, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(flow_run.id)
    assert finished.state.is_completed(), finished.state
    report(container_s=round(elapsed, 1), flow_run_s=round(finished.total_run_time.total_seconds(), 1))

    poll(lambda: len(outbox.received) == 1, what="the newsletter at the SMTP server")
    assert sorted(outbox.received[0].recipients) == sorted(defaults.EMAIL_RECIPIENTS)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any(k.startswith(f"raw/feed={defaults.FEED}/") for k in keys), keys
    assert any(k.startswith("tables/") and k.endswith(".parquet") for k in keys), keys
    assert any(k.startswith("ledger/") and k.endswith(".sent") for k in keys), keys


def _keys() -> dict[str, str]:
    return {name.lower(): value for name, value in MOTO_KEYS.items()}
