import pytest
from trainops.config import ProblemType
from trainops.errors import DatasetError
from trainops.inference import infer_problem, parse_sample


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
