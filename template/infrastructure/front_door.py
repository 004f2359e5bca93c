"""The push front door: a Lambda behind a function URL that ENTSO-E's push subscription posts to.

The handler is the package's front_door.py, shipped as the one file it is (standard library
and boto3, which the Lambda runtime has), so the package is built here, deterministically:
an AssetArchive of one file, which Pulumi hashes by content. The secret path token, the
Prefect Cloud webhook URL and the optional webhook key live in SSM SecureStrings that Pulumi
creates with a placeholder and never reads back (`ignore_changes`): deploy/prefect_cloud.py
writes the first two, the user the key (decisions.md), so none is in the Pulumi state, a
rendered file or a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

import components
import policies

# Which document type each feed takes (the package's feeds.py; a test keeps them equal).
DOCUMENT_TYPES = {
    "actual_generation": "A75",
    "wind_solar_forecast": "A69",
    "total_load": "A65",
    "day_ahead_prices": "A44",
}
PLACEHOLDER = "unset: deploy/prefect_cloud.py setup writes the value"
RUNTIME = "python3.13"
MEMORY_MB = 512  # a 6 MB message, base64-decoded, parsed once: far below; more memory = more CPU
TIMEOUT_S = 30


@dataclass
class FrontDoor:
    function: aws.lambda_.Function
    url: aws.lambda_.FunctionUrl
    token_parameter: aws.ssm.Parameter
    webhook_parameter: aws.ssm.Parameter


def handler_file(package: str) -> Path:
    return Path(__file__).resolve().parents[1] / "src" / package / "front_door.py"


def front_door(
    project: str, account_id: str, package: str, feed: str, bucket_name: str, reserved_concurrency: int | None = None
) -> FrontDoor:
    """`reserved_concurrency` (stack config frontDoorReservedConcurrency) caps the function's instances.

    Unset by default: AWS keeps 100 of an account's concurrency unreserved (Lambda Developer
    Guide, "Configuring reserved concurrency"), so an account at the new-account quota of 10
    cannot reserve any and the deploy would fail (docs/explanation/decisions.md).
    """
    name = f"{project}-front-door"
    reserved = {} if reserved_concurrency is None else {"reserved_concurrent_executions": reserved_concurrency}
    tags = components.tags(project, "front-door")
    logs = aws.cloudwatch.LogGroup(
        name, name=f"/aws/lambda/{name}", retention_in_days=components.LOG_RETENTION_DAYS, tags=tags
    )
    unread = pulumi.ResourceOptions(ignore_changes=["value"])
    token, webhook, key = (
        aws.ssm.Parameter(
            f"{name}-{part}",
            name=f"/{project}/front-door/{part}",
            type="SecureString",
            value=PLACEHOLDER,
            tags=tags,
            opts=unread,
        )
        for part in policies.FRONT_DOOR_PARAMETERS
    )
    # The role is the bootstrap stack's (identities.front_door_role): named here, never made.
    role_arn = policies.role_arn(project, account_id, "front-door")
    function = aws.lambda_.Function(
        name,
        name=name,
        runtime=RUNTIME,
        architectures=["arm64"],
        handler="front_door.lambda_handler",
        role=role_arn,
        code=pulumi.AssetArchive({"front_door.py": pulumi.FileAsset(str(handler_file(package)))}),
        memory_size=MEMORY_MB,
        timeout=TIMEOUT_S,
        environment=aws.lambda_.FunctionEnvironmentArgs(
            variables={
                "LAKE_BUCKET": bucket_name,
                "TOKEN_PARAMETER": token.name,
                "WEBHOOK_URL_PARAMETER": webhook.name,
                "WEBHOOK_KEY_PARAMETER": key.name,  # `aws ssm put-parameter` it if the webhook requires a key
                "DOCUMENT_TYPES": DOCUMENT_TYPES[feed],
            }
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(depends_on=[logs]),
        **reserved,
    )
    url = aws.lambda_.FunctionUrl(name, function_name=function.name, authorization_type="NONE")
    # A public function URL needs both grants in the function's resource policy (AWS Lambda
    # Developer Guide, "Control access to Lambda function URLs"); the token in the path is the lock.
    aws.lambda_.Permission(
        f"{name}-url",
        function=function.name,
        action="lambda:InvokeFunctionUrl",
        principal="*",
        function_url_auth_type="NONE",
    )
    aws.lambda_.Permission(
        f"{name}-invoke",
        function=function.name,
        action="lambda:InvokeFunction",
        principal="*",
        invoked_via_function_url=True,
    )
    return FrontDoor(function=function, url=url, token_parameter=token, webhook_parameter=webhook)
