"""Infer the problem type from a bounded sample of the data (an S3 range request, never the whole object).

Also catches the data problems that would otherwise surface as an opaque failed training job: a header row,
a BOM, non-UTF-8 bytes, ragged rows, a missing or non-numeric label.
"""

from __future__ import annotations

import gzip
import math
import posixpath
import zlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import translate
from trainops.config import ProblemType
from trainops.errors import DatasetError
from trainops.models import Dataset

SAMPLE_BYTES = 64 * 1024
MAX_CLASSES = 50


@dataclass(frozen=True)
class Sample:
    uri: str
    rows: int
    labels: list[float]
    columns: int | None
    truncated: bool


def first_data_object(dataset: Dataset, s3: Any) -> str:
    if dataset.kind == "file":
        return dataset.prefix
    prefix = dataset.prefix + ("train/" if "train" in dataset.channels else "")
    try:
        resp = s3.list_objects_v2(Bucket=dataset.bucket, Prefix=prefix, MaxKeys=1000)
    except ClientError as exc:
        raise translate(exc, f"listing {dataset.uri}") from exc
    for obj in resp.get("Contents", []):
        if not posixpath.basename(obj["Key"]).startswith(("_", ".")) and obj.get("Size", 0) > 0:
            return str(obj["Key"])
    raise DatasetError(f"no data files under {dataset.uri}", field="dataset", fix="upload data files")


def read_sample(dataset: Dataset, s3: Any, *, content_type: str, compression: str = "None") -> Sample:
    key = first_data_object(dataset, s3)
    uri = f"s3://{dataset.bucket}/{key}"
    kwargs: dict[str, Any] = {"Bucket": dataset.bucket, "Key": key, "Range": f"bytes=0-{SAMPLE_BYTES - 1}"}
    if dataset.kind == "file" and dataset.version_id:
        kwargs["VersionId"] = dataset.version_id
    try:
        obj = s3.get_object(**kwargs)
    except ClientError as exc:
        raise translate(exc, f"reading a sample of {uri}") from exc
    raw: bytes = obj["Body"].read()
    total = _total_size(obj, len(raw))
    truncated = total > len(raw)
    if raw[:2] == b"\x1f\x8b":
        if compression != "Gzip":
            raise DatasetError(
                f"{uri} is gzip-compressed but the config does not say so",
                field="data.compression",
                fix="set data.compression: Gzip",
            )
        raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw) if truncated else gzip.decompress(raw)
        return parse_sample(raw, uri=uri, content_type=content_type, truncated=truncated)
    sample = parse_sample(raw, uri=uri, content_type=content_type, truncated=truncated)
    if not truncated:
        return sample
    # Data often arrives sorted by label: look at the tail too (a suffix range), so the head's labels
    # alone do not decide the problem type.
    kwargs["Range"] = f"bytes={max(SAMPLE_BYTES, total - SAMPLE_BYTES)}-"  # never overlaps the head
    try:
        tail_raw: bytes = s3.get_object(**kwargs)["Body"].read()
    except ClientError as exc:
        raise translate(exc, f"reading a sample of {uri}") from exc
    tail_lines = tail_raw.split(b"\n", 1)
    if len(tail_lines) < 2:
        return sample
    tail = parse_sample(tail_lines[1], uri=uri, content_type=content_type, truncated=False)
    if sample.columns is not None and tail.columns is not None and tail.columns != sample.columns:
        raise DatasetError(
            f"{uri}: rows at the end have {tail.columns} columns, rows at the start {sample.columns}",
            field="dataset",
            fix="every row needs the same number of columns",
        )
    return Sample(
        uri=uri,
        rows=sample.rows + tail.rows,
        labels=sample.labels + tail.labels,
        columns=sample.columns,
        truncated=True,
    )


def _total_size(obj: dict[str, Any], got: int) -> int:
    content_range = obj.get("ContentRange") or ""
    if "/" in content_range:
        try:
            return int(content_range.rsplit("/", 1)[1])
        except ValueError:
            return got
    return int(obj.get("ContentLength", got))


def parse_sample(raw: bytes, *, uri: str, content_type: str, truncated: bool) -> Sample:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise DatasetError(f"{uri} starts with a UTF-8 byte-order mark", field="dataset", fix="save without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.start >= len(raw) - 4):
            raise DatasetError(
                f"{uri} is not UTF-8 text (byte {exc.start})", field="dataset", fix="save as UTF-8 CSV"
            ) from exc
        text = raw[: exc.start].decode("utf-8")
    lines = text.splitlines()
    if truncated and lines:
        lines = lines[:-1]  # the last line of a range read is cut
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise DatasetError(f"{uri} has no data rows", field="dataset", fix="upload a file with data rows")
    labels: list[float] = []
    columns: int | None = None
    for number, line in enumerate(lines, start=1):
        if content_type == "text/libsvm":
            token = line.split(None, 1)[0]
        else:
            fields = line.split(",")
            if columns is None:
                columns = len(fields)
            elif len(fields) != columns:
                raise DatasetError(
                    f"{uri} line {number} has {len(fields)} columns, line 1 has {columns}",
                    field="dataset",
                    fix="every row needs the same number of columns",
                )
            token = fields[0]
        try:
            value = float(token)
        except ValueError as exc:
            what = "a header row" if number == 1 else f"a non-numeric label {token!r}"
            raise DatasetError(
                f"{uri} line {number} has {what}",
                field="dataset",
                fix="built-in algorithms read CSV with the label in the first column and no header row",
            ) from exc
        if math.isnan(value) or math.isinf(value):
            raise DatasetError(f"{uri} line {number}: label is {token}", field="dataset", fix="drop rows without label")
        labels.append(value)
    if columns is not None and columns < 2:
        raise DatasetError(f"{uri} has a label column only", field="dataset", fix="add feature columns")
    return Sample(uri=uri, rows=len(labels), labels=labels, columns=columns, truncated=truncated)


def infer_problem(sample: Sample) -> tuple[ProblemType, int | None, str]:
    """(problem type, number of classes, why)."""
    distinct = sorted(set(sample.labels))
    scope = f"{sample.rows} rows sampled from {sample.uri}" + (" (first and last 64 KiB)" if sample.truncated else "")
    all_int = all(v.is_integer() for v in distinct)
    if all_int and distinct and set(distinct) <= {0.0, 1.0}:
        return ProblemType.BINARY, 2, f"labels are all 0/1 in {scope}"
    if all_int and distinct[0] >= 0 and len(distinct) <= MAX_CLASSES:
        classes = int(distinct[-1]) + 1
        if classes <= MAX_CLASSES:
            return (
                ProblemType.MULTICLASS,
                classes,
                f"labels are {len(distinct)} distinct non-negative integers (max {int(distinct[-1])}) in {scope}",
            )
    return ProblemType.REGRESSION, None, f"labels are continuous ({len(distinct)} distinct values) in {scope}"
