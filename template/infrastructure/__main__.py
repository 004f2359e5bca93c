"""Two stacks of one program: `bootstrap` (run once from a laptop) and the pipeline's own.

pulumi stack init bootstrap && pulumi up     # GitHub OIDC identity (once)
pulumi stack init prod && pulumi up          # everything else (the deploy workflow does this)
"""

import pulumi

import answers
import catalog
import components

project = answers.PROJECT
config = pulumi.Config()

if pulumi.get_stack() == "bootstrap":
    provider_arn, deploy_role = components.github_deploy_identity(
        project,
        answers.AWS_ACCOUNT_ID,
        answers.AWS_REGION,
        answers.GITHUB_REPOSITORY,
        existing_provider_arn=config.get("existingOidcProviderArn"),
    )
    pulumi.export("oidc_provider_arn", provider_arn)
    pulumi.export("deploy_role_arn", deploy_role.arn)
else:
    net = components.network(project)
    repository = components.registry(project)
    ecs_cluster, logs = components.cluster(project)
    bucket = components.lake(project, answers.AWS_ACCOUNT_ID)
    execution, task = components.task_roles(project, repository, logs, bucket)
    submitter = components.submitter_role(
        project, answers.AWS_ACCOUNT_ID, answers.AWS_REGION, ecs_cluster, execution, task
    )
    tables = catalog.query_catalog(project, answers.AWS_ACCOUNT_ID, answers.AWS_REGION, bucket, task)

    # Named exactly as prefect.yaml and the workflows read them (`pulumi stack output --json`).
    pulumi.export("aws_region", answers.AWS_REGION)
    pulumi.export("ecr_repository_url", repository.repository_url)
    pulumi.export("ecs_cluster_arn", ecs_cluster.arn)
    pulumi.export("vpc_id", net.vpc.id)
    pulumi.export("subnet_ids", [s.id for s in net.subnets])
    pulumi.export("security_group_id", net.security_group.id)
    pulumi.export("execution_role_arn", execution.arn)
    pulumi.export("task_role_arn", task.arn)
    pulumi.export("submitter_role_arn", submitter.arn)
    pulumi.export("log_group_name", logs.name)
    pulumi.export("lake_bucket_name", bucket.bucket)
    pulumi.export("ecs_cpu", answers.ECS_CPU)
    pulumi.export("ecs_memory", answers.ECS_MEMORY)
    pulumi.export("glue_database_name", tables.database.name)
    pulumi.export("athena_workgroup_name", tables.workgroup.name)
