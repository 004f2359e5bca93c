# pyiceberg's expression classes (And, EqualTo, ...) take positional arguments through a
# custom __init__ that pyright reads as the pydantic model's keyword-only one.
# pyright: reportCallIssue=false
"""The tidy layer: per table, an append-only history of every version and the latest value of every key.

Each feed (and each enrichment) has two Apache Iceberg tables:
- `<name>_versions`: every row of every document revision that landed, never replaced (as-of
  queries and forecast back-testing read it);
- `<name>`: the latest published value of every key, derived from the history.

A key is (area, psr_type, direction, process_type, business_type, sequence, resolution,
interval start): codes, not labels. The rule for "latest", written in docs/reference/tables.md:
only the newest revision of each mRID counts, and a document's series replaces, over that
series' own span, the rows of every document published before it (ordered by
`createdDateTime`, then revision, then mRID). Because the latest table is a function of the
history alone, the order in which documents land, duplicates and concurrent writers do not
change the result.

Writing a document appends its new rows to the history, then recomputes the latest table over
exactly the keys that document (and its other revisions) can affect, in one optimistic commit
that is retried on a refreshed table when another writer got there first.

The catalog is SQLite inside the local lake folder by default and the AWS Glue Data Catalog in
production (`PIPELINE_CATALOG=glue`), with the data in the lake bucket under `tables/`. Table
names are the same in both (`<database>.<table>`), so a query written locally runs in Athena.
The columns are written down in docs/reference/tables.md (SCHEMA_VERSION below).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    ValidationException,
)
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
)
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFileIO, _dataframe_to_data_files
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask, Table
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform
from pyiceberg.types import DoubleType, IntegerType, LongType, NestedField, StringType, TimestamptzType
from sqlalchemy.exc import OperationalError

from .areas import area_for_code
from .documents import COLUMNS, Document
from .feeds import Feed
from .local_catalog import TableReadError
from .settings import Settings
from .transforms import labelled

# A first delivery replaces nothing, which pyiceberg reports as a warning on every new document.
warnings.filterwarnings("ignore", "Delete operation did not match any records", UserWarning)

SCHEMA_VERSION = 2  # bump with a migration in docs/reference/tables.md when a column changes
COMMIT_ATTEMPTS = 30
COMPACT_AT_FILES = 8  # a landing compacts a partition it touched once it holds this many small files
SMALL_FILE_BYTES = 8 * 1024 * 1024  # compaction merges files below this size
# Each commit copies the table's snapshot list; a landing trims it back once it passes twice
# this. Time travel is not needed on these tables: the history table holds every version.
SNAPSHOTS_KEPT = 5
T = TypeVar("T")
LONGEST_INTERVAL = pd.Timedelta(days=367)  # a yearly value (installed capacity) and a leap day

# The columns that name a series: with resolution_minutes and interval_start, the key of a value.
SERIES = ("area", "psr_type", "direction", "process_type", "business_type", "sequence")
KEY = (*SERIES, "resolution_minutes", "interval_start")

SCHEMA = Schema(
    NestedField(1, "area", StringType(), required=True, doc="EIC code of the bidding zone or control area"),
    NestedField(2, "series", StringType(), required=True, doc="readable series name, e.g. 'Wind Onshore' (a label)"),
    NestedField(3, "interval_start", TimestamptzType(), required=True, doc="start of the value's interval, UTC"),
    NestedField(4, "resolution_minutes", LongType(), required=True, doc="length of the interval in minutes"),
    NestedField(5, "value", DoubleType(), required=True, doc="the value, in `unit`"),
    NestedField(6, "unit", StringType(), required=True, doc="MAW (megawatt) or EUR/MWH"),
    NestedField(7, "psr_type", StringType(), required=False, doc="production type code, e.g. B19; empty if none"),
    NestedField(8, "direction", StringType(), required=True, doc="'in' (generation, price) or 'out' (load, pumping)"),
    NestedField(9, "business_type", StringType(), required=False, doc="ENTSO-E business type code"),
    NestedField(10, "process_type", StringType(), required=False, doc="ENTSO-E process type, e.g. A01 day ahead"),
    NestedField(11, "document_mrid", StringType(), required=True, doc="mRID of the document the row came from"),
    NestedField(12, "revision", IntegerType(), required=True, doc="that document's revision number"),
    NestedField(13, "landed_at", TimestamptzType(), required=True, doc="when the row was written, UTC"),
    NestedField(
        14, "sequence", StringType(), required=False, doc="classification sequence: DE-LU/AT prices 1 = SDAC, 2 = EXAA"
    ),
    NestedField(15, "created", TimestamptzType(), required=False, doc="the document's createdDateTime, UTC"),
    NestedField(16, "series_start", TimestamptzType(), required=False, doc="start of the series' span in its document"),
    NestedField(17, "series_end", TimestamptzType(), required=False, doc="end of the series' span in its document"),
    NestedField(18, "area_name", StringType(), required=False, doc="short area name, e.g. FI or DE_LU"),
)
# The latest table is partitioned as people query: per area, per month (a month of 15-minute
# values is one small file after compaction). The history is partitioned per day: a landing
# reads the history of the days its document spans, and overlapping re-deliveries (a push an
# hour covering 72 hours) put dozens of versions of every value into each day.
PARTITION_SPEC = PartitionSpec(
    PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="area"),
    PartitionField(source_id=3, field_id=1001, transform=MonthTransform(), name="interval_start_month"),
)
VERSIONS_PARTITION_SPEC = PartitionSpec(
    PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="area"),
    PartitionField(source_id=3, field_id=1001, transform=DayTransform(), name="interval_start_day"),
)
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    # write_document retries a lost race itself, re-reading the table: the rows to replace may
    # have changed. pyiceberg's own retry would only rebase the commit
    # (pyiceberg/table/__init__.py Transaction.commit_transaction).
    "commit.retry.num-retries": "0",
    # Every commit writes a metadata.json; keep the last ten, delete older ones at commit
    # (pyiceberg/table/__init__.py, CommitTableResponse handling in Table._do_commit).
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "5",
}


class TableWriteError(RuntimeError):
    """A document's rows could not be committed after every retry."""


