"""What one upload costs in AWS calls: a duplicate is decided by one conditional write, a failed slot claim
brings the slot that stopped it, a file's HEAD also gives its time, and a config is parsed once per container.

Each call saved is a round trip (and for the reads, read capacity) saved on AWS too."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trainops import coalescing, triggers
from trainops.ledger import Ledger

from tests.helpers import DATA_BUCKET, csv_rows

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class Counting:
    """A boto3 client that counts the API calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name.startswith(("get_", "put_", "update_", "delete_", "query", "head_", "list_", "describe_", "batch_")):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls[name] += 1
                return attr(*args, **kwargs)

            return counted
        return attr


@pytest.fixture
def ddb(runs_table):
    return Counting(runs_table)


def test_a_duplicate_delivery_is_decided_by_one_conditional_write(ddb):
    ledger = Ledger("runs", ddb)
    assert ledger.record_request("demo", "20260101T000000-aaaa", "exec-1", {"key": "data/demo/a.csv"}) is None
    ddb.calls.clear()
    existing = ledger.record_request("demo", "20260101T000000-aaaa", "exec-2", {"key": "data/demo/a.csv"})
    # the failed write returned the record that stopped it: no GetItem
    assert dict(ddb.calls) == {"put_item": 1}
    assert existing is not None
    assert existing["execution"] == "exec-1"
    assert existing["key"] == "data/demo/a.csv"


def test_the_same_execution_retrying_is_not_a_duplicate(ddb):
    ledger = Ledger("runs", ddb)
    assert ledger.record_request("demo", "20260101T000000-aaaa", "exec-1", {}) is None
    assert ledger.record_request("demo", "20260101T000000-aaaa", "exec-1", {}) is None


def test_a_failed_claim_brings_the_slot_that_stopped_it(ddb):
    ledger = Ledger("runs", ddb)
    assert ledger.try_claim_slot("demo", "run-a", "exec-a") == (True, None)
    ddb.calls.clear()
    claimed, slot = ledger.try_claim_slot("demo", "run-b", "exec-b")
    assert not claimed
    assert slot is not None
    assert (slot["holder"], slot["execution"]) == ("run-a", "exec-a")
    assert dict(ddb.calls) == {"put_item": 1}
    # the boolean form is unchanged
    assert not ledger.claim_slot("demo", "run-b", "exec-b")
    assert ledger.claim_slot("demo", "run-a", "exec-a")


def test_an_upload_waiting_for_a_running_run_reads_nothing(ddb):
    ledger = Ledger("runs", ddb)
    assert ledger.claim_slot("demo", "20260101T000000-aaaa", "exec-a")
    ddb.calls.clear()
    outcome, slot = coalescing.admit(
        ledger,
        project="demo",
        run_id="20260101T000001-bbbb",
        execution="exec-b",
        upload={"trigger": "s3", "dataset_uri": "s3://b/data/demo/b.csv", "version_id": None, "key": "b.csv"},
        policy="coalesce",
        state_machine_arn=None,  # holder_ended needs Step Functions; not asked here
        sfn=None,
    )
    assert outcome == "waiting"
    assert slot is not None
    assert slot["holder"] == "20260101T000000-aaaa"
    # record (as pending), pending, claim (failed: the slot came with it): three writes, nothing else
    assert dict(ddb.calls) == {"put_item": 3}
    assert ledger.get_request("demo", "20260101T000001-bbbb")["status"] == "pending"
    assert [p["run_id"] for p in ledger.pending("demo")] == ["20260101T000001-bbbb"]


def test_covered_uploads_leave_the_pending_set_25_per_call(ddb):
    ledger = Ledger("runs", ddb)
    run_ids = [f"20260101T0000{i:02d}-aaaa" for i in range(60)]
    for run_id in run_ids:
        ledger.put_pending("demo", run_id, {"key": run_id})
    ddb.calls.clear()
    ledger.drop_pending_many("demo", run_ids[:55])
    assert dict(ddb.calls) == {"batch_write_item": 3}  # 25 + 25 + 5
    assert [p["run_id"] for p in ledger.pending("demo")] == run_ids[55:]


class Unprocessing:
    """A table that leaves the first ``times`` BatchWriteItem requests unprocessed, as DynamoDB may under load."""

    def __init__(self, client: Any, times: int) -> None:
        self.client, self.times, self.calls = client, times, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.times:
            return {"UnprocessedItems": kwargs["RequestItems"]}
        return self.client.batch_write_item(**kwargs)


def test_unprocessed_deletes_are_sent_again_then_throttled(runs_table, monkeypatch):
    from trainops import ledger as ledger_module
    from trainops.errors import AwsThrottled

    monkeypatch.setattr(ledger_module.time, "sleep", lambda _s: None)
    flaky = Unprocessing(runs_table, times=2)
    ledger = Ledger("runs", flaky)
    ledger.put_pending("demo", "20260101T000000-aaaa", {})
    ledger.drop_pending_many("demo", ["20260101T000000-aaaa"])
    assert flaky.calls == 3 and ledger.pending("demo") == []
    stuck = Ledger("runs", Unprocessing(runs_table, times=99))
    stuck.put_pending("demo", "20260101T000001-bbbb", {})
    with pytest.raises(AwsThrottled, match="1 pending uploads of demo unprocessed"):
        stuck.drop_pending_many("demo", ["20260101T000001-bbbb"])


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATA_BUCKET)
        yield Counting(client)


