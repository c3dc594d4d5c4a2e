"""The validation split (trainops/scripts/split.py, a processing job): every row is checked before the shuffle,
so a data problem is reported at the user's file and line, in a message the job returns as its ExitMessage."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from trainops.scripts import split


def run(tmp_path: Path, files: dict[str, bytes], *args: str, problem: str = "binary") -> tuple[int, str]:
    base = tmp_path / "processing"
    for name, body in files.items():
        path = base / "input" / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    code = split.main(["--base", str(base), "--problem", problem, *args])
    message = tmp_path / "output" / "message"  # /opt/ml/output/message beside /opt/ml/processing
    return code, message.read_text() if message.exists() else ""


def rows(n: int, start: int = 0) -> bytes:
    return b"".join(f"{i % 2},{i},{i % 3}\n".encode() for i in range(start, start + n))


@pytest.mark.parametrize(
    ("files", "problem", "expected"),
    [
        # a ragged row: the user's file and line, not a line of the shuffled split
        (
            {"a.csv": rows(50), "b.csv": rows(10) + b"1,2,3,4\n" + rows(10)},
            "binary",
            "file b.csv line 11 has 4 columns",
        ),
        (
            {"a.csv": rows(5) + b"\n" + b"1,2\n"},
            "regression",
            "file a.csv line 7 has 2 columns, file a.csv line 1 has 3",
        ),
        # labels
        (
            {"a.csv": rows(20) + b"yes,1,2\n"},
            "binary",
            "file a.csv line 21: the label (column 1) is 'yes', not a number",
        ),
        ({"a.csv": rows(20) + b",1,2\n"}, "regression", "file a.csv line 21: the label (column 1) is '', not a number"),
        ({"a.csv": rows(20) + b"nan,1,2\n"}, "regression", "file a.csv line 21: the label is nan"),
        (
            {"a.csv": rows(20) + b"-1,1,2\n"},
            "binary",
            "line 21: the label is -1, but a binary problem needs labels 0 and 1",
        ),
        ({"a.csv": rows(20) + b"2.5,1,2\n"}, "multiclass", "line 21: the label is 2.5, but a multiclass problem needs"),
        # one class, seen only by the split (it reads every row)
        ({"a.csv": b"1,1,2\n" * 30}, "binary", "every one of the 30 rows has the label 1"),
        # compression that does not match the data
        ({"a.csv.gz": rows(10)}, "binary", "file a.csv.gz is named .gz but is not gzip-compressed"),
        ({"a.csv.gz": b"\x1f\x8b\x08garbage"}, "binary", "file a.csv.gz is not valid gzip data"),
        (
            {"a.csv.gz": gzip.compress(rows(10)), "b.csv": rows(10)},
            "binary",
            "some files are gzip-compressed (a.csv.gz)",
        ),
        ({"a.csv": b"\xef\xbb\xbf" + rows(10)}, "binary", "file a.csv starts with a UTF-8 byte-order mark"),
        ({"a.csv": rows(3) + b"1,\xff,2\n"}, "binary", "file a.csv line 4 is not UTF-8 text"),
    ],
)
def test_data_problems_are_reported_at_the_users_file_and_line(tmp_path, capsys, files, problem, expected):
    code, message = run(tmp_path, files, problem=problem)
    assert code == 1
    assert expected in message
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "processing" / "output" / "train").exists()  # nothing written, nothing to train on


def test_a_one_valued_regression_label_is_not_a_class_problem(tmp_path):
    code, _ = run(tmp_path, {"a.csv": b"1,1,2\n1,2,3\n1,3,4\n"}, problem="regression")
    assert code == 0


def test_gzip_input_gives_gzip_output_as_the_channels_declare(tmp_path):
    code, _ = run(tmp_path, {"a.csv.gz": gzip.compress(rows(100)), "b.csv.gz": gzip.compress(rows(100, 100))})
    assert code == 0
    out = tmp_path / "processing" / "output"
    train = gzip.decompress((out / "train" / "train.csv.gz").read_bytes()).decode().splitlines()
    validation = gzip.decompress((out / "validation" / "validation.csv.gz").read_bytes()).decode().splitlines()
    assert len(train) + len(validation) == 200
    assert json.loads((out / "report" / "split.json").read_text())["gzip"] is True
    # the same split gives the same bytes (content-addressed splits)
    first = (out / "train" / "train.csv.gz").read_bytes()
    assert run(tmp_path, {})[0] == 0
    assert (out / "train" / "train.csv.gz").read_bytes() == first


def test_plain_input_gives_plain_output_and_a_header_stays_on_top(tmp_path):
    code, _ = run(tmp_path, {"a.csv": b"y,a,b\n" + rows(20)}, "--header")
    assert code == 0
    train = (tmp_path / "processing" / "output" / "train" / "train.csv").read_text().splitlines()
    assert train[0] == "y,a,b"
    assert len(train) == 1 + 16


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (b"1,abc,2\n", "file a.csv line 31, column 2: 'abc' is not a number"),
        (b"0,1,inf\n", "file a.csv line 31, column 3: the value is inf"),
        (b"0,1,-Infinity\n", "file a.csv line 31, column 3: the value is -Infinity"),
    ],
)
def test_a_built_in_algorithms_features_are_checked_at_the_users_line(tmp_path, bad_row, expected):
    # beyond the sample the controller read, only the split sees the row, before the shuffle loses its line
    code, message = run(tmp_path, {"a.csv": rows(30) + bad_row + rows(30)})
    assert code == 1
    assert expected in message


def test_missing_feature_values_are_allowed(tmp_path):
    code, message = run(tmp_path, {"a.csv": rows(30) + b"1,,2\n0,nan,1\n" + rows(30)})
    assert (code, message) == (0, "")


def test_a_scripts_rows_are_split_not_judged(tmp_path):
    # a script reads text labels, quoted commas and its label anywhere; the split only splits its rows
    body = b"species,length\n" + b"".join(b'setosa,"1,5"\n' if i % 2 else b"virginica,2\n" for i in range(40))
    code, message = run(tmp_path, {"a.csv": body}, "--header", "--own-code", problem="multiclass")
    assert (code, message) == (0, "")
    report = json.loads((tmp_path / "processing" / "output" / "report" / "split.json").read_text())
    assert report["rows"] == 40 and report["stratified"] is False
