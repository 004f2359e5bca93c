"""The local lake's Iceberg tables, read from their metadata with the standard library only.

`query` and `tables` on the local lake start in about a second this way: importing pyiceberg
(and the pyarrow and pandas it pulls in) takes longer than reading a few JSON and Avro files.
A table is described by its SQLite catalog row, its metadata JSON and the Avro manifests of
its current snapshot (the Iceberg spec, "Table Metadata" and "Manifests"). Anything this reader
does not handle (delete files, a renamed or reused column name, a type DuckDB must not guess,
a compression codec other than deflate) marks the table `plain = False`, and `query` reads that
table through pyiceberg instead.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import zlib
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from .settings import Settings

# Iceberg primitive types and the DuckDB types that hold them (decimal(P, S) is handled apart).
DUCKDB_TYPES = {
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "long": "BIGINT",
    "float": "REAL",
    "double": "DOUBLE",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "string": "VARCHAR",
    "uuid": "UUID",
    "binary": "BLOB",
}


@dataclass(frozen=True)
class LakeLocation:
    """Where the tables are, as Settings says (`catalog`, `lake_dir`, `catalog_database`).

    Read from the environment without pydantic, whose import is half of `query`'s start-up;
    a test holds `from_environment` to what Settings reads from the same variables.
    """

    catalog: str
    lake_dir: Path
    database: str

    @classmethod
    def of(cls, settings: Settings) -> LakeLocation:
        return cls(settings.catalog, settings.lake_dir, settings.catalog_database)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> LakeLocation:
        from . import defaults

        # pydantic-settings matches variable names in any case (case_sensitive=False).
        env = {name.upper(): value for name, value in (os.environ if environ is None else environ).items()}
        catalog = env.get("PIPELINE_CATALOG", "sql")
        if catalog not in ("sql", "glue"):
            raise ValueError(f"PIPELINE_CATALOG is {catalog!r}: use sql or glue")
        database = env.get("PIPELINE_CATALOG_DATABASE", defaults.PROJECT_SLUG.replace("-", "_"))
        return cls(catalog, Path(env.get("PIPELINE_LAKE_DIR", "lake")), database)


class TableReadError(RuntimeError):
    """The catalog or the table's files could not be read: says which and why."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Iceberg's name for it, e.g. "timestamptz"
    required: bool
    doc: str


@dataclass(frozen=True)
class LocalTable:
    name: str
    columns: list[Column]
    data_files: list[str]  # paths of the current snapshot's Parquet files
    plain: bool  # True: the files read by column name give what Iceberg means; else read with pyiceberg
    evolved: bool  # the schema changed since the table was made: older files may lack columns

    def duckdb_type(self, column: Column) -> str:
        if column.type.startswith("decimal("):
            return column.type.upper()
        return DUCKDB_TYPES[column.type]


