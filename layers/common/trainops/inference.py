"""Infer the problem type from a bounded sample of the data (S3 range requests, never the whole object).

Also catches the data problems that would otherwise surface as an opaque failed training job, naming the file,
line, column and value: a header row, a file separated by something other than commas, a BOM, non-UTF-8
bytes, ragged rows, a missing or non-numeric label, non-numeric or infinite features, and compression that
does not match the config or the file's name.
"""

from __future__ import annotations

import math
import posixpath
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import translate
from trainops.config import ProblemType
from trainops.errors import DatasetError
from trainops.models import Dataset

SAMPLE_BYTES = 64 * 1024
# XGBoost's CSV reader has no row limit: the head read grows until it holds a whole first row, up to this bound.
MAX_ROW_BYTES = 8 * 1024 * 1024
MAX_CLASSES = 50
GZIP_MAGIC = b"\x1f\x8b"
# Values beyond this overflow the 32-bit floats XGBoost stores: it refuses them like inf.
FLOAT32_MAX = 3.4028234663852886e38
# Separators people use instead of commas, most telling first (a comma-less line with spaces may be libsvm-ish).
OTHER_SEPARATORS = (("\t", "tabs"), (";", "semicolons"), ("|", "vertical bars"), (" ", "spaces"))
CSV_FIX = "built-in algorithms read comma-separated CSV with the label in the first column and no header row"


@dataclass(frozen=True)
class Sample:
    uri: str
    rows: int
    labels: list[float]
    columns: int | None
    truncated: bool
    whole: bool = False
    """The sample holds every row of the training data (one object, read completely)."""
    # what choosing an algorithm looks at (CSV samples): feature cells seen, how many were 0, how many empty
    feature_cells: int = 0
    zero_cells: int = 0
    missing_cells: int = 0
    estimated_rows: int | None = None
    """Rows of the training data: exact when ``whole``; else estimated from the objects' sizes (None: unknown)."""

    @property
    def zero_fraction(self) -> float:
        return self.zero_cells / self.feature_cells if self.feature_cells else 0.0


def data_objects(dataset: Dataset, s3: Any) -> tuple[list[str], bool]:
    """(the training data's objects, in key order: the train/ folder of a dataset with channels; whether that
    is all of them). Lists up to 1,000."""
    if dataset.kind == "file":
        return [dataset.prefix], True
    prefix = dataset.prefix + ("train/" if "train" in dataset.channels else "")
    try:
        resp = s3.list_objects_v2(Bucket=dataset.bucket, Prefix=prefix, MaxKeys=1000)
    except ClientError as exc:
        raise translate(exc, f"listing {dataset.uri}") from exc
    keys = [
        str(obj["Key"])
        for obj in resp.get("Contents", [])
        if not posixpath.basename(obj["Key"]).startswith(("_", ".")) and obj.get("Size", 0) > 0
    ]
    if not keys:
        raise DatasetError(f"no data files under {dataset.uri}", field="dataset", fix="upload data files")
    return keys, not resp.get("IsTruncated")


def first_data_object(dataset: Dataset, s3: Any) -> str:
    return data_objects(dataset, s3)[0][0]


@dataclass
class _Head:
    text: bytes
    read: int  # bytes of the object read
    total: int
    gzip: bool
    complete: bool  # the whole object was read (and, if gzip, decompressed to its end)


