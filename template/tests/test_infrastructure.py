"""The Pulumi stacks, run against pulumi.runtime mocks (no CLI, no AWS): resources, policies, outputs."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pulumi
import pytest

INFRASTRUCTURE = Path(__file__).resolve().parents[1] / "infrastructure"
sys.path.insert(0, str(INFRASTRUCTURE))

import answers  # noqa: E402
import policies  # noqa: E402

ZONES = ["zone-a", "zone-b", "zone-c"]
PREFECT_YAML_OUTPUTS = {
    "aws_region",
    "ecr_repository_url",
    "ecs_cluster_arn",
    "vpc_id",
    "subnet_ids",
    "security_group_id",
    "execution_role_arn",
    "task_role_arn",
    "submitter_role_arn",
    "log_group_name",
    "lake_bucket_name",
    "ecs_cpu",
    "ecs_memory",
}
UNTAGGABLE = {
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
}


class Mocks(pulumi.runtime.Mocks):
    """Records every resource; gives each an ARN and the outputs the program reads."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args):
        self.resources.append(args)
        service = args.typ.split(":")[1].split("/")[0]
        outputs = {**args.inputs, "arn": f"arn:aws:{service}:{answers.AWS_REGION}:{answers.AWS_ACCOUNT_ID}:{args.name}"}
        if args.typ == "aws:ecr/repository:Repository":
            outputs["repositoryUrl"] = (
                f"{answers.AWS_ACCOUNT_ID}.dkr.ecr.{answers.AWS_REGION}.amazonaws.com/{args.inputs['name']}"
            )
        if args.typ == "aws:iam/role:Role":
            outputs["arn"] = f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:role/{args.inputs['name']}"
        return f"{args.name}-id", outputs

    def call(self, args):
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ZONES, "zoneIds": ZONES}, []
        return {}, []


def run_stack(stack: str, monkeypatch) -> tuple[Mocks, dict]:
    mocks, exports = Mocks(), {}
    pulumi.runtime.set_mocks(mocks, project=answers.PROJECT, stack=stack, preview=False)
    monkeypatch.setattr(pulumi, "export", lambda name, value: exports.__setitem__(name, value))

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(INFRASTRUCTURE / "__main__.py"), run_name="__main__")

    program()
    return mocks, exports


@pytest.fixture
def pipeline_stack(monkeypatch):
    return run_stack("prod", monkeypatch)


@pytest.fixture
def bootstrap_stack(monkeypatch):
    return run_stack("bootstrap", monkeypatch)


def of_type(mocks: Mocks, typ: str) -> list:
    return [r for r in mocks.resources if r.typ == typ]


def test_outputs_are_named_as_prefect_yaml_reads_them(pipeline_stack):
    _, exports = pipeline_stack
    assert set(exports) == PREFECT_YAML_OUTPUTS
    assert exports["aws_region"] == answers.AWS_REGION


