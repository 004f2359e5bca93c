"""The query side of the lake: a Glue database for the Iceberg tables and an Athena workgroup.

The flow's task role may read and write the tables of that database (policies.catalog_policy);
Athena users query `<database>.<table>`, the same names `python -m <package> query` uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi_aws as aws

import policies
from components import tags


@dataclass
class QueryCatalog:
    database: aws.glue.CatalogDatabase
    workgroup: aws.athena.Workgroup


def database_name(project: str) -> str:
    """Glue database names take letters, digits and underscores: the settings' catalog_database."""
    return project.replace("-", "_")


def query_catalog(project: str, account_id: str, region: str, bucket: str, task_role: aws.iam.Role) -> QueryCatalog:
    name = database_name(project)
    database = aws.glue.CatalogDatabase(
        f"{project}-tables",
        name=name,
        description="Iceberg tables of the ENTSO-E pipeline (one per feed and enrichment)",
        location_uri=f"s3://{bucket}/tables",
        tags=tags(project, "lake"),
    )
    workgroup = aws.athena.Workgroup(
        f"{project}-queries",
        name=f"{project}-queries",
        force_destroy=True,
        configuration=aws.athena.WorkgroupConfigurationArgs(
            enforce_workgroup_configuration=True,
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