def read_sample(dataset: Dataset, s3: Any, *, content_type: str, compression: str = "None") -> Sample:
    keys, listed_all = data_objects(dataset, s3)
    key = keys[0]
    uri = f"s3://{dataset.bucket}/{key}"
    kwargs: dict[str, Any] = {"Bucket": dataset.bucket, "Key": key}
    if dataset.kind == "file" and dataset.version_id:
        kwargs["VersionId"] = dataset.version_id

    def get(first: int, last: int | None) -> tuple[bytes, int]:
        try:
            obj = s3.get_object(**kwargs, Range=f"bytes={first}-{'' if last is None else last}")
        except ClientError as exc:
            raise translate(exc, f"reading a sample of {uri}") from exc
        raw: bytes = obj["Body"].read()
        return raw, _total_size(obj, first + len(raw))

    head = _read_head(get, uri=uri, key=key, compression=compression)
    truncated = not head.complete
    sample = parse_sample(head.text, uri=uri, content_type=content_type, truncated=truncated)
    whole = head.complete and listed_all and len(keys) == 1
    estimate: int | None = sample.rows if whole else None
    if not whole and not head.gzip and sample.rows and head.text:
        per_row = len(head.text) / sample.rows  # bytes of a row, near enough
        estimate = max(sample.rows, round(head.total / per_row)) * len(keys)  # at least: a lower bound if more
    sample = replace(sample, whole=whole, estimated_rows=estimate)
    if not truncated or head.gzip:
        return sample
    # Data often arrives sorted by label: look at the tail too (a suffix range), so the head's labels
    # alone do not decide the problem type.
    start = max(head.read, head.total - SAMPLE_BYTES)  # never overlaps the head
    tail_raw, _ = get(start, None)
    cut = tail_raw.find(b"\n")
    if cut < 0:
        return sample  # the tail is inside one long row
    tail = parse_sample(
        tail_raw[cut + 1 :],
        uri=uri,
        content_type=content_type,
        truncated=False,
        first_line=None,
        offset=start + cut + 1,
        columns=sample.columns,
    )
    return replace(
        sample,
        rows=sample.rows + tail.rows,
        labels=sample.labels + tail.labels,
        truncated=True,
        feature_cells=sample.feature_cells + tail.feature_cells,
        zero_cells=sample.zero_cells + tail.zero_cells,
        missing_cells=sample.missing_cells + tail.missing_cells,
    )


def _read_head(get: Callable[[int, int | None], tuple[bytes, int]], *, uri: str, key: str, compression: str) -> _Head:
    """The first SAMPLE_BYTES, extended (doubling, up to MAX_ROW_BYTES) until a whole first row is in."""
    raw, total = get(0, SAMPLE_BYTES - 1)
    is_gzip = raw[:2] == GZIP_MAGIC
    _check_compression(raw, is_gzip, uri=uri, key=key, compression=compression)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if is_gzip else None
    read = len(raw)
    text = b""
    while True:
        text += _inflate(inflater, raw, uri) if inflater else raw
        done = read >= total
        if inflater is not None and (inflater.eof or inflater.unconsumed_tail):
            done = True
        if done or b"\n" in text.lstrip(b"\r\n") or read >= MAX_ROW_BYTES:
            break
        raw, total = get(read, min(2 * read, MAX_ROW_BYTES) - 1)
        if not raw:
            break
        read += len(raw)
    complete = read >= total and (inflater is None or (inflater.eof and not inflater.unused_data))
    if inflater is not None and read >= total and not inflater.eof:
        raise DatasetError(
            f"{uri} is a gzip file that ends early (cut short during upload?)",
            field="dataset",
            fix="upload the complete gzip file again",
        )
    if not complete and b"\n" not in text.lstrip(b"\r\n"):
        raise DatasetError(
            f"{uri}: row 1 is longer than {MAX_ROW_BYTES // (1024 * 1024)} MiB, more than trainops reads to check "
            f"the data and infer the problem type",
            field="dataset",
            fix="for data this wide use text/libsvm (sparse), or fewer columns",
        )
    return _Head(text=text, read=read, total=total, gzip=is_gzip, complete=complete)


def _inflate(inflater: Any, raw: bytes, uri: str) -> bytes:
    try:
        return bytes(inflater.decompress(raw, MAX_ROW_BYTES))
    except zlib.error as exc:
        raise DatasetError(
            f"{uri} starts like gzip but is not valid gzip data ({exc})",
            field="dataset",
            fix="compress the file again with gzip and upload it",
        ) from exc


