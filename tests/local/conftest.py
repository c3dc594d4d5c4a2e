"""Generic fixtures for the local-cloud tests: a moto account with one S3 bucket, CSV helpers."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

REGION = "us-east-1"
BUCKET = "local-test-bucket"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An in-process moto account (us-east-1) for the duration of a test."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    """A moto S3 client with the bucket ``BUCKET`` created."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


def csv_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """CSV with the label first and no header, as SageMaker's built-in algorithms read it."""
    lines = (",".join([f"{label:g}", *(f"{v:.6g}" for v in row)]) for row, label in zip(x, y, strict=True))
    return ("\n".join(lines) + "\n").encode()


def sourcedir_tarball(*files: Path, extra: dict[str, str] | None = None) -> bytes:
    """A sourcedir.tar.gz holding ``files`` (by base name) and ``extra`` {name: text} at its root."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in files:
            tar.add(path, arcname=path.name)
        for name, text in (extra or {}).items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def make_csv() -> Any:
    """``make_csv(x, y) -> bytes``: see :func:`csv_bytes`."""
    return csv_bytes


@pytest.fixture
def make_sourcedir() -> Any:
    """``make_sourcedir(*files, extra={name: text}) -> bytes``: see :func:`sourcedir_tarball`."""
    return sourcedir_tarball


@pytest.fixture(autouse=True)
def _settled_threads() -> None:
    """Start each test once threads of earlier suites (a local cloud's executions, job workers) have ended, so
    the thread-leak checks in these tests see only their own threads. Bounded: at most 15 s."""
    import threading
    import time

    deadline = time.monotonic() + 15
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
