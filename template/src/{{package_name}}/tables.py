# pyiceberg's expression classes (And, EqualTo, ...) take positional arguments through a
# custom __init__ that pyright reads as the pydantic model's keyword-only one.
# pyright: reportCallIssue=false
"""The tidy layer: one Apache Iceberg table per feed and one per enrichment.

Each table holds one row per (area, series, resolution, interval start), from the latest
revision of the document that covered it. Writing a document is one optimistic Iceberg commit:
it deletes the rows the document covers (and every row an earlier revision of the same
document left behind, so a revision covering fewer days removes the days it dropped), then
appends the document's rows. A commit that loses the race against another writer is retried
on the refreshed table, so twenty concurrent pushes keep all their rows. A revision older than
the one already in the table changes nothing.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pandas as pd
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, TableAlreadyExistsError
from pyiceberg.expressions import And, BooleanExpression, EqualTo, GreaterThanOrEqual, In, LessThan, Or
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform, MonthTransform
from pyiceberg.types import DoubleType, IntegerType, LongType, NestedField, StringType, TimestamptzType
from sqlalchemy.exc import OperationalError

from .documents import COLUMNS, Document
from .feeds import Feed
from .settings import Settings
from .transforms import labelled

# A first delivery replaces nothing, which pyiceberg reports as a warning on every new document.
warnings.filterwarnings("ignore", "Delete operation did not match any records", UserWarning)

SCHEMA_VERSION = 1  # bump with a migration in docs/reference/tables.md when a column changes
COMMIT_ATTEMPTS = 30
T = TypeVar("T")

SCHEMA = Schema(
    NestedField(1, "area", StringType(), required=True, doc="EIC code of the bidding zone or control area"),
    NestedField(2, "series", StringType(), required=True, doc="readable series name, e.g. 'Wind Onshore'"),
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
    identifier_field_ids=[1, 2, 3, 4],
)
# Partitioned as people query: per area, per month (a month of 15-minute values is one file
# after compaction; a day would leave thousands of tiny files a year).
PARTITION_SPEC = PartitionSpec(
    PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="area"),
    PartitionField(source_id=3, field_id=1001, transform=MonthTransform(), name="interval_start_month"),
)
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    # write_document retries a lost race itself, re-reading the table: the revision check and
    # the rows to replace may have changed. pyiceberg's own retry would only rebase the commit
    # (pyiceberg/table/__init__.py Transaction.commit_transaction).
    "commit.retry.num-retries": "0",
}


class TableWriteError(RuntimeError):
    """A document's rows could not be committed after every retry."""


def table_names(feed: Feed) -> tuple[str, str]:
    """The feed's table and its enrichment's, e.g. ('actual_generation', 'actual_generation_installed_capacity')."""
    enrichment = feed.enrichment.title.lower().replace("-", "_").replace(" ", "_")
    return feed.name, f"{feed.name}_{enrichment}"


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
    if not catalog.namespace_exists(namespace):  # on AWS the stack made it (glue:GetDatabase only)
        try:
            catalog.create_namespace(namespace)
        except NamespaceAlreadyExistsError:
            pass
    identifier = f"{namespace}.{name}"
    if catalog.table_exists(identifier):
        return migrate(catalog.load_table(identifier))
    try:
        return catalog.create_table(
            identifier, schema=SCHEMA, partition_spec=PARTITION_SPEC, properties=TABLE_PROPERTIES
        )
    except TableAlreadyExistsError:  # another writer created it first
        return catalog.load_table(identifier)


def migrate(table: Table) -> Table:
    """Adds the columns SCHEMA has and the table lacks: the additive migration of a template release.

    Iceberg's schema evolution changes metadata only; rows written before read the new column
    as null. A rename or a type change is not additive and ships as a written migration
    (docs/reference/tables.md).
    """
    if {f.name for f in SCHEMA.fields} <= {f.name for f in table.schema().fields}:
        return table
    try:
        with table.update_schema() as update:
            update.union_by_name(SCHEMA)
    except CommitFailedException:  # another writer migrated it first
        pass
    table.refresh()
    return table


def rows(document: Document, frame: pd.DataFrame, feed: Feed) -> pa.Table:
    """A document's long table as the table's rows (frame: the document's frame, maybe trimmed)."""
    data = labelled(frame, feed)
    minutes = (data["resolution"].dt.total_seconds() / 60).round().astype("int64")
    now = pd.Timestamp(datetime.now(UTC))
    columns = {
        "area": data["area"].astype(str),
        "series": data["series"].astype(str),
        "interval_start": data["start"].dt.tz_convert("UTC").astype("datetime64[us, UTC]"),
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
    }
    frame_out = pd.DataFrame(columns, index=data.index)
    frame_out["landed_at"] = frame_out["landed_at"].astype("datetime64[us, UTC]")
    frame_out["revision"] = frame_out["revision"].astype("int32")
    return pa.Table.from_pandas(frame_out, schema=SCHEMA.as_arrow(), preserve_index=False)


