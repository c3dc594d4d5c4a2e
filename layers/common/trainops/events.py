"""The AWS events trainops reacts to, as typed models: S3 ``Object Created`` (via EventBridge: a data upload starts
a run, a config upload syncs the project's schedule), a SageMaker job's state change, and the reconciler's
scheduled event. (The schedule's own input, ``{"trigger": "schedule", ...}``, is trainops' payload:
``trainops.triggers.ScheduleStart``.)

Small pydantic models of our own rather than Powertools' parser models (``S3EventNotificationEventBridgeModel``,
``EventBridgeModel``): with pydantic and Powertools already loaded, importing those added 22 ms of CPU (0.11x a
bare ``import boto3``) against 8 ms (0.04x) for this module (2026-12-03, min of 9 fresh interpreters), in handlers
already over their 1.5x budget (benchmarks/cold_start.py). These read the fields trainops uses and let AWS
add others (``extra="ignore"``: AWS owns these payloads); the envelope's fields are the EventBridge event structure
(https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html), the S3 detail is S3's
EventBridge ``Object Created`` detail (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainops.errors import InvalidEvent

NonEmpty = Annotated[str, Field(min_length=1)]


class _AwsPayload(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True, frozen=True)


class EventBridgeEvent(_AwsPayload):
    """The envelope every EventBridge event has."""

    id: str | None = None
    source: str
    detail_type: str = Field(alias="detail-type")
    time: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class S3Bucket(_AwsPayload):
    name: NonEmpty


class S3Object(_AwsPayload):
    # EventBridge carries the key as stored: it is NOT URL-decoded (decoding would turn '+' into ' ')
    key: NonEmpty
    size: int | None = None
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class S3ObjectCreatedDetail(_AwsPayload):
    bucket: S3Bucket
    object: S3Object


class S3ObjectCreated(EventBridgeEvent):
    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: S3ObjectCreatedDetail  # type: ignore[assignment]  # the envelope's detail, typed


class SageMakerStateChange(EventBridgeEvent):
    """A SageMaker event; its ``detail`` depends on the ``detail-type`` (trainops.jobs.JOB_KINDS reads it)."""

    source: Literal["aws.sagemaker"]


class ScheduledEvent(EventBridgeEvent):
    """What an EventBridge schedule rule (the reconciler's, every 15 minutes) sends; its detail is empty."""

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


def parse[Model: BaseModel](model: type[Model], event: Any, *, what: str, fix: str) -> Model:
    """``event`` as ``model``; InvalidEvent naming the first field that does not fit (``detail.object.key is
    missing``) and the fix."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(event)"
        problem = "is missing" if err["type"] == "missing" else f": {err['msg']}"
        raise InvalidEvent(f"{what}: {field} {problem}".replace(" :", ":"), field=field, fix=fix) from exc
