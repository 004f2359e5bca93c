"""The data lake: a local folder by default, an S3 bucket (prefect-aws block) when configured.

Keys are partitioned Hive-style by feed, area and UTC date, and name the document's mRID and
revision, so a re-delivered document lands on the same key instead of beside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import pandas as pd

from .settings import Settings


class Lake(Protocol):
    def put(self, key: str, data: bytes) -> str: ...
    def get(self, key: str) -> bytes: ...
    def describe(self, key: str) -> str: ...


class LocalLake:
    def __init__(self, root: Path):
        self.root = root

    def put(self, key: str, data: bytes) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
        return key

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def describe(self, key: str) -> str:
        return str((self.root / key).resolve())


class S3Lake:
    def __init__(self, block_name: str):
        from prefect_aws import S3Bucket

        self.bucket = S3Bucket.load(block_name)

    def put(self, key: str, data: bytes) -> str:
        self.bucket.write_path(key, data)
        return key

    def get(self, key: str) -> bytes:
        return self.bucket.read_path(key)

    def describe(self, key: str) -> str:
        folder = self.bucket.bucket_folder.strip("/")
        return f"s3://{self.bucket.bucket_name}/{folder + '/' if folder else ''}{key}"


def open_lake(settings: Settings) -> Lake:
    return S3Lake(settings.lake_block) if settings.lake_block else LocalLake(settings.lake_dir)


def partition(layer: str, feed: str, area: str, day: pd.Timestamp) -> str:
    return f"{layer}/feed={feed}/area={area}/date={day:%Y-%m-%d}"


def document_name(mrid: str, revision: int) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in mrid)
    return f"{safe}_r{revision}"


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_parquet(index=False, engine="pyarrow")


def read_parquet(data: bytes) -> pd.DataFrame:
    import io

    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