def table_names(feed: Feed) -> tuple[str, str]:
    """The feed's table and its enrichment's, e.g. ('actual_generation', 'actual_generation_installed_capacity')."""
    enrichment = feed.enrichment.title.lower().replace("-", "_").replace(" ", "_")
    return feed.name, f"{feed.name}_{enrichment}"


def versions_name(name: str) -> str:
    return f"{name}_versions"


def open_catalog(settings: Settings) -> Catalog:
    """SQLite catalog in the lake folder, or Glue with the data in the lake bucket."""
    if settings.catalog == "glue":
        from pyiceberg.catalog.glue import GlueCatalog

        return GlueCatalog("glue", **glue_properties(settings))
    from pyiceberg.catalog.sql import SqlCatalog

    root = settings.lake_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    return SqlCatalog(
        "local",
        uri=f"sqlite:///{root / 'catalog.db'}",
        warehouse=(root / "tables").as_uri(),
        **{"init_catalog_tables": "true"},
    )


@dataclass(frozen=True)
class S3Location:
    warehouse: str  # s3://bucket/folder/tables
    properties: dict[str, str]  # pyiceberg FileIO and Glue client properties


def s3_location(settings: Settings) -> S3Location:
    """The lake bucket (from the S3Bucket block) and the credentials pyiceberg should use.

    On ECS the block holds no keys: pyiceberg's PyArrowFileIO and the Glue client fall back to
    the default AWS credential chain, i.e. the task role (pyiceberg/io/pyarrow.py `_initialize_s3_fs`).
    """
    from prefect_aws import S3Bucket

    block: S3Bucket = S3Bucket.load(settings.lake_block)  # pyright: ignore[reportAssignmentType]  # sync in a flow
    folder = block.bucket_folder.strip("/")
    warehouse = f"s3://{block.bucket_name}/{folder + '/' if folder else ''}tables"
    credentials = block.credentials
    props: dict[str, str] = {}
    region = getattr(credentials, "region_name", None) or settings.aws_region
    props["s3.region"] = props["glue.region"] = region
    endpoint = getattr(getattr(credentials, "aws_client_parameters", None), "endpoint_url", None)
    if endpoint:
        props["s3.endpoint"] = props["glue.endpoint"] = endpoint
    elif os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        # boto3 (Glue) reads these itself; pyarrow's S3 file system only through s3.endpoint.
        props["s3.endpoint"] = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ["AWS_ENDPOINT_URL"]
    key_id = getattr(credentials, "aws_access_key_id", None)
    secret = getattr(credentials, "aws_secret_access_key", None)
    if key_id and secret:
        props["s3.access-key-id"] = props["glue.access-key-id"] = key_id
        props["s3.secret-access-key"] = props["glue.secret-access-key"] = secret.get_secret_value()
    return S3Location(warehouse=warehouse, properties=props)


def glue_properties(settings: Settings) -> dict[str, str]:
    location = s3_location(settings)
    return {"warehouse": location.warehouse, **location.properties}


