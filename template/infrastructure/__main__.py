"""Two stacks of one program: `bootstrap` (once, from a laptop, as an administrator) and the pipeline's own.

pulumi stack init bootstrap && pulumi up     # GitHub OIDC identity, permissions boundary, the lake, its reader policy
pulumi stack init prod && pulumi up          # everything else (the deploy workflow; Destroy removes it)

The lake lives in the bootstrap stack, which no workflow touches: destroying and deploying
the pipeline again finds the bucket and its data where they were.
"""

import pulumi

import answers
import catalog
import components
import front_door
import github_repository
import policies

project = answers.PROJECT
config = pulumi.Config()

if pulumi.get_stack() == "bootstrap":
    # The repository's numeric ids (config githubOwnerId and githubRepositoryId, else GitHub's
    # API): a repository with immutable subject claims names them in its OIDC subject.
    owner_id, repository_id = github_repository.repository_ids(
        answers.GITHUB_REPOSITORY, config.get("githubOwnerId"), config.get("githubRepositoryId")
    )
    provider_arn, deploy_role = components.github_deploy_identity(
        project,
        answers.AWS_ACCOUNT_ID,
        answers.AWS_REGION,
        answers.PREFECT_WORK_POOL,
        policies.github_subjects(answers.GITHUB_REPOSITORY, owner_id, repository_id),
        existing_provider_arn=config.get("existingOidcProviderArn"),
    )
    pulumi.export("oidc_provider_arn", provider_arn)
    pulumi.export("deploy_role_arn", deploy_role.arn)
    pulumi.export("permissions_boundary_arn", policies.boundary_arn(project, answers.AWS_ACCOUNT_ID))
    bucket = components.lake(project, answers.AWS_ACCOUNT_ID)
    pulumi.export("lake_bucket_name", bucket.bucket)
    # Attach it to the people or roles who query the tables with Athena (read only).
    reader = catalog.athena_reader_policy(
        project, answers.AWS_ACCOUNT_ID, answers.AWS_REGION, policies.lake_bucket_name(project, answers.AWS_ACCOUNT_ID)
    )
    pulumi.export("athena_reader_policy_arn", reader.arn)
else:
    # The lake is the bootstrap stack's; its name is fixed by the project, so no stack reference.
    lake_bucket = policies.lake_bucket_name(project, answers.AWS_ACCOUNT_ID)
    net = components.network(project)
    repository = components.registry(project)
    ecs_cluster, logs = components.cluster(project)
    execution, task = components.task_roles(
        project, answers.AWS_ACCOUNT_ID, repository, logs, f"arn:aws:s3:::{lake_bucket}"
    )
    # The Prefect Cloud workspace id: the deploy workflow sets it from PREFECT_API_URL.
    submitter = components.submitter(
        project,
        answers.AWS_ACCOUNT_ID,
        config.require("prefectWorkspaceId"),
        answers.PREFECT_WORK_POOL,
        ecs_cluster,
        logs,
        execution,
        task,
    )
    door = front_door.front_door(
        project,
        answers.AWS_ACCOUNT_ID,
        answers.PACKAGE,
        answers.FEED,
        lake_bucket,
        config.get_int("frontDoorReservedConcurrency"),
    )
    tables = catalog.query_catalog(project, answers.AWS_ACCOUNT_ID, answers.AWS_REGION, lake_bucket, task)

    # Named exactly as prefect.yaml and the workflows read them (`pulumi stack output --json`).
    pulumi.export("aws_region", answers.AWS_REGION)
    pulumi.export("ecr_repository_url", repository.repository_url)
    pulumi.export("ecs_cluster_arn", ecs_cluster.arn)
    pulumi.export("vpc_id", net.vpc.id)
    pulumi.export("subnet_ids", [s.id for s in net.subnets])
    pulumi.export("security_group_id", net.security_group.id)
    pulumi.export("execution_role_arn", execution.arn)
    pulumi.export("task_role_arn", task.arn)
    pulumi.export("submitter_role_arn", submitter.role.arn)
    pulumi.export("submitter_user_name", submitter.user.name)
    pulumi.export("submitter_external_id", submitter.external_id)
    pulumi.export("log_group_name", logs.name)
    pulumi.export("lake_bucket_name", lake_bucket)
    pulumi.export("ecs_cpu", answers.ECS_CPU)
    pulumi.export("ecs_memory", answers.ECS_MEMORY)
    # The push front door: deploy/prefect_cloud.py writes the parameters and prints the URL to paste.
    pulumi.export("front_door_function_url", door.url.function_url)
    pulumi.export("front_door_token_parameter", door.token_parameter.name)
    pulumi.export("front_door_webhook_parameter", door.webhook_parameter.name)
    pulumi.export("glue_database_name", tables.database.name)
    pulumi.export("athena_workgroup_name", tables.workgroup.name)