def _check_compression(raw: bytes, is_gzip: bool, *, uri: str, key: str, compression: str) -> None:
    if is_gzip and compression != "Gzip":
        raise DatasetError(
            f"{uri} is gzip-compressed but the config does not say so",
            field="data.compression",
            fix="set data.compression: Gzip",
        )
    if not is_gzip and compression == "Gzip":
        raise DatasetError(
            f"data.compression is Gzip but {uri} is not gzip-compressed (it starts with {raw[:24]!r})",
            field="data.compression",
            fix="remove data.compression (plain files need none), or upload the file gzip-compressed",
        )
    if not is_gzip and key.lower().endswith(".gz"):
        raise DatasetError(
            f"{uri} is named .gz but is not gzip-compressed (it starts with {raw[:24]!r})",
            field="dataset",
            fix="rename it without .gz, or upload it gzip-compressed (and set data.compression: Gzip)",
        )


def _total_size(obj: dict[str, Any], got: int) -> int:
    content_range = obj.get("ContentRange") or ""
    if "/" in content_range:
        try:
            return int(content_range.rsplit("/", 1)[1])
        except ValueError:
            return got
    return int(obj.get("ContentLength", got))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_sample(  # noqa: PLR0912  (one branch per data diagnosis, in the order a user reads them)
    raw: bytes,
    *,
    uri: str,
    content_type: str,
    truncated: bool,
    first_line: int | None = 1,
    offset: int = 0,
    columns: int | None = None,
) -> Sample:
    """Check and read sampled rows. ``first_line`` is the line number of the first row, or None when unknown
    (a tail sample: its rows are then located by ``offset``, their byte position in the object); ``columns``
    is line 1's number of columns when the sample does not start there."""
    if first_line == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raise DatasetError(f"{uri} starts with a UTF-8 byte-order mark", field="dataset", fix="save without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.start >= len(raw) - 4):
            raise DatasetError(
                f"{uri} is not UTF-8 text (byte {offset + exc.start})", field="dataset", fix="save as UTF-8 CSV"
            ) from exc
        text = raw[: exc.start].decode("utf-8")
    rows: list[tuple[str, str]] = []  # (where, line)
    position = offset
    pieces = text.split("\n")
    if truncated:
        pieces = pieces[:-1]  # the last line of a range read is cut
    for index, piece in enumerate(pieces):
        line = piece.rstrip("\r")
        if line.strip():
            where = f"line {first_line + index}" if first_line is not None else f"the row at byte {position}"
            rows.append((where, line))
        position += len(piece.encode("utf-8")) + 1
    if not rows:
        if first_line is None:
            return Sample(uri=uri, rows=0, labels=[], columns=None, truncated=truncated)
        raise DatasetError(f"{uri} has no data rows", field="dataset", fix="upload a file with data rows")
    if content_type == "text/libsvm":
        return _parse_libsvm(rows, uri=uri, truncated=truncated)
    if first_line == 1:
        _check_first_row(rows, uri)
    labels: list[float] = []
    cells = zeros = missing = 0
    for where, line in rows:
        fields = line.split(",")
        if columns is None:
            columns = len(fields)
        elif len(fields) != columns:
            raise DatasetError(
                f"{uri} {where} has {len(fields)} columns, line 1 has {columns}",
                field="dataset",
                fix="every row needs the same number of columns",
            )
        labels.append(_label(fields[0], uri, where))
        for column, cell in enumerate(fields[1:], start=2):
            value = _check_feature(cell, uri, where, column)
            cells += 1
            missing += value is None or math.isnan(value)
            zeros += value == 0.0
    if columns is not None and columns < 2:
        raise DatasetError(f"{uri} has a label column only", field="dataset", fix="add feature columns")
    return Sample(
        uri=uri,
        rows=len(labels),
        labels=labels,
        columns=columns,
        truncated=truncated,
        feature_cells=cells,
        zero_cells=zeros,
        missing_cells=missing,
    )


def _check_first_row(rows: list[tuple[str, str]], uri: str) -> None:
    """Another separator than commas, or a header row: said as such, before cell-by-cell checks."""
    first = rows[0][1]
    fields = first.split(",")
    if _number(fields[0].strip()) is None:
        for separator, name in OTHER_SEPARATORS:
            parts = fields[0].strip().split(separator)
            if len(parts) > 1 and all(separator in line for _, line in rows[1:5]):
                raise DatasetError(
                    f"{uri} is separated by {name}, not commas (line 1: {first[:60]!r})",
                    field="dataset",
                    fix=f"save it as comma-separated CSV: {CSV_FIX}",
                )
    if len(rows) < 2:
        return
    second_where, second_line = rows[1]
    second = second_line.split(",")
    for column, cell in enumerate(fields, start=1):
        text = cell.strip()
        if not text or _number(text) is not None or column > len(second):
            continue
        if _number(second[column - 1].strip()) is not None:
            raise DatasetError(
                f"{uri} line 1 looks like a header row ({first[:80]!r}): column {column} is {text[:40]!r} there "
                f"and a number on {second_where}",
                field="dataset",
                fix=f"remove the header row: {CSV_FIX}",
            )


def _label(token: str, uri: str, where: str) -> float:
    value = _number(token.strip())
    if value is None:
        raise DatasetError(
            f"{uri} {where}: the label (column 1) is {token.strip()[:40]!r}, not a number",
            field="dataset",
            fix="built-in algorithms need a numeric label in the first column: encode classes as 0, 1, ... "
            "(binary: 0 and 1)",
        )
    if not math.isfinite(value):
        raise DatasetError(f"{uri} {where}: label is {token.strip()}", field="dataset", fix="drop rows without label")
    return value


def _check_feature(cell: str, uri: str, where: str, column: int) -> float | None:
    """The cell's value (None: a missing value), or DatasetError naming it."""
    text = cell.strip()
    if not text:
        return None  # a missing value
    value = _number(text)
    if value is None:
        raise DatasetError(
            f"{uri} {where} column {column}: {text[:40]!r} is not a number",
            field="dataset",
            fix="built-in algorithms read numbers only: encode categories as numbers, and leave a cell empty for "
            "a missing value",
        )
    if math.isinf(value) or abs(value) > FLOAT32_MAX:
        what = "infinite" if math.isinf(value) else "too large for XGBoost's 32-bit floats"
        raise DatasetError(
            f"{uri} {where} column {column}: {text[:40]!r} is {what}",
            field="dataset",
            fix="replace infinite and huge values (clip them, or leave the cell empty for a missing value)",
        )
    return value


def _parse_libsvm(rows: list[tuple[str, str]], *, uri: str, truncated: bool) -> Sample:
    labels = [_label(line.split(None, 1)[0], uri, where) for where, line in rows]
    return Sample(uri=uri, rows=len(labels), labels=labels, columns=None, truncated=truncated)


def distinct_labels(sample: Sample) -> list[float]:
    return sorted(set(sample.labels))


def scope(sample: Sample) -> str:
    """Where the labels were seen, for reasons and errors."""
    if sample.whole:
        return f"all {sample.rows} rows of {sample.uri}"
    return f"{sample.rows} rows sampled from {sample.uri}" + (" (first and last 64 KiB)" if sample.truncated else "")


def infer_problem(sample: Sample) -> tuple[ProblemType, int | None, str]:
    """(problem type, number of classes, why)."""
    distinct = distinct_labels(sample)
    where = scope(sample)
    all_int = all(v.is_integer() for v in distinct)
    if all_int and distinct and set(distinct) <= {0.0, 1.0}:
        return ProblemType.BINARY, 2, f"labels are all 0/1 in {where}"
    if all_int and distinct[0] >= 0 and len(distinct) <= MAX_CLASSES:
        classes = int(distinct[-1]) + 1
        if classes <= MAX_CLASSES:
            return (
                ProblemType.MULTICLASS,
                classes,
                f"labels are {len(distinct)} distinct non-negative integers (max {int(distinct[-1])}) in {where}",
            )
    return ProblemType.REGRESSION, None, f"labels are continuous ({len(distinct)} distinct values) in {where}"
