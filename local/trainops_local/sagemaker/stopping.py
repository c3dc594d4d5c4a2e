"""The local SageMaker's one stop routine: StopTrainingJob, StopProcessingJob, StopHyperParameterTuningJob.

``stop_job`` refuses a job it cannot find, or one not InProgress, with a ValidationException (SageMaker's
message for that kind of job), then ``begin_stop`` marks it Stopping (its status and LastModifiedTime, and a
training job's SecondaryStatus), emits its state-change event and signals whatever runs it; the runner ends
the job Stopped once it has stopped. The job's own limits (MaxRuntimeInSeconds, MaxWaitTimeInSeconds, a
spot interruption) are not stop requests: the engine decides them (``types.JobStopped``) and reports them
in the job's outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.sagemaker.exceptions import ValidationError

from trainops_local.sagemaker.events import JobKind
from trainops_local.sagemaker.types import utcnow


@dataclass(frozen=True)
class StopRules:
    """How one kind of job is refused and marked: its record's status attributes and its error messages."""

    status_attr: str
    secondary_attr: str | None
    not_found: str  # str.format(name=..., arn=...)
    rejected: str  # str.format(status=...)


RULES: dict[JobKind, StopRules] = {
    "training": StopRules(
        "training_job_status",
        "secondary_status",
        "Could not find training job '{arn}'.",
        "The request was rejected because the training job is in status {status}.",
    ),
    "processing": StopRules(
        "processing_job_status",
        None,
        "Could not find processing job '{arn}'.",
        "The request was rejected because the processing job is in status {status}.",
    ),
    "tuning": StopRules(
        "hyper_parameter_tuning_job_status",
        None,
        "Could not find hyper parameter tuning job '{name}'.",
        "The hyperparameter tuning job is in status {status}.",
    ),
}


def check_stoppable(kind: JobKind, name: str, record: Any | None, arn: str) -> Any:
    """``record`` if its job can be stopped; else SageMaker's ValidationException (no such job, not InProgress)."""
    rules = RULES[kind]
    if record is None:
        raise ValidationError(message=rules.not_found.format(name=name, arn=arn))
    status = getattr(record, rules.status_attr)
    if status != "InProgress":
        raise ValidationError(message=rules.rejected.format(status=status))
    return record


def begin_stop(kind: JobKind, record: Any, *, emit: Callable[[], None], signal: Callable[[], None]) -> None:
    """Mark the job Stopping, emit its state-change event, then ``signal`` its runner to stop."""
    rules = RULES[kind]
    setattr(record, rules.status_attr, "Stopping")
    if rules.secondary_attr is not None:
        setattr(record, rules.secondary_attr, "Stopping")
    record.last_modified_time = utcnow()
    emit()
    signal()


def stop_job(
    kind: JobKind, name: str, record: Any | None, *, arn: str, emit: Callable[[], None], signal: Callable[[], None]
) -> None:
    """The Stop* action of a ``kind`` job: ``check_stoppable``, then ``begin_stop``."""
    begin_stop(kind, check_stoppable(kind, name, record, arn), emit=emit, signal=signal)
