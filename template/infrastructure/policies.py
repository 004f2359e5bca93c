"""Every IAM policy document of the stacks, as plain functions of names and ARNs, so tests read them.

Least privilege throughout: no `*FullAccess`, no `Action: "*"`, `iam:PassRole` only on the
two task roles and only to ECS tasks, and `Resource: "*"` only for the actions AWS cannot
scope to a resource (each listed, with the reason, in tests/test_infrastructure.py).
Condition keys are the ones AWS's Service Authorization Reference lists for each action
(https://docs.aws.amazon.com/service-authorization/latest/reference/); `parliament` checks them.
"""

from __future__ import annotations

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The GitHub environment the deploy and destroy jobs run in (`environment: production`).
DEPLOY_ENVIRONMENT = "production"
# The pipeline's roles, by name suffix: the bootstrap stack makes them (identities.py), inside the boundary.
PIPELINE_ROLES = ("execution", "task", "submitter", "front-door")
# The front door's SecureStrings, /<project>/front-door/<name>: the token, the webhook URL, and
# the key of the Prefect Cloud service account a webhook may require (a placeholder: none sent).
FRONT_DOOR_PARAMETERS = ("token", "webhook-url", "webhook-key")
# The one IAM user: its key lets Prefect Cloud's push pool assume the submitter role.
SUBMITTER_USER = "prefect-submitter"
# Every IAM action that changes who may act or what they may do: the deploy role may take none.
IDENTITY_CHANGES = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:CreateUser",
    "iam:DeleteUser",
    "iam:UpdateUser",
    "iam:PutUserPolicy",
    "iam:DeleteUserPolicy",
    "iam:AttachUserPolicy",
    "iam:DetachUserPolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:AddUserToGroup",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:UploadSSHPublicKey",
    "iam:UploadSigningCertificate",
    "iam:CreateServiceSpecificCredential",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:PutGroupPolicy",
    "iam:AttachGroupPolicy",
    "iam:CreateOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:CreateSAMLProvider",
    "iam:UpdateSAMLProvider",
)


