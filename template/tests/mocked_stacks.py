"""The Pulumi program run against pulumi.runtime mocks, and every IAM document it creates.

`run_stack` runs infrastructure/__main__.py for one stack with no CLI and no AWS; the mocks
record each resource with realistic ARNs (the shapes AWS gives them), so the documents that
embed ARNs are the ones a real `pulumi up` would send. `Mocks.iam_documents` finds every
policy document in any input of any resource, so a role, user, bucket or function policy
added later is linted and loaded into moto without a test naming it.
"""

from __future__ import annotations

import functools
import json
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path

import pulumi

INFRASTRUCTURE = Path(__file__).resolve().parents[1] / "infrastructure"
if str(INFRASTRUCTURE) not in sys.path:
    sys.path.insert(0, str(INFRASTRUCTURE))

import answers  # noqa: E402
import policies  # noqa: E402

__all__ = ["answers", "policies"]  # the tests import both from here, after the path is set

ZONES = ["zone-a", "zone-b", "zone-c"]
FUNCTION_URL = "https://abc123.lambda-url.region.on.aws/"
REGION, ACCOUNT = answers.AWS_REGION, answers.AWS_ACCOUNT_ID
# The repository's numeric ids (GitHub's API: `.owner.id`, `.id`), set in the bootstrap's config
# so the mocked run asks no network.
GITHUB_OWNER_ID, GITHUB_REPOSITORY_ID = "1234567", "890123456"


@dataclass
class IamDocument:
    resource_type: str
    name: str
    field: str
    document: dict


@dataclass
class Recorded:
    typ: str
    name: str
    inputs: dict
    protect: bool


def realistic_arn(typ: str, name: str, inputs: dict) -> str:
    """The ARN AWS would give the resource: the IAM and S3 documents embed these."""
    named = inputs.get("name", name)
    return {
        "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT}:role/{named}",
        "aws:iam/user:User": f"arn:aws:iam::{ACCOUNT}:user/{named}",
        "aws:iam/policy:Policy": f"arn:aws:iam::{ACCOUNT}:policy/{named}",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
            f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
        ),
        "aws:s3/bucket:Bucket": f"arn:aws:s3:::{inputs.get('bucket', name)}",
        "aws:ecs/cluster:Cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{named}",
        "aws:ecr/repository:Repository": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{named}",
        "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{named}",
        "aws:ssm/parameter:Parameter": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{named.lstrip('/')}",
        "aws:lambda/function:Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{named}",
    }.get(typ, f"arn:aws:{typ.split(':')[1].split('/')[0]}:{REGION}:{ACCOUNT}:{name}")


class Mocks(pulumi.runtime.Mocks):
    """Records every resource; gives each an ARN and the outputs the program reads."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.protected: set[str] = set()

    def new_resource(self, args):
        self.resources.append(Recorded(args.typ, args.name, args.inputs, args.name in self.protected))
        outputs = {**args.inputs, "arn": realistic_arn(args.typ, args.name, args.inputs)}
        if args.typ == "aws:ecr/repository:Repository":
            outputs["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{args.inputs['name']}"
        if args.typ == "aws:s3/bucket:Bucket":
            outputs["bucket"] = args.inputs["bucket"]
        if args.typ == "aws:lambda/functionUrl:FunctionUrl":
            outputs["functionUrl"] = FUNCTION_URL
        # Pulumi's id of a role or user is its name (what RolePolicy.role and UserPolicy.user hold).
        named = args.typ in ("aws:iam/role:Role", "aws:iam/user:User")
        return (args.inputs["name"] if named else f"{args.name}-id"), outputs

    def call(self, args):
        # (outputs, failures): pulumi iterates the failures
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ZONES, "zoneIds": ZONES}, []
        return {}, []

    def iam_documents(self) -> list[IamDocument]:
        found = []
        for resource in self.resources:
            for field, value in resource.inputs.items():
                document = _policy_document(value)
                if document is not None:
                    found.append(IamDocument(resource.typ, resource.name, field, document))
        return found


def _policy_document(value) -> dict | None:
    if not isinstance(value, str) or '"Statement"' not in value:
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    return document if isinstance(document, dict) and "Statement" in document else None


def run_stack(stack: str, config: dict[str, str] | None = None) -> tuple[Mocks, dict]:
    """Runs the program for `stack`; returns the recorded resources and the resolved exports."""
    mocks, raw_exports, exports = Mocks(), {}, {}
    settings = {
        "prefectWorkspaceId": "00000000-1111-2222-3333-444444444444",
        "githubOwnerId": GITHUB_OWNER_ID,
        "githubRepositoryId": GITHUB_REPOSITORY_ID,
        **(config or {}),
    }
    pulumi.runtime.set_mocks(mocks, project=answers.PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config({f"{answers.PROJECT}:{k}": v for k, v in settings.items()})
    original_export = pulumi.export
    pulumi.export = lambda name, value: raw_exports.__setitem__(name, value)

    def record_protection(args: pulumi.ResourceTransformationArgs):
        if args.opts.protect:
            mocks.protected.add(args.name)

    @pulumi.runtime.test
    def program():
        pulumi.runtime.register_stack_transformation(record_protection)
        runpy.run_path(str(INFRASTRUCTURE / "__main__.py"), run_name="__main__")
        return pulumi.Output.from_input(raw_exports).apply(exports.update)

    try:
        program()
    finally:
        pulumi.export = original_export
        pulumi.runtime.set_all_config({})
    return mocks, exports


@functools.cache
def mocked(stack: str) -> tuple[Mocks, dict]:
    """`run_stack` once per test session and stack (a run takes seconds)."""
    return run_stack(stack)


def of_type(mocks: Mocks, typ: str) -> list[Recorded]:
    return [r for r in mocks.resources if r.typ == typ]


def statements(document: dict) -> list[dict]:
    return as_list(document["Statement"])


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]