def ensure_table(catalog: Catalog, namespace: str, name: str) -> Table:
    """One Iceberg table, created with SCHEMA if missing and migrated if an older release made it."""
    if not catalog.namespace_exists(namespace):  # on AWS the stack made it (glue:GetDatabase only)
        with _unless_another_writer_made_it(lambda: catalog.namespace_exists(namespace)):
            catalog.create_namespace(namespace)
    identifier = f"{namespace}.{name}"
    if catalog.table_exists(identifier):
        return migrate(catalog.load_table(identifier))
    with _unless_another_writer_made_it(lambda: catalog.table_exists(identifier)):
        return catalog.create_table(
            identifier, schema=SCHEMA, partition_spec=PARTITION_SPEC, properties=TABLE_PROPERTIES
        )
    return catalog.load_table(identifier)


@contextmanager
def _unless_another_writer_made_it(exists: Callable[[], bool]) -> Iterator[None]:
    """A create that failed is no error if what it creates exists now: every first landing on a
    new lake creates, all but one lose. pyiceberg says so in several ways: TableAlreadyExistsError,
    NamespaceAlreadyExistsError, CommitFailedException("Table already exists") from a create
    transaction (its AssertCreate requirement), and on the local SQL catalog an IntegrityError
    when the other insert lands between its own check and its insert (pyiceberg 0.12,
    catalog/sql.py, SqlCatalog.create_namespace)."""
    try:
        yield
    except Exception:
        if not exists():
            raise


@dataclass(frozen=True)
class VersionedTable:
    """A feed's (or enrichment's) latest table and its history."""

    latest: Table
    versions: Table

    @property
    def name(self) -> str:
        return ".".join(self.latest.name())


def open_tables(catalog: Catalog, namespace: str, name: str) -> VersionedTable:
    """The latest table `name` and its history `name_versions`, both created on first use.

    A history created beside a latest table that an older release filled (schema version 1)
    starts with that table's rows, in the same commit that creates it, so nothing is lost.
    """
    latest = ensure_table(catalog, namespace, name)
    identifier = f"{namespace}.{versions_name(name)}"
    if catalog.table_exists(identifier):
        return VersionedTable(latest, migrate(catalog.load_table(identifier)))
    seed = _seed_rows(latest)
    with (
        _unless_another_writer_made_it(lambda: catalog.table_exists(identifier)),
        catalog.create_table_transaction(
            identifier, schema=SCHEMA, partition_spec=VERSIONS_PARTITION_SPEC, properties=TABLE_PROPERTIES
        ) as create,
    ):
        if seed.num_rows:
            create.append(seed)
    return VersionedTable(latest, catalog.load_table(identifier))


def _seed_rows(latest: Table) -> pa.Table:
    """An older release's latest rows as history: each row spans only itself, published at the epoch."""
    found = latest.scan().to_arrow()
    if not found.num_rows:
        return pa.Table.from_pylist([], schema=SCHEMA.as_arrow())
    frame = found.to_pandas()
    frame["series_start"] = frame["interval_start"]
    frame["series_end"] = frame["interval_start"] + pd.to_timedelta(frame["resolution_minutes"], unit="min")
    for column in ("psr_type", "business_type", "process_type", "sequence"):
        frame[column] = frame[column].fillna("")
    return pa.Table.from_pandas(frame[[f.name for f in SCHEMA.fields]], schema=SCHEMA.as_arrow(), preserve_index=False)


def migrate(table: Table) -> Table:
    """Adds the columns SCHEMA has and the table lacks, and sets the current table properties:
    the additive migration of a template release.

    Iceberg's schema evolution changes metadata only; rows written before read the new column
    as null. A rename or a type change is not additive and ships as a written migration
    (docs/reference/tables.md).
    """
    missing_columns = not {f.name for f in SCHEMA.fields} <= {f.name for f in table.schema().fields}
    properties = {k: v for k, v in TABLE_PROPERTIES.items() if k != "format-version"}
    stale_properties = any(table.properties.get(k) != v for k, v in properties.items())
    if not (missing_columns or stale_properties):
        return table
    try:
        with table.transaction() as transaction:
            if missing_columns:
                with transaction.update_schema() as update:
                    update.union_by_name(SCHEMA)
            transaction.set_properties(properties)
    except CommitFailedException:  # another writer migrated it first
        pass
    table.refresh()
    return table


