"""Validation split, run as a SageMaker Processing job (scikit-learn processing image) or locally.

Standard library only, so it runs in any Python 3 container. Shuffles (datasets often arrive sorted by
label), stratifies by label for classification, and writes the sizes to report/split.json.

    python3 split.py --fraction 0.2 --seed 42 --problem binary --content-type text/csv
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
from collections import defaultdict

BASE = "/opt/ml/processing"


def _read_lines(path: str) -> list[str]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\r\n") for line in handle if line.strip()]


def _split_header(lines: list[str], header: bool) -> tuple[str | None, list[str]]:
    """(the file's header row or None, its data rows)."""
    if not header or not lines:
        return None, lines
    return lines[0], lines[1:]


def _label(line: str, content_type: str) -> str:
    return line.split(None, 1)[0] if content_type == "text/libsvm" else line.split(",", 1)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--problem", default="binary")
    parser.add_argument("--content-type", default="text/csv")
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--header", action="store_true", help="every CSV file starts with a header row")
    args = parser.parse_args(argv)

    input_dir = os.path.join(args.base, "input", "data")
    rows: list[str] = []
    files = []
    for root, _dirs, names in os.walk(input_dir):
        for name in sorted(names):
            if name.startswith(("_", ".")):
                continue
            files.append(os.path.join(root, name))
    header: str | None = None
    for path in sorted(files):
        file_header, file_rows = _split_header(_read_lines(path), args.header)
        header = header or file_header
        rows.extend(file_rows)
    if len(rows) < 2:
        _fail(args.base, f"the dataset has {len(rows)} rows; a validation split needs at least 2")
        return 1

    rng = random.Random(args.seed)
    train: list[str] = []
    validation: list[str] = []
    strata: dict[str, list[str]] = defaultdict(list)
    if args.problem in ("binary", "multiclass"):
        for row in rows:
            strata[_label(row, args.content_type)].append(row)
    else:
        strata["all"] = rows
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

    suffix = "libsvm" if args.content_type == "text/libsvm" else "csv"
    for name, part in (("train", train), ("validation", validation)):
        out_dir = os.path.join(args.base, "output", name)
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, f"{name}.{suffix}"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(([header] if header is not None else []) + part) + "\n")
    report = {
        "rows": len(rows),
        "train_rows": len(train),
        "validation_rows": len(validation),
        "fraction": args.fraction,
        "seed": args.seed,
        "stratified": args.problem in ("binary", "multiclass"),
        "per_class": per_class if args.problem in ("binary", "multiclass") else {},
        "files": len(files),
    }
    report_dir = os.path.join(args.base, "output", "report")
    os.makedirs(report_dir, exist_ok=True)
    with open(os.path.join(report_dir, "split.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report))
    return 0


def _fail(base: str, message: str) -> None:
    del base
    print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
