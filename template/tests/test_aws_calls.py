"""The rehearsal of every AWS call of the pipeline stack, as the deploy role: create, no-op update, destroy.

tests/aws_calls.py lists the calls per resource type, from the AWS provider's source. Each
call of each resource of the mocked pipeline stack is evaluated against the deploy role's
policy (action, resource ARN, condition keys), and every distinct action is made against
moto's server as the deploy role with IAM access control on.

Why two checks: moto's server checks a request's action against the caller's policies, and
the resource only for S3, IAM and STS (moto/core/responses.py, call_action, with
`_determine_resource`); its IAMPolicy evaluator knows only StringEquals and lets a condition
pass whose key the request lacks (moto/iam/policy_conditions.py, TrustCondition), where AWS
fails it. So resources and conditions are evaluated here, by `permitted`, which follows the
IAM User Guide's "Policy evaluation logic" (an explicit Deny wins; else an Allow whose action,
resource and every condition match; else implicit deny) and "Condition operators" (a key the
request lacks fails every operator but the negated ones and ...IfExists).

The deploy role has no permissions boundary (the boundary bounds the pipeline's roles,
identities.py), so its policy alone decides.
"""

from __future__ import annotations

import json
import re

import boto3
import botocore.config
import httpx
import pytest
from botocore.exceptions import ClientError

from aws_calls import CALLS, PHASES, Call, calls, resource_name
from mocked_stacks import ACCOUNT, REGION, answers, as_list, mocked, of_type, statements
from support import moto_server

