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
from typing import TYPE_CHECKING, Any

import duckdb

from .local_catalog import Column, LakeLocation, LocalTable, TableReadError, local_tables

if TYPE_CHECKING:  # pyiceberg, pyarrow, pandas and pydantic take seconds to import: only where needed
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs
    from pyiceberg.table import Table

    from .settings import Settings

MAX_ROWS_SHOWN = 50
MAX_COLUMN_WIDTH = 60


def _filesystem(settings: Settings) -> pafs.FileSystem:
    import pyarrow.fs as pafs

    from .tables import s3_location

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
    import pyarrow as pa
    import pyarrow.dataset as ds

    from .tables import storage_path

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
    location = LakeLocation.of(settings) if settings else LakeLocation.from_environment()
    database = location.database
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
    if location.catalog == "glue":
        from .tables import all_tables, open_catalog

        settings = settings or _settings()
        filesystem = _filesystem(settings)
        for table in all_tables(open_catalog(settings), database):
            _register(connection, database, table.name()[-1], source(table, filesystem))
        return connection
    for local in local_tables(location.lake_dir, database):
        name = local.name.rsplit(".", 1)[-1]
        if local.plain:
            connection.execute(f'CREATE VIEW "{database}"."{name}" AS {parquet_select(local, connection)}')
            continue
        from .tables import open_catalog

        settings = settings or _settings()
        try:
            table = open_catalog(settings).load_table((database, name))
        except Exception as error:
            raise TableReadError(f"could not read table {local.name}: {error}") from error
        _register(connection, database, name, source(table, _filesystem(settings)))
    return connection


def _settings() -> Settings:
    from .settings import Settings

    return Settings()


def _register(connection: duckdb.DuckDBPyConnection, database: str, name: str, data: Any) -> None:
    connection.register(f"__{name}", data)
    connection.execute(f'CREATE VIEW "{database}"."{name}" AS SELECT * FROM "__{name}"')


def parquet_select(table: LocalTable, connection: duckdb.DuckDBPyConnection) -> str:
    """DuckDB reads the current snapshot's Parquet files itself, each column cast to its Iceberg type;
    a column added after every file was written reads as null (as Iceberg says it does)."""
    files = ", ".join("'" + path.replace("'", "''") + "'" for path in table.data_files)
    present = {column.name for column in table.columns}
    if table.evolved and files:
        present = {
            row[0] for row in connection.execute(f"SELECT DISTINCT name FROM parquet_schema([{files}])").fetchall()
        }
    values = {c.name: f'"{c.name}"' if c.name in present and files else "NULL" for c in table.columns}
    columns = ", ".join(f'CAST({values[c.name]} AS {table.duckdb_type(c)}) AS "{c.name}"' for c in table.columns)
    if not files:
        return f"SELECT {columns} WHERE false"
    return f"SELECT {columns} FROM read_parquet([{files}], union_by_name = true)"


class QueryError(ValueError):
    """DuckDB refused the SQL: its message on one line, with its hint ("Did you mean ...")."""


def relation(sql: str, settings: Settings | None = None) -> duckdb.DuckDBPyRelation:
    """The query, planned (errors such as a wrong name are raised here as one-line QueryErrors)."""
    connection = connect(settings)
    try:
        return connection.sql(sql)
    except duckdb.Error as error:
        raise _one_line(error) from error


def run(sql: str, settings: Settings | None = None) -> pa.Table:
    return _arrow(relation(sql, settings))


def _arrow(result: duckdb.DuckDBPyRelation) -> pa.Table:
    try:
        # DuckDB 2 renamed arrow() to to_arrow_table().
        return result.to_arrow_table() if hasattr(result, "to_arrow_table") else result.arrow()
    except duckdb.Error as error:
        raise _one_line(error) from error


def _one_line(error: duckdb.Error) -> QueryError:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith("LINE ") and set(line) != {"^"}]
    return QueryError(" ".join(kept))


def describe(settings: Settings | None = None) -> dict[str, list[Column]]:
    """Every table of the database and its columns: name, type, whether required, meaning."""
    location = LakeLocation.of(settings) if settings else LakeLocation.from_environment()
    if location.catalog != "glue":
        return {table.name: table.columns for table in local_tables(location.lake_dir, location.database, files=False)}
    from .tables import all_tables, open_catalog

    settings = settings or _settings()
    return {
        f"{settings.catalog_database}.{table.name()[-1]}": [
            Column(field.name, str(field.field_type), field.required, field.doc or "")
            for field in table.schema().fields
        ]
        for table in all_tables(open_catalog(settings), settings.catalog_database)
    }


def write(result: duckdb.DuckDBPyRelation, fmt: str, output: Path | None) -> str | None:
    """Prints a table (default), or writes CSV/Parquet to `output` (CSV may go to stdout)."""
    if fmt == "table":
        try:
            rows = result.fetchall()
        except duckdb.Error as error:
            raise _one_line(error) from error
        if not rows:
            return "(no rows)"
        hidden = len(rows) - MAX_ROWS_SHOWN
        more = f"\n({hidden:,} more rows: --format csv for all)" if hidden > 0 else ""
        return text_table(result.columns, rows[:MAX_ROWS_SHOWN]) + more
    if fmt == "csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if output is None:
            sink = pa.BufferOutputStream()
            pacsv.write_csv(_arrow(result), sink)
            return sink.getvalue().to_pybytes().decode("utf-8")
        pacsv.write_csv(_arrow(result), output)
        return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        if output is None:
            raise ValueError("--format parquet needs --output FILE")
        pq.write_table(_arrow(result), output)
        return None
    raise ValueError(f"unknown format {fmt!r}: use table, csv or parquet")


def text_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """Every column, however wide the terminal (DuckDB's own printout hides columns that do not fit)."""

    def text(value: Any) -> str:
        shown = "NULL" if value is None else str(value)
        return shown if len(shown) <= MAX_COLUMN_WIDTH else shown[: MAX_COLUMN_WIDTH - 3] + "..."

    cells = [columns] + [[text(value) for value in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells
    )
