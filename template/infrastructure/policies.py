"""Every IAM policy document of the stacks, as plain functions of ARNs, so tests read them.

Least privilege throughout: no `*FullAccess`, no `Action: "*"`, `iam:PassRole` only on the
two task roles, and `Resource: "*"` only for the few actions AWS cannot scope to a resource.
"""

from __future__ import annotations

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def _document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust(service: str) -> dict:
    return _document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def github_trust(oidc_provider_arn: str, repository: str, branch: str = "main") -> dict:
    """Only workflows of `repository` running on `branch` may assume the deploy role."""
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                    f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:ref:refs/heads/{branch}",
                }
            },
        }
    )


def execution_policy(repository_arn: str, log_group_arn: str) -> dict:
    """Pull the flow's image and write its logs: what ECS needs to start the task."""
    return _document(
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
            "Resource": f"{log_group_arn}:*",
        },
    )


def task_policy(bucket_arn: str, prefix: str = "") -> dict:
    """The flow writes and reads the lake, and nothing else."""
    objects = f"{bucket_arn}/{prefix}*"
    return _document(
        {"Sid": "LakeObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects},
        {
            "Sid": "LakeListing",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
    )


def submitter_policy(cluster_arn: str, task_role_arns: list[str], account_id: str, region: str) -> dict:
    """What Prefect Cloud's ECS push pool does per run: register a task definition, run it, watch it."""
    return _document(
        {
            "Sid": "TaskDefinitions",
            "Effect": "Allow",
            "Action": [
                "ecs:RegisterTaskDefinition",
                "ecs:DeregisterTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitions",
            ],
            "Resource": "*",
        },
        {
            "Sid": "RunTasks",
            "Effect": "Allow",
            "Action": ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:TagResource"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}},
        },
        {"Sid": "PassTaskRoles", "Effect": "Allow", "Action": "iam:PassRole", "Resource": task_role_arns},
        {
            "Sid": "ReadTaskLogs",
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents", "logs:DescribeLogStreams"],
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:*",
        },
        {"Sid": "Network", "Effect": "Allow", "Action": ["ec2:DescribeSubnets", "ec2:DescribeVpcs"], "Resource": "*"},
    )


def deploy_policy(project: str, account_id: str, region: str) -> dict:
    """What `pulumi up` / `pulumi destroy` of the pipeline stack and the image push need.

    Resources are scoped by the project's name prefix wherever AWS allows it; VPC and ECS
    creation cannot be scoped by name, so they are limited to the project's region.
    """
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    role_arns = [f"arn:aws:iam::{account_id}:role/{project}-*"]
    return _document(
        {
            "Sid": "Network",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateVpc",
                "ec2:DeleteVpc",
                "ec2:ModifyVpcAttribute",
                "ec2:CreateSubnet",
                "ec2:DeleteSubnet",
                "ec2:ModifySubnetAttribute",
                "ec2:CreateInternetGateway",
                "ec2:DeleteInternetGateway",
                "ec2:AttachInternetGateway",
                "ec2:DetachInternetGateway",
                "ec2:CreateRouteTable",
                "ec2:DeleteRouteTable",
                "ec2:CreateRoute",
                "ec2:DeleteRoute",
                "ec2:AssociateRouteTable",
                "ec2:DisassociateRouteTable",
                "ec2:CreateSecurityGroup",
                "ec2:DeleteSecurityGroup",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:CreateTags",
                "ec2:DeleteTags",
                "ec2:Describe*",
            ],
            "Resource": "*",
            "Condition": in_region,
        },
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
            "Resource": f"arn:aws:ecr:{region}:{account_id}:repository/{project}*",
        },
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
            "Resource": "*",
            "Condition": in_region,
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
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:/ecs/{project}*",
        },
        {"Sid": "LogsDescribe", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
        {
            "Sid": "Lake",
            "Effect": "Allow",
            "Action": [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:GetBucket*",
                "s3:PutBucket*",
                "s3:DeleteBucketPolicy",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:GetAccelerateConfiguration",
                "s3:GetReplicationConfiguration",
                "s3:GetAnalyticsConfiguration",
                "s3:GetIntelligentTieringConfiguration",
                "s3:GetInventoryConfiguration",
                "s3:GetMetricsConfiguration",
            ],
            "Resource": f"arn:aws:s3:::{project}-*",
        },
        {
            "Sid": "Roles",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:UpdateAssumeRolePolicy",
            ],
            "Resource": role_arns,
        },
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    )


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
