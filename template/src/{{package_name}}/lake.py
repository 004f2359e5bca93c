"""The data lake: a local folder by default, an S3 bucket (prefect-aws block) when configured.

Keys are partitioned Hive-style by feed, area and UTC date, and name the document's mRID and
revision, so a re-delivered document lands on the same key instead of beside it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, cast

import pandas as pd

from .settings import Settings, load_block


class Lake(Protocol):
    def put(self, key: str, data: bytes) -> str: ...
    def put_if_absent(self, key: str, data: bytes) -> bool: ...
    def read(self, key: str) -> tuple[bytes, str] | None: ...
    def put_if_match(self, key: str, data: bytes, etag: str) -> bool: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def list_modified(self, prefix: str) -> dict[str, float]: ...
    def delete(self, key: str) -> None: ...
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

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Atomic: a hard link fails if the key exists, so exactly one caller wins."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
        try:
            os.link(tmp.name, path)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp.name)

    def read(self, key: str) -> tuple[bytes, str] | None:
        """The value and its version tag (a digest, as S3's ETag), or None if absent."""
        try:
            data = (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        return data, hashlib.sha256(data).hexdigest()

    def put_if_match(self, key: str, data: bytes, etag: str) -> bool:
        """Compare-and-swap: replaces the value only if it is still the one tagged `etag`.

        The compare and the write happen under an exclusive lock on the key's folder (flock,
        released by the kernel if the process dies), so no other writer slips in between.
        """
        path = self.root / key
        with _locked(path.parent):
            current = self.read(key)
            if current is None or current[1] != etag:
                return False
            self.put(key, data)
            return True

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def list(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*") if p.is_file())

    def list_modified(self, prefix: str) -> dict[str, float]:
        """Each key under `prefix` with the time it was last written (epoch seconds), in one listing."""
        folder = self.root / prefix
        if not folder.is_dir():
            return {}
        return {str(p.relative_to(self.root)): p.stat().st_mtime for p in folder.rglob("*") if p.is_file()}

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def describe(self, key: str) -> str:
        return str((self.root / key).resolve())


class S3Lake:
    def __init__(self, block_name: str):
        from prefect_aws import S3Bucket

        self.bucket = load_block(S3Bucket, block_name, "PIPELINE_LAKE_BLOCK")
        self.client = self.bucket.credentials.get_s3_client()
        folder = self.bucket.bucket_folder.strip("/")
        self.folder = f"{folder}/" if folder else ""

    def put(self, key: str, data: bytes) -> str:
        self.bucket.write_path(key, data)
        return key

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """S3 conditional write (If-None-Match: *): exactly one caller wins."""
        return self._conditional_put(key, data, IfNoneMatch="*")

    def put_if_match(self, key: str, data: bytes, etag: str) -> bool:
        """S3 conditional write (If-Match: <ETag>): replaces only the version this caller read."""
        return self._conditional_put(key, data, IfMatch=etag)

    def _conditional_put(self, key: str, data: bytes, **condition: str) -> bool:
        """True if written, False if the condition failed (412, or 404 for If-Match on a key now gone).

        409 ConditionalRequestConflict means another conditional write to the key was in
        flight, not that this one lost: AWS says to retry, so it is retried with backoff.
        """
        from botocore.exceptions import ClientError

        delays = iter(CONFLICT_BACKOFF_S)
        while True:
            try:
                self.client.put_object(Bucket=self.bucket.bucket_name, Key=self.folder + key, Body=data, **condition)
                return True
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code in ("PreconditionFailed", "NoSuchKey"):
                    return False
                delay = next(delays, None)
                if code != "ConditionalRequestConflict" or delay is None:
                    raise
            time.sleep(delay)

    def read(self, key: str) -> tuple[bytes, str] | None:
        from botocore.exceptions import ClientError

        try:
            reply = self.client.get_object(Bucket=self.bucket.bucket_name, Key=self.folder + key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return reply["Body"].read(), reply["ETag"]

    def get(self, key: str) -> bytes:
        # Sync here; typed `bytes | Coroutine` by prefect's async_dispatch (see settings.load_block).
        return cast(bytes, self.bucket.read_path(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket.bucket_name, Key=self.folder + key)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list(self, prefix: str) -> list[str]:
        keys = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket.bucket_name, Prefix=self.folder + prefix
        )
        for page in pages:
            keys += [item["Key"][len(self.folder) :] for item in page.get("Contents", [])]
        return sorted(keys)

    def list_modified(self, prefix: str) -> dict[str, float]:
        """Each key under `prefix` with its LastModified (epoch seconds): ListObjectsV2 gives both."""
        found = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket.bucket_name, Prefix=self.folder + prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                found[item["Key"][len(self.folder) :]] = item["LastModified"].timestamp()
        return found

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket.bucket_name, Key=self.folder + key)

    def describe(self, key: str) -> str:
        folder = self.bucket.bucket_folder.strip("/")
        return f"s3://{self.bucket.bucket_name}/{folder + '/' if folder else ''}{key}"


# Waits before retrying a 409 ConditionalRequestConflict (then the error is raised).
CONFLICT_BACKOFF_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on a folder, across threads and processes (each call opens its own fd)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def open_lake(settings: Settings) -> Lake:
    return S3Lake(settings.lake_block) if settings.lake_block else LocalLake(settings.lake_dir)


def partition(layer: str, feed: str, area: str, day: pd.Timestamp) -> str:
    return f"{layer}/feed={feed}/area={area}/date={day:%Y-%m-%d}"


def safe_name(mrid: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in mrid)


def document_name(mrid: str, revision: int) -> str:
    return f"{safe_name(mrid)}_r{revision}"


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_parquet(index=False, engine="pyarrow")


def read_parquet(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
