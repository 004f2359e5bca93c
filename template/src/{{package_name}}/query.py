"""`python -m <package> query "SQL"`: DuckDB over the lake's tables, locally or on S3.

Every table of the catalog's database becomes a view `<database>.<table>` over the table's
current snapshot. The names are those Athena shows for the Glue database, so the same SQL runs
there unchanged; the session's time zone is UTC, as Athena's is, so `CAST(interval_start AS
DATE)` is the UTC day whatever the machine's TZ.

How a table is read:
- the fast path: pyiceberg plans the data files, pyarrow reads them from the local folder or
  S3, DuckDB pushes filters and column choices into the scan. pyarrow matches Parquet columns
  by name, so this path is taken only when that gives what Iceberg means (columns are matched
  by field id);
- otherwise pyiceberg reads the snapshot itself: after a column was renamed or a name reused
  (a table's schema history says so), or when delete files exist (Athena's DELETE, UPDATE and
  MERGE write them): it matches columns by field id and applies positional deletes; a delete
  kind it cannot apply is refused with the table's name.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from pyiceberg.table import Table

from .settings import Settings
from .tables import TableReadError, all_tables, open_catalog, s3_location, storage_path

MAX_ROWS_SHOWN = 50


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


def names_match_field_ids(table: Table) -> bool:
    """Whether every column name meant the same field in every schema the table ever had."""
    current = {f.field_id: f.name for f in table.schema().fields}
    by_name = {name: field_id for field_id, name in current.items()}
    for schema in table.schemas().values():
        for field in schema.fields:
            if current.get(field.field_id, field.name) != field.name or by_name.get(field.name, field.field_id) != (
                field.field_id
            ):
                return False
    return True


def source(table: Table, filesystem: pafs.FileSystem) -> pa.Table | ds.Dataset:
    """What DuckDB reads for one table: a lazy dataset where names are safe, else pyiceberg's read."""
    name = ".".join(table.name())
    try:
        tasks = list(table.scan().plan_files())
        schema = table.schema().as_arrow()
        if not tasks:
            return pa.table({f.name: pa.array([], type=f.type) for f in schema})
        if names_match_field_ids(table) and not any(task.delete_files for task in tasks):
            return ds.dataset(
                [storage_path(t.file.file_path) for t in tasks], schema=schema, format="parquet", filesystem=filesystem
            )
        return table.scan().to_arrow()
    except Exception as error:
        raise TableReadError(f"could not read table {name}: {error}") from error


def connect(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (UTC) with a view per table, named `<database>.<table>`."""
    settings = settings or Settings()
    catalog = open_catalog(settings)
    filesystem = _filesystem(settings)
    database = settings.catalog_database
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
    for table in all_tables(catalog, database):
        name = table.name()[-1]
        connection.register(f"__{name}", source(table, filesystem))
        connection.execute(f'CREATE VIEW "{database}"."{name}" AS SELECT * FROM "__{name}"')
    return connection


class QueryError(ValueError):
    """DuckDB refused the SQL: its message on one line, with its hint ("Did you mean ...")."""


def run(sql: str, settings: Settings | None = None) -> pa.Table:
    connection = connect(settings)
    try:
        relation = connection.sql(sql)
        # DuckDB 2 renamed arrow() to to_arrow_table().
        return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
    except duckdb.Error as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        kept = [line for line in lines if not line.startswith("LINE ") and set(line) != {"^"}]
        raise QueryError(" ".join(kept)) from error


def describe(settings: Settings | None = None) -> pa.Table:
    """Every table of the database and its columns: name, type, whether required, meaning."""
    settings = settings or Settings()
    rows = [
        {
            "table": f"{settings.catalog_database}.{table.name()[-1]}",
            "column": field.name,
            "type": str(field.field_type),
            "required": field.required,
            "doc": field.doc or "",
        }
        for table in all_tables(open_catalog(settings), settings.catalog_database)
        for field in table.schema().fields
    ]
    return pa.Table.from_pylist(rows) if rows else pa.table({"table": pa.array([], pa.string())})


def write(result: pa.Table, fmt: str, output: Path | None) -> str | None:
    """Prints a table (default), or writes CSV/Parquet to `output` (CSV may go to stdout)."""
    if fmt == "table":
        if not result.num_rows:
            return "(no rows)"
        # Every column, however wide the terminal: DuckDB's own printout hides columns that do not fit.
        frame = result.to_pandas()
        shown = frame if len(frame) <= MAX_ROWS_SHOWN else frame.head(MAX_ROWS_SHOWN)
        more = (
            f"\n({len(frame) - MAX_ROWS_SHOWN:,} more rows: --format csv for all)"
            if len(frame) > MAX_ROWS_SHOWN
            else ""
        )
        return shown.to_string(index=False, max_colwidth=60) + more
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
