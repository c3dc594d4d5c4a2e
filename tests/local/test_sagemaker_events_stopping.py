"""The local SageMaker's one state-change emitter (sagemaker/events.py) and one stop routine (sagemaker/stopping.py).

End to end (a real job stopped through boto3, its events on the local bus) they are exercised by
test_training_backend.py, test_processing_engine.py and test_tuning_local.py; here their contracts, directly.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from moto.sagemaker.exceptions import ValidationError
from trainops_local.sagemaker import backend, stopping, tuning
from trainops_local.sagemaker.events import (
    DETAIL_TYPES,
    StateChangeEmitter,
    state_change_entry,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1"


def test_the_detail_types_are_sagemakers_and_stay_importable_where_they_were() -> None:
    assert DETAIL_TYPES == {
        "training": "SageMaker Training Job State Change",
        "processing": "SageMaker Processing Job State Change",
        "tuning": "SageMaker HyperParameter Tuning Job State Change",
    }
    assert DETAIL_TYPES["training"] == backend.TRAINING_DETAIL_TYPE
    assert DETAIL_TYPES["processing"] == backend.PROCESSING_DETAIL_TYPE
    assert DETAIL_TYPES["tuning"] == tuning.TUNING_DETAIL_TYPE


def test_an_entry_carries_the_describe_response_with_epoch_millisecond_times() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    describe = {"TrainingJobName": "job-1", "CreationTime": when, "SecondaryStatusTransitions": [{"StartTime": when}]}
    entry = state_change_entry("training", describe, ARN)
    assert entry["Source"] == "aws.sagemaker"
    assert entry["DetailType"] == "SageMaker Training Job State Change"
    assert entry["Resources"] == [ARN]
    detail = json.loads(entry["Detail"])
    millis = int(when.timestamp() * 1000)
    assert detail == {
        "TrainingJobName": "job-1",
        "CreationTime": millis,
        "SecondaryStatusTransitions": [{"StartTime": millis}],
    }


class RecordingEvents:
    """An EventBridge client that records what it is sent; fails the entries named in ``refuse``."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.refuse = refuse or set()
        self.threads: set[str] = set()

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.threads.add(threading.current_thread().name)
        (entry,) = Entries
        if json.loads(entry["Detail"])["Name"] in self.refuse:
            raise RuntimeError("refused")
        self.sent.append(entry)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


def test_the_emitter_sends_in_order_from_one_thread_and_a_failed_send_is_logged_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = RecordingEvents(refuse={"b"})
    emitter = StateChangeEmitter(lambda: client)
    describe = {"Name": "a"}
    emitter.emit("processing", describe, ARN)
    describe["Name"] = "changed later"  # the detail is the snapshot taken at emit time
    emitter.emit("tuning", {"Name": "b"}, ARN)
    emitter.emit("training", {"Name": "c"}, ARN)
    emitter.flushed().result(timeout=30)
    emitter.shutdown(wait=True)
    assert [(e["DetailType"], json.loads(e["Detail"])["Name"]) for e in client.sent] == [
        ("SageMaker Processing Job State Change", "a"),
        ("SageMaker Training Job State Change", "c"),
    ]
    assert len(client.threads) == 1
    assert "could not emit SageMaker HyperParameter Tuning Job State Change" in caplog.text


def test_stopping_refuses_a_missing_job_with_sagemakers_message_per_kind() -> None:
    with pytest.raises(ValidationError, match=r"Could not find training job 'arn:aws:sagemaker:.*:training-job/j'"):
        stopping.check_stoppable("training", "j", None, "arn:aws:sagemaker:us-east-1:1:training-job/j")
    with pytest.raises(ValidationError, match="Could not find processing job 'arn:p'"):
        stopping.check_stoppable("processing", "p", None, "arn:p")
    with pytest.raises(ValidationError, match="Could not find hyper parameter tuning job 't'"):
        stopping.check_stoppable("tuning", "t", None, "arn:t")


@pytest.mark.parametrize(
    ("kind", "record", "message"),
    [
        ("training", SimpleNamespace(training_job_status="Completed"), "the training job is in status Completed"),
        ("processing", SimpleNamespace(processing_job_status="Stopping"), "processing job is in status Stopping"),
        ("tuning", SimpleNamespace(hyper_parameter_tuning_job_status="Failed"), "tuning job is in status Failed"),
    ],
)
def test_stopping_refuses_a_job_that_is_not_in_progress(kind: Any, record: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        stopping.stop_job(kind, "x", record, arn="arn:x", emit=pytest.fail, signal=pytest.fail)


def test_stopping_marks_stopping_then_emits_then_signals() -> None:
    record = SimpleNamespace(training_job_status="InProgress", secondary_status="Training", last_modified_time=None)
    seen: list[tuple[str, str, str]] = []
    stopping.stop_job(
        "training",
        "j",
        record,
        arn="arn:j",
        emit=lambda: seen.append(("emit", record.training_job_status, record.secondary_status)),
        signal=lambda: seen.append(("signal", record.training_job_status, record.secondary_status)),
    )
    assert seen == [("emit", "Stopping", "Stopping"), ("signal", "Stopping", "Stopping")]
    assert record.last_modified_time is not None
    processing = SimpleNamespace(processing_job_status="InProgress", last_modified_time=None)
    stopping.stop_job("processing", "p", processing, arn="arn:p", emit=lambda: None, signal=lambda: None)
    assert processing.processing_job_status == "Stopping"
    assert not hasattr(processing, "secondary_status")
