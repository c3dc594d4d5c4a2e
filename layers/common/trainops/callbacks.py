"""SageMaker job state change -> the waiting Step Functions task.

Duplicate events are harmless: a token answered once is marked, and a second answer to a closed token
(``TaskTimedOut``/``InvalidToken``) is ignored. Events for jobs no run waits for are ignored, not errors.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from trainops import logs
from trainops.aws import error_code, translate
from trainops.events import SageMakerStateChange
from trainops.jobs import BY_DETAIL_TYPE, JOB_KINDS, TERMINAL
from trainops.ledger import Ledger
from trainops.models import JobResult

log = logging.getLogger(__name__)

CLOSED_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


def describe_job(kind: str, name: str, sagemaker: Any) -> JobResult:
    """The trimmed Describe* response handed to the next state (well under the 256 KB limit)."""
    if kind == "training":
        d = sagemaker.describe_training_job(TrainingJobName=name)
        return JobResult(
            kind="training",
            job_name=name,
            job_arn=d["TrainingJobArn"],
            status=d["TrainingJobStatus"],
            failure_reason=d.get("FailureReason"),
            model_artifact=(d.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
            image=(d.get("AlgorithmSpecification") or {}).get("TrainingImage"),
            hyperparameters=d.get("HyperParameters") or {},
            final_metrics={m["MetricName"]: float(m["Value"]) for m in d.get("FinalMetricDataList", [])},
            details={"secondary_status": d.get("SecondaryStatus"), "training_seconds": d.get("TrainingTimeInSeconds")},
        )
    if kind == "processing":
        d = sagemaker.describe_processing_job(ProcessingJobName=name)
        # the split writes its diagnosis (file, line, what is wrong) to /opt/ml/output/message: SageMaker returns
        # it as ExitMessage, while FailureReason only says "AlgorithmError: See job logs for more information"
        exit_message = (d.get("ExitMessage") or "").strip()
        reason = d.get("FailureReason")
        return JobResult(
            kind="processing",
            job_name=name,
            job_arn=d["ProcessingJobArn"],
            status=d["ProcessingJobStatus"],
            failure_reason=exit_message or reason if d["ProcessingJobStatus"] != "Completed" else reason,
        )
    d = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    best = d.get("BestTrainingJob") or {}
    return JobResult(
        kind="tuning",
        job_name=name,
        job_arn=d["HyperParameterTuningJobArn"],
        status=d["HyperParameterTuningJobStatus"],
        failure_reason=d.get("FailureReason"),
        best_training_job=best.get("TrainingJobName"),
        details={
            "training_job_status_counters": d.get("TrainingJobStatusCounters", {}),
            "objective_status_counters": d.get("ObjectiveStatusCounters", {}),
        },
    )


def parse_event(event: Any) -> tuple[str, str, str] | str:
    """(kind, job name, status), or the reason the event is ignored."""
    try:
        change = SageMakerStateChange.model_validate(event)
    except ValidationError:
        return "not a SageMaker event"
    job_kind = BY_DETAIL_TYPE.get(change.detail_type)
    if job_kind is None:
        return f"detail-type {change.detail_type!r} is not a job state change trainops waits for"
    name, status = change.detail.get(job_kind.name_field), change.detail.get(job_kind.status_field)
    if not isinstance(name, str) or not name or not isinstance(status, str) or not status:
        return f"event without detail.{job_kind.name_field}/{job_kind.status_field}"
    return job_kind.kind, name, status


def handle_job_event(event: Any, *, ledger: Ledger, sfn: Any, sagemaker: Any) -> dict[str, Any]:
    outcome = _handle(event, ledger=ledger, sfn=sfn, sagemaker=sagemaker)
    if outcome.get("action") == "ignored":
        # ignored on purpose, never silently: the log says which event and why
        log.info(
            "job event ignored: %s",
            outcome["reason"],
            extra={
                "decision": "duplicate_skipped" if outcome.get("duplicate") else "event_ignored",
                "detail_type": event.get("detail-type") if isinstance(event, dict) else None,
                **outcome,
            },
        )
    return outcome


def _handle(event: Any, *, ledger: Ledger, sfn: Any, sagemaker: Any) -> dict[str, Any]:
    parsed = parse_event(event)
    if isinstance(parsed, str):
        return {"action": "ignored", "reason": parsed}
    kind, name, status = parsed
    if status not in TERMINAL:
        return {"action": "ignored", "reason": f"{name} is {status}, not terminal", "job": name}
    token = ledger.get_token(name)
    if token is None:
        return {"action": "ignored", "reason": f"no run waits for {name}", "job": name}
    if token.get("status") != "WAITING":
        logs.bind(run_id=token.get("run_id"))
        reason = f"duplicate event: {name} was already answered"
        return {"action": "ignored", "reason": reason, "job": name, "duplicate": True}
    return answer(kind, name, token, ledger=ledger, sfn=sfn, sagemaker=sagemaker)


def answer(kind: str, name: str, token: dict[str, Any], *, ledger: Ledger, sfn: Any, sagemaker: Any) -> dict[str, Any]:
    """Send the job's outcome to the task waiting on ``token``."""
    result = describe_job(kind, name, sagemaker)
    run_id = token["run_id"]
    logs.bind(run_id=run_id)
    try:
        if result.status == "Completed":
            sfn.send_task_success(taskToken=token["task_token"], output=result.model_dump_json())
            action = "success"
        else:
            reason = result.failure_reason or "no FailureReason given"
            cause = f"{kind} job {name} ended {result.status}: {reason}"
            if kind == "tuning":
                from trainops.tuning import failure_cause  # only tuning events pay for this import

                cause = failure_cause(name, sagemaker)
            # The cause is also kept on the run record: the failure path reads it from there.
            ledger.update_run(run_id, {"job_failure": cause, "failed_job": name})
            sfn.send_task_failure(
                taskToken=token["task_token"], error=JOB_KINDS[kind].failure_error, cause=cause[:32768]
            )
            action = "failure"
    except ClientError as exc:
        if error_code(exc) in CLOSED_TOKEN_CODES:
            ledger.claim_token(name, result.status)
            return {"action": "ignored", "reason": f"the task waiting for {name} is closed ({error_code(exc)})"}
        raise translate(exc, "SendTask*") from exc
    ledger.claim_token(name, result.status)
    log.info(
        "answered the run waiting for %s %s: %s (%s)",
        kind,
        name,
        action,
        result.status,
        extra={"decision": "job_answered", "job": name, "status": result.status},
    )
    return {"action": action, "job": name, "status": result.status, "run_id": run_id}


def parse_cause(cause: str | None) -> str:
    """A Lambda error's Cause is a JSON document; show its message, else the text as it is."""
    if not cause:
        return ""
    try:
        doc = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(doc, dict):
        return str(doc.get("errorMessage") or doc.get("Cause") or cause)
    return cause