def _covered(document: Document, table_rows: pa.Table) -> BooleanExpression:
    """What the document replaces: its series over its span, and every row of its older revisions.

    Rows of the same revision outside the span stay: a backfill lands one document in chunks.
    """
    same_document: BooleanExpression = And(
        EqualTo("document_mrid", document.mrid), LessThan("revision", document.revision)
    )
    if table_rows.num_rows == 0:
        return same_document
    starts = table_rows.column("interval_start").to_pandas()
    ends = starts + pd.to_timedelta(table_rows.column("resolution_minutes").to_pandas(), unit="min")
    areas = sorted(set(table_rows.column("area").to_pylist()))
    series = sorted(set(table_rows.column("series").to_pylist()))
    span = And(
        GreaterThanOrEqual("interval_start", starts.min().isoformat()),
        LessThan("interval_start", ends.max().isoformat()),
    )
    area_filter: BooleanExpression = EqualTo("area", areas[0]) if len(areas) == 1 else In("area", areas)
    series_filter: BooleanExpression = EqualTo("series", series[0]) if len(series) == 1 else In("series", series)
    return Or(same_document, And(area_filter, And(series_filter, span)))


def newest_revision(table: Table, mrid: str) -> int | None:
    found = table.scan(row_filter=EqualTo("document_mrid", mrid), selected_fields=("revision",)).to_arrow()
    return max(found.column("revision").to_pylist()) if found.num_rows else None


@dataclass(frozen=True)
class Written:
    table: str
    rows: int
    attempts: int
    skipped: str | None = None


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


def write_document(table: Table, document: Document, table_rows: pa.Table) -> Written:
    """Replace what the document covers with its rows, in one commit, retrying lost races.

    A revision older than the one in the table changes nothing (returns `skipped`).
    """
    name = ".".join(table.name())

    def commit(attempt: int) -> Written:
        newest = newest_revision(table, document.mrid)
        if newest is not None and newest > document.revision:
            return Written(name, 0, attempt, f"revision {newest} of {document.mrid} is already in {name}")
        table.overwrite(table_rows, overwrite_filter=_covered(document, table_rows))
        return Written(name, table_rows.num_rows, attempt)

    return _committed(table, commit, f"commit {document.mrid} revision {document.revision} to {name}")


def read_period(table: Table, area: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The table's rows for one area in [start, end), as a document frame (documents.COLUMNS)."""
    table.refresh()
    found = table.scan(
        row_filter=And(
            EqualTo("area", area),
            And(GreaterThanOrEqual("interval_start", start.isoformat()), LessThan("interval_start", end.isoformat())),
        )
    ).to_pandas()
    frame = pd.DataFrame(
        {
            "start": found["interval_start"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]"),
            "resolution": pd.to_timedelta(found["resolution_minutes"], unit="min"),
            "area": found["area"],
            "direction": found["direction"],
            "psr_type": found["psr_type"],
            "business_type": found["business_type"],
            "sequence": found["sequence"].fillna(""),
            "value": found["value"],
            "unit": found["unit"],
        },
        columns=COLUMNS,
    )
    return frame.sort_values(["psr_type", "direction", "start"], kind="stable").reset_index(drop=True)


def all_tables(catalog: Catalog, namespace: str) -> Iterator[Table]:
    try:
        identifiers = catalog.list_tables(namespace)
    except Exception:  # no namespace yet: nothing landed
        return
    for identifier in identifiers:
        yield catalog.load_table(identifier)


@dataclass(frozen=True)
class Maintained:
    table: str
    files_before: dict[str, int]
    files_after: dict[str, int]
    snapshots_expired: int


def files_per_partition(table: Table) -> dict[str, int]:
    table.refresh()
    counts: dict[str, int] = {}
    for task in table.scan().plan_files():
        key = "/".join(f"{v}" for v in task.file.partition)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def compact(table: Table) -> None:
    """Rewrite every partition holding more than one file as one file, partition by partition.

    Each partition is one overwrite commit of its own rows, retried like any write, so a
    concurrent landing is never lost: if it commits first, the compaction re-reads.
    """
    for partition in [p for p, n in files_per_partition(table).items() if n > 1]:
        area, month = partition.split("/")
        first = datetime(1970, 1, 1, tzinfo=UTC) + pd.DateOffset(months=int(month))
        start, end = pd.Timestamp(first), pd.Timestamp(first) + pd.DateOffset(months=1)
        where = And(
            EqualTo("area", area),
            And(GreaterThanOrEqual("interval_start", start.isoformat()), LessThan("interval_start", end.isoformat())),
        )

        def rewrite(_attempt: int, where: BooleanExpression = where) -> None:
            table.overwrite(table.scan(row_filter=where).to_arrow(), overwrite_filter=where)

        _committed(table, rewrite, f"compact {partition} of {'.'.join(table.name())}")


def expire_snapshots(table: Table, keep: timedelta) -> int:
    """Forget snapshots older than `keep` (the current one always stays)."""
    table.refresh()
    cutoff = datetime.now(UTC) - keep
    current = table.current_snapshot()
    old = [
        s.snapshot_id
        for s in table.snapshots()
        if s.timestamp_ms < cutoff.timestamp() * 1000 and (current is None or s.snapshot_id != current.snapshot_id)
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return len(old)


def maintain(table: Table, keep: timedelta) -> Maintained:
    before = files_per_partition(table)
    compact(table)
    expired = expire_snapshots(table, keep)
    return Maintained(".".join(table.name()), before, files_per_partition(table), expired)