def rows(document: Document, frame: pd.DataFrame, feed: Feed) -> pa.Table:
    """A document's long table as the table's rows (frame: the document's frame, maybe trimmed)."""
    data = labelled(frame, feed)
    minutes = (data["resolution"].dt.total_seconds() / 60).round().astype("int64")
    now = pd.Timestamp(datetime.now(UTC))
    start = data["start"].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    area_names = {code: area_for_code(code).name for code in data["area"].astype(str).unique()}
    created = pd.Timestamp(document.created).tz_convert("UTC") if document.created is not None else pd.NaT
    out = pd.DataFrame(
        {
            "area": data["area"].astype(str),
            "series": data["series"].astype(str),
            "interval_start": start,
            "resolution_minutes": minutes,
            "value": data["value"].astype("float64"),
            "unit": data["unit"].astype(str),
            "psr_type": data["psr_type"].astype(str),
            "direction": data["direction"].astype(str),
            "business_type": data["business_type"].astype(str),
            "process_type": document.process_type,
            "document_mrid": document.mrid,
            "revision": document.revision,
            "landed_at": now,
            "sequence": data["sequence"].astype(str) if "sequence" in data else "",
            "created": created,
            "area_name": data["area"].astype(str).map(area_names),
        },
        index=data.index,
    )
    # A series' span in this document: each series replaces older values over its own span only.
    series = [out[c] for c in SERIES if c != "process_type"]
    out["series_start"] = start.groupby(series, dropna=False).transform("min")
    out["series_end"] = (start + pd.to_timedelta(minutes, unit="min")).groupby(series, dropna=False).transform("max")
    for column in ("landed_at", "created", "series_start", "series_end"):
        out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[us, UTC]")
    out["revision"] = out["revision"].astype("int32")
    return pa.Table.from_pandas(out[[f.name for f in SCHEMA.fields]], schema=SCHEMA.as_arrow(), preserve_index=False)


# ------------------------------------------------------------------ the rule for "latest"


@dataclass(frozen=True)
class Window:
    """What a document can change: its areas over the time from the earliest start to the latest
    end of its series' spans (and of its other revisions'). Recomputing more keys than the
    document touches is harmless: the latest table is a function of the history."""

    areas: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp

    @staticmethod
    def of(*tables: pa.Table) -> Window | None:
        found = [t for t in tables if t.num_rows]
        if not found:
            return None
        areas = sorted({a for t in found for a in t.column("area").to_pylist()})
        start = min(min(t.column("series_start").to_pylist()) for t in found)
        end = max(max(t.column("series_end").to_pylist()) for t in found)
        return Window(tuple(areas), pd.Timestamp(start), pd.Timestamp(end))

    def _areas(self) -> BooleanExpression:
        return EqualTo("area", self.areas[0]) if len(self.areas) == 1 else In("area", self.areas)

    def values(self) -> BooleanExpression:
        """Every key in the window."""
        return And(
            self._areas(),
            And(
                GreaterThanOrEqual("interval_start", self.start.isoformat()),
                LessThan("interval_start", self.end.isoformat()),
            ),
        )

    def months(self) -> BooleanExpression:
        """Every row of the months the window touches: the partitions a landing may crowd."""
        first = self.start.tz_convert("UTC").tz_localize(None).to_period("M").to_timestamp().tz_localize("UTC")
        last = self.end.tz_convert("UTC").tz_localize(None).to_period("M").to_timestamp().tz_localize("UTC")
        return And(
            self._areas(),
            And(
                GreaterThanOrEqual("interval_start", first.isoformat()),
                LessThan("interval_start", (last + pd.DateOffset(months=1)).isoformat()),
            ),
        )

    def spans(self) -> BooleanExpression:
        """Every row of a series whose span overlaps the window, even with no value inside it."""
        return And(
            self._areas(),
            And(LessThan("series_start", self.end.isoformat()), GreaterThan("series_end", self.start.isoformat())),
        )


_PUBLISHED = "coalesce({0}created, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS published"
# "" and null both mean "none" (rows of older releases may hold null): one spelling, so the
# anti join below is a hash join on the series.
_SERIES_AS_KEYS = ", ".join(f"coalesce({c}, '') AS key_{c}" for c in SERIES)
_LATEST_SQL = f"""
WITH newest AS (
    SELECT document_mrid, max(revision) AS revision FROM revisions GROUP BY 1
), cov AS (
    SELECT DISTINCT {_SERIES_AS_KEYS}, series_start, series_end, document_mrid, revision, {_PUBLISHED.format("")}
    FROM coverage JOIN newest USING (document_mrid, revision)
), cand AS (
    SELECT c.*, {_SERIES_AS_KEYS}, {_PUBLISHED.format("c.")}
    FROM candidates AS c JOIN newest USING (document_mrid, revision)
    QUALIFY row_number() OVER (PARTITION BY {", ".join("c." + k for k in KEY)}, c.document_mrid
                               ORDER BY c.landed_at DESC) = 1
)
SELECT {", ".join("cand." + f.name for f in SCHEMA.fields)}
FROM cand ANTI JOIN cov
  ON {" AND ".join(f"cov.key_{c} = cand.key_{c}" for c in SERIES)}
 AND cov.series_start <= cand.interval_start AND cand.interval_start < cov.series_end
 AND (cov.published > cand.published
      OR (cov.published = cand.published
          AND (cov.revision > cand.revision
               OR (cov.revision = cand.revision AND cov.document_mrid > cand.document_mrid))))
"""


