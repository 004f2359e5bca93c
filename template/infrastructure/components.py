"""The pipeline's AWS resources, one function per box of the architecture diagram.

network -> registry -> cluster (and logs); and, in the bootstrap stack, the lake (it outlives
the pipeline) and the GitHub OIDC identity that deploys the rest, with the permissions
boundary of the pipeline's roles (identities.py, also the bootstrap's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

import policies

VPC_CIDR = "10.42.0.0/16"
LOG_RETENTION_DAYS = 30
IMAGES_KEPT = 20
# Athena writes every query's result (and its metadata) under athena-results/: kept this long.
ATHENA_RESULTS_DAYS = 30


def tags(project: str, component: str) -> dict[str, str]:
    return {"project": project, "component": component, "managed-by": "pulumi"}


@dataclass
class Network:
    vpc: aws.ec2.Vpc
    subnets: list[aws.ec2.Subnet]
    security_group: aws.ec2.SecurityGroup


def network(project: str) -> Network:
    """A VPC with public subnets in two zones of the region; no NAT gateway, tasks get public IPs."""
    zones = aws.get_availability_zones(state="available").names[:2]
    vpc = aws.ec2.Vpc(
        f"{project}-vpc",
        cidr_block=VPC_CIDR,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags=tags(project, "network"),
    )
    gateway = aws.ec2.InternetGateway(f"{project}-igw", vpc_id=vpc.id, tags=tags(project, "network"))
    routes = aws.ec2.RouteTable(
        f"{project}-public",
        vpc_id=vpc.id,
        routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
        tags=tags(project, "network"),
    )
    subnets = []
    for index, zone in enumerate(zones):
        subnet = aws.ec2.Subnet(
            f"{project}-public-{index}",
            vpc_id=vpc.id,
            availability_zone=zone,
            cidr_block=f"10.42.{index}.0/24",
            map_public_ip_on_launch=True,
            tags=tags(project, "network"),
        )
        aws.ec2.RouteTableAssociation(f"{project}-public-{index}", subnet_id=subnet.id, route_table_id=routes.id)
        subnets.append(subnet)
    security_group = aws.ec2.SecurityGroup(
        f"{project}-tasks",
        vpc_id=vpc.id,
        description="Flow run tasks: outbound only (ENTSO-E API, SMTP, Prefect Cloud, S3)",
        ingress=[],
        egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])],
        tags=tags(project, "network"),
    )
    return Network(vpc=vpc, subnets=subnets, security_group=security_group)


def registry(project: str) -> aws.ecr.Repository:
    repository = aws.ecr.Repository(
        f"{project}-images",
        name=project,
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
        image_tag_mutability="IMMUTABLE",
        force_delete=True,  # destroy empties the registry
        tags=tags(project, "registry"),
    )
    aws.ecr.LifecyclePolicy(
        f"{project}-images",
        repository=repository.name,
        policy=json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "description": f"keep the last {IMAGES_KEPT} images",
                        "selection": {
                            "tagStatus": "any",
                            "countType": "imageCountMoreThan",
                            "countNumber": IMAGES_KEPT,
                        },
                        "action": {"type": "expire"},
                    }
                ]
            }
        ),
    )
    return repository


def cluster(project: str) -> tuple[aws.ecs.Cluster, aws.cloudwatch.LogGroup]:
    ecs_cluster = aws.ecs.Cluster(f"{project}-cluster", name=project, tags=tags(project, "compute"))
    logs = aws.cloudwatch.LogGroup(
        f"{project}-logs", name=f"/ecs/{project}", retention_in_days=LOG_RETENTION_DAYS, tags=tags(project, "compute")
    )
    return ecs_cluster, logs


def lake(project: str, account_id: str) -> aws.s3.Bucket:
    """Encrypted, private, versioned, TLS only; old versions expire, raw data moves to infrequent
    access, Athena's query results expire after ATHENA_RESULTS_DAYS.

    The lake lives in the bootstrap stack, which no workflow touches, so destroying and
    deploying the pipeline again finds the bucket and its data where they were; `protect`
    makes even a `pulumi destroy` of the bootstrap stack refuse to delete it.
    """
    keep = pulumi.ResourceOptions(protect=True)
    bucket = aws.s3.Bucket(
        f"{project}-lake",
        bucket=policies.lake_bucket_name(project, account_id),
        tags=tags(project, "lake"),
        opts=keep,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{project}-lake",
        bucket=bucket.id,
        opts=keep,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
                bucket_key_enabled=True,
            )
        ],
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{project}-lake",
        bucket=bucket.id,
        opts=keep,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketPolicy(
        f"{project}-lake",
        bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: json.dumps(policies.lake_bucket_policy(arn))),
        opts=pulumi.ResourceOptions(protect=True, depends_on=[public_access]),
    )
    aws.s3.BucketVersioning(
        f"{project}-lake",
        bucket=bucket.id,
        opts=keep,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{project}-lake",
        bucket=bucket.id,
        opts=keep,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-old-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=90
                ),
            ),
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="raw-to-infrequent-access",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="raw/"),
                transitions=[
                    aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=30, storage_class="STANDARD_IA")
                ],
            ),
            # Expired results become noncurrent versions (the bucket is versioned): gone a day later.
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-athena-results",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="athena-results/"),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=ATHENA_RESULTS_DAYS),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=1
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=1
                ),
            ),
        ],
    )
    return bucket


def github_deploy_identity(
    project: str, account_id: str, region: str, work_pool: str, subjects: list[str], existing_provider_arn: str | None
):
    """The OIDC provider (or an existing one), the role GitHub Actions deploys with (trusted by
    the OIDC `subjects` only), and the permissions boundary every role and user that role
    creates must carry."""
    if existing_provider_arn:
        provider_arn = pulumi.Output.from_input(existing_provider_arn)
    else:
        provider = aws.iam.OpenIdConnectProvider(
            "github-actions",
            url=policies.GITHUB_OIDC_URL,
            client_id_lists=["sts.amazonaws.com"],
            tags=tags(project, "ci-identity"),
        )
        provider_arn = provider.arn
    deploy = aws.iam.Role(
        f"{project}-deploy",
        name=f"{project}-deploy",
        assume_role_policy=provider_arn.apply(lambda arn: json.dumps(policies.github_trust(arn, subjects))),
        max_session_duration=3600,
        tags=tags(project, "ci-identity"),
    )
    aws.iam.RolePolicy(
        f"{project}-deploy", role=deploy.id, policy=json.dumps(policies.deploy_policy(project, account_id, region))
    )
    aws.iam.Policy(
        f"{project}-boundary",
        name=f"{project}-boundary",
        description=f"The most any role or user of {project}'s pipeline stack may do",
        policy=json.dumps(policies.boundary_policy(project, account_id, region, work_pool)),
        tags=tags(project, "ci-identity"),
    )
    return provider_arn, deploy