def test_registry_scans_on_push_with_immutable_tags_and_a_lifecycle(pipeline_stack):
    mocks, _ = pipeline_stack
    (repository,) = of_type(mocks, "aws:ecr/repository:Repository")
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    (lifecycle,) = of_type(mocks, "aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert json.loads(lifecycle.inputs["policy"])["rules"][0]["action"]["type"] == "expire"


def test_network_has_public_subnets_in_two_zones_and_no_nat(pipeline_stack):
    mocks, _ = pipeline_stack
    subnets = of_type(mocks, "aws:ec2/subnet:Subnet")
    assert [s.inputs["availabilityZone"] for s in subnets] == ZONES[:2]
    assert all(s.inputs["mapPublicIpOnLaunch"] for s in subnets)
    assert of_type(mocks, "aws:ec2/natGateway:NatGateway") == []
    (table,) = of_type(mocks, "aws:ec2/routeTable:RouteTable")
    assert table.inputs["routes"][0]["cidrBlock"] == "0.0.0.0/0"
    assert len(of_type(mocks, "aws:ec2/routeTableAssociation:RouteTableAssociation")) == 2
    (group,) = of_type(mocks, "aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs.get("ingress", []) == [] and len(group.inputs["egress"]) == 1


def test_log_group_has_retention_and_cluster_exists(pipeline_stack):
    mocks, _ = pipeline_stack
    (logs,) = of_type(mocks, "aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["retentionInDays"] == 30
    assert len(of_type(mocks, "aws:ecs/cluster:Cluster")) == 1


def test_lake_is_encrypted_private_versioned_with_a_lifecycle(pipeline_stack):
    mocks, _ = pipeline_stack
    (bucket,) = of_type(mocks, "aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == f"{answers.PROJECT}-lake-{answers.AWS_ACCOUNT_ID}"
    (encryption,) = of_type(
        mocks, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    (block,) = of_type(mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (versioning,) = of_type(mocks, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (lifecycle,) = of_type(mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert {r["id"] for r in lifecycle.inputs["rules"]} == {"expire-old-versions", "raw-to-infrequent-access"}


def test_every_taggable_resource_is_tagged(pipeline_stack, bootstrap_stack):
    for mocks, _ in (pipeline_stack, bootstrap_stack):
        for resource in mocks.resources:
            if resource.typ not in UNTAGGABLE:
                assert resource.inputs.get("tags", {}).get("project") == answers.PROJECT, resource.typ


def statements(document: dict) -> list[dict]:
    return document["Statement"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def assert_least_privilege(document: dict, task_roles: set[str]) -> None:
    for statement in statements(document):
        actions = as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
        assert not any("FullAccess" in str(r) for r in as_list(statement.get("Resource", []))), statement
        if "iam:PassRole" in actions:
            assert set(as_list(statement["Resource"])) <= task_roles, statement


def test_every_policy_document_is_least_privilege(pipeline_stack, bootstrap_stack):
    task_roles = {f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:role/{answers.PROJECT}-{n}" for n in ("execution", "task")}
    documents = []
    for mocks, _ in (pipeline_stack, bootstrap_stack):
        documents += [json.loads(p.inputs["policy"]) for p in of_type(mocks, "aws:iam/rolePolicy:RolePolicy")]
        assert of_type(mocks, "aws:iam/user:User") == [] and of_type(mocks, "aws:iam/accessKey:AccessKey") == []
        assert of_type(mocks, "aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    assert len(documents) == 4  # execution, task, submitter, deploy
    for document in documents:
        assert_least_privilege(document, task_roles)
    pass_role = [s for d in documents for s in statements(d) if "iam:PassRole" in as_list(s["Action"])]
    assert len(pass_role) == 1 and set(pass_role[0]["Resource"]) == task_roles


def test_task_role_reaches_only_the_lake(pipeline_stack):
    mocks, _ = pipeline_stack
    policy = next(p for p in of_type(mocks, "aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-task"))
    resources = {r for s in statements(json.loads(policy.inputs["policy"])) for r in as_list(s["Resource"])}
    bucket = f"arn:aws:s3:{answers.AWS_REGION}:{answers.AWS_ACCOUNT_ID}:{answers.PROJECT}-lake"
    assert resources == {bucket, f"{bucket}/*"}


def test_deploy_role_trusts_only_the_repository_main_branch(bootstrap_stack):
    mocks, exports = bootstrap_stack
    assert set(exports) == {"oidc_provider_arn", "deploy_role_arn"}
    (provider,) = of_type(mocks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == policies.GITHUB_OIDC_URL
    deploy = next(r for r in of_type(mocks, "aws:iam/role:Role") if r.name.endswith("-deploy"))
    (trust,) = statements(json.loads(deploy.inputs["assumeRolePolicy"]))
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{answers.GITHUB_REPOSITORY}:ref:refs/heads/main",
    }


def test_bootstrap_can_reuse_an_existing_oidc_provider(monkeypatch):
    existing = f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({f"{answers.PROJECT}:existingOidcProviderArn": existing}))
    mocks, _ = run_stack("bootstrap", monkeypatch)
    assert of_type(mocks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    deploy = next(r for r in of_type(mocks, "aws:iam/role:Role") if r.name.endswith("-deploy"))
    assert json.loads(deploy.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]["Federated"] == existing
