"""The AWS events trainops reacts to, parsed by typed models (trainops.events; issue 13 item 7): the documented
shapes parse, AWS's extra fields are let through, and an event that does not fit is InvalidEvent naming the field
and the fix, never a KeyError or a silent default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trainops import callbacks
from trainops.errors import InvalidEvent
from trainops.events import S3ObjectCreated, ScheduledEvent, parse
from trainops.schedules import sync_from_config_event
from trainops.steps.common import Clients
from trainops.steps.reconcile_jobs import reconcile_jobs

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_the_sample_s3_event_parses_with_every_field_trainops_reads():
    # Given the S3 Object Created event as AWS documents it (events/s3_object_created.json, used by sam local)
    event = json.loads((EVENTS / "s3_object_created.json").read_text())
    created = parse(S3ObjectCreated, event, what="upload", fix="-")
    # Then the fields come out typed, the hyphenated ones by their AWS names
    assert (created.id, created.detail_type, created.time) == (event["id"], "Object Created", "2026-11-26T12:00:00Z")
    obj = created.detail.object
    assert (obj.key, obj.size, obj.version_id, obj.sequencer) == (
        "data/demo/breast_cancer.csv",
        119889,
        "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        "00617F08299329D189",
    )
    assert created.detail.bucket.name == "REPLACE-WITH-DATA-BUCKET"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e["detail"]["object"].pop("key"), "detail.object.key"),
        (lambda e: e["detail"]["object"].update(key=""), "detail.object.key"),
        (lambda e: e["detail"].pop("bucket"), "detail.bucket"),
        (lambda e: e["detail"]["object"].update(size="big"), "detail.object.size"),
        (lambda e: e.update(source="aws.ec2"), "source"),
        (lambda e: e.update({"detail-type": "Object Deleted"}), "detail-type"),
    ],
)
def test_an_s3_event_that_does_not_fit_names_its_field_and_the_fix(change: Any, field: str):
    event = json.loads((EVENTS / "s3_object_created.json").read_text())
    change(event)
    with pytest.raises(InvalidEvent) as info:
        parse(S3ObjectCreated, event, what="upload", fix="upload to the data bucket")
    assert info.value.field == field
    assert info.value.fix == "upload to the data bucket"
    assert field in str(info.value)


def test_a_config_event_outside_config_is_refused_by_field():
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "b"}, "object": {"key": "data/demo/x.csv"}},
    }
    with pytest.raises(InvalidEvent) as info:
        sync_from_config_event(event, settings=None, s3=None, scheduler=None)  # type: ignore[arg-type]
    assert info.value.field == "detail.object.key"
    assert info.value.fix


def test_sagemaker_events_are_read_through_the_model_and_others_ignored_with_the_reason():
    event = json.loads((EVENTS / "sagemaker_training_completed.json").read_text())
    kind, name, status = callbacks.parse_event(event)  # type: ignore[misc]
    assert (kind, status) == ("training", "Completed")
    assert name == event["detail"]["TrainingJobName"]
    assert callbacks.parse_event({"source": "aws.ec2", "detail-type": "x"}) == "not a SageMaker event"
    assert callbacks.parse_event(["not", "an", "event"]) == "not a SageMaker event"
    unnamed = {**event, "detail": {"TrainingJobStatus": "Completed"}}
    assert callbacks.parse_event(unnamed) == "event without detail.TrainingJobName/TrainingJobStatus"


def test_the_reconciler_takes_its_rules_scheduled_event_only():
    scheduled = {"id": "e1", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert parse(ScheduledEvent, scheduled, what="x", fix="-").id == "e1"
    # an invocation that is not the rule's is refused before the sweep reads anything
    with pytest.raises(InvalidEvent) as info:
        reconcile_jobs({}, settings=None, clients=Clients())  # type: ignore[arg-type]
    assert info.value.field == "source"
    assert "schedule rule" in str(info.value.fix)
