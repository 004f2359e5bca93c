"""`python -m <package> query "SQL"`: DuckDB over the lake's tables, locally or on S3.

Every table of the catalog's database becomes a view `<database>.<table>` over the data files
of the table's current snapshot (pyiceberg plans the files; pyarrow reads them, from the local
folder or from S3; DuckDB runs the SQL and pushes filters and column choices into the scan).
The names are those Athena shows for the Glue database, so the same SQL runs there unchanged.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from .settings import Settings
from .tables import all_tables, open_catalog, s3_location


def _filesystem(settings: Settings) -> pafs.FileSystem:
    if settings.catalog != "glue":
        return pafs.LocalFileSystem()
    props = s3_location(settings).properties
    return pafs.S3FileSystem(
        region=props.get("s3.region"),
        endpoint_override=props.get("s3.endpoint"),
        access_key=props.get("s3.access-key-id"),
        secret_key=props.get("s3.secret-access-key"),
    )


def _path(location: str) -> str:
    """pyarrow file systems take 'bucket/key' and '/folder/file', not URIs."""
    for scheme in ("s3://", "s3a://", "file://"):
        if location.startswith(scheme):
            return location[len(scheme) :]
    return location


def connect(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view per table, named `<database>.<table>`."""
    settings = settings or Settings()
    catalog = open_catalog(settings)
    filesystem = _filesystem(settings)
    database = settings.catalog_database
    connection = duckdb.connect()
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
    for table in all_tables(catalog, database):
        name = table.name()[-1]
        files = [_path(task.file.file_path) for task in table.scan().plan_files()]
        schema = table.schema().as_arrow()
        source = (
            ds.dataset(files, schema=schema, format="parquet", filesystem=filesystem)
            if files
            else pa.table({f.name: pa.array([], type=f.type) for f in schema})
        )
        connection.register(f"__{name}", source)
        connection.execute(f'CREATE VIEW "{database}"."{name}" AS SELECT * FROM "__{name}"')
    return connection


def run(sql: str, settings: Settings | None = None) -> pa.Table:
    relation = connect(settings).sql(sql)
    # DuckDB 2 renamed arrow() to to_arrow_table().
    return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()


def write(result: pa.Table, fmt: str, output: Path | None) -> str | None:
    """Prints a table (default), or writes CSV/Parquet to `output` (CSV may go to stdout)."""
    if fmt == "table":
        return duckdb.from_arrow(result).__str__() if result.num_rows else "(no rows)"
    if fmt == "csv":
        import pyarrow.csv as pacsv

        if output is None:
            sink = pa.BufferOutputStream()
            pacsv.write_csv(result, sink)
            return sink.getvalue().to_pybytes().decode("utf-8")
        pacsv.write_csv(result, output)
        return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        if output is None:
            raise ValueError("--format parquet needs --output FILE")
        pq.write_table(result, output)
        return None
    raise ValueError(f"unknown format {fmt!r}: use table, csv or parquet")
