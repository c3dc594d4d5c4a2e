"""The run slot's hand-over when FinishRun (or FinishFailedRun) fails half-way and is retried, and when it never
finishes at all (ReconcileJobs): no upload is ever left covered by a follow-up run that was not started."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from trainops import coalescing
from trainops.errors import AwsThrottled
from trainops.ledger import Ledger

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:trainops-training-pipeline"


class Sfn:
    """StartExecution (the first ``fail`` calls throttled) and DescribeExecution over what it started."""

    def __init__(self, fail: int = 0) -> None:
        self.fail, self.started, self.status = fail, {}, {}

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        if self.fail:
            self.fail -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "StartExecution")
        if name in self.started:
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists", "Message": name}}, "StartExecution")
        self.started[name] = json.loads(input)
        self.status[name] = "RUNNING"
        return {"executionArn": coalescing.execution_arn(MACHINE, name)}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        name = executionArn.rsplit(":", 1)[1]
        if name not in self.status:
            raise ClientError({"Error": {"Code": "ExecutionDoesNotExist", "Message": name}}, "DescribeExecution")
        return {"status": self.status[name]}


@pytest.fixture
def ledger(runs_table: Any) -> Ledger:
    return Ledger("runs", runs_table)


def _waiting(ledger: Ledger, holder_execution: str = "exec-holder") -> tuple[str, list[str]]:
    """A run holding demo's slot and two uploads waiting for it."""
    holder = "20260101T000000-aaaa"
    assert ledger.claim_slot("demo", holder, holder_execution)
    waiting = ["20260101T000001-bbbb", "20260101T000002-cccc"]
    for run_id in waiting:
        upload = {"trigger": "s3", "dataset_uri": f"s3://b/data/demo/{run_id}.csv", "key": f"data/demo/{run_id}.csv"}
        ledger.record_request("demo", run_id, f"exec-{run_id}", {**upload, "status": "pending"})
        ledger.put_pending("demo", run_id, upload)
    return holder, waiting


def _finish(ledger: Ledger, holder: str, sfn: Sfn) -> dict[str, Any]:
    return coalescing.finish(
        ledger, project="demo", run_id=holder, policy="coalesce", state_machine_arn=MACHINE, sfn=sfn
    )


def _covered(ledger: Ledger, waiting: list[str]) -> set[str]:
    return {str((ledger.get_request("demo", r) or {}).get("covered_by")) for r in waiting}


def test_a_retry_after_the_follow_up_failed_to_start_starts_it_and_covers_the_uploads(ledger):
    holder, waiting = _waiting(ledger)
    sfn = Sfn(fail=1)
    # When FinishRun hands the slot over but StartExecution is throttled
    with pytest.raises(AwsThrottled):
        _finish(ledger, holder, sfn)
    # Then no upload is marked covered by a run that was not started
    assert _covered(ledger, waiting) == {"None"}
    # and the state machine's retry starts it and finishes the bookkeeping
    outcome = _finish(ledger, holder, sfn)
    assert outcome["retried"] and list(sfn.started) == [outcome["run_id"]]
    assert _covered(ledger, waiting) == {outcome["run_id"]}
    assert ledger.pending("demo") == []


def test_a_retry_after_the_pending_set_was_left_half_deleted_deletes_the_rest(ledger, monkeypatch):
    holder, _ = _waiting(ledger)
    sfn = Sfn()

    def throttled(*_: Any, **__: Any) -> None:
        raise AwsThrottled("unprocessed")

    with monkeypatch.context() as patch:
        patch.setattr(ledger, "drop_pending_many", throttled)
        with pytest.raises(AwsThrottled):
            _finish(ledger, holder, sfn)
    assert len(ledger.pending("demo")) == 2  # started, covered, but still pending
    outcome = _finish(ledger, holder, sfn)
    assert outcome["retried"] and ledger.pending("demo") == []
    assert len(sfn.started) == 1  # the retry did not start a second run


def test_a_retried_finish_failed_run_finds_the_slot_its_run_handed_over(ledger):
    # Given a run that failed at its first state while holding the slot, whose FinishFailedRun handed the slot
    # over and then failed (StartExecution throttled)
    holder, waiting = _waiting(ledger, holder_execution="exec-failed-early")
    sfn = Sfn(fail=1)
    kwargs = {"project": "demo", "execution": "exec-failed-early", "state_machine_arn": MACHINE, "sfn": sfn}
    with pytest.raises(AwsThrottled):
        coalescing.finish_for_execution(ledger, **kwargs)
    assert ledger.get_slot("demo")["execution"] != "exec-failed-early"  # held by the follow-up now
    # When the state machine retries it, Then it still recognises its run and starts the follow-up
    outcome = coalescing.finish_for_execution(ledger, **kwargs)
    assert outcome["action"] == "follow-up" and outcome["holder"] == holder
    assert _covered(ledger, waiting) == {outcome["run_id"]}


def test_the_reconciler_starts_a_handed_over_follow_up_that_never_started(ledger, monkeypatch):
    holder, waiting = _waiting(ledger)
    sfn = Sfn(fail=99)
    with pytest.raises(AwsThrottled):
        _finish(ledger, holder, sfn)
    slot = ledger.get_slot("demo")
    # When its start grace has passed and ReconcileJobs sweeps the slot
    monkeypatch.setattr(coalescing, "START_GRACE", coalescing.timedelta(seconds=-1))
    sfn.fail = 0
    assert coalescing.sweep(ledger, [slot], state_machine_arn=MACHINE, sfn=sfn) == ["demo"]
    # Then the follow-up is started (not finished on its behalf, which would free the slot with nothing run)
    assert list(sfn.started) == [slot["holder"]]
    assert ledger.get_slot("demo")["holder"] == slot["holder"]
    # and its uploads are covered by it, not left pending for a second, redundant follow-up
    assert _covered(ledger, waiting) == {slot["holder"]}
    assert ledger.pending("demo") == []
