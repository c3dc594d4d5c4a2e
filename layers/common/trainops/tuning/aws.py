"""The SageMaker reads the tuning modules share (Describe, List) and the translation of their errors."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.errors import (
    InvalidTrainingRequest,
)
from trainops.tuning.limits import TERMINAL_TUNING_STATUSES, WARM_START_LOOKBACK
from trainops.tuning.names import is_project_tuning_job, project_job_prefix


# --- adapters ---------------------------------------------------------------------------------------
def _translate(exc: ClientError) -> Exception:
    """The shared translation (throttling, quotas), plus what a tuning request's ValidationException means."""
    if error_code(exc) == "ValidationException":
        message = exc.response.get("Error", {}).get("Message", str(exc))
        return InvalidTrainingRequest(message, field="tuning", fix="run `trainops config validate` on the config")
    return translate(exc, "SageMaker")


def _list_project_jobs(project: str, sagemaker_client: Any, exclude: str) -> list[str]:
    """Names of the project's terminal tuning jobs, newest first (at most WARM_START_LOOKBACK)."""
    names: list[str] = []
    kwargs: dict[str, Any] = {
        "NameContains": project_job_prefix(project),
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    while len(names) < WARM_START_LOOKBACK:
        try:
            page = sagemaker_client.list_hyper_parameter_tuning_jobs(**kwargs)
        except ClientError as exc:
            raise _translate(exc) from exc
        for summary in page.get("HyperParameterTuningJobSummaries", []):
            name = summary["HyperParameterTuningJobName"]
            if (
                name != exclude
                and is_project_tuning_job(name, project)
                and summary.get("HyperParameterTuningJobStatus") in TERMINAL_TUNING_STATUSES
            ):
                names.append(name)
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return names[:WARM_START_LOOKBACK]


def _describe_tuning(name: str, sagemaker_client: Any) -> dict[str, Any] | None:
    try:
        return sagemaker_client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ResourceNotFound", "ValidationException"):
            return None
        raise _translate(exc) from exc


def _failure_reasons(tuning_job_name: str, sagemaker_client: Any, limit: int = 3) -> list[str]:
    """Distinct FailureReasons of the tuning job's failed training jobs (best effort)."""
    try:
        page = sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_job_name, StatusEquals="Failed", MaxResults=100
        )
    except ClientError:
        return []
    reasons: list[str] = []
    for summary in page.get("TrainingJobSummaries", []):
        reason = summary.get("FailureReason")
        if reason and reason not in reasons:
            reasons.append(reason)
    return reasons[:limit]