def _event(key: str) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": "2020-01-01T00:00:00Z",  # not the object's time: the run id must take the object's
        "detail": {"bucket": {"name": DATA_BUCKET}, "object": {"key": key, "size": 100, "sequencer": "0A1B"}},
    }


def test_a_file_upload_is_inspected_and_timed_by_one_head(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/train.csv", Body=csv_rows())
    written = s3.head_object(Bucket=DATA_BUCKET, Key="data/demo/train.csv")["LastModified"]
    s3.calls.clear()
    request, _ = triggers.normalize(
        _event("data/demo/train.csv"), execution="e", start_time=None, data_bucket=DATA_BUCKET, s3=s3
    )
    assert s3.calls["head_object"] == 1
    assert request.run_id.startswith(written.strftime("%Y%m%dT%H%M%S"))


def test_a_dataset_marker_still_gives_the_markers_time(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/ds1/part-0.csv", Body=csv_rows())
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/ds1/_READY", Body=b"")
    written = s3.head_object(Bucket=DATA_BUCKET, Key="data/demo/ds1/_READY")["LastModified"]
    request, _ = triggers.normalize(
        _event("data/demo/ds1/_READY"), execution="e", start_time=None, data_bucket=DATA_BUCKET, s3=s3
    )
    assert request.run_id.startswith(written.strftime("%Y%m%dT%H%M%S"))


CONFIG = b"project: demo\nproblem: {type: binary}\n"


def test_a_config_is_parsed_once_and_never_shared(s3, monkeypatch):
    s3.put_object(Bucket=DATA_BUCKET, Key="config/demo.yaml", Body=CONFIG)
    triggers._parsed_config.cache_clear()
    parsed = Counter[str]()
    original = triggers.load_config_text

    def counting(text: Any, **kwargs: Any) -> Any:
        parsed["n"] += 1
        return original(text, **kwargs)

    monkeypatch.setattr(triggers, "load_config_text", counting)
    first, _ = triggers.load_project_config(DATA_BUCKET, "demo", s3)
    second, _ = triggers.load_project_config(DATA_BUCKET, "demo", s3)
    assert parsed["n"] == 1
    assert s3.calls["get_object"] == 2  # still read every time: a changed config is seen at once
    assert first == second
    assert first is not second
    first.problem.type = "regression"  # a caller changing its copy changes nobody else's
    assert triggers.load_project_config(DATA_BUCKET, "demo", s3)[0].problem.type == "binary"


def test_a_changed_config_is_parsed_again(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="config/demo.yaml", Body=CONFIG)
    assert triggers.load_project_config(DATA_BUCKET, "demo", s3)[0].problem.type == "binary"
    s3.put_object(Bucket=DATA_BUCKET, Key="config/demo.yaml", Body=CONFIG.replace(b"binary", b"regression"))
    assert triggers.load_project_config(DATA_BUCKET, "demo", s3)[0].problem.type == "regression"


def _admit(ledger: Ledger, execution: str, policy: str = "coalesce") -> tuple[str, Any]:
    upload = {"trigger": "s3", "dataset_uri": "s3://b/data/demo/b.csv", "version_id": None, "key": "b.csv"}
    return coalescing.admit(
        ledger,
        project="demo",
        run_id="20260101T000001-bbbb",
        execution=execution,
        upload=upload,
        policy=policy,  # type: ignore[arg-type]
        state_machine_arn=None,
        sfn=None,
    )


def test_a_retry_never_erases_the_run_that_covered_its_upload_meanwhile(ddb):
    # Given an upload that waited (NormalizeRequest's attempt 1), then was covered by the holder's follow-up
    ledger = Ledger("runs", ddb)
    assert ledger.claim_slot("demo", "20260101T000000-aaaa", "exec-a")
    assert _admit(ledger, "exec-b")[0] == "waiting"
    ledger.update_request("demo", "20260101T000001-bbbb", {"status": "covered", "covered_by": "follow-up-1"})
    ledger.drop_pending("demo", "20260101T000001-bbbb")
    # When the same execution's NormalizeRequest is retried
    outcome, record = _admit(ledger, "exec-b")
    # Then it starts nothing, and the record still names the run that covers it; nothing is pending again
    assert outcome == "covered" and record["covered_by"] == "follow-up-1"
    assert ledger.get_request("demo", "20260101T000001-bbbb")["covered_by"] == "follow-up-1"
    assert ledger.pending("demo") == []


def test_a_retry_of_an_upload_whose_own_run_started_still_runs(ddb):
    ledger = Ledger("runs", ddb)
    assert _admit(ledger, "exec-b") == ("run", None)  # the slot was free: its run started
    assert _admit(ledger, "exec-b") == ("run", None)  # retried: the same run, not a duplicate
    assert ledger.get_slot("demo")["holder"] == "20260101T000001-bbbb"
    assert ledger.get_request("demo", "20260101T000001-bbbb")["covered_by"] == "20260101T000001-bbbb"
    assert ledger.pending("demo") == []
    assert _admit(ledger, "exec-c")[0] == "duplicate"  # another execution's delivery still is one