PROJECT = answers.PROJECT
PHASE_NAMES = {"create": "create from empty", "read": "update with no change", "delete": "destroy"}


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _condition_holds(operator: str, key: str, expected, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = base in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")
    if key not in context:
        return if_exists or negated
    actual, values = context[key], [str(v) for v in as_list(expected)]
    if base in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        matched = actual in values
    elif base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        matched = any(_wildcard(v, actual) for v in values)
    elif base == "StringEqualsIgnoreCase":
        matched = actual.lower() in [v.lower() for v in values]
    elif base == "Bool":
        matched = actual.lower() in [v.lower() for v in values]
    else:
        raise ValueError(f"condition operator {operator} is not evaluated here: add it to _condition_holds")
    return not matched if negated else matched


def _applies(statement: dict, call: Call) -> bool:
    if "Action" in statement:
        if not any(_wildcard(a, call.action, ignore_case=True) for a in as_list(statement["Action"])):
            return False
    elif any(_wildcard(a, call.action, ignore_case=True) for a in as_list(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_wildcard(r, call.resource) for r in as_list(statement["Resource"])):
            return False
    elif any(_wildcard(r, call.resource) for r in as_list(statement["NotResource"])):
        return False
    return all(
        _condition_holds(operator, key, expected, call.context)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, expected in pairs.items()
    )


def permitted(policy: dict, call: Call) -> bool:
    """AWS's evaluation of one identity policy for one request (no boundary, no SCP)."""
    applying = [s for s in statements(policy) if _applies(s, call)]
    if any(s["Effect"] == "Deny" for s in applying):
        return False
    return any(s["Effect"] == "Allow" for s in applying)


def deploy_policy() -> dict:
    mocks, _ = mocked("bootstrap")
    (policy,) = [p for p in of_type(mocks, "aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-deploy")]
    return json.loads(policy.inputs["policy"])


def stack_calls(phase: str) -> list[Call]:
    """The provider's calls, then every resource's of the mocked pipeline stack, in one phase."""
    mocks, _ = mocked("prod")
    found = calls("provider", phase, REGION, ACCOUNT, PROJECT)
    for resource in mocks.resources:
        found += calls(resource.typ, phase, REGION, ACCOUNT, PROJECT, resource_name(resource.inputs))
    return found


def missing(policy: dict, phase: str) -> list[str]:
    return [f"{c.action} on {c.resource} ({c.source})" for c in stack_calls(phase) if not permitted(policy, c)]


def test_every_resource_type_of_the_pipeline_stack_has_its_calls_listed():
    mocks, _ = mocked("prod")
    assert {r.typ for r in mocks.resources} - set(CALLS) == set(), "add them to tests/aws_calls.py"
    for resource_type, phases in CALLS.items():
        assert set(phases) == set(PHASES), resource_type
        assert all(c.source for phase in phases.values() for c in phase), resource_type


def test_the_deploy_role_may_make_every_call_of_create_no_op_update_and_destroy():
    """The note of issue 22: the number of calls checked per phase, and none missing."""
    policy = deploy_policy()
    for phase in PHASES:
        checked = stack_calls(phase)
        distinct = {(c.action, c.resource, tuple(sorted(c.context.items()))) for c in checked}
        print(f"{PHASE_NAMES[phase]}: {len(checked)} calls checked ({len(distinct)} distinct)")
    assert {phase: missing(policy, phase) for phase in PHASES} == {phase: [] for phase in PHASES}


def test_the_evaluation_finds_a_grant_taken_away():
    """The check can fail: without the front door's PassRole, or a Describe outside the region, calls go missing."""
    policy = deploy_policy()
    without = {**policy, "Statement": [s for s in statements(policy) if s.get("Sid") != "FrontDoorPassRole"]}
    assert [m for m in missing(without, "create") if m.startswith("iam:PassRole")]
    elsewhere = Call("ec2:DescribeVpcs", "*", "test", {"aws:RequestedRegion": "ap-south-2"})
    assert not permitted(policy, elsewhere)
    untagged = Call(
        "ec2:DeleteVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1", "test", {"aws:RequestedRegion": REGION}
    )
    assert not permitted(policy, untagged), "a VPC without the project tag is not the deploy role's"
    others = Call("ecs:DeleteCluster", f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/someone-else", "test")
    assert not permitted(policy, others)


# What a request needs for botocore to build it and reach moto's access check (parameter
# validation off: the check comes before moto reads the parameters).
PLACEHOLDERS = {"FunctionName": f"{PROJECT}-front-door", "StatementId": "x", "Name": "x", "ResourceArn": "x"}
# One action per service that the deploy role is never granted: moto must refuse it, else moto
# does not enforce that service's policies and its calls count as evaluated only.
NEVER_GRANTED = {
    "ec2": "DeleteKeyPair",
    "ecr": "DeleteRegistryPolicy",
    "ecs": "DeleteCapacityProvider",
    "logs": "DeleteDestination",
    "ssm": "DeleteDocument",
    "lambda": "DeleteLayerVersion",
    "iam": "CreateUser",
    "sts": "GetSessionToken",
    "sns": "CreatePlatformApplication",
    "cloudwatch": "DeleteDashboards",
    "budgets": "DeleteBudgetAction",
}
# moto authorizes an IAM request on the role it names, else on "*" (moto/iam/responses.py,
# _determine_resource): a call granted on one ARN and naming no role is evaluated only.
RESOURCE_CHECKED = ("iam", "sts", "s3")


def refused(client, operation: str) -> bool:
    model = client.meta.service_model.operation_model(operation)
    members = model.input_shape.members if model.input_shape else {}
    params = {
        name: PLACEHOLDERS.get(name, "x") for name in (model.input_shape.required_members if model.input_shape else [])
    }
    params = {
        k: (v if members[k].type_name == "string" else (1 if members[k].type_name == "integer" else []))
        for k, v in params.items()
    }
    try:
        client._make_api_call(operation, params)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 403 or error.response["Error"]["Code"] in (
            "AccessDenied",
            "AccessDeniedException",
        )
    except Exception:  # noqa: BLE001 - any other failure came after the access check
        return False
    return False


def signed_as(actions: list[str]) -> list[str]:
    """moto names a request's action by its SigV4 signing name (moto/iam/access_control.py,
    IAMRequestBase: `{service}:{action}` from the credential scope): CloudWatch signs as
    "monitoring". The same actions under that name, so moto finds the grant AWS would."""
    return [f"monitoring:{a.split(':', 1)[1]}" for a in actions if a.startswith("cloudwatch:")]


@pytest.fixture(scope="module")
def as_deploy_role():
    """A moto server in the stacks' account with the deploy role (its policy as moto reads it), access control on."""
    with moto_server(MOTO_ACCOUNT_ID=ACCOUNT) as url:
        root = {"aws_access_key_id": "root", "aws_secret_access_key": "root", "region_name": REGION}
        iam = boto3.client("iam", endpoint_url=url, **root)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
        name = f"{PROJECT}-deploy"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        # moto checks the resource only for S3, IAM and STS: the others' statements with Resource "*".
        view = [
            s
            if s["Effect"] == "Deny" or any(a.startswith(("iam:", "sts:", "s3:")) for a in as_list(s["Action"]))
            else {**s, "Resource": "*", "Action": [*as_list(s["Action"]), *signed_as(as_list(s["Action"]))]}
            for s in statements(deploy_policy())
        ]
        iam.put_role_policy(
            RoleName=name, PolicyName="deploy", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": view})
        )
        c = boto3.client("sts", endpoint_url=url, **root).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="deploy"
        )["Credentials"]
        credentials = {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        }
        httpx.post(f"{url}/moto-api/reset-auth", content=b"0").raise_for_status()
        config = botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1})
        yield lambda service: boto3.client(service, endpoint_url=url, region_name=REGION, config=config, **credentials)
        httpx.post(f"{url}/moto-api/reset-auth", content=b"inf").raise_for_status()


def test_every_action_of_the_stack_is_made_on_moto_as_the_deploy_role(as_deploy_role):
    """Each distinct action of the three phases, sent to moto's server as the deploy role."""
    every = [c for phase in PHASES for c in stack_calls(phase)]
    actions = sorted({c.action for c in every})
    enforced = {service for service, operation in NEVER_GRANTED.items() if refused(as_deploy_role(service), operation)}
    made, refused_here = [], []
    for action in actions:
        service, operation = action.split(":")
        if service not in enforced or operation not in as_deploy_role(service).meta.service_model.operation_names:
            continue  # implied calls (iam:PassRole, ec2:CreateTags of a TagSpecification) are no API call
        if service in RESOURCE_CHECKED and any(c.resource != "*" for c in every if c.action == action):
            continue
        made.append(action)
        if refused(as_deploy_role(service), operation):
            refused_here.append(action)
    print(f"made on moto as the deploy role: {len(made)} of {len(actions)} distinct actions")
    print(f"services whose policies moto enforces: {sorted(enforced)}")
    assert refused_here == []
    assert {"ec2", "ecr", "ecs", "logs", "ssm"} <= enforced, "moto must refuse what the deploy role is not granted"
