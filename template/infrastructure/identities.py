"""Who the pipeline runs as: its roles and the submitter user, made by the bootstrap stack only.

A role's trust policy says which account may become it, and no permissions boundary or IAM
condition key limits what a trust policy says. So whoever may create, delete or update one of
these roles can hand the lake to any account; these live in the bootstrap stack, which an
administrator runs, and the deploy role may do none of that (policies.deploy_policy). Every
ARN is fixed by the project's name, so the policies name the cluster, log groups, registry and
parameters the pipeline stack makes later, and the pipeline stack names these roles by ARN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

import policies
from components import tags


def role(
    project: str, account_id: str, name: str, trust: pulumi.Input[str], policy: pulumi.Input[str], component: str
) -> aws.iam.Role:
    """One of the pipeline's roles: named exactly, inside the permissions boundary."""
    if name not in policies.PIPELINE_ROLES:
        raise ValueError(f"role {name!r}: add it to policies.PIPELINE_ROLES, whose grants the boundary holds")
    created = aws.iam.Role(
        f"{project}-{name}",
        name=f"{project}-{name}",
        assume_role_policy=trust,
        permissions_boundary=policies.boundary_arn(project, account_id),
        tags=tags(project, component),
    )
    aws.iam.RolePolicy(f"{project}-{name}", role=created.id, policy=policy)
    return created


def task_roles(project: str, account_id: str, region: str) -> tuple[aws.iam.Role, aws.iam.Role]:
    """The ECS execution role (pull the image, write the log) and the flow's task role (the lake)."""
    trust = json.dumps(policies.service_trust("ecs-tasks.amazonaws.com"))
    execution = role(
        project,
        account_id,
        "execution",
        trust,
        json.dumps(
            policies.execution_policy(
                policies.repository_arn(project, account_id, region),
                policies.log_group_arn(project, account_id, region),
            )
        ),
        "compute",
    )
    bucket_arn = f"arn:aws:s3:::{policies.lake_bucket_name(project, account_id)}"
    task = role(project, account_id, "task", trust, json.dumps(policies.task_policy(bucket_arn)), "compute")
    return execution, task


@dataclass
class Submitter:
    user: aws.iam.User
    role: aws.iam.Role
    external_id: str


def submitter(project: str, account_id: str, region: str, external_id: str, work_pool: str) -> Submitter:
    """The user whose key Prefect Cloud's push pool holds, and the role it assumes to start runs.

    The user may do nothing but assume the role; the role trusts exactly that user, with an
    external id (the Prefect workspace id). The key is not made here (it would sit in the
    stack's state): an administrator makes it with `deploy/prefect_cloud.py submitter-key`.
    """
    user = aws.iam.User(
        f"{project}-{policies.SUBMITTER_USER}",
        name=f"{project}-{policies.SUBMITTER_USER}",
        permissions_boundary=policies.boundary_arn(project, account_id),
        force_destroy=True,  # a bootstrap destroy deletes the key too
        tags=tags(project, "compute"),
    )
    task_role_arns = [policies.role_arn(project, account_id, name) for name in ("execution", "task")]
    submitter_policy = policies.submitter_policy(
        policies.cluster_arn(project, account_id, region),
        task_role_arns,
        policies.log_group_arn(project, account_id, region),
        work_pool,
    )
    submitter_role = role(
        project,
        account_id,
        "submitter",
        user.arn.apply(lambda arn: json.dumps(policies.submitter_trust(arn, external_id))),
        json.dumps(submitter_policy),
        "compute",
    )
    aws.iam.UserPolicy(
        f"{project}-{policies.SUBMITTER_USER}",
        user=user.name,
        policy=submitter_role.arn.apply(lambda arn: json.dumps(policies.submitter_user_policy(arn))),
    )
    return Submitter(user=user, role=submitter_role, external_id=external_id)


def front_door_role(project: str, account_id: str, region: str) -> aws.iam.Role:
    """The push front door's Lambda role: its inbox in the lake, its two parameters, its log group."""
    parameters = [
        policies.front_door_parameter_arn(project, account_id, region, name) for name in policies.FRONT_DOOR_PARAMETERS
    ]
    policy = policies.front_door_policy(
        f"arn:aws:s3:::{policies.lake_bucket_name(project, account_id)}",
        parameters,
        policies.front_door_log_group_arn(project, account_id, region),
    )
    return role(
        project,
        account_id,
        "front-door",
        json.dumps(policies.service_trust("lambda.amazonaws.com")),
        json.dumps(policy),
        "front-door",
    )
