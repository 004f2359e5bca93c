"""`pulumi` for the workflow rehearsal: replays the mocked stack (tests/mocked_stacks.py) on moto's server.

Pulumi's engine cannot run here, so this executable answers the commands the workflows run
(`stack select`, `config set`, `up`, `stack output --json`, `destroy`) from a state file the
test writes: `up` creates on moto the pipeline stack's resources the later steps and the runs
touch, `stack output --json` prints the mocked stack's outputs with moto's ids, and `destroy`
deletes them, as Pulumi would. It acts as the administrator: what the deploy role may do in
Pulumi's calls is tests/test_infrastructure.py's and tests/test_iam_behaviour.py's part.

    python tests/stand_in_pulumi.py STATE_FILE <pulumi arguments>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

# Resource types created on `up` and deleted on `destroy`; other types (VPC, Lambda, ...) are
# replayed only as outputs.
CREATE = {
    "aws:ecr/repository:Repository": lambda aws, i: aws("ecr").create_repository(repositoryName=i["name"]),
    "aws:ecs/cluster:Cluster": lambda aws, i: aws("ecs").create_cluster(clusterName=i["name"]),
    "aws:cloudwatch/logGroup:LogGroup": lambda aws, i: aws("logs").create_log_group(logGroupName=i["name"]),
    "aws:ssm/parameter:Parameter": lambda aws, i: aws("ssm").put_parameter(
        Name=i["name"], Value=plain(i["value"]), Type=i.get("type", "SecureString")
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": lambda aws, i: aws("glue").create_database(
        DatabaseInput={"Name": i["name"]}
    ),
    "aws:s3/bucket:Bucket": lambda aws, i: create_bucket(aws("s3"), i["bucket"]),
    "aws:iam/role:Role": lambda aws, i: aws("iam").create_role(
        RoleName=i["name"], AssumeRolePolicyDocument=i["assumeRolePolicy"]
    ),
    "aws:iam/user:User": lambda aws, i: aws("iam").create_user(UserName=i["name"]),
    "aws:iam/rolePolicy:RolePolicy": lambda aws, i: aws("iam").put_role_policy(
        RoleName=i["role"], PolicyName=i["name"], PolicyDocument=i["policy"]
    ),
    "aws:iam/userPolicy:UserPolicy": lambda aws, i: aws("iam").put_user_policy(
        UserName=i["user"], PolicyName=i["name"], PolicyDocument=i["policy"]
    ),
}
DELETE = {
    "aws:ecr/repository:Repository": lambda aws, i: aws("ecr").delete_repository(repositoryName=i["name"], force=True),
    "aws:ecs/cluster:Cluster": lambda aws, i: aws("ecs").delete_cluster(cluster=i["name"]),
    "aws:cloudwatch/logGroup:LogGroup": lambda aws, i: aws("logs").delete_log_group(logGroupName=i["name"]),
    "aws:ssm/parameter:Parameter": lambda aws, i: aws("ssm").delete_parameter(Name=i["name"]),
    # Glue's DeleteDatabase drops the database's tables with it (moto does too).
    "aws:glue/catalogDatabase:CatalogDatabase": lambda aws, i: aws("glue").delete_database(Name=i["name"]),
    "aws:s3/bucket:Bucket": lambda aws, i: None,  # a pipeline stack holds no bucket; the lake is protected
    "aws:iam/role:Role": lambda aws, i: aws("iam").delete_role(RoleName=i["name"]),
    "aws:iam/user:User": lambda aws, i: delete_user(aws("iam"), i["name"]),
    "aws:iam/rolePolicy:RolePolicy": lambda aws, i: aws("iam").delete_role_policy(
        RoleName=i["role"], PolicyName=i["name"]
    ),
    "aws:iam/userPolicy:UserPolicy": lambda aws, i: aws("iam").delete_user_policy(
        UserName=i["user"], PolicyName=i["name"]
    ),
}


def create_bucket(s3, name: str) -> None:
    region = s3.meta.region_name
    s3.create_bucket(
        Bucket=name, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}})
    )


def delete_user(iam, name: str) -> None:
    """As the AWS provider's force_destroy does: the user's access keys first."""
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def plain(value):
    """A mocked secret input is a dict holding the value (Pulumi's secret wrapper)."""
    return value["value"] if isinstance(value, dict) else value


def plan(resources, outputs: dict, endpoint: str, region: str, admin: dict, prepare=lambda typ, inputs: inputs) -> dict:
    """The state file's content for a stack's mocked resources and outputs; `prepare` adapts a
    resource's inputs to what moto can run (a service's trust, the statements moto evaluates)."""
    kept = [
        {"typ": r.typ, "name": r.name, "inputs": prepare(r.typ, {"name": r.name, **r.inputs})}
        for r in resources
        if r.typ in CREATE
    ]
    return {"endpoint": endpoint, "region": region, "admin": admin, "resources": kept, "outputs": outputs, "up": False}


def clients(state: dict):
    def aws(service: str):
        return boto3.client(service, endpoint_url=state["endpoint"], region_name=state["region"], **state["admin"])

    return aws


def apply(state: dict, table: dict, order) -> None:
    aws = clients(state)
    for resource in order(state["resources"]):
        try:
            table[resource["typ"]](aws, resource["inputs"])
        except ClientError as error:  # created or deleted already: Pulumi's state says so, here AWS does
            if error.response["Error"]["Code"] not in {
                "RepositoryAlreadyExistsException",
                "ResourceAlreadyExistsException",
                "ParameterAlreadyExists",
                "AlreadyExistsException",
                "RepositoryNotFoundException",
                "ResourceNotFoundException",
                "ParameterNotFound",
                "EntityNotFoundException",
                "ClusterNotFoundException",
                "EntityAlreadyExists",
                "NoSuchEntity",
                "BucketAlreadyOwnedByYou",
            }:
                raise


def main(state_file: str, *args: str) -> int:
    path = Path(state_file)
    state = json.loads(path.read_text())
    state.setdefault("calls", []).append(" ".join(args))
    command = [a for a in args if not a.startswith("--")]
    if command[:2] == ["stack", "select"]:
        if command[2:] != ["prod"]:
            print(f"error: no stack named {command[2:]}", file=sys.stderr)
            return 255
    elif command[:2] == ["config", "set"]:
        state.setdefault("config", {})[command[2]] = command[3]
    elif command == ["up"]:
        apply(state, CREATE, list)
        state["up"] = True
        print("Resources: created or unchanged (stand-in)")
    elif command[:2] == ["stack", "output"]:
        if not state["up"]:
            print("error: the stack has no outputs: run `pulumi up`", file=sys.stderr)
            return 255
        print(json.dumps(state["outputs"], indent=2))
    elif command == ["destroy"]:
        apply(state, DELETE, lambda resources: list(reversed(resources)))
        state["up"] = False
        print("Resources: deleted (stand-in)")
    else:
        print(f"error: the stand-in does not know `pulumi {' '.join(args)}`", file=sys.stderr)
        return 255
    path.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
