"""Validation split, run as a SageMaker Processing job (scikit-learn processing image) or locally.

Standard library only, so it runs in any Python 3 container. Checks every row before anything is shuffled,
so a problem is reported at the user's file and line (ragged rows, missing or non-numeric labels, labels a
classification cannot use, one class only, compression that does not match the data); shuffles (datasets
often arrive sorted by label), stratifies by label for classification, and writes the sizes to
report/split.json. Gzip input gives gzip output, as the training channels declare ``CompressionType: Gzip``.

A failure is written to /opt/ml/output/message (beside the --base folder), which SageMaker returns as the
processing job's ExitMessage, and to stderr.

    python3 split.py --fraction 0.2 --seed 42 --problem binary --content-type text/csv
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import random
import sys
import zlib
from collections import defaultdict

BASE = "/opt/ml/processing"
GZIP_MAGIC = b"\x1f\x8b"
CSV_FIX = "built-in algorithms read comma-separated CSV with the label in the first column and no header row"


class DataError(Exception):
    """A problem with the user's data, said in the user's terms (file, line, column, value)."""


def _read_lines(path: str, name: str) -> tuple[list[tuple[int, str]], bool]:
    """((line number, line) of every non-blank line, whether the file was gzip)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    is_gzip = raw[:2] == GZIP_MAGIC
    if not is_gzip and name.lower().endswith(".gz"):
        raise DataError(
            f"file {name} is named .gz but is not gzip-compressed (it starts with {raw[:24]!r}). Fix: rename it "
            "without .gz, or upload it gzip-compressed"
        )
    if is_gzip:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"file {name} is not valid gzip data ({exc}). Fix: compress it again with gzip and upload it"
            ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"file {name} line {bad_line} is not UTF-8 text. Fix: save it as UTF-8") from None
    if text.startswith("\ufeff"):
        raise DataError(f"file {name} starts with a UTF-8 byte-order mark. Fix: save it without BOM")
    lines: list[tuple[int, str]] = []
    for number, piece in enumerate(text.split("\n"), start=1):
        line = piece.rstrip("\r")
        if line.strip():
            lines.append((number, line))
    return lines, is_gzip


def _split_header(lines: list[tuple[int, str]], header: bool) -> tuple[str | None, list[tuple[int, str]]]:
    """(the file's header row or None, its data rows)."""
    if not header or not lines:
        return None, lines
    return lines[0][1], lines[1:]


def _label(line: str, content_type: str) -> str:
    return line.split(None, 1)[0] if content_type == "text/libsvm" else line.split(",", 1)[0]


