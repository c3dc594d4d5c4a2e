"""The sparse ``to-reconcile`` index: only waiting task tokens and held run slots are in it, and the reconciler
reads it with Query, never Scan (its role has no dynamodb:Scan)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from trainops.ledger import RECONCILE_SLOTS, RECONCILE_TOKENS, Ledger
from trainops.reconcile import held_slots, reconcile, waiting_tokens

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _NoScan:
    """The DynamoDB client as the reconciler's role sees it: Scan is not allowed."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def scan(self, **_: Any) -> Any:
        raise AssertionError("the reconciler scanned the table")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def ledger(runs_table):
    return Ledger("runs", _NoScan(runs_table))


def test_a_token_is_in_the_index_while_it_waits(ledger):
    # Given two tokens stored, one of them answered
    ledger.store_token("trainops-a-train", "training", "tok-a", "run-a")
    ledger.store_token("trainops-b-train", "training", "tok-b", "run-b")
    assert ledger.claim_token("trainops-a-train", "Completed")
    # Then only the waiting one is listed, and the answered one left the index (not only filtered out)
    assert [t["pk"] for t in waiting_tokens(ledger)] == ["JOB#trainops-b-train"]
    assert [t["pk"] for t in ledger.to_reconcile(RECONCILE_TOKENS)] == ["JOB#trainops-b-train"]
    assert ledger.get_token("trainops-a-train")["status"] == "ANSWERED"


def test_a_slot_is_in_the_index_while_it_is_held(ledger):
    assert ledger.claim_slot("churn", "run-1", "exec-1")
    assert ledger.claim_slot("fraud", "run-2", "exec-2")
    assert ledger.hand_over_slot("fraud", "run-2", "run-3", "run-3", "{}")
    assert sorted((s["project"], s["holder"]) for s in held_slots(ledger)) == [("churn", "run-1"), ("fraud", "run-3")]
    assert ledger.release_slot("churn", "run-1")
    assert [s["project"] for s in ledger.to_reconcile(RECONCILE_SLOTS)] == ["fraud"]


def test_runs_uploads_and_locks_are_never_in_the_index(ledger):
    ledger.start_run("run-1", "churn", "exec-1", {})
    ledger.record_request("churn", "run-1", "exec-1", {})
    ledger.put_pending("churn", "run-1", {})
    assert ledger.acquire_lock("churn", "run-1")
    ledger.record_config(
        "churn", "config/churn.yaml", {"status": "CONFIG_ACCEPTED"}, uploaded_at="2026-12-02T10:00:00Z", sequencer="1"
    )
    assert ledger.to_reconcile(RECONCILE_TOKENS) == [] and ledger.to_reconcile(RECONCILE_SLOTS) == []


class _SageMaker:
    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ValidationException", "Message": "not found"}}, "DescribeTrainingJob")


def test_the_reconciler_closes_an_orphaned_token_from_the_index_without_scanning(ledger):
    # Given a token whose job was never created, stored more than an hour ago
    ledger.store_token("trainops-gone-train", "training", "tok", "run-1")
    later = datetime.now(UTC) + timedelta(hours=2)
    # When the reconciler runs (its DynamoDB client refuses Scan)
    outcome = reconcile(ledger=ledger, sfn=None, sagemaker=_SageMaker(), now=later)
    # Then the token is closed and gone from the index
    assert outcome["orphaned"] == ["trainops-gone-train"]
    assert waiting_tokens(ledger) == []


class _OneDenied:
    """SageMaker as a role sees it that may describe one job and not the other (or is throttled on it)."""

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if TrainingJobName == "trainops-denied-train":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeTrainingJob")
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{TrainingJobName}"
        return {"TrainingJobName": TrainingJobName, "TrainingJobArn": arn, "TrainingJobStatus": "Completed"}


class _Sfn:
    def __init__(self) -> None:
        self.succeeded: list[str] = []

    def send_task_success(self, taskToken: str, output: str) -> None:
        self.succeeded.append(taskToken)


def test_one_job_that_cannot_be_described_does_not_keep_the_others_unanswered(ledger):
    # Given two waiting tokens, the first one's job cannot be described (access denied)
    ledger.store_token("trainops-denied-train", "training", "tok-denied", "run-1")
    ledger.store_token("trainops-done-train", "training", "tok-done", "run-2")
    sfn = _Sfn()
    # When the reconciler runs, Then it still answers the other run, and fails at the end with the typed error
    from trainops.errors import TrainopsError

    with pytest.raises(TrainopsError, match="describing trainops-denied-train"):
        reconcile(ledger=ledger, sfn=sfn, sagemaker=_OneDenied())
    assert sfn.succeeded == ["tok-done"]
    assert [t["pk"] for t in waiting_tokens(ledger)] == ["JOB#trainops-denied-train"]


class _ThrottledOnAnswer:
    """DescribeTrainingJob answers the reconciler's first describe of a job, then is throttled (the answer's own
    describe, inside callbacks.answer, raises the raw ClientError)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls[TrainingJobName] = self.calls.get(TrainingJobName, 0) + 1
        if TrainingJobName == "trainops-throttled-train" and self.calls[TrainingJobName] > 1:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "DescribeTrainingJob")
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{TrainingJobName}"
        return {"TrainingJobName": TrainingJobName, "TrainingJobArn": arn, "TrainingJobStatus": "Completed"}


def test_a_raw_aws_error_while_answering_one_run_does_not_keep_the_others_unanswered(ledger):
    ledger.store_token("trainops-throttled-train", "training", "tok-throttled", "run-1")
    ledger.store_token("trainops-fine-train", "training", "tok-fine", "run-2")
    sfn = _Sfn()
    from trainops.errors import AwsThrottled

    with pytest.raises(AwsThrottled, match="trainops-throttled-train"):
        reconcile(ledger=ledger, sfn=sfn, sagemaker=_ThrottledOnAnswer())
    assert sfn.succeeded == ["tok-fine"]