def _document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _pass_role(sid: str, role_arns: str | list[str], service: str) -> dict:
    """`iam:PassRole` on these roles, and only to this service (`iam:PassedToService`)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arns,
        "Condition": {"StringEquals": {"iam:PassedToService": service}},
    }


# Names and ARNs fixed by the project name, so one stack can name another's resources.
def lake_bucket_name(project: str, account_id: str) -> str:
    return f"{project}-lake-{account_id}"


def role_arn(project: str, account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{project}-{name}"


def user_arn(project: str, account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:user/{project}-{SUBMITTER_USER}"


def boundary_arn(project: str, account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{project}-boundary"


def athena_reader_policy_name(project: str) -> str:
    return f"{project}-athena-reader"


def athena_reader_policy_arn(project: str, account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{athena_reader_policy_name(project)}"


def cluster_arn(project: str, account_id: str, region: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:cluster/{project}"


def log_group_arn(project: str, account_id: str, region: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:/ecs/{project}"


def repository_arn(project: str, account_id: str, region: str) -> str:
    return f"arn:aws:ecr:{region}:{account_id}:repository/{project}"


def front_door_parameter_arn(project: str, account_id: str, region: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{account_id}:parameter/{project}/front-door/{name}"


def front_door_log_group_arn(project: str, account_id: str, region: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:/aws/lambda/{project}-front-door"


# Trust policies: who may assume a role.
def service_trust(service: str) -> dict:
    return _document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def github_subjects(
    repository: str, owner_id: str, repository_id: str, environment: str = DEPLOY_ENVIRONMENT
) -> list[str]:
    """The OIDC subjects a job of `repository` in the GitHub environment `environment` presents.

    By names, `repo:OWNER/REPO:environment:X` (GitHub docs, "About security hardening with
    OpenID Connect", example subject claims), from a repository without immutable subject
    claims; by names and ids, `repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:X`, from one with
    them (every repository created or renamed since they were turned on). A name recycled by
    another repository presents other ids, and GitHub gives every new repository the id form.
    """
    owner, name = repository.split("/")
    return [
        f"repo:{repository}:environment:{environment}",
        f"repo:{owner}@{owner_id}/{name}@{repository_id}:environment:{environment}",
    ]


def github_trust(oidc_provider_arn: str, subjects: list[str]) -> dict:
    """Only jobs that present one of `subjects` (github_subjects: one repository, one environment).

    StringEquals, no wildcard. The environment's deployment branch rule limits it to `main`.
    """
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                    f"{GITHUB_OIDC_HOST}:sub": subjects,
                }
            },
        }
    )


def submitter_trust(user_arn: str, external_id: str) -> dict:
    """Exactly the submitter user, and only when it names the external id."""
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": user_arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }
    )


# Permission policies.
def execution_policy(repository_arn: str, log_group_arn: str) -> dict:
    """Pull the flow's image and write its logs: what ECS needs to start the task.

    No logs:CreateLogGroup: the stack creates the group and prefect.yaml sets
    `awslogs-create-group: "false"` (see docs/explanation/decisions.md).
    """
    return _document(
        # GetAuthorizationToken has no resource type (Service Authorization Reference, ECR).
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": repository_arn,
        },
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
    )


def task_policy(bucket_arn: str, prefix: str = "") -> dict:
    """The flow reads, writes and deletes (ledger claims) in the lake, and nothing else."""
    return _document(
        {
            "Sid": "LakeObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/{prefix}*",
        },
        {
            "Sid": "LakeListing",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
    )


def task_family(work_pool: str) -> str:
    """prefect-aws names a task definition `prefect_<work pool>_<deployment id>` unless the job
    variables give a family (ECSWorker._get_or_generate_family, ECS_DEFAULT_FAMILY = "prefect")."""
    return f"prefect_{work_pool}_"


def submitter_policy(cluster_arn: str, task_role_arns: list[str], log_group_arn: str, work_pool: str) -> dict:
    """What prefect-aws's ECS worker does per run: register a task definition, run it, watch it.

    prefect_aws/workers/ecs_worker.py: `_register_task_definition`, `_retrieve_task_definition`
    (match_latest_revision_in_family), `_custom_network_configuration` (describe VPC and
    subnets), `_create_task_run` (RunTask, always with tags: the template's `tags: "{{ labels }}"`),
    `_stop_task`; the run's watcher describes the task and reads its log stream.
    """
    region, account_id, cluster_name = _ecs_parts(cluster_arn)
    tasks = f"arn:aws:ecs:{region}:{account_id}:task/{cluster_name}/*"
    on_cluster = {"ArnEquals": {"ecs:cluster": cluster_arn}}
    families = f"arn:aws:ecs:{region}:{account_id}:task-definition/{task_family(work_pool)}*"
    return _document(
        {
            "Sid": "RegisterTaskDefinitions",
            "Effect": "Allow",
            "Action": "ecs:RegisterTaskDefinition",
            "Resource": families,
        },
        # These have no resource type in the Service Authorization Reference (ECS).
        {
            "Sid": "ReadTaskDefinitions",
            "Effect": "Allow",
            "Action": ["ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"],
            "Resource": "*",
        },
        {
            "Sid": "RunOnTheCluster",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": families,
            "Condition": on_cluster,
        },
        {
            "Sid": "WatchAndStopTasks",
            "Effect": "Allow",
            "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": tasks,
            "Condition": on_cluster,
        },
        # RunTask with tags also needs TagResource, which knows no ecs:cluster key: the
        # CDK's own grant for this case scopes it by ecs:CreateAction instead.
        {
            "Sid": "TagTasksAtLaunch",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": tasks,
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
        _pass_role("PassTaskRoles", task_role_arns, "ecs-tasks.amazonaws.com"),
        {
            "Sid": "ReadTaskLogs",
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
        # Describe calls have no resource type (Service Authorization Reference, EC2).
        {"Sid": "Network", "Effect": "Allow", "Action": ["ec2:DescribeSubnets", "ec2:DescribeVpcs"], "Resource": "*"},
    )


def submitter_user_policy(submitter_role_arn: str) -> dict:
    """The user's only permission: become the submitter role."""
    return _document(
        {"Sid": "BecomeTheSubmitter", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": submitter_role_arn}
    )


def lake_bucket_policy(bucket_arn: str) -> dict:
    """TLS only: any request over plain HTTP is refused, whoever makes it."""
    return _document(
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def boundary_policy(project: str, account_id: str, region: str, work_pool: str) -> dict:
    """The most any role or user the deploy role creates may ever do: the pipeline's own grants.

    Built from the same functions as the roles' policies, so a role stays inside it; a role
    that needs more fails the test that checks every grant against this boundary.
    """
    roles = [role_arn(project, account_id, name) for name in ("execution", "task")]
    parts = {
        "Execution": execution_policy(
            repository_arn(project, account_id, region), log_group_arn(project, account_id, region)
        ),
        "Task": task_policy(f"arn:aws:s3:::{lake_bucket_name(project, account_id)}"),
        "Submitter": submitter_policy(
            cluster_arn(project, account_id, region), roles, log_group_arn(project, account_id, region), work_pool
        ),
        "User": submitter_user_policy(role_arn(project, account_id, "submitter")),
        "FrontDoor": front_door_policy(
            f"arn:aws:s3:::{lake_bucket_name(project, account_id)}",
            [f"arn:aws:ssm:{region}:{account_id}:parameter/{project}/front-door/*"],
            front_door_log_group_arn(project, account_id, region),
        ),
        "Catalog": catalog_policy(
            f"arn:aws:s3:::{lake_bucket_name(project, account_id)}", project.replace("-", "_"), account_id, region
        ),
    }
    return _document(
        *({**s, "Sid": f"{part}{s['Sid']}"} for part, document in parts.items() for s in document["Statement"])
    )


def deploy_policy(project: str, account_id: str, region: str) -> dict:
    """What `pulumi up` / `pulumi destroy` of the pipeline stack and the image push need.

    Nothing on the lake: the bootstrap stack (an administrator, once) creates it, so the
    deploy role can neither delete it nor rewrite its policy to read it.

    Network resources: created only with the project tag (`aws:RequestTag`), changed and
    deleted only when they carry it (`aws:ResourceTag`). No role, user, key or policy: the
    bootstrap stack makes the pipeline's (identities.py), and an explicit Deny keeps every IAM
    write out of reach; it may pass the front door's role to Lambda, nothing else. Nor the
    Glue database or the Athena workgroup: the bootstrap keeps them with the lake (catalog.py).
    """
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    tagged_request = {"StringEquals": {"aws:RequestTag/project": project, "aws:RequestedRegion": region}}
    tagged_resource = {"StringEquals": {"aws:ResourceTag/project": project, "aws:RequestedRegion": region}}
    ec2 = f"arn:aws:ec2:{region}:{account_id}"
    return _document(
        {
            "Sid": "NetworkCreateTagged",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateVpc",
                "ec2:CreateSubnet",
                "ec2:CreateInternetGateway",
                "ec2:CreateRouteTable",
                "ec2:CreateSecurityGroup",
            ],
            "Resource": [
                f"{ec2}:vpc/*",
                f"{ec2}:subnet/*",
                f"{ec2}:internet-gateway/*",
                f"{ec2}:route-table/*",
                f"{ec2}:security-group/*",
            ],
            "Condition": tagged_request,
        },
        {
            "Sid": "NetworkTagOnCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"{ec2}:*/*",
            "Condition": {
                "StringEquals": {
                    "ec2:CreateAction": [
                        "CreateVpc",
                        "CreateSubnet",
                        "CreateInternetGateway",
                        "CreateRouteTable",
                        "CreateSecurityGroup",
                    ]
                }
            },
        },
        {
            "Sid": "NetworkChangeTagged",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteVpc",
                "ec2:ModifyVpcAttribute",
                "ec2:DeleteSubnet",
                "ec2:ModifySubnetAttribute",
                "ec2:DeleteInternetGateway",
                "ec2:AttachInternetGateway",
                "ec2:DetachInternetGateway",
                "ec2:DeleteRouteTable",
                "ec2:CreateRoute",
                "ec2:DeleteRoute",
                "ec2:AssociateRouteTable",
                "ec2:DisassociateRouteTable",
                "ec2:DeleteSecurityGroup",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            "Resource": [
                f"{ec2}:vpc/*",
                f"{ec2}:subnet/*",
                f"{ec2}:internet-gateway/*",
                f"{ec2}:route-table/*",
                f"{ec2}:security-group/*",
                f"{ec2}:security-group-rule/*",
            ],
            "Condition": tagged_resource,
        },
        # Describe calls have no resource type (Service Authorization Reference, EC2).
        {"Sid": "NetworkRead", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*", "Condition": in_region},
        {
            "Sid": "Registry",
            "Effect": "Allow",
            "Action": [
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:DescribeRepositories",
                "ecr:PutLifecyclePolicy",
                "ecr:GetLifecyclePolicy",
                "ecr:DeleteLifecyclePolicy",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:TagResource",
                "ecr:UntagResource",
                "ecr:ListTagsForResource",
                "ecr:BatchDeleteImage",
                "ecr:ListImages",
                "ecr:DescribeImages",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": repository_arn(project, account_id, region),
        },
        # GetAuthorizationToken has no resource type (Service Authorization Reference, ECR).
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "Cluster",
            "Effect": "Allow",
            "Action": [
                "ecs:CreateCluster",
                "ecs:DeleteCluster",
                "ecs:DescribeClusters",
                "ecs:UpdateCluster",
                "ecs:PutClusterCapacityProviders",
                "ecs:TagResource",
                "ecs:UntagResource",
                "ecs:ListTagsForResource",
            ],
            "Resource": cluster_arn(project, account_id, region),
        },
        {
            "Sid": "EcsServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": f"arn:aws:iam::{account_id}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "ecs.amazonaws.com"}},
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                "logs:TagLogGroup",
            ],
            "Resource": [
                log_group_arn(project, account_id, region),
                f"{log_group_arn(project, account_id, region)}:*",
            ],
        },
        # DescribeLogGroups has no resource type (Service Authorization Reference, CloudWatch Logs).
        {"Sid": "LogsDescribe", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
        # No IAM write at all: the roles, their trust and the submitter's key are the bootstrap's
        # (identities.py). Denied outright too, so a grant added later cannot reopen the way to
        # give another account the lake: a trust policy is beyond any boundary or condition key.
        {
            "Sid": "NeverChangesWhoMayDoWhat",
            "Effect": "Deny",
            "Action": list(IDENTITY_CHANGES),
            "Resource": "*",
        },
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        *front_door_deploy_statements(project, account_id, region),
        *monitoring_deploy_statements(project, account_id, region),
    )


def _ecs_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, name) of arn:aws:ecs:REGION:ACCOUNT:cluster/NAME."""
    _, _, _, region, account_id, resource = arn.split(":", 5)
    return region, account_id, resource.split("/", 1)[1]


def front_door_policy(
    bucket_arn: str,
    parameter_arns: list[str],
    log_group_arn: str,
    prefixes: tuple[str, ...] = ("inbox/", "quarantine/front-door/"),
) -> dict:
    """The push front door (Lambda) may put objects under the inbox and its quarantine, read its two parameters, log.

    No kms:Decrypt: its SecureStrings use the AWS managed key aws/ssm, whose key policy lets
    any principal of the account use it through SSM (AWS Systems Manager User Guide, "How
    AWS Systems Manager Parameter Store uses AWS KMS").
    """
    return _document(
        {
            "Sid": "Inbox",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [f"{bucket_arn}/{p}*" for p in prefixes],
        },
        {"Sid": "Parameters", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameter_arns},
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
    )


def front_door_deploy_statements(project: str, account_id: str, region: str) -> list[dict]:
    """What the deploy role adds for the front door: its Lambda, URL, parameters, log group, role.

    The deploy script (deploy/prefect_cloud.py) writes the parameters' values; Pulumi only
    creates them with a placeholder, so neither the token nor the webhook URL is in its state.
    """
    return [
        {
            "Sid": "FrontDoorFunction",
            "Effect": "Allow",
            "Action": [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:GetFunctionConcurrency",
                "lambda:ListVersionsByFunction",
                "lambda:CreateFunctionUrlConfig",
                "lambda:GetFunctionUrlConfig",
                "lambda:UpdateFunctionUrlConfig",
                "lambda:DeleteFunctionUrlConfig",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
            ],
            "Resource": f"arn:aws:lambda:{region}:{account_id}:function:{project}-*",
        },
        {
            "Sid": "FrontDoorParameters",
            "Effect": "Allow",
            "Action": [
                "ssm:PutParameter",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:DeleteParameter",
                "ssm:AddTagsToResource",
                "ssm:RemoveTagsFromResource",
                "ssm:ListTagsForResource",
            ],
            "Resource": f"arn:aws:ssm:{region}:{account_id}:parameter/{project}/*",
        },
        {"Sid": "FrontDoorParametersDescribe", "Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"},
        {
            "Sid": "FrontDoorLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
            ],
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:/aws/lambda/{project}-*",
        },
        _pass_role("FrontDoorPassRole", role_arn(project, account_id, "front-door"), "lambda.amazonaws.com"),
    ]


def monitoring_deploy_statements(project: str, account_id: str, region: str) -> list[dict]:
    """What the deploy role adds for monitoring.py: the alert topic, its alarms, the budget.

    A subscription has no resource type of its own (Service Authorization Reference, SNS:
    Unsubscribe, Get/SetSubscriptionAttributes), so those three go on "*" in the region.
    """
    return [
        {
            "Sid": "AlertTopic",
            "Effect": "Allow",
            "Action": [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:ListSubscriptionsByTopic",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
            ],
            "Resource": f"arn:aws:sns:{region}:{account_id}:{project}-*",
        },
        {
            "Sid": "AlertSubscription",
            "Effect": "Allow",
            "Action": ["sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "FrontDoorAlarms",
            "Effect": "Allow",
            "Action": [
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:ListTagsForResource",
            ],
            "Resource": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{project}-*",
        },
        {
            "Sid": "CostBudget",
            "Effect": "Allow",
            "Action": [
                "budgets:ViewBudget",
                "budgets:ModifyBudget",
                "budgets:TagResource",
                "budgets:UntagResource",
                "budgets:ListTagsForResource",
            ],
            "Resource": f"arn:aws:budgets::{account_id}:budget/{project}-*",
        },
    ]


def catalog_policy(bucket_arn: str, database: str, account_id: str, region: str, prefix: str = "") -> dict:
    """The Glue and S3 actions pyiceberg's GlueCatalog uses on the tables of one database.

    pyiceberg/catalog/glue.py: load_table/table_exists -> GetTable, list_tables -> GetTables,
    namespace_exists -> GetDatabase, create_table -> CreateTable, commit_table -> UpdateTable
    (with the table's VersionId: the optimistic lock). The data and metadata files live under
    `tables/` in the lake; a failed commit deletes its own uncommitted manifests.
    """
    glue = f"arn:aws:glue:{region}:{account_id}"
    return _document(
        {
            "Sid": "GlueTables",
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable"],
            "Resource": [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*"],
        },
        {
            "Sid": "TableFiles",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/{prefix}tables/*",
        },
    )


def athena_reader_policy(
    bucket_arn: str, database: str, workgroup: str, account_id: str, region: str, prefix: str = ""
) -> dict:
    """What a person or role needs to query the tables with Athena, and nothing that writes them.

    Athena runs a query with its caller's rights (Athena User Guide, "Identity and access
    management in Athena"; "Access to Amazon S3"): the workgroup's query actions, Glue reads
    of the database and its tables, S3 reads of the table files, and writes of the results to
    the workgroup's output location, `athena-results/`. No Glue write, no write under `tables/`:
    only the pipeline (policies.catalog_policy) changes a table.
    """
    glue = f"arn:aws:glue:{region}:{account_id}"
    athena = f"arn:aws:athena:{region}:{account_id}"
    tables, results = f"{prefix}tables/", f"{prefix}athena-results/"
    return _document(
        {
            "Sid": "QueryInTheWorkgroup",
            "Effect": "Allow",
            "Action": [
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
                "athena:GetQueryExecution",
                "athena:BatchGetQueryExecution",
                "athena:ListQueryExecutions",
                "athena:GetQueryResults",
                "athena:GetQueryResultsStream",
                "athena:GetWorkGroup",
            ],
            "Resource": f"{athena}:workgroup/{workgroup}",
        },
        # The console's table browser reads the tables through Athena's default catalog.
        {
            "Sid": "BrowseTheCatalog",
            "Effect": "Allow",
            "Action": [
                "athena:GetDataCatalog",
                "athena:ListDatabases",
                "athena:GetDatabase",
                "athena:ListTableMetadata",
                "athena:GetTableMetadata",
            ],
            "Resource": f"{athena}:datacatalog/AwsDataCatalog",
        },
        {
            "Sid": "ReadTheTableDefinitions",
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
            ],
            "Resource": [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*"],
        },
        {
            "Sid": "ReadTheTableFiles",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{tables}*",
        },
        {
            "Sid": "ListTheTableFilesAndResults",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{tables}*", f"{results}*"]}},
        },
        {
            "Sid": "WriteAndReadTheResults",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": f"{bucket_arn}/{results}*",
        },
        {"Sid": "FindTheResultsBucket", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": bucket_arn},
        # The console's workgroup and data source choosers; names only, and AWS gives these
        # actions no resource type (Service Authorization Reference, Athena).
        {
            "Sid": "ChooseTheWorkgroup",
            "Effect": "Allow",
            "Action": ["athena:ListWorkGroups", "athena:ListDataCatalogs"],
            "Resource": "*",
        },
    )
