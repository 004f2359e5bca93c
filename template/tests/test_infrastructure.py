"""The Pulumi stacks, run against pulumi.runtime mocks (no CLI, no AWS): resources, policies, outputs.

Every IAM document the program creates, in every stack, is collected from the mocked run
(any input that parses as a policy document, on any resource type) and linted with
`parliament`; tests/test_iam_behaviour.py loads the same documents into moto's IAM.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import warnings
from pathlib import Path

import pytest

from mocked_stacks import (
    FUNCTION_URL,
    GITHUB_OWNER_ID,
    GITHUB_REPOSITORY_ID,
    INFRASTRUCTURE,
    ZONES,
    IamDocument,
    Mocks,
    answers,
    as_list,
    mocked,
    of_type,
    policies,
    run_stack,
    statements,
)

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
    "submitter_user_name",
    "submitter_external_id",
    "log_group_name",
    "lake_bucket_name",
    "ecs_cpu",
    "ecs_memory",
    # Not read by prefect.yaml: where Athena users find the tables.
    "glue_database_name",
    "athena_workgroup_name",
}
FRONT_DOOR_OUTPUTS = {"front_door_function_url", "front_door_token_parameter", "front_door_webhook_parameter"}
UNTAGGABLE = {
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:lambda/functionUrl:FunctionUrl",
    "aws:lambda/permission:Permission",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
}
# parliament's RESOURCE_STAR, allowed only for these actions: AWS's Service Authorization
# Reference lists no resource type for them, so "*" is the only Resource they accept.
# parliament reports RESOURCE_STAR only for actions that *could* be scoped, so most unscopable
# grants (ecr:GetAuthorizationToken, ecs:ListTaskDefinitions, logs:DescribeLogGroups, ...) never
# show up. The one allowed here is a deliberate choice, see docs/explanation/decisions.md.
RESOURCE_STAR_ALLOWED = {
    # The deploy role reads the network with ec2:Describe* (region-bound): the provider's reads of
    # a VPC, its subnets, route tables, security groups, network interfaces and zones are many; a
    # few Describe actions accept a resource (DescribeVpcAttribute, ...), all are read-only.
    "ec2:Describe*": "read-only network reads of the deploy role",
}
# Every action granted on "*": AWS's Service Authorization Reference gives them no resource type
# (parliament would report RESOURCE_STAR otherwise), except ec2:Describe* above.
GRANTED_ON_STAR = {
    "ecr:GetAuthorizationToken",
    "ecs:DeregisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:Describe*",
    "logs:DescribeLogGroups",
    "ssm:DescribeParameters",
    "sts:GetCallerIdentity",
    "athena:ListWorkGroups",
    "athena:ListDataCatalogs",
    "sns:Unsubscribe",  # a subscription has no resource type (monitoring.py)
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
}
STACKS = ("bootstrap", "prod")


@pytest.fixture(scope="module")
def stacks() -> dict[str, tuple[Mocks, dict]]:
    return {stack: mocked(stack) for stack in STACKS}


@pytest.fixture(scope="module")
def pipeline_stack(stacks):
    return stacks["prod"]


@pytest.fixture(scope="module")
def lake_stack(stacks):
    return stacks["bootstrap"]


@pytest.fixture(scope="module")
def bootstrap_stack(stacks):
    return stacks["bootstrap"]


@pytest.fixture(scope="module")
def documents(stacks) -> list[IamDocument]:
    return [document for mocks, _ in stacks.values() for document in mocks.iam_documents()]


def test_outputs_are_named_as_prefect_yaml_reads_them(pipeline_stack, lake_stack):
    _, exports = pipeline_stack
    assert set(exports) == PREFECT_YAML_OUTPUTS | FRONT_DOOR_OUTPUTS
    assert exports["aws_region"] == answers.AWS_REGION
    assert exports["lake_bucket_name"] == lake_stack[1]["lake_bucket_name"]


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
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == ZONES[:2]
    assert all(s.inputs["mapPublicIpOnLaunch"] for s in subnets)
    assert of_type(mocks, "aws:ec2/natGateway:NatGateway") == []
    (table,) = of_type(mocks, "aws:ec2/routeTable:RouteTable")
    assert table.inputs["routes"][0]["cidrBlock"] == "0.0.0.0/0"
    assert len(of_type(mocks, "aws:ec2/routeTableAssociation:RouteTableAssociation")) == 2
    (group,) = of_type(mocks, "aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs.get("ingress", []) == [] and len(group.inputs["egress"]) == 1


def test_log_group_has_retention_and_cluster_exists(pipeline_stack):
    mocks, _ = pipeline_stack
    (logs,) = [g for g in of_type(mocks, "aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"].startswith("/ecs/")]
    assert logs.inputs["retentionInDays"] == 30
    assert len(of_type(mocks, "aws:ecs/cluster:Cluster")) == 1


def test_lake_is_encrypted_private_versioned_tls_only_with_a_lifecycle(lake_stack):
    mocks, _ = lake_stack
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
    assert {r["id"] for r in lifecycle.inputs["rules"]} == {
        "expire-old-versions",
        "raw-to-infrequent-access",
        "expire-athena-results",
    }


def test_athena_results_expire_and_nothing_else_does(lake_stack):
    """Issue 17 item 5: every query leaves its result under athena-results/; they expire after
    30 days (and their noncurrent versions a day later); the tables and raw data never expire."""
    import components

    mocks, _ = lake_stack
    (lifecycle,) = of_type(mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    expiring = [r for r in lifecycle.inputs["rules"] if "expiration" in r]
    assert [(r["filter"]["prefix"], r["expiration"]["days"]) for r in expiring] == [("athena-results/", 30)]
    (results,) = expiring
    assert components.ATHENA_RESULTS_DAYS == 30 and results["status"] == "Enabled"
    assert results["noncurrentVersionExpiration"]["noncurrentDays"] == 1


def test_lake_bucket_refuses_every_request_without_tls(lake_stack):
    """Defect 13: a TLS-only bucket policy (deny when aws:SecureTransport is false)."""
    mocks, _ = lake_stack
    (policy,) = of_type(mocks, "aws:s3/bucketPolicy:BucketPolicy")
    (statement,) = statements(json.loads(policy.inputs["policy"]))
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = f"arn:aws:s3:::{answers.PROJECT}-lake-{answers.AWS_ACCOUNT_ID}"
    assert set(statement["Resource"]) == {bucket, f"{bucket}/*"}


def test_lake_survives_destroy_and_redeploy_of_the_pipeline(pipeline_stack, lake_stack):
    """Defect 9: the pipeline stack creates no bucket (destroy cannot touch one, deploy never
    meets an existing one); the lake's resources in the bootstrap stack are protected, and the
    deploy role has no S3 permission at all."""
    mocks, _ = pipeline_stack
    assert not [r for r in mocks.resources if r.typ.startswith("aws:s3/")]
    lake_mocks, _ = lake_stack
    lake = [r for r in lake_mocks.resources if r.typ.startswith("aws:s3/")]
    assert len(lake) == 6 and all(r.protect for r in lake)
    deploy = role_policy(lake_mocks, "deploy")
    assert not [s for s in statements(deploy) if any(a.startswith("s3:") for a in as_list(s["Action"]))]


def test_destroy_and_redeploy_of_the_pipeline_keep_the_tables(pipeline_stack, bootstrap_stack):
    """Issue 22 item 4: Glue's DeleteDatabase drops every table of the database, so nothing of
    the catalog may be the pipeline stack's: the database (and the workgroup) are the bootstrap's,
    and the deploy role may delete neither a database nor a table (tests/test_redeploy_keeps_tables.py
    destroys the pipeline's resources on moto and reads the rows back)."""
    mocks, exports = pipeline_stack
    assert [r.typ for r in mocks.resources if r.typ.startswith(("aws:glue/", "aws:athena/"))] == []
    bootstrap, made = bootstrap_stack
    (database,) = of_type(bootstrap, "aws:glue/catalogDatabase:CatalogDatabase")
    assert exports["glue_database_name"] == made["glue_database_name"] == database.inputs["name"]
    assert exports["athena_workgroup_name"] == made["athena_workgroup_name"]
    deploy = role_policy(bootstrap, "deploy")
    assert not [s for s in statements(deploy) if any(a.startswith("glue:") for a in as_list(s["Action"]))]


def test_every_taggable_resource_is_tagged(stacks):
    for mocks, _ in stacks.values():
        for resource in mocks.resources:
            if resource.typ not in UNTAGGABLE:
                assert resource.inputs.get("tags", {}).get("project") == answers.PROJECT, resource.typ


def test_the_collector_finds_every_kind_of_iam_document(documents):
    """The parliament and moto checks see what the program creates, not a hand-picked list."""
    kinds = {(d.resource_type, d.field) for d in documents}
    assert {
        ("aws:iam/role:Role", "assumeRolePolicy"),
        ("aws:iam/rolePolicy:RolePolicy", "policy"),
        ("aws:iam/userPolicy:UserPolicy", "policy"),
        ("aws:iam/policy:Policy", "policy"),
        ("aws:s3/bucketPolicy:BucketPolicy", "policy"),
    } <= kinds
    assert len(documents) >= 11  # 4 trusts (execution, task, submitter, deploy), 5 grants, boundary, bucket


def lintable(document: IamDocument) -> dict:
    """The document as parliament reads it. A trust policy has no Resource (AWS evaluates it
    against its own role), which parliament's statement check calls MALFORMED: lint it with
    the role as its Resource, so its actions and condition keys are still checked."""
    if document.field != "assumeRolePolicy":
        return document.document
    role = f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:role/{document.name}"
    return {**document.document, "Statement": [{**s, "Resource": role} for s in statements(document.document)]}


def allowed(finding) -> bool:
    if finding.issue == "RESOURCE_STAR":
        return all(any(fnmatch.fnmatch(a, ok) for ok in RESOURCE_STAR_ALLOWED) for a in finding.detail)
    # parliament's principal check (statement.py) knows SAML providers and four web identity
    # providers, not IAM OIDC providers such as GitHub's.
    if finding.issue == "UNKNOWN_FEDERATION_SOURCE":
        return str(finding.detail).endswith(f":oidc-provider/{policies.GITHUB_OIDC_HOST}")
    # Nor the condition keys of an OIDC provider, named by its host (IAM User Guide, "Available
    # keys for AWS OIDC federation": <provider>:aud, <provider>:sub).
    return finding.issue == "UNKNOWN_CONDITION_FOR_ACTION" and str(finding.detail).startswith(
        f"Unknown condition {policies.GITHUB_OIDC_HOST}:"
    )


def test_every_iam_document_passes_parliament(documents):
    """No finding but RESOURCE_STAR on actions that AWS cannot scope (each listed with its reason)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources and has invalid escapes
        import parliament

        problems = []
        for document in documents:
            policy = parliament.analyze_policy_string(json.dumps(lintable(document)))
            problems += [
                f"{document.name} ({document.field}): {f.issue} {f.detail}" for f in policy.findings if not allowed(f)
            ]
    assert problems == []


def subject_may_assume(trust: dict, subject: str, audience: str = "sts.amazonaws.com") -> bool:
    """moto's IAM evaluator on the trust policy, given the token's claims as STS passes them.

    moto evaluates StringEquals and ignores other operators (moto/iam/policy_conditions.py),
    so the test also requires StringEquals: a wildcard (StringLike) would let any subject in.
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult

    claims = {f"{policies.GITHUB_OIDC_HOST}:aud": audience, f"{policies.GITHUB_OIDC_HOST}:sub": subject}
    verdict = IAMPolicy(json.dumps(trust)).is_action_permitted(
        "sts:AssumeRoleWithWebIdentity", incoming_condition_values=claims
    )
    return verdict == PermissionResult.PERMITTED


def test_the_github_deploy_role_trusts_only_the_production_environment_of_the_repository(bootstrap_stack):
    """Defect 1 and issue 22 item 1: a job with `environment: production` presents this subject,
    not the branch's; a repository created since GitHub's immutable subject claims presents its
    owner's and its own numeric ids, an older one its names. Both, and nothing else, get in."""
    mocks, exports = bootstrap_stack
    assert set(exports) == {
        "oidc_provider_arn",
        "deploy_role_arn",
        "permissions_boundary_arn",
        "lake_bucket_name",
        "athena_reader_policy_arn",
        "aws_region",
        "submitter_user_name",
        "submitter_role_arn",
        "submitter_external_id",
        "glue_database_name",
        "athena_workgroup_name",
    }
    (provider,) = of_type(mocks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == policies.GITHUB_OIDC_URL
    deploy = next(r for r in of_type(mocks, "aws:iam/role:Role") if r.name.endswith("-deploy"))
    trust = json.loads(deploy.inputs["assumeRolePolicy"])
    (statement,) = statements(trust)
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}, "no wildcard match on the subject"

    owner, name = answers.GITHUB_REPOSITORY.split("/")
    old = f"repo:{owner}/{name}:environment:production"
    new = f"repo:{owner}@{GITHUB_OWNER_ID}/{name}@{GITHUB_REPOSITORY_ID}:environment:production"
    assert subject_may_assume(trust, old), "a repository from before immutable subject claims"
    assert subject_may_assume(trust, new), "a repository created (or renamed) since"
    refused = [
        f"repo:{owner}@{GITHUB_OWNER_ID}/{name}@1:environment:production",  # the name, recycled
        f"repo:{owner}@1/{name}@{GITHUB_REPOSITORY_ID}:environment:production",
        f"repo:{owner}/{name}:ref:refs/heads/main",  # not in the environment
        f"repo:{owner}/{name}:environment:staging",
        f"repo:{owner}/{name}-fork:environment:production",
    ]
    assert [s for s in refused if subject_may_assume(trust, s)] == []
    assert not subject_may_assume(trust, old, audience="https://github.com/" + owner)
    workflows = INFRASTRUCTURE.parent / ".github" / "workflows"
    for workflow in ("deploy.yml", "destroy.yml"):
        assert "environment: production" in (workflows / workflow).read_text(), workflow


def test_the_bootstrap_learns_the_repository_ids_from_github_or_from_its_config():
    """The ids come from the stack's config when set, else from GitHub's API (`repos/OWNER/REPO`);
    a repository GitHub knows under another name (renamed, transferred, other case) is refused,
    as its name form would never match."""
    import github_repository

    owner, name = answers.GITHUB_REPOSITORY.split("/")
    answer = {"full_name": answers.GITHUB_REPOSITORY, "id": 42, "owner": {"login": owner, "id": 7}}
    asked = []

    def read(repository: str) -> dict:
        asked.append(repository)
        return answer

    assert github_repository.repository_ids(answers.GITHUB_REPOSITORY, None, None, read=read) == ("7", "42")
    assert asked == [answers.GITHUB_REPOSITORY]
    assert github_repository.repository_ids(answers.GITHUB_REPOSITORY, "5", "6", read=read) == ("5", "6")
    assert len(asked) == 1, "config set: GitHub is not asked"
    with pytest.raises(ValueError, match="githubRepositoryId"):
        github_repository.repository_ids(answers.GITHUB_REPOSITORY, "5", None, read=read)
    with pytest.raises(ValueError, match="digits"):
        github_repository.repository_ids(answers.GITHUB_REPOSITORY, "5", "x6", read=read)
    answer["full_name"] = f"{owner}/{name}-renamed"
    with pytest.raises(ValueError, match=f"{name}-renamed"):
        github_repository.repository_ids(answers.GITHUB_REPOSITORY, None, None, read=read)

    def offline(repository: str) -> dict:
        raise OSError("no network")

    with pytest.raises(ValueError, match="pulumi config set githubRepositoryId"):
        github_repository.repository_ids(answers.GITHUB_REPOSITORY, None, None, read=offline)


def test_bootstrap_can_reuse_an_existing_oidc_provider():
    existing = f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
    mocks, _ = run_stack("bootstrap", config={"existingOidcProviderArn": existing})
    assert of_type(mocks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    deploy = next(r for r in of_type(mocks, "aws:iam/role:Role") if r.name.endswith("-deploy"))
    assert json.loads(deploy.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]["Federated"] == existing


def grants(document: dict, action: str, resource: str, effect: str = "Allow") -> list[dict]:
    """The statements of `document` with `effect` that name `action` on `resource` (IAM wildcards)."""
    return [
        s
        for s in statements(document)
        if s["Effect"] == effect
        and any(fnmatch.fnmatchcase(action, a) for a in as_list(s["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in as_list(s.get("Resource", [])))
    ]


def role_policy(mocks: Mocks, suffix: str) -> dict:
    policy = next(p for p in of_type(mocks, "aws:iam/rolePolicy:RolePolicy") if p.name.endswith(f"-{suffix}"))
    return json.loads(policy.inputs["policy"])


def arn(kind: str) -> str:
    project, account, region = answers.PROJECT, answers.AWS_ACCOUNT_ID, answers.AWS_REGION
    return {
        "cluster": f"arn:aws:ecs:{region}:{account}:cluster/{project}",
        "task": f"arn:aws:ecs:{region}:{account}:task/{project}/0123abcd",
        "lake": f"arn:aws:s3:::{project}-lake-{account}",
        "deploy": f"arn:aws:iam::{account}:role/{project}-deploy",
        "boundary": f"arn:aws:iam::{account}:policy/{project}-boundary",
        "reader": f"arn:aws:iam::{account}:policy/{project}-athena-reader",
        "log_group": f"arn:aws:logs:{region}:{account}:log-group:/ecs/{project}",
    }[kind]


def test_tasks_launched_with_tags_may_be_tagged_only_at_launch(bootstrap_stack):
    """Defect 2: TagResource in its own statement, scoped by ecs:CreateAction, not ecs:cluster."""
    mocks, _ = bootstrap_stack
    policy = role_policy(mocks, "submitter")
    (tagging,) = grants(policy, "ecs:TagResource", arn("task"))
    assert tagging["Action"] == "ecs:TagResource"
    assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    family = f"prefect_{answers.PREFECT_WORK_POOL}_0f1e2d3c"  # ECSWorker._get_or_generate_family
    definition = f"arn:aws:ecs:{answers.AWS_REGION}:{answers.AWS_ACCOUNT_ID}:task-definition/{family}:1"
    (running,) = grants(policy, "ecs:RunTask", definition)
    assert running["Condition"] == {"ArnEquals": {"ecs:cluster": arn("cluster")}}


def test_the_task_role_may_delete_ledger_claims_in_the_lake(bootstrap_stack):
    """Defect 3: the ledger deletes claims (mark_sent, release) and lists them."""
    mocks, _ = bootstrap_stack
    policy = role_policy(mocks, "task")
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert grants(policy, action, f"{arn('lake')}/ledger/feed=x/r1.claim"), action
    assert grants(policy, "s3:ListBucket", arn("lake"))
    resources = {r for s in statements(policy) for r in as_list(s["Resource"])}
    assert resources == {arn("lake"), f"{arn('lake')}/*"}


def test_the_log_group_is_never_created_by_a_task(bootstrap_stack):
    """Defect 4: prefect-aws sets awslogs-create-group "true" unless the job variables say
    otherwise (ECSWorker._prepare_task_definition merges cloudwatch_logs_options last); the
    execution role has no logs:CreateLogGroup, so prefect.yaml must say "false"."""
    mocks, _ = bootstrap_stack
    assert not grants(role_policy(mocks, "execution"), "logs:CreateLogGroup", arn("log_group"))
    prefect_yaml = (INFRASTRUCTURE.parent / "prefect.yaml").read_text()
    assert 'awslogs-create-group: "false"' in prefect_yaml


def test_the_deploy_role_cannot_change_who_may_do_what(bootstrap_stack, pipeline_stack):
    """Defect 7 and issue 22 item 5: a trust policy is beyond any boundary or condition key, so
    the deploy role makes no role, user, key or policy: the bootstrap stack holds every one of
    them, and every IAM write is denied to the deploy role outright, on any resource.
    (tests/test_iam_behaviour.py tries each way as the deploy role on moto.)"""
    mocks, _ = bootstrap_stack
    policy = role_policy(mocks, "deploy")
    iam_allowed = {
        a for s in statements(policy) if s["Effect"] == "Allow" for a in as_list(s["Action"]) if a.startswith("iam:")
    }
    assert iam_allowed == {"iam:PassRole", "iam:CreateServiceLinkedRole"}
    (passing,) = [s for s in statements(policy) if s["Effect"] == "Allow" and "iam:PassRole" in as_list(s["Action"])]
    assert passing["Resource"] == policies.role_arn(answers.PROJECT, answers.AWS_ACCOUNT_ID, "front-door")
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    account = answers.AWS_ACCOUNT_ID
    targets = [arn("deploy"), arn("boundary"), arn("reader"), f"arn:aws:iam::{account}:role/{answers.PROJECT}-task"]
    targets += [policies.user_arn(answers.PROJECT, account), f"arn:aws:iam::{account}:role/anything-else"]
    for action in policies.IDENTITY_CHANGES:
        for target in targets:
            assert grants(policy, action, target, effect="Deny") and not grants(policy, action, target), (
                action,
                target,
            )
    # Every role and user of the pipeline is the bootstrap's, and carries the boundary.
    pipeline, _ = pipeline_stack
    assert [r.typ for r in pipeline.resources if r.typ.startswith("aws:iam/")] == []
    principals = [r for r in of_type(mocks, "aws:iam/role:Role") + of_type(mocks, "aws:iam/user:User")]
    pipeline_principals = [p for p in principals if not p.name.endswith("-deploy")]
    assert len(pipeline_principals) == 5  # execution, task, submitter, front door roles; the submitter user
    for principal in pipeline_principals:
        assert principal.inputs["permissionsBoundary"] == arn("boundary"), principal.name


def test_every_grant_of_the_pipeline_stack_lies_inside_the_boundary(pipeline_stack, bootstrap_stack):
    """A role granted more than the boundary allows would be refused at run time: add it there."""
    (boundary_policy,) = [
        p for p in of_type(bootstrap_stack[0], "aws:iam/policy:Policy") if p.name.endswith("-boundary")
    ]
    boundary = json.loads(boundary_policy.inputs["policy"])
    mocks, _ = pipeline_stack
    for document in mocks.iam_documents():
        if document.field == "assumeRolePolicy":
            continue
        for statement in statements(document.document):
            if "Principal" in statement:  # a resource's policy (the alert topic's): no role's grant
                continue
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    assert grants(boundary, action, resource.replace("*", "x")), (document.name, action, resource)


def test_a_new_account_may_get_the_ecs_service_linked_role(bootstrap_stack):
    """Defect 8: the first ECS cluster of an account needs AWSServiceRoleForECS."""
    policy = role_policy(bootstrap_stack[0], "deploy")
    linked = f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
    (statement,) = grants(policy, "iam:CreateServiceLinkedRole", linked)
    assert statement["Condition"] == {"StringEquals": {"iam:AWSServiceName": "ecs.amazonaws.com"}}


def test_every_grant_is_scoped_to_the_project(documents):
    """Defect 13: EC2 changes only on project-tagged resources, ECS on the cluster, logs on the
    group, PassRole only to ECS tasks; "*" only with a condition or for unscopable actions."""
    for document in documents:
        for statement in statements(document.document):
            if statement["Effect"] != "Allow" or "Resource" not in statement:
                continue
            actions = as_list(statement["Action"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
            if "*" in as_list(statement["Resource"]):
                assert set(actions) <= GRANTED_ON_STAR, statement
            if any(a.startswith("ec2:") and not a.startswith("ec2:Describe") for a in actions):
                condition = statement["Condition"]
                tagged = {**condition.get("StringEquals", {})}
                assert (
                    tagged.get("aws:RequestTag/project") == answers.PROJECT
                    or tagged.get("aws:ResourceTag/project") == answers.PROJECT
                    or "ec2:CreateAction" in tagged
                ), statement
            if "iam:PassRole" in actions:
                passed_to = statement["Condition"]["StringEquals"]["iam:PassedToService"]
                assert passed_to in {"ecs-tasks.amazonaws.com", "lambda.amazonaws.com"}, statement
            if any(a.startswith("logs:") for a in actions) and actions != ["logs:DescribeLogGroups"]:
                front_door_logs = arn("log_group").replace(":/ecs/", ":/aws/lambda/")  # {project}-front-door
                assert all(r.startswith((arn("log_group"), front_door_logs)) for r in as_list(statement["Resource"])), (
                    statement
                )


def test_the_submitter_is_a_user_that_can_only_assume_the_submitter_role(bootstrap_stack, pipeline_stack):
    """Defect 14: the one long-lived key belongs to a user in the stack with one permission;
    the submitter role trusts exactly that user, with the external id."""
    mocks, exports = bootstrap_stack
    (user,) = of_type(mocks, "aws:iam/user:User")
    assert of_type(mocks, "aws:iam/accessKey:AccessKey") == []  # the key is rotated by the deploy, not in state
    (user_policy,) = of_type(mocks, "aws:iam/userPolicy:UserPolicy")
    submitter_arn = f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:role/{answers.PROJECT}-submitter"
    assert statements(json.loads(user_policy.inputs["policy"])) == [
        {"Sid": "BecomeTheSubmitter", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": submitter_arn}
    ]
    role = next(r for r in of_type(mocks, "aws:iam/role:Role") if r.name.endswith("-submitter"))
    (trust,) = statements(json.loads(role.inputs["assumeRolePolicy"]))
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:user/{user.inputs['name']}"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": exports["submitter_external_id"]}}
    assert exports["submitter_user_name"] == user.inputs["name"] == pipeline_stack[1]["submitter_user_name"]
    assert (
        pipeline_stack[1]["submitter_role_arn"]
        == exports["submitter_role_arn"]
        == role.inputs["name"].join((f"arn:aws:iam::{answers.AWS_ACCOUNT_ID}:role/", ""))
    )


def test_destroy_never_deletes_the_submitter_user_and_an_administrator_may(bootstrap_stack, pipeline_stack):
    """Issue 22 item 3, now item 5: the user (and its key) is the bootstrap's, so Destroy has no
    IAM call to make (tests/aws_calls.py lists every call it makes); force_destroy lets an
    administrator's bootstrap destroy remove the key with the user (terraform-provider-aws
    internal/service/iam/user.go, resourceUserDelete)."""
    assert of_type(pipeline_stack[0], "aws:iam/user:User") == []
    (user,) = of_type(bootstrap_stack[0], "aws:iam/user:User")
    assert user.inputs["forceDestroy"] is True


def test_a_role_outside_the_boundary_is_refused_with_its_name():
    import identities

    with pytest.raises(ValueError, match="'reporting'.*PIPELINE_ROLES"):
        identities.role(answers.PROJECT, answers.AWS_ACCOUNT_ID, "reporting", "{}", "{}", "compute")


def test_front_door_is_the_one_handler_file_behind_a_public_function_url(pipeline_stack):
    import front_door

    mocks, exports = pipeline_stack
    (function,) = of_type(mocks, "aws:lambda/function:Function")
    assert function.inputs["handler"] == "front_door.lambda_handler"
    assert function.inputs["runtime"].startswith("python3.")
    assert set(function.inputs["code"].assets) == {"front_door.py"}
    handler = Path(function.inputs["code"].assets["front_door.py"].path)
    assert handler == front_door.handler_file(answers.PACKAGE) and handler.is_file()
    variables = function.inputs["environment"]["variables"]
    assert variables["LAKE_BUCKET"] == f"{answers.PROJECT}-lake-{answers.AWS_ACCOUNT_ID}"
    assert variables["DOCUMENT_TYPES"] == front_door.DOCUMENT_TYPES[answers.FEED]
    (url,) = of_type(mocks, "aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["authorizationType"] == "NONE"  # the secret path token is the lock
    assert exports["front_door_function_url"] == FUNCTION_URL
    grants = {(p.inputs["action"], p.inputs["principal"]) for p in of_type(mocks, "aws:lambda/permission:Permission")}
    assert grants == {("lambda:InvokeFunctionUrl", "*"), ("lambda:InvokeFunction", "*")}
    (logs,) = [g for g in of_type(mocks, "aws:cloudwatch/logGroup:LogGroup") if "lambda" in g.inputs["name"]]
    assert logs.inputs["name"] == f"/aws/lambda/{function.inputs['name']}" and logs.inputs["retentionInDays"] == 30


def test_front_door_reserves_concurrency_only_when_the_stack_config_asks(pipeline_stack):
    """AWS keeps 100 of an account's concurrency unreserved: a new account (quota 10) cannot reserve any."""
    (function,) = of_type(pipeline_stack[0], "aws:lambda/function:Function")
    assert "reservedConcurrentExecutions" not in function.inputs
    mocks, _ = run_stack("prod", config={"frontDoorReservedConcurrency": "5"})
    (function,) = of_type(mocks, "aws:lambda/function:Function")
    assert function.inputs["reservedConcurrentExecutions"] == 5
    deploy = policies.front_door_deploy_statements(answers.PROJECT, answers.AWS_ACCOUNT_ID, answers.AWS_REGION)
    granted = {a for s in deploy for a in as_list(s["Action"])}
    assert {"lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"} <= granted


def test_front_door_secrets_are_secure_strings_pulumi_only_holds_a_placeholder_for(pipeline_stack):
    import front_door

    mocks, _ = pipeline_stack
    parameters = {p.inputs["name"]: p.inputs for p in of_type(mocks, "aws:ssm/parameter:Parameter")}
    names = ("token", "webhook-url", "webhook-key")
    assert set(parameters) == {f"/{answers.PROJECT}/front-door/{name}" for name in names}
    for inputs in parameters.values():
        assert inputs["type"] == "SecureString"
        # Pulumi wraps the value as a secret: even the placeholder is encrypted in the state.
        assert isinstance(inputs["value"], dict) and inputs["value"]["value"] == front_door.PLACEHOLDER


def test_front_door_role_may_only_put_inbox_and_quarantine_objects_read_its_parameters_and_log(bootstrap_stack):
    mocks, _ = bootstrap_stack
    policy = next(p for p in of_type(mocks, "aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-front-door"))
    grants = {
        action: as_list(s["Resource"])
        for s in statements(json.loads(policy.inputs["policy"]))
        for action in as_list(s["Action"])
    }
    region, account, project = answers.AWS_REGION, answers.AWS_ACCOUNT_ID, answers.PROJECT
    log_streams = [f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{project}-front-door:*"]
    assert grants == {
        "s3:PutObject": [
            f"arn:aws:s3:::{project}-lake-{account}/inbox/*",
            f"arn:aws:s3:::{project}-lake-{account}/quarantine/front-door/*",
        ],
        "ssm:GetParameter": [
            f"arn:aws:ssm:{region}:{account}:parameter/{project}/front-door/token",
            f"arn:aws:ssm:{region}:{account}:parameter/{project}/front-door/webhook-url",
            f"arn:aws:ssm:{region}:{account}:parameter/{project}/front-door/webhook-key",
        ],
        "logs:CreateLogStream": log_streams,
        "logs:PutLogEvents": log_streams,
    }


def test_front_door_takes_the_document_type_of_each_feed():
    import front_door

    feeds = importlib.import_module(f"{answers.PACKAGE}.feeds").FEEDS
    assert front_door.DOCUMENT_TYPES == {name: feed.document_type for name, feed in feeds.items()}


def test_tables_have_a_glue_database_and_an_athena_workgroup_writing_results_to_the_lake(bootstrap_stack):
    mocks, exports = bootstrap_stack
    (database,) = of_type(mocks, "aws:glue/catalogDatabase:CatalogDatabase")
    name = answers.PROJECT.replace("-", "_")
    assert database.inputs["name"] == name and database.inputs["locationUri"].endswith("/tables")
    assert database.protect, "as the lake: a bootstrap destroy refuses to drop the tables"
    (workgroup,) = of_type(mocks, "aws:athena/workgroup:Workgroup")
    configuration = workgroup.inputs["configuration"]
    bucket = exports["lake_bucket_name"]
    assert configuration["resultConfiguration"]["outputLocation"] == f"s3://{bucket}/athena-results/"
    assert configuration["enforceWorkgroupConfiguration"] is True


def test_task_role_may_use_only_the_tables_of_its_glue_database(bootstrap_stack):
    mocks, _ = bootstrap_stack
    grant = next(p for p in of_type(mocks, "aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-task-catalog"))
    assert grant.inputs["role"] == f"{answers.PROJECT}-task"
    glue, files = statements(json.loads(grant.inputs["policy"]))
    name = answers.PROJECT.replace("-", "_")
    glue_arn = f"arn:aws:glue:{answers.AWS_REGION}:{answers.AWS_ACCOUNT_ID}"
    assert set(glue["Action"]) == {
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
        "glue:CreateTable",
        "glue:UpdateTable",
    }
    assert glue["Resource"] == [f"{glue_arn}:catalog", f"{glue_arn}:database/{name}", f"{glue_arn}:table/{name}/*"]
    assert files["Resource"] == f"{arn('lake')}/tables/*"
    assert not any(a.startswith("glue:Delete") for a in glue["Action"]), "the task never drops a table or database"


def test_the_workgroup_refuses_a_query_that_would_scan_more_than_the_cutoff(bootstrap_stack):
    """Issue 17 item 5: a query without a filter cannot scan (and bill) without bound."""
    import catalog

    mocks, _ = bootstrap_stack
    (workgroup,) = of_type(mocks, "aws:athena/workgroup:Workgroup")
    configuration = workgroup.inputs["configuration"]
    assert configuration["bytesScannedCutoffPerQuery"] == catalog.BYTES_SCANNED_CUTOFF_PER_QUERY == 10 * 1024**3
    assert configuration["enforceWorkgroupConfiguration"] is True, "a query cannot lift the cutoff"


def test_the_athena_reader_policy_may_query_and_read_the_tables_and_never_write_them(bootstrap_stack, documents):
    """Issue 17 item 5: a managed policy, made and exported by the bootstrap stack, for people
    who query the tables with Athena: the workgroup, Glue reads, the table files, the results."""
    mocks, exports = bootstrap_stack
    (reader,) = [p for p in of_type(mocks, "aws:iam/policy:Policy") if p.name.endswith("-athena-reader")]
    assert reader.inputs["name"] == f"{answers.PROJECT}-athena-reader"
    assert exports["athena_reader_policy_arn"] == arn("reader")
    assert reader.name in {d.name for d in documents if d.resource_type == "aws:iam/policy:Policy"}, "linted"
    policy = json.loads(reader.inputs["policy"])
    region, account, project = answers.AWS_REGION, answers.AWS_ACCOUNT_ID, answers.PROJECT
    workgroup = f"arn:aws:athena:{region}:{account}:workgroup/{project}-queries"
    for action in (
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:GetQueryResultsStream",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
        "athena:ListQueryExecutions",
        "athena:BatchGetQueryExecution",
    ):
        assert grants(policy, action, workgroup), action
        assert not grants(policy, action, f"arn:aws:athena:{region}:{account}:workgroup/primary"), action
    database = project.replace("-", "_")
    glue = f"arn:aws:glue:{region}:{account}"
    for resource in (f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/wind"):
        for action in ("GetDatabase", "GetDatabases", "GetTable", "GetTables", "GetPartition", "GetPartitions"):
            assert grants(policy, f"glue:{action}", resource), (action, resource)
    assert not grants(policy, "glue:GetTable", f"{glue}:table/another_database/wind")
    glue_actions = {a for s in statements(policy) for a in as_list(s["Action"]) if a.startswith("glue:")}
    assert all(a.startswith("glue:Get") for a in glue_actions), "no Glue write"

    lake = arn("lake")
    assert grants(policy, "s3:GetObject", f"{lake}/tables/wind/data/00000-0.parquet")
    for action in ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        assert grants(policy, action, f"{lake}/athena-results/0f1e.csv"), action
    assert grants(policy, "s3:GetBucketLocation", lake)
    (listing,) = grants(policy, "s3:ListBucket", lake)
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["tables/*", "athena-results/*"]}}
    for key in ("tables/wind/data/x.parquet", "tables/wind/metadata/v2.metadata.json", "raw/x.xml", "ledger/s"):
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"):
            assert not grants(policy, action, f"{lake}/{key}"), (action, key)
    for key in ("raw/x.xml", "ledger/feed=x/state.json", "inbox/x.xml"):
        assert not grants(policy, "s3:GetObject", f"{lake}/{key}"), key
    on_s3 = [s for s in statements(policy) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert all(r == lake or r.startswith(f"{lake}/") for s in on_s3 for r in as_list(s["Resource"])), "the lake only"


def test_front_door_errors_and_throttles_and_the_budget_mail_the_alert_address_through_one_topic(pipeline_stack):
    """Issue 19 item 7: CloudWatch alarms on the front door's Errors and Throttles and an AWS
    Budget, all published to one SNS topic with an email subscription to the author's address;
    each alarm links its runbook; the deploy role may create, change and delete all of them."""
    mocks, _ = pipeline_stack
    (topic,) = of_type(mocks, "aws:sns/topic:Topic")
    topic_arn = f"arn:aws:sns:{answers.AWS_REGION}:{answers.AWS_ACCOUNT_ID}:{topic.name}"
    (subscription,) = of_type(mocks, "aws:sns/topicSubscription:TopicSubscription")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", answers.ALERT_EMAIL)
    assert subscription.inputs["topic"] == topic_arn
    (topic_policy,) = of_type(mocks, "aws:sns/topicPolicy:TopicPolicy")
    (publish,) = json.loads(topic_policy.inputs["policy"])["Statement"]
    assert set(publish["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    assert publish["Condition"]["StringEquals"]["aws:SourceAccount"] == answers.AWS_ACCOUNT_ID
    (function,) = of_type(mocks, "aws:lambda/function:Function")
    alarms = {a.inputs["metricName"]: a.inputs for a in of_type(mocks, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(alarms) == {"Errors", "Throttles", "Url4xxCount"}
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/Lambda" and alarm["dimensions"] == {"FunctionName": function.inputs["name"]}
        assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == (
            "Sum",
            1,
            "GreaterThanOrEqualToThreshold",
        )
        assert alarm["alarmActions"] == [topic_arn] and alarm["treatMissingData"] == "notBreaching"
        assert f"https://github.com/{answers.GITHUB_REPOSITORY}/blob/main/RUNBOOK.md#" in alarm["alarmDescription"]
    (budget,) = of_type(mocks, "aws:budgets/budget:Budget")
    assert (budget.inputs["budgetType"], budget.inputs["timeUnit"], budget.inputs["limitUnit"]) == (
        "COST",
        "MONTHLY",
        "USD",
    )
    assert float(budget.inputs["limitAmount"]) == answers.MONTHLY_BUDGET_USD
    assert all(n["subscriberSnsTopicArns"] == [topic_arn] for n in budget.inputs["notifications"])
    assert {(n["threshold"], n["notificationType"]) for n in budget.inputs["notifications"]} >= {(100, "ACTUAL")}

    deploy = policies.deploy_policy(answers.PROJECT, answers.AWS_ACCOUNT_ID, answers.AWS_REGION)
    made = {
        "sns:CreateTopic": topic_arn,
        "sns:DeleteTopic": topic_arn,
        "sns:Subscribe": topic_arn,
        "sns:Unsubscribe": f"{topic_arn}:0b7a6a3e-0000-4000-8000-000000000000",
        "cloudwatch:PutMetricAlarm": (
            f"arn:aws:cloudwatch:{answers.AWS_REGION}:{answers.AWS_ACCOUNT_ID}:alarm:{alarms['Errors']['name']}"
        ),
        "cloudwatch:DeleteAlarms": (
            f"arn:aws:cloudwatch:{answers.AWS_REGION}:{answers.AWS_ACCOUNT_ID}:alarm:{alarms['Throttles']['name']}"
        ),
        "budgets:ModifyBudget": f"arn:aws:budgets::{answers.AWS_ACCOUNT_ID}:budget/{budget.inputs['name']}",
    }
    for action, resource in made.items():
        assert any(
            statement["Effect"] == "Allow"
            and action in as_list(statement["Action"])
            and any(fnmatch.fnmatch(resource, pattern) for pattern in as_list(statement["Resource"]))
            for statement in statements(deploy)
        ), (action, resource)