def _sql(query: str, schema: pa.Schema | None = SCHEMA.as_arrow(), **tables: pa.Table) -> pa.Table:
    """Runs `query` in DuckDB (UTC) over the given Arrow tables, answering in `schema`'s types."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for name, table in tables.items():
            connection.register(name, table)
        relation = connection.sql(query)
        # DuckDB 2 renamed arrow() to to_arrow_table().
        result = relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
    finally:
        connection.close()
    return result if schema is None else result.cast(schema)


def latest_of(candidates: pa.Table, coverage: pa.Table, revisions: pa.Table) -> pa.Table:
    """The live rows among `candidates`, by the rule of docs/reference/tables.md:

    - only the newest revision of each mRID (in `revisions`) counts;
    - a row gives way where a series of a document published later (createdDateTime, then
      revision, then mRID) spans its interval start (`coverage`: those documents' spans);
    - of one document's key landed twice (a changed redelivery), the later landing holds.
    """
    return _sql(_LATEST_SQL, candidates=candidates, coverage=coverage, revisions=revisions)


_DOCUMENT_COLUMNS = (*SERIES, "series_start", "series_end", "document_mrid", "revision", "created")


# One row per document and series: its span and rank (published, revision, mRID).
_SPANS = f"""SELECT DISTINCT {_SERIES_AS_KEYS}, series_start, series_end, document_mrid, revision,
       {_PUBLISHED.format("")} FROM {{}}"""
_MINE = _SPANS.format("incoming")
_SAME_SERIES = " AND ".join(f"a.key_{c} = b.key_{c}" for c in SERIES)
_OUTRANKED_SQL = f"""
WITH mine AS ({_MINE}),
other AS ({_SPANS.format("coverage")})
SELECT count(*) AS n FROM other AS a JOIN mine AS b
  ON {_SAME_SERIES} AND a.series_start < b.series_end AND a.series_end > b.series_start
WHERE a.published > b.published
   OR (a.published = b.published
       AND (a.revision > b.revision OR (a.revision = b.revision AND a.document_mrid > b.document_mrid)))
"""
_REPLACED_SQL = f"""
WITH mine AS ({_MINE}), current AS (SELECT *, {_SERIES_AS_KEYS} FROM current_rows)
SELECT {", ".join("a." + f.name for f in SCHEMA.fields)} FROM current AS a ANTI JOIN mine AS b
  ON {_SAME_SERIES} AND b.series_start <= a.interval_start AND a.interval_start < b.series_end
UNION ALL
SELECT * FROM incoming
"""


def _outranked(incoming: pa.Table, coverage: pa.Table) -> bool:
    """Whether a document in `coverage` was published after `incoming` over one of its series' spans."""
    counted = _sql(_OUTRANKED_SQL, schema=None, incoming=incoming, coverage=coverage)
    return bool(counted.column("n")[0].as_py())


def _replaced(current: pa.Table, incoming: pa.Table) -> pa.Table:
    """The latest rows with the incoming document's series spans replaced by its rows."""
    return _sql(_REPLACED_SQL, current_rows=current, incoming=incoming)


_KEYS = ", ".join(f"coalesce({c}, '') AS {c}" if c in SERIES else c for c in KEY)
_DIFFERENCES_SQL = """
SELECT count(*) AS n FROM (
    SELECT DISTINCT {key} FROM (
        (SELECT {key}, {compared} FROM before EXCEPT SELECT {key}, {compared} FROM after)
        UNION ALL
        (SELECT {key}, {compared} FROM after EXCEPT SELECT {key}, {compared} FROM before)
    )
)
"""


def _differences(before: pa.Table, after: pa.Table, compared: str = "value") -> int:
    """How many keys have on one side a `compared` the other has not (changed, new or gone)."""
    query = _DIFFERENCES_SQL.format(key=_KEYS, compared=compared)
    counted = _sql(query, schema=None, before=before, after=after)
    return int(counted.column("n")[0].as_py())


def _revisions_of(versions: Table, mrids: list[str]) -> pa.Table:
    if not mrids:
        return pa.table({"document_mrid": pa.array([], pa.string()), "revision": pa.array([], pa.int32())})
    where = EqualTo("document_mrid", mrids[0]) if len(mrids) == 1 else In("document_mrid", mrids)
    return versions.scan(row_filter=where, selected_fields=("document_mrid", "revision")).to_arrow()


def _new_rows(incoming: pa.Table, landed: pa.Table, revision: int) -> pa.Table:
    """The rows of this revision that the history does not hold yet with the same value."""
    if not landed.num_rows or not incoming.num_rows:
        return incoming
    same = " AND ".join(f"l.{c} IS NOT DISTINCT FROM i.{c}" for c in (*KEY, "value"))
    return _sql(
        f"SELECT i.* FROM incoming AS i WHERE NOT EXISTS (SELECT 1 FROM landed AS l WHERE {same})",
        incoming=incoming,
        landed=landed.filter(ds.field("revision") == revision),
    )


@dataclass(frozen=True)
class Written:
    table: str
    rows: int  # rows of the document that are now the latest value of their key
    attempts: int
    skipped: str | None = None
    new_versions: int = 0  # rows added to the history (0 for a redelivery)
    changed: int = 0  # keys whose latest value changed, appeared or went: 0 if readers learn nothing new


def _committed(table: Table, commit: Callable[[int], T], what: str) -> T:
    """Runs `commit(attempt)` on the refreshed table until no other writer got there first.

    A lost race (or SQLite's lock held by another writer) backs off, re-reads and redoes the
    whole step: what to replace may have changed.
    """
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            table.refresh()
            return commit(attempt)
        except (CommitFailedException, OperationalError, sqlite3.OperationalError):
            time.sleep(min(2.0, 0.02 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.5))
    raise TableWriteError(f"could not {what} after {COMMIT_ATTEMPTS} attempts")


def write_document(table: VersionedTable, document: Document, table_rows: pa.Table) -> Written:
    """Add the document's rows to the history, then recompute the latest values it can change.

    The recomputation refreshes the latest table before it reads the history, and commits only
    if no other writer committed in between: the last commit has seen every landed row.
    """
    what = f"{document.mrid} revision {document.revision}"
    landed = table.versions.scan(row_filter=EqualTo("document_mrid", document.mrid)).to_arrow()
    new = _new_rows(table_rows, landed, document.revision)

    def append(_attempt: int) -> None:
        if new.num_rows:
            table.versions.append(new)

    _committed(table.versions, append, f"add {what} to {'.'.join(table.versions.name())}")
    windows: list[Window] = []

    def recompute(attempt: int) -> Written:
        table.versions.refresh()
        # Every revision of this mRID as the history holds it now, so a revision landing at the
        # same time is seen: by this writer, or by that one, whichever reads after the other appended.
        own_history = table.versions.scan(row_filter=EqualTo("document_mrid", document.mrid)).to_arrow()
        window = Window.of(table_rows, own_history)
        if window is None:  # the document holds no values and no revision of it landed
            return Written(table.name, 0, attempt, f"{what} holds no values")
        windows.append(window)
        values = window.values()
        coverage = table.versions.scan(row_filter=window.spans(), selected_fields=_DOCUMENT_COLUMNS).to_arrow()
        current = table.latest.scan(row_filter=values).to_arrow()
        first_landing = own_history.num_rows == new.num_rows == table_rows.num_rows
        if first_landing and not _outranked(table_rows, coverage):
            # The usual case, a first landing published after everything it overlaps: its rows
            # replace its series' spans, nothing else changes (what latest_of would find too).
            live = _replaced(current, table_rows)
        else:
            candidates = table.versions.scan(row_filter=values).to_arrow()
            mrids = sorted(set(coverage.column("document_mrid").to_pylist()))
            live = latest_of(candidates, coverage, _revisions_of(table.versions, mrids))
        changed = _differences(current, live)
        if not changed and not _differences(current, live, "value, document_mrid, revision, landed_at"):
            pass  # a redelivery: the rows are the very same, so no commit and no new snapshot
        elif live.num_rows:
            table.latest.overwrite(live, overwrite_filter=values)
        else:
            table.latest.delete(values)
        own = live.filter((ds.field("document_mrid") == document.mrid) & (ds.field("revision") == document.revision))
        own = own.num_rows
        return Written(table.name, own, attempt, new_versions=new.num_rows, changed=changed)

    written = _committed(table.latest, recompute, f"commit {what} to {table.name}")
    if not written.rows and table_rows.num_rows:
        reason = f"a later publication holds every value of {what}"
        written = replace(written, skipped=reason)
    for each in (table.latest, table.versions):
        if windows:
            try:
                compact(each, where=windows[-1].months(), min_files=COMPACT_AT_FILES)
            except TableWriteError as busy:  # the rows are committed; the weekly upkeep compacts
                warnings.warn(f"{busy}: left for the weekly maintenance", stacklevel=2)
        trim_snapshots(each)
    return written


def read_period(table: VersionedTable, area: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The latest values of one area whose intervals overlap [start, end), as a document frame
    (documents.COLUMNS): a yearly capacity that began before `start` counts."""
    table.latest.refresh()
    found = table.latest.scan(
        row_filter=And(
            EqualTo("area", area),
            And(
                GreaterThanOrEqual("interval_start", (start - LONGEST_INTERVAL).isoformat()),
                LessThan("interval_start", end.isoformat()),
            ),
        )
    ).to_pandas()
    ends = found["interval_start"] + pd.to_timedelta(found["resolution_minutes"], unit="min")
    found = found[ends > start].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "start": found["interval_start"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]"),
            "resolution": pd.to_timedelta(found["resolution_minutes"], unit="min"),
            "area": found["area"],
            "direction": found["direction"],
            "psr_type": found["psr_type"].fillna(""),
            "business_type": found["business_type"].fillna(""),
            "sequence": found["sequence"].fillna(""),
            "value": found["value"],
            "unit": found["unit"],
        },
        columns=COLUMNS,
    )
    return frame.sort_values(["psr_type", "direction", "start"], kind="stable").reset_index(drop=True)


def all_tables(catalog: Catalog, namespace: str) -> Iterator[Table]:
    """Every table of the database; none if nothing has landed yet. Any other failure (an
    expired credential, AccessDenied) is raised, naming the database."""
    try:
        identifiers = catalog.list_tables(namespace)
    except NoSuchNamespaceError:
        return
    except Exception as error:
        raise TableReadError(f"could not list the tables of database {namespace!r}: {error}") from error
    for identifier in identifiers:
        yield catalog.load_table(identifier)


# ------------------------------------------------------------------ upkeep


@dataclass(frozen=True)
class Maintained:
    table: str
    files_before: dict[str, int]
    files_after: dict[str, int]
    snapshots_expired: int
    files_removed: int = 0
    bytes_removed: int = 0


def files_per_partition(table: Table, where: BooleanExpression | None = None) -> dict[str, int]:
    table.refresh()
    counts: dict[str, int] = {}
    for task in (table.scan() if where is None else table.scan(row_filter=where)).plan_files():
        key = "/".join(f"{v}" for v in task.file.partition)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def compact(table: Table, where: BooleanExpression | None = None, min_files: int = 2) -> int:
    """Rewrite the small files of each partition (of those `where` touches) as one file, where a
    partition holds `min_files` small files or more.

    A rewrite replaces exactly the files it read, in one commit retried like any write, so a
    concurrent landing is never lost: if it commits first, the compaction plans again.
    Returns the number of partitions rewritten.
    """

    def small_files() -> dict[str, list[FileScanTask]]:
        table.refresh()
        found: dict[str, list[FileScanTask]] = {}
        for task in (table.scan() if where is None else table.scan(row_filter=where)).plan_files():
            if task.file.file_size_in_bytes < SMALL_FILE_BYTES:
                found.setdefault("/".join(f"{v}" for v in task.file.partition), []).append(task)
        return {p: tasks for p, tasks in found.items() if len(tasks) >= min_files}

    crowded = small_files()
    for partition in crowded:

        def rewrite(_attempt: int, partition: str = partition) -> None:
            tasks = small_files().get(partition, [])
            if not tasks:
                return
            data = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(tasks)
            data = data.sort_by([("interval_start", "ascending")])
            try:
                with table.transaction() as transaction:
                    with transaction.update_snapshot().overwrite() as rewrite_files:
                        for task in tasks:
                            rewrite_files.delete_data_file(task.file)
                        for data_file in _dataframe_to_data_files(transaction.table_metadata, data, table.io):
                            rewrite_files.append_data_file(data_file)
            except ValidationException as gone:
                # Another writer's compaction removed a file this one read (pyiceberg checks the
                # deletes against the snapshot it commits on): plan again, like a lost commit.
                raise CommitFailedException(str(gone)) from gone

        _committed(table, rewrite, f"compact {partition} of {'.'.join(table.name())}")
    return len(crowded)


def _forget(table: Table, old: list[int]) -> None:
    """Expires the snapshots `old`. If another writer expired some first, that is a lost race
    (CommitFailedException), not an error: pyiceberg applies the removal to the catalog's current
    metadata and raises ValueError for an id it no longer holds (pyiceberg 0.12,
    table/update/__init__.py, the RemoveSnapshotsUpdate handler)."""
    try:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    except ValueError:
        table.refresh()
        if set(old) <= {s.snapshot_id for s in table.snapshots()}:
            raise
        raise CommitFailedException("another writer expired some of these snapshots first") from None


def expire_snapshots(table: Table, keep: timedelta) -> int:
    """Forget snapshots older than `keep` (the current one always stays); chosen again if a
    landing's trim got there first."""
    cutoff = datetime.now(UTC) - keep

    def expire(_attempt: int) -> int:
        current = table.current_snapshot()
        old = [
            s.snapshot_id
            for s in table.snapshots()
            if s.timestamp_ms < cutoff.timestamp() * 1000 and (current is None or s.snapshot_id != current.snapshot_id)
        ]
        if old:
            _forget(table, old)
        return len(old)

    return _committed(table, expire, f"expire the snapshots of {'.'.join(table.name())}")


def trim_snapshots(table: Table, keep: int = SNAPSHOTS_KEPT) -> int:
    """Forget all but the newest `keep` snapshots once there are more than twice as many.

    Every commit rewrites the whole snapshot list, so without this a landing slows down with
    every landing until the weekly maintenance. A lost race is left to the next landing.
    """
    table.refresh()
    snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
    if len(snapshots) <= 2 * keep:
        return 0
    current = table.current_snapshot()
    old = [s.snapshot_id for s in snapshots[:-keep] if current is None or s.snapshot_id != current.snapshot_id]
    try:
        _forget(table, old)
    except (CommitFailedException, OperationalError, sqlite3.OperationalError):
        return 0
    return len(old)


def referenced_files(table: Table) -> set[str]:
    """Every file the table's metadata still needs: metadata log, manifest lists, manifests, data."""
    table.refresh()
    metadata = table.metadata
    files = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    for snapshot in metadata.snapshots:
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            files.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                files.add(entry.data_file.file_path)
    return {storage_path(f) for f in files}


def storage_path(location: str) -> str:
    """pyarrow file systems take 'bucket/key' and '/folder/file', not URIs."""
    for scheme in ("s3://", "s3a://", "file://"):
        if location.startswith(scheme):
            return location[len(scheme) :]
    return location


def remove_orphan_files(table: Table, older_than: timedelta) -> tuple[int, int]:
    """Delete the files under the table's location that its metadata no longer references.

    pyiceberg 0.12 has no such call (apache/iceberg-python#2604): its expiry drops snapshots
    from the metadata only. A file younger than `older_than` stays whatever it is: it may
    belong to a commit in flight (a writer writes its files before it commits them).
    Returns (files, bytes) removed.
    """
    location = table.location()
    scheme, netloc, _ = PyArrowFileIO.parse_location(location)
    filesystem = PyArrowFileIO(table.io.properties).fs_by_scheme(scheme, netloc)
    keep = referenced_files(table)
    cutoff = datetime.now(UTC) - older_than
    try:
        found = filesystem.get_file_info(
            pafs.FileSelector(storage_path(location), recursive=True, allow_not_found=True)
        )
    except FileNotFoundError:
        return 0, 0
    removed = removed_bytes = 0
    inside = storage_path(location).rstrip("/") + "/"
    for info in found:
        # Only this table's folder: an S3 listing is by prefix, and `orders` is a prefix of `orders_versions`.
        if info.type != pafs.FileType.File or not info.path.startswith(inside) or info.path in keep:
            continue
        if info.mtime is not None and info.mtime.astimezone(UTC) > cutoff:
            continue
        filesystem.delete_file(info.path)
        removed, removed_bytes = removed + 1, removed_bytes + (info.size or 0)
    return removed, removed_bytes


def maintain(table: Table, keep: timedelta) -> Maintained:
    """Compact, forget snapshots older than `keep`, then delete the files nothing references
    (only those older than `keep` too, so no commit in flight loses a file)."""
    before = files_per_partition(table)
    compact(table)
    expired = expire_snapshots(table, keep)
    files, size = remove_orphan_files(table, keep)
    return Maintained(".".join(table.name()), before, files_per_partition(table), expired, files, size)