def local_tables(lake_dir: Path, namespace: str, files: bool = True) -> list[LocalTable]:
    """Every table of the namespace in the lake's SQLite catalog; none if nothing has landed yet.
    `files=False` reads the schemas only (no manifests)."""
    catalog = lake_dir / "catalog.db"
    if not catalog.exists():
        return []
    try:
        with closing(sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            rows = connection.execute(
                "SELECT table_name, metadata_location FROM iceberg_tables"
                " WHERE table_namespace = ? ORDER BY table_name",
                (namespace,),
            ).fetchall()
    except sqlite3.Error as error:
        raise TableReadError(f"could not list the tables of database {namespace!r} in {catalog}: {error}") from error
    tables = []
    for name, location in rows:
        try:
            tables.append(read_table(f"{namespace}.{name}", local_path(location), files))
        except (OSError, ValueError, KeyError) as error:
            raise TableReadError(f"could not read table {namespace}.{name}: {error}") from error
    return tables


def read_table(name: str, metadata_file: Path, files: bool = True) -> LocalTable:
    metadata = json.loads(metadata_file.read_text())
    schemas = {schema["schema-id"]: schema for schema in metadata["schemas"]}
    current = schemas[metadata["current-schema-id"]]
    columns = [
        Column(field["name"], field["type"], field["required"], field.get("doc", ""))
        if isinstance(field["type"], str)
        else Column(field["name"], "nested", field["required"], field.get("doc", ""))
        for field in current["fields"]
    ]
    # A name must have meant the same field in every schema the table had (files are read by name).
    named = {(field["id"], field["name"]) for schema in schemas.values() for field in schema["fields"]}
    plain = len({field_id for field_id, _ in named}) == len({name for _, name in named}) == len(named)
    plain = plain and all(c.type in DUCKDB_TYPES or c.type.startswith("decimal(") for c in columns)
    evolved = len(schemas) > 1
    snapshot_id = metadata.get("current-snapshot-id")
    snapshot = next((s for s in metadata.get("snapshots", []) if s["snapshot-id"] == snapshot_id), None)
    if snapshot is None or snapshot_id in (None, -1) or not files:
        return LocalTable(name, columns, [], plain, evolved)
    data_files: list[str] = []
    try:
        for manifest in read_avro(local_path(snapshot["manifest-list"])):
            entries = read_avro(local_path(manifest["manifest_path"]))
            live = [entry["data_file"] for entry in entries if entry["status"] != 2]  # 2: deleted
            if manifest.get("content", 0) != 0 or any(file.get("content", 0) != 0 for file in live):
                plain = plain and not live  # live delete files: only pyiceberg applies them
                continue
            plain = plain and all(file["file_format"].upper() == "PARQUET" for file in live)
            data_files += [str(local_path(file["file_path"])) for file in live]
    except UnsupportedAvro:
        plain = False
    return LocalTable(name, columns, data_files, plain, evolved)


def local_path(location: str) -> Path:
    if location.startswith("file://"):
        return Path(location[len("file://") :])
    if "://" in location:
        raise ValueError(f"{location} is not in the local lake")
    return Path(location)


# ------------------------------------------------------------------ Avro object container files


class UnsupportedAvro(ValueError):
    """A codec or type this reader does not decode: the table is read with pyiceberg instead."""


def read_avro(path: Path) -> list[dict[str, Any]]:
    """The records of an Avro object container file (the Avro 1.11 spec), decoded with its writer's schema."""
    with path.open("rb") as file:
        if file.read(4) != b"Obj\x01":
            raise ValueError(f"{path} is not an Avro file")
        header = _Decoder(file)
        meta = header.map(lambda: header.bytes())
        sync = file.read(16)
        codec = meta.get("avro.codec", b"null").decode()
        if codec not in ("null", "deflate"):
            raise UnsupportedAvro(f"Avro codec {codec}")
        schema = json.loads(meta["avro.schema"])
        records = []
        while count_bytes := file.read(1):
            block = _Decoder(file, first=count_bytes)
            count = block.long()
            data = file.read(block.long())
            if file.read(16) != sync:
                raise ValueError(f"{path}: a block does not end with the file's sync marker")
            body = _Decoder.of(zlib.decompress(data, -15) if codec == "deflate" else data)
            records += [body.value(schema, {}) for _ in range(count)]
        return records


class _Decoder:
    def __init__(self, stream: BinaryIO, first: bytes = b"") -> None:
        self.stream = stream
        self.pending = first

    @classmethod
    def of(cls, data: bytes) -> _Decoder:
        import io

        return cls(io.BytesIO(data))

    def read(self, size: int) -> bytes:
        head, self.pending = self.pending[:size], self.pending[size:]
        data = head + self.stream.read(size - len(head))
        if len(data) != size:
            raise ValueError("the Avro data ends early")
        return data

    def long(self) -> int:
        shift = result = 0
        while True:
            byte = self.read(1)[0]
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return (result >> 1) ^ -(result & 1)

    def bytes(self) -> bytes:
        return self.read(self.long())

    def blocks(self, item: Any) -> list[Any]:
        items = []
        while count := self.long():
            if count < 0:
                count = -count
                self.long()  # the block's size in bytes
            items += [item() for _ in range(count)]
        return items

    def map(self, value: Any) -> dict[str, Any]:
        return dict(self.blocks(lambda: (self.bytes().decode(), value())))

    def value(self, schema: Any, names: dict[str, Any]) -> Any:
        if isinstance(schema, list):  # a union: the branch's index, then its value
            return self.value(schema[self.long()], names)
        kind = schema["type"] if isinstance(schema, dict) else schema
        if isinstance(kind, (dict, list)):
            return self.value(kind, names)
        if kind in names:
            return self.value(names[kind], names)
        if kind == "null":
            return None
        if kind == "boolean":
            return self.read(1) != b"\x00"
        if kind in ("int", "long"):
            return self.long()
        if kind == "float":
            return struct.unpack("<f", self.read(4))[0]
        if kind == "double":
            return struct.unpack("<d", self.read(8))[0]
        if kind == "bytes":
            return self.bytes()
        if kind == "string":
            return self.bytes().decode()
        if kind == "record":
            names[schema["name"]] = schema
            return {field["name"]: self.value(field["type"], names) for field in schema["fields"]}
        if kind == "enum":
            names[schema["name"]] = schema
            return schema["symbols"][self.long()]
        if kind == "fixed":
            names[schema["name"]] = schema
            return self.read(schema["size"])
        if kind == "array":
            return self.blocks(lambda: self.value(schema["items"], names))
        if kind == "map":
            return self.map(lambda: self.value(schema["values"], names))
        raise UnsupportedAvro(f"Avro type {kind!r}")