class _Checker:
    """Row checks done while reading, in the files' own order (before any shuffle)."""

    def __init__(self, problem: str, content_type: str, *, own_code: bool = False) -> None:
        self.problem = problem
        self.csv = content_type != "text/libsvm"
        self.own_code = own_code
        self.columns: int | None = None
        self.first = ""  # where the first row is, for the column count

    def check(self, name: str, number: int, line: str) -> str:
        """The row's label text; raises DataError naming the file, line and value.

        A script or container reads its data its own way (quoted fields, text labels, the label anywhere): its
        rows are not checked, only split."""
        if self.own_code:
            return _label(line, "text/csv" if self.csv else "text/libsvm").strip()
        where = f"file {name} line {number}"
        if self.csv:
            columns = line.count(",") + 1
            if self.columns is None:
                self.columns, self.first = columns, where
            elif columns != self.columns:
                raise DataError(
                    f"{where} has {columns} columns, {self.first} has {self.columns}. Fix: every row needs the same "
                    "number of columns"
                )
        token = _label(line, "text/csv" if self.csv else "text/libsvm").strip()
        try:
            value = float(token)
        except ValueError:
            raise DataError(
                f"{where}: the label (column 1) is {token[:40]!r}, not a number. Fix: {CSV_FIX}; encode classes "
                "as 0, 1, ..."
            ) from None
        if math.isnan(value) or math.isinf(value):
            raise DataError(f"{where}: the label is {token}. Fix: drop rows without a label")
        if self.problem == "binary" and value not in (0.0, 1.0):
            raise DataError(
                f"{where}: the label is {token}, but a binary problem needs labels 0 and 1. Fix: encode the two "
                f"classes as 0 and 1{' (map -1 to 0)' if value == -1.0 else ''}"
            )
        if self.problem == "multiclass" and (value < 0 or not value.is_integer()):
            raise DataError(
                f"{where}: the label is {token}, but a multiclass problem needs labels 0, 1, ..., k-1. Fix: "
                "encode the classes as 0..k-1"
            )
        if self.csv:
            self._features(where, line)
        return token

    @staticmethod
    def _features(where: str, line: str) -> None:
        """Built-in algorithms read every feature as a number; an empty cell or nan is a missing value."""
        for column, cell in enumerate(line.split(",")[1:], start=2):
            text = cell.strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise DataError(
                    f"{where}, column {column}: {text[:40]!r} is not a number. Fix: built-in algorithms read numeric "
                    "features only: encode categories as numbers (one-hot or ordinal), or leave the cell empty for "
                    "a missing value"
                ) from None
            if math.isinf(value):
                raise DataError(
                    f"{where}, column {column}: the value is {text}. Fix: replace infinite values (with a large "
                    "finite number, or leave the cell empty for a missing value)"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--problem", default="binary")
    parser.add_argument("--content-type", default="text/csv")
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--header", action="store_true", help="every CSV file starts with a header row")
    parser.add_argument("--own-code", action="store_true", help="a script or container reads the data: no row checks")
    args = parser.parse_args(argv)
    try:
        return _split(args)
    except DataError as exc:
        _fail(args.base, str(exc))
        return 1


def _split(args: argparse.Namespace) -> int:  # noqa: PLR0912, PLR0915  (the split job's script: one pass over the data, kept in one function for the container)
    input_dir = os.path.join(args.base, "input", "data")
    files = []
    for root, _dirs, names in os.walk(input_dir):
        for name in sorted(names):
            if name.startswith(("_", ".")):
                continue
            files.append(os.path.join(root, name))
    # stratified by the first column, which only built-in algorithms promise is the label
    classify = args.problem in ("binary", "multiclass") and not args.own_code
    checker = _Checker(args.problem, args.content_type, own_code=args.own_code)
    rows: list[str] = []
    strata: dict[str, list[str]] = defaultdict(list)
    header: str | None = None
    compressed = {}  # name -> gzip or not
    for path in sorted(files):
        name = os.path.relpath(path, input_dir)
        lines, compressed[name] = _read_lines(path, name)
        file_header, file_rows = _split_header(lines, args.header)
        header = header or file_header
        for number, line in file_rows:
            label = checker.check(name, number, line)
            rows.append(line)
            if classify:
                strata[label].append(line)
    if len(set(compressed.values())) > 1:
        plain = sorted(n for n, gz in compressed.items() if not gz)
        packed = sorted(n for n, gz in compressed.items() if gz)
        raise DataError(
            f"some files are gzip-compressed ({packed[0]}) and some are not ({plain[0]}). Fix: compress all of "
            "them or none (data.compression applies to every file)"
        )
    if len(rows) < 2:
        raise DataError(f"the dataset has {len(rows)} rows; a validation split needs at least 2")
    if classify and len(strata) < 2:
        (label,) = strata
        raise DataError(
            f"every one of the {len(rows)} rows has the label {label}: a {args.problem} model needs rows of at "
            "least two classes. Fix: add rows of the other class(es)"
        )
    if not classify:
        strata["all"] = rows

    rng = random.Random(args.seed)
    train: list[str] = []
    validation: list[str] = []
    per_class = {}
    for label, members in sorted(strata.items()):
        rng.shuffle(members)
        n_val = round(len(members) * args.fraction)
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        validation.extend(members[:n_val])
        train.extend(members[n_val:])
        per_class[label] = {"train": len(members) - n_val, "validation": n_val}
    rng.shuffle(train)
    rng.shuffle(validation)

    gzipped = bool(compressed) and all(compressed.values())
    suffix = "libsvm" if args.content_type == "text/libsvm" else "csv"
    for name, part in (("train", train), ("validation", validation)):
        out_dir = os.path.join(args.base, "output", name)
        os.makedirs(out_dir, exist_ok=True)
        body = ("\n".join(([header] if header is not None else []) + part) + "\n").encode("utf-8")
        path = os.path.join(out_dir, f"{name}.{suffix}")
        if gzipped:
            # mtime 0: the same split gives the same bytes (splits are content-addressed)
            buffer = io.BytesIO()
            with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as packed_out:
                packed_out.write(body)
            path, body = path + ".gz", buffer.getvalue()
        with open(path, "wb") as handle:
            handle.write(body)
    report = {
        "rows": len(rows),
        "train_rows": len(train),
        "validation_rows": len(validation),
        "fraction": args.fraction,
        "seed": args.seed,
        "stratified": classify,
        "per_class": per_class if classify else {},
        "files": len(files),
        "gzip": gzipped,
    }
    report_dir = os.path.join(args.base, "output", "report")
    os.makedirs(report_dir, exist_ok=True)
    with open(os.path.join(report_dir, "split.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report))
    return 0


def _fail(base: str, message: str) -> None:
    """stderr for the log; /opt/ml/output/message (beside ``base``) for the job's ExitMessage (first 1 KB)."""
    print(message, file=sys.stderr)
    output = os.path.join(os.path.dirname(os.path.normpath(base)), "output")
    try:
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "message"), "w", encoding="utf-8") as handle:
            handle.write(message)
    except OSError as exc:  # the message is a courtesy: the log has it
        print(f"could not write the exit message: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
