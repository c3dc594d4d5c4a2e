import gzip
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trainops.config import ProblemType
from trainops.errors import ConfigInvalid, DatasetError
from trainops.inference import MAX_ROW_BYTES, SAMPLE_BYTES, infer_problem, parse_sample, read_sample
from trainops.planning import plan_training

from tests.helpers import DATA_BUCKET, config, run_request


def sample(text, ct="text/csv", truncated=False):
    return parse_sample(
        text.encode() if isinstance(text, str) else text, uri="s3://b/k", content_type=ct, truncated=truncated
    )


@pytest.mark.parametrize(
    ("text", "expected", "classes"),
    [
        ("0,1,2\n1,2,3\n0,3,4\n", ProblemType.BINARY, 2),
        ("0,1\n1,2\n2,3\n2,1\n", ProblemType.MULTICLASS, 3),
        ("1.5,1\n2.25,2\n-3,3\n", ProblemType.REGRESSION, None),
        ("1 1:0.5 2:1\n0 1:0.1\n", ProblemType.BINARY, 2),
    ],
)
def test_problem_type_is_inferred_with_a_reason(text, expected, classes):
    ct = "text/libsvm" if ":" in text else "text/csv"
    problem, n, why = infer_problem(sample(text, ct))
    assert problem == expected
    assert n == classes
    assert "rows sampled" in why


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("label,a,b\n0,1,2\n", "header row"),
        ("\ufeff0,1,2\n", "byte-order mark"),
        ("0,1,2\n1,2\n", "columns"),
        ("nan,1,2\n", "label is nan"),
        ("0\n1\n", "label column only"),
        ("\n\n", "no data rows"),
    ],
)
def test_bad_csv_is_explained(raw, message):
    with pytest.raises(DatasetError, match=message):
        sample(raw)


def test_non_utf8_is_explained():
    with pytest.raises(DatasetError, match="not UTF-8"):
        sample(b"0,1,\xff\xfe\n")


def test_cut_last_line_of_a_range_read_is_ignored():
    s = sample("0,1,2\n1,2,3\n0,4", truncated=True)
    assert s.rows == 2


# --- issue 9, defect 4: each data problem named for what it is, before any job ------------------------------


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATA_BUCKET)
        yield client


def upload(s3: Any, body: bytes, key: str = "data/demo/train.csv") -> Any:
    s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
    request = run_request()
    dataset = request.dataset.model_copy(update={"prefix": key, "uri": f"s3://{DATA_BUCKET}/{key}"})
    return request.model_copy(update={"dataset": dataset})


def wide_rows(n: int, width: int) -> bytes:
    return b"".join(f"{i % 2},".encode() + b",".join([b"0.123456"] * width) + b"\n" for i in range(n))


def test_rows_longer_than_the_sample_are_read_whole(s3):
    # Given rows of about 90 KiB each (XGBoost's CSV reader has no row limit)
    body = wide_rows(6, 10_000)
    assert len(body.split(b"\n", 1)[0]) > SAMPLE_BYTES
    request = upload(s3, body)
    # When the sample is read, the read grows until whole rows are in
    sample = read_sample(request.dataset, s3, content_type="text/csv")
    # Then the rows are seen, with their columns, and the problem inferred from them
    assert sample.rows >= 1 and sample.columns == 10_001
    assert infer_problem(sample)[0] == ProblemType.BINARY


