"""Structured logs: the package's one Powertools Logger, and the keys every line of an invocation carries.

Every module logs through ``logging.getLogger(__name__)``: ``trainops.<module>`` is a child of the ``trainops``
logger Powertools configures, so its lines come out as the same JSON, with the same keys (docs/operations.md,
"Reading the logs"). Per-invocation keys are kept per thread (Powertools' ``thread_safe_*`` keys): on Lambda a
process serves one invocation at a time, but the local cloud runs several at once in one process, and a run id
must never be printed on another run's line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aws_lambda_powertools import Logger


class _Stdout(logging.StreamHandler):
    """Writes each line to ``sys.stdout`` as it is when the line is written, as ``print`` does (and the metric lines
    are printed): a handler that kept the stream of import time would bypass whatever captures the process's output
    later (the local cloud's per-invocation log capture, a test's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


# POWERTOOLS_LOG_LEVEL (template: INFO) sets the level
logger = Logger(service="trainops", logger_handler=_Stdout())

# on every line once known: the run, its project, the Step Functions execution that runs it
RUN_KEYS = ("run_id", "project", "execution")


def bind(**keys: object) -> None:
    """Add ``keys`` (the ones that are set) to every line this invocation logs from now on."""
    given = {name: value for name, value in keys.items() if value is not None and value != ""}
    if given:
        logger.thread_safe_append_keys(**given)


def start_invocation(step: str, event: Any) -> None:
    """Forget the previous invocation's keys; bind the step, the run keys the event carries and the correlation id:
    the execution name (one id across every function a run invokes), else the EventBridge event id."""
    logger.thread_safe_clear_keys()
    keys = run_keys(event)
    bind(step=step, **keys, correlation_id=keys.get("execution") or _event_id(event))


def run_keys(event: Any) -> dict[str, str]:
    """run_id, project and execution from the payloads the state machine passes: ``request`` (every task after
    NormalizeRequest), ``state.request`` (FinishRun, RecordFailure), ``automl`` (DescribeAutoML) and the
    ``execution`` name that NormalizeRequest and RecordFailure get from the context object."""
    if not isinstance(event, dict):
        return {}
    state = event.get("state")
    found: dict[str, str] = {}
    for source in (
        event.get("request"),
        state.get("request") if isinstance(state, dict) else None,
        event.get("automl"),
    ):
        if isinstance(source, dict):
            found.update({k: str(source[k]) for k in RUN_KEYS if source.get(k) and k not in found})
    if isinstance(event.get("execution"), str) and event["execution"]:
        found.setdefault("execution", event["execution"])
    return found


def _event_id(event: Any) -> str | None:
    """An EventBridge event's id (SageMaker state change, S3 config upload, the reconciler's schedule)."""
    if isinstance(event, dict) and "detail-type" in event and isinstance(event.get("id"), str):
        return str(event["id"])
    return None


def log_error(exc: Exception) -> None:
    """The error a step raises, before it reaches Lambda (and Step Functions' Retry/Catch): its type, and for a
    trainops error the input it names (``field``) and what to do (``fix``)."""
    field, fix = getattr(exc, "field", None), getattr(exc, "fix", None)
    logger.error(
        f"{type(exc).__name__}: {exc}",
        extra={"error": type(exc).__name__, "field": field, "fix": fix},
        exc_info=field is None and fix is None,  # a typed error explains itself; anything else gets its traceback
    )


def decision(kind: str, message: str, **details: object) -> None:
    """The one line a step logs at each decision it takes, with ``decision`` = ``kind`` (docs/operations.md lists
    them) and the details that explain it."""
    extra = {"decision": kind, **{name: value for name, value in details.items() if value is not None}}
    logger.info(message, stacklevel=3, extra=extra)


def job_started(kind: str, name: str, *, adopted: bool) -> None:
    """A launching step's decision: the job it created, or the one a retried task found and adopted."""
    if adopted:
        message = f"adopted the existing {kind} job {name}: a retried task found it already created"
    else:
        message = f"created the {kind} job {name}"
    logger.info(message, stacklevel=2, extra={"decision": "job_adopted" if adopted else "job_created", "job": name})
