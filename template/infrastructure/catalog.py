"""The query side of the lake: a Glue database for the Iceberg tables and an Athena workgroup.

Both live in the bootstrap stack, beside the lake: Glue's DeleteDatabase drops every table of
the database, so a database in the pipeline stack would lose the tables on Destroy, and the
redeploy would start empty tables over a lake that still holds their files (issue 22 item 4).
The flow's task role may read and write the tables of that database (policies.catalog_policy);
Athena users query `<database>.<table>`, the same names `python -m <package> query` uses. The
bootstrap stack also makes the managed policy a reader needs (athena_reader_policy): attach it
to your own people or roles; it may query and read the tables, never write them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

import policies
from components import tags

# Athena cancels a query of the workgroup once it has scanned this much, and bills no further:
# at 5 USD per TB scanned (Athena pricing, us-east-1), at most about 5 cents a query.
# docs/how-to/query-the-lake.md and docs/explanation/cost.md say how to change it.
BYTES_SCANNED_CUTOFF_PER_QUERY = 10 * 1024**3  # 10 GiB


@dataclass
class QueryCatalog:
    database: aws.glue.CatalogDatabase
    workgroup: aws.athena.Workgroup


def database_name(project: str) -> str:
    """Glue database names take letters, digits and underscores: the settings' catalog_database."""
    return project.replace("-", "_")


def workgroup_name(project: str) -> str:
    return f"{project}-queries"


def query_catalog(project: str, account_id: str, region: str, bucket: str, task_role: aws.iam.Role) -> QueryCatalog:
    name = database_name(project)
    database = aws.glue.CatalogDatabase(
        f"{project}-tables",
        name=name,
        description="Iceberg tables of the ENTSO-E pipeline (one per feed and enrichment)",
        location_uri=f"s3://{bucket}/tables",
        tags=tags(project, "lake"),
        opts=pulumi.ResourceOptions(protect=True),  # as the lake: even a bootstrap destroy keeps the tables
    )
    workgroup = aws.athena.Workgroup(
        workgroup_name(project),
        name=workgroup_name(project),
        force_destroy=True,
        configuration=aws.athena.WorkgroupConfigurationArgs(
            enforce_workgroup_configuration=True,
            bytes_scanned_cutoff_per_query=BYTES_SCANNED_CUTOFF_PER_QUERY,
            engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                selected_engine_version="Athena engine version 3"
            ),
            result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                output_location=f"s3://{bucket}/athena-results/",
                encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                    encryption_option="SSE_S3"
                ),
            ),
        ),
        tags=tags(project, "lake"),
    )
    aws.iam.RolePolicy(
        f"{project}-task-catalog",
        role=task_role.id,
        policy=json.dumps(policies.catalog_policy(f"arn:aws:s3:::{bucket}", name, account_id, region)),
    )
    return QueryCatalog(database, workgroup)


def athena_reader_policy(project: str, account_id: str, region: str, bucket: str) -> aws.iam.Policy:
    """The managed policy of the people and roles who query the tables with Athena (policies.athena_reader_policy).

    In the bootstrap stack, which an administrator runs: the deploy role can neither create nor
    change a policy that people hold, so a compromised deploy cannot widen their rights.
    """
    document = policies.athena_reader_policy(
        f"arn:aws:s3:::{bucket}", database_name(project), workgroup_name(project), account_id, region
    )
    return aws.iam.Policy(
        f"{project}-athena-reader",
        name=policies.athena_reader_policy_name(project),
        description=f"Query {project}'s tables with Athena (workgroup {workgroup_name(project)}); no writes",
        policy=json.dumps(document),
        tags=tags(project, "lake"),
    )
