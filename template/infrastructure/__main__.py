"""Two stacks of one program: `bootstrap` (once, from a laptop, as an administrator) and the pipeline's own.

pulumi stack init bootstrap && pulumi up     # GitHub OIDC, boundary, the lake, its catalog, the pipeline's roles
pulumi stack init prod && pulumi up          # everything else (the deploy workflow; Destroy removes it)

The lake, the Glue database that lists its tables and the pipeline's roles live in the
bootstrap stack, which no workflow touches: destroying and deploying the pipeline again finds
the bucket, its tables and who may use them where they were, and the deploy role can change
none of them (docs/explanation/security.md).
"""

import pulumi

import answers
import catalog
import components
import front_door
import github_repository
import identities
import monitoring
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
    # The roles, their trust and the submitter user: out of the deploy role's reach (identities.py).
    execution, task = identities.task_roles(project, answers.AWS_ACCOUNT_ID, answers.AWS_REGION)
    # The Prefect Cloud workspace id (the submitter role's external id): the id in PREFECT_API_URL.
    made = identities.submitter(
        project,
        answers.AWS_ACCOUNT_ID,
        answers.AWS_REGION,
        config.require("prefectWorkspaceId"),
        answers.PREFECT_WORK_POOL,
    )
    identities.front_door_role(project, answers.AWS_ACCOUNT_ID, answers.AWS_REGION)
    tables = catalog.query_catalog(
        project,
        answers.AWS_ACCOUNT_ID,
        answers.AWS_REGION,
        policies.lake_bucket_name(project, answers.AWS_ACCOUNT_ID),
        task,
    )
    # What `deploy/prefect_cloud.py submitter-key` reads (an administrator makes the key).
    pulumi.export("aws_region", answers.AWS_REGION)
    pulumi.export("submitter_user_name", made.user.name)
    pulumi.export("submitter_role_arn", made.role.arn)
    pulumi.export("submitter_external_id", made.external_id)
    pulumi.export("glue_database_name", tables.database.name)
    pulumi.export("athena_workgroup_name", tables.workgroup.name)
else:
    # The lake is the bootstrap stack's; its name is fixed by the project, so no stack reference.
    lake_bucket = policies.lake_bucket_name(project, answers.AWS_ACCOUNT_ID)
    net = components.network(project)
    repository = components.registry(project)
    ecs_cluster, logs = components.cluster(project)
    # The roles and the user are the bootstrap stack's (identities.py): named, never made, here.
    role = {name: policies.role_arn(project, answers.AWS_ACCOUNT_ID, name) for name in policies.PIPELINE_ROLES}
    door = front_door.front_door(
        project,
        answers.AWS_ACCOUNT_ID,
        answers.PACKAGE,
        answers.FEED,
        lake_bucket,
        config.get_int("frontDoorReservedConcurrency"),
    )
    # The front door's errors and throttles, and the month's cost, mailed to the author (monitoring.py).
    monitoring.monitoring(
        project,
        answers.AWS_ACCOUNT_ID,
        answers.GITHUB_REPOSITORY,
        answers.ALERT_EMAIL,
        door.function.name,
        answers.MONTHLY_BUDGET_USD,
    )

    # Named exactly as prefect.yaml and the workflows read them (`pulumi stack output --json`).
    pulumi.export("aws_region", answers.AWS_REGION)
    pulumi.export("ecr_repository_url", repository.repository_url)
    pulumi.export("ecs_cluster_arn", ecs_cluster.arn)
    pulumi.export("vpc_id", net.vpc.id)
    pulumi.export("subnet_ids", [s.id for s in net.subnets])
    pulumi.export("security_group_id", net.security_group.id)
    pulumi.export("execution_role_arn", role["execution"])
    pulumi.export("task_role_arn", role["task"])
    pulumi.export("submitter_role_arn", role["submitter"])
    pulumi.export("submitter_user_name", f"{project}-{policies.SUBMITTER_USER}")
    # The Prefect Cloud workspace id: the deploy workflow sets it from PREFECT_API_URL; the
    # bootstrap's submitter role trusts the id it was given (the same workspace).
    pulumi.export("submitter_external_id", config.require("prefectWorkspaceId"))
    pulumi.export("log_group_name", logs.name)
    pulumi.export("lake_bucket_name", lake_bucket)
    pulumi.export("ecs_cpu", answers.ECS_CPU)
    pulumi.export("ecs_memory", answers.ECS_MEMORY)
    # The push front door: deploy/prefect_cloud.py writes the parameters and prints the URL to paste.
    pulumi.export("front_door_function_url", door.url.function_url)
    pulumi.export("front_door_token_parameter", door.token_parameter.name)
    pulumi.export("front_door_webhook_parameter", door.webhook_parameter.name)
    # The bootstrap stack's (catalog.py), by name.
    pulumi.export("glue_database_name", catalog.database_name(project))
    pulumi.export("athena_workgroup_name", catalog.workgroup_name(project))