def test_a_first_row_beyond_the_bound_is_said_as_such(s3):
    request = upload(s3, b"1," + b"0.5," * (MAX_ROW_BYTES // 4 + 10) + b"1\n0,1\n")
    with pytest.raises(DatasetError, match="row 1 is longer than 8 MiB"):
        read_sample(request.dataset, s3, content_type="text/csv")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # a header: line 1 non-numeric where line 2 has numbers
        ("label,a,b\n0,1,2\n1,2,3\n", "line 1 looks like a header row"),
        ("y,a\nyes,1\nno,2\n", "line 1 looks like a header row"),
        # non-numeric labels: named, with the value
        ("yes,1,2\nno,2,3\nyes,3,4\n", "line 1: the label (column 1) is 'yes', not a number"),
        ("0,1,2\ncat,2,3\n", "line 2: the label (column 1) is 'cat', not a number"),
        # other separators: said as such
        ("0;1;2\n1;2;3\n", "separated by semicolons, not commas"),
        ("0;1,5;2,5\n1;2,5;3,5\n", "separated by semicolons, not commas"),
        ("label;a;b\n0;1;2\n", "separated by semicolons, not commas"),
        ("0\t1\t2\n1\t2\t3\n", "separated by tabs, not commas"),
        # features that XGBoost refuses, with line, column and value
        ("0,1,2\n1,inf,3\n", "line 2 column 2: 'inf' is infinite"),
        ("0,1,2\n1,2,-Infinity\n", "line 2 column 3: '-Infinity' is infinite"),
        ("0,1,2\n1,1e39,3\n", "line 2 column 2: '1e39' is too large"),
        ("0,1,2\n1,2,abc\n", "line 2 column 3: 'abc' is not a number"),
        # ragged rows, at the user's line (blank lines counted)
        ("0,1,2\n\n1,2,3,4\n", "line 3 has 4 columns, line 1 has 3"),
    ],
)
def test_each_csv_problem_is_named_for_what_it_is(raw, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        sample(raw)


def test_nan_and_empty_features_are_missing_values_not_errors():
    # XGBoost reads both as missing (its default `missing` is NaN)
    assert sample("0,nan,2\n1,,3\n0,NaN,1\n").rows == 3


def test_rows_at_the_end_are_located_by_byte_when_their_line_is_unknown(s3):
    body = b"".join(f"{i % 2},{i},{i % 3}\n".encode() for i in range(20_000)) + b"1,2,inf\n"
    request = upload(s3, body)
    with pytest.raises(DatasetError, match=r"the row at byte \d+ column 3: 'inf' is infinite"):
        read_sample(request.dataset, s3, content_type="text/csv")


@pytest.mark.parametrize(
    ("key", "body", "compression", "message", "field"),
    [
        ("data/demo/t.csv", b"0,1\n1,2\n", "Gzip", "data.compression is Gzip but", "data.compression"),
        ("data/demo/t.csv.gz", b"0,1\n1,2\n", "Gzip", "data.compression is Gzip but", "data.compression"),
        ("data/demo/t.csv.gz", b"0,1\n1,2\n", "None", "is named .gz but is not gzip-compressed", "dataset"),
        ("data/demo/t.csv", gzip.compress(b"0,1\n1,2\n"), "None", "gzip-compressed but the config", "data.compression"),
        ("data/demo/t.csv.gz", gzip.compress(b"0,1\n1,2\n" * 100)[:-12], "Gzip", "ends early", "dataset"),
        ("data/demo/t.csv.gz", b"\x1f\x8bnot really gzip", "Gzip", "not valid gzip data", "dataset"),
    ],
)
def test_compression_that_does_not_match_the_data_is_refused_before_any_job(s3, key, body, compression, message, field):
    request = upload(s3, body, key)
    with pytest.raises(DatasetError, match=re.escape(message)) as caught:
        read_sample(request.dataset, s3, content_type="text/csv", compression=compression)
    assert caught.value.field == field
    assert caught.value.fix


def test_gzip_data_is_sampled(s3):
    request = upload(s3, gzip.compress(b"0,1,2\n1,2,3\n"), "data/demo/t.csv.gz")
    s = read_sample(request.dataset, s3, content_type="text/csv", compression="Gzip")
    assert (s.rows, s.columns, s.whole) == (2, 3, True)


def plan_for(s3: Any, body: bytes, **overrides: Any) -> Any:
    cfg = config(**overrides)
    request = upload(s3, body).model_copy(
        update={"config": cfg.model_dump(mode="json", exclude_none=True), "config_hash": cfg.config_hash()}
    )
    return plan_training(request, cfg, region="us-east-1", s3=s3)


PLUS_MINUS = b"".join(f"{1 if i % 2 else -1},{i},{i % 3}\n".encode() for i in range(50))


def test_labels_minus_one_plus_one_are_refused_before_any_job(s3):
    # binary:logistic needs labels in [0, 1] ("label must be in [0,1] for logistic regression")
    with pytest.raises(DatasetError, match=re.escape("labels are -1/+1 in all 50 rows")) as caught:
        plan_for(s3, PLUS_MINUS)
    assert "binary:logistic needs 0/1" in str(caught.value)
    assert "map -1 to 0" in (caught.value.fix or "")
    with pytest.raises(DatasetError, match="-1/"):
        plan_for(s3, PLUS_MINUS, problem={"type": "binary"})


def test_labels_minus_one_plus_one_train_as_regression_when_configured(s3):
    plan = plan_for(s3, PLUS_MINUS, problem={"type": "regression"})
    assert plan.problem_type == "regression"


def test_one_class_in_a_whole_file_is_refused_before_any_job(s3):
    with pytest.raises(DatasetError, match=r"has the label 1 .*needs rows of at least two classes"):
        plan_for(s3, b"".join(f"1,{i},{i % 3}\n".encode() for i in range(50)))


def test_one_class_in_a_sample_of_a_larger_file_is_left_to_the_split(s3):
    # the sample cannot know the rows it has not read: the split, which reads them all, decides
    body = b"".join(f"1,{i},{i % 3}\n".encode() for i in range(30_000))
    assert plan_for(s3, body).problem_type == "binary"


def test_a_configured_binary_problem_still_explains_other_labels(s3):
    with pytest.raises(ConfigInvalid, match=r"problem\.type is binary"):
        plan_for(s3, b"0,1\n2,2\n1,3\n", problem={"type": "binary"})
