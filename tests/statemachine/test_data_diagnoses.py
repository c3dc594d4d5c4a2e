"""Data problems only a job can see (they lie beyond the sampled head and tail), on the real pipeline: the split,
which reads every row before it shuffles, names them at the user's file and line, and nothing trains."""

from __future__ import annotations

import pytest


def _beyond_the_sample(i: int, bad: str) -> str:
    """Row i of a 20,000-row CSV (about 250 KiB): row 10,000 is in neither 64 KiB the sample reads."""
    return f"{i % 2},{i},{i % 3}" if i != 10_000 else bad


@pytest.mark.parametrize(
    ("project", "bad", "label", "expected"),
    [
        ("ragged-late", "1,10000,1,9", None, "file ragged.csv line 10001 has 4 columns, file ragged.csv line 1 has 3"),
        ("oneclass-late", "1,10000,1", 1, "every one of the 20000 rows has the label 1"),
    ],
)
def test_a_problem_beyond_the_sample_is_reported_by_the_split_at_the_users_line(
    trainops_cloud, tmp_path, project, bad, label, expected
):
    app = trainops_cloud
    # Given a file whose problem lies beyond the sampled head and tail
    rows = [_beyond_the_sample(i, bad) for i in range(20_000)]
    if label is not None:
        rows = [f"{label}{row[row.index(',') :]}" for row in rows]
    data = tmp_path / "ragged.csv"
    data.write_text("\n".join(rows) + "\n")
    # When it is uploaded
    summary = app.run(project, data, None, timeout=300)
    # Then the split, which reads every row before shuffling, names the user's file and line; nothing trains
    assert summary.status == "FAILED"
    assert summary.error == "ProcessingJobFailed"
    assert expected in summary.cause
    assert "Traceback" not in summary.cause
    assert not summary.training_jobs
