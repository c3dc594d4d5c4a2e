"""Small S3 helpers over a boto3 S3 client (works against moto or AWS alike)."""

from __future__ import annotations

import gzip
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

CHUNK = 256 * 1024


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return bucket, key


def join_uri(base: str, *parts: str) -> str:
    """Join S3 URI parts with single slashes."""
    out = base.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


def list_keys(s3: Any, uri: str, shard: tuple[int, int] | None = None) -> list[str]:
    """All keys under an S3 prefix (S3DataType S3Prefix semantics: a plain key prefix), sorted.

    ``shard`` ``(i, n)``: host i's (0-based) share of n for ShardedByS3Key, every n-th key from the i-th. AWS
    documents only that each of n instances gets about 1/n of the objects; which ones is not documented.
    """
    bucket, prefix = split_uri(uri)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/"))
    keys.sort()
    if shard is None:
        return keys
    index, count = shard
    return keys[index::count]


def relative_key(key: str, prefix: str) -> str:
    """Where an object under ``prefix`` lands relative to the local directory.

    A prefix that ends at a folder boundary is stripped; one that names an object (or part of a name) keeps
    the key relative to the prefix's folder, so ``s3://b/code/split.py`` lands as ``split.py``.
    """
    rest = key[len(prefix) :]
    if prefix.endswith("/") or rest.startswith("/"):
        return rest.lstrip("/")
    folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return key[len(folder) :]


def _safe_join(root: Path, rel: str) -> Path:
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"refusing to write outside {root}: {rel!r}")
    return target


def download_prefix(
    s3: Any, uri: str, dest: Path, *, gunzip: bool = False, shard: tuple[int, int] | None = None
) -> list[Path]:
    """Download every object under ``uri`` (or its ``shard``, see :func:`list_keys`) into ``dest``; returns the
    local files. ``gunzip`` decompresses."""
    bucket, prefix = split_uri(uri)
    dest.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for key in list_keys(s3, uri, shard):
        target = _safe_join(dest, relative_key(key, prefix))
        target.parent.mkdir(parents=True, exist_ok=True)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        if gunzip:
            if target.suffix == ".gz":
                target = target.with_suffix("")
            with gzip.GzipFile(fileobj=body) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
        else:
            with target.open("wb") as out:
                for chunk in iter(partial(body.read, CHUNK), b""):
                    out.write(chunk)
        files.append(target)
    return files


def stream_prefix(s3: Any, uri: str, *, gunzip: bool = False, shard: tuple[int, int] | None = None) -> Iterator[bytes]:
    """The bytes of every object under ``uri`` (or its ``shard``; key order), read in chunks, optionally
    gunzipped on the fly."""
    bucket, _ = split_uri(uri)
    for key in list_keys(s3, uri, shard):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        inflater = zlib.decompressobj(wbits=47) if gunzip else None
        for chunk in iter(partial(body.read, CHUNK), b""):
            data = inflater.decompress(chunk) if inflater else chunk
            if data:
                yield data
        if inflater:
            tail = inflater.flush()
            if tail:
                yield tail


def upload_dir(s3: Any, local: Path, uri: str) -> list[str]:
    """Upload every file under ``local`` to ``uri/<relative path>``; returns the URIs written."""
    bucket, prefix = split_uri(uri)
    written: list[str] = []
    if not local.is_dir():
        return written
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        key = "/".join(part for part in (prefix.strip("/"), path.relative_to(local).as_posix()) if part)
        s3.upload_file(str(path), bucket, key)
        written.append(f"s3://{bucket}/{key}")
    return written


def upload_file(s3: Any, path: Path, uri: str) -> str:
    """Upload one file to an exact S3 URI."""
    bucket, key = split_uri(uri)
    s3.upload_file(str(path), bucket, key)
    return uri


def tar_dir(src: Path, tar_path: Path) -> Path:
    """A gzipped tarball of ``src``'s contents (members relative to ``src``, as SageMaker writes them)."""
    with tarfile.open(tar_path, "w:gz") as tar:
        for path in sorted(src.rglob("*")):
            tar.add(path, arcname=path.relative_to(src).as_posix(), recursive=False)
    return tar_path


def extract_tar(tar_path: Path, dest: Path) -> None:
    """Extract a (possibly gzipped) tarball safely into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "r:*") as tar:
        tar.extractall(dest, filter="data")


def object_exists(s3: Any, uri: str) -> bool:
    """Whether an exact object exists."""
    bucket, key = split_uri(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True
