"""Parsing of the built-in algorithms' text inputs (CSV label-first without header, libsvm) with precise errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from trainops_local.sagemaker.types import JobFailed

# XGBoost stores 32-bit floats and refuses inf and values beyond them ("Input data contains `inf` or a value too
# large, while `missing` is not set to `inf`"); the container says where, as SageMaker's algorithm errors do.
FLOAT32_MAX = 3.4028234663852886e38
CSV_TYPES = ("text/csv", "csv")
LIBSVM_TYPES = ("text/libsvm", "libsvm")


def content_kind(content_type: str | None, default: str) -> str:
    """``csv`` or ``libsvm`` from a channel ContentType (``text/csv; label_size=1`` included)."""
    base = (content_type or default).split(";")[0].strip().lower()
    if base in CSV_TYPES:
        return "csv"
    if base in LIBSVM_TYPES:
        return "libsvm"
    raise JobFailed(f"ClientError: Content type {content_type} is not supported (use text/csv or text/libsvm)")


def channel_files(directory: Path) -> list[Path]:
    """Data files of a File-mode channel (hidden files skipped), in name order."""
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
    )


def _decode(raw: bytes, where: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JobFailed(f"ClientError: {where}: not UTF-8 text (byte {exc.start})") from exc
    return text.removeprefix("\ufeff")


def parse_csv(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """CSV, label first, no header. Empty feature cells are missing values; the label must be a finite number."""
    text = _decode(raw, where)
    labels: list[float] = []
    rows: list[list[float]] = []
    width: int | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise JobFailed(f"ClientError: {where} line {lineno}: {len(cells)} columns, expected {width}")
        values = [_cell(cell, where, lineno, col, header_hint=not rows) for col, cell in enumerate(cells, 1)]
        if values[0] is None or not math.isfinite(values[0]):
            raise JobFailed(f"ClientError: {where} line {lineno}: the label (first column) must be a finite number")
        labels.append(values[0])
        rows.append([math.nan if v is None else v for v in values[1:]])
    if not rows:
        raise JobFailed(f"ClientError: {where}: no data (empty file)")
    if width is not None and width < 2:
        raise JobFailed(f"ClientError: {where}: only one column; expected the label followed by features")
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.float32)


def _cell(cell: str, where: str, lineno: int, col: int, *, header_hint: bool) -> float | None:
    text = cell.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        hint = " (a header row? built-in algorithms expect CSV without header)" if header_hint else ""
        raise JobFailed(
            f"ClientError: {where} line {lineno} column {col}: non-numeric value {text[:40]!r}{hint}"
        ) from None
    _check_finite(value, text, f"{where} line {lineno} column {col}")
    return value


def _check_finite(value: float, text: str, where: str) -> None:
    """inf and values beyond 32-bit floats fail like XGBoost's check, located; NaN is a missing value."""
    if math.isinf(value) or abs(value) > FLOAT32_MAX:
        raise JobFailed(
            f"ClientError: {where}: value {text[:40]!r} is infinite or too large: input data must not contain "
            f"`inf` or a value too large (NaN or an empty cell is a missing value)"
        )


def parse_libsvm(raw: bytes, where: str) -> tuple[list[dict[int, float]], list[float]]:
    """libsvm ``label idx:value ...`` lines -> sparse rows and labels."""
    text = _decode(raw, where)
    rows: list[dict[int, float]] = []
    labels: list[float] = []
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        try:
            labels.append(float(parts[0].split(":")[0]))
            row: dict[int, float] = {}
            for item in parts[1:]:
                idx, _, val = item.partition(":")
                if not val:
                    raise ValueError(item)
                row[int(idx)] = float(val)
        except ValueError:
            raise JobFailed(
                f"ClientError: {where} line {lineno}: not in libsvm format ('label index:value ...')"
            ) from None
        for feature, value in row.items():
            _check_finite(value, str(value), f"{where} line {lineno} feature {feature}")
        rows.append(row)
    if not rows:
        raise JobFailed(f"ClientError: {where}: no data (empty file)")
    return rows, labels
