"""The run's tuning job: create it (adopting it on a retried task) and read what it produced."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from trainops.errors import (
    ConfigInvalid,
    NoModelProduced,
)
from trainops.tuning.aws import _describe_tuning, _failure_reasons, _translate
from trainops.tuning.limits import TUNING_OBJECTIVE_HYPERPARAMETER
from trainops.tuning.names import tuning_job_name
from trainops.tuning.objective import ResolvedObjective
from trainops.tuning.request import build_tuning_request, tuning_tags
from trainops.tuning.warm_start import _completed_jobs, _job_objective, choose_warm_start

if TYPE_CHECKING:
    from trainops.config import ProjectConfig


def start_tuning(
    plan_training_request: dict[str, Any],
    config: ProjectConfig,
    *,
    run_id: str,
    project: str,
    sagemaker_client: Any,
    objective: ResolvedObjective | None = None,
) -> dict[str, Any]:
    """Create the run's hyperparameter tuning job and say which warm start it got and why.

    Returns ``tuning_job_name``, ``tuning_job_arn``, ``adopted`` (a retried create found the job
    already there), ``objective`` and ``warm_start`` (parents, type, reason).
    """
    if config.tuning is None:
        raise ConfigInvalid("the project config has no tuning section", field="tuning", fix="add a tuning: section")
    # the config was linted once, at NormalizeRequest (trainops.lint.raise_on_errors), before anything started
    name = tuning_job_name(project, run_id)
    request = build_tuning_request(
        plan_training_request,
        config,
        tuning_job_name=name,
        tags=tuning_tags(plan_training_request, project=project, run_id=run_id),
        objective=objective,
    )
    warm = choose_warm_start(config, request, project=project, sagemaker_client=sagemaker_client)
    if warm.request() is not None:
        request["WarmStartConfig"] = warm.request()
    adopted = False
    try:
        arn = sagemaker_client.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUse":
            raise _translate(exc) from exc
        existing = _describe_tuning(name, sagemaker_client)
        if existing is None:
            raise _translate(exc) from exc
        arn, adopted = existing["HyperParameterTuningJobArn"], True
    sent = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    return {
        "tuning_job_name": name,
        "tuning_job_arn": arn,
        "adopted": adopted,
        "objective": {"metric": sent["MetricName"], "direction": sent["Type"]},
        "warm_start": warm.model_dump(mode="json"),
    }


def failure_cause(tuning_job_name: str, sagemaker_client: Any) -> str:
    """Why a tuning job produced no model, with its training jobs' FailureReasons (for the run's cause)."""
    job = _describe_tuning(tuning_job_name, sagemaker_client)
    return _no_model_reason(job, sagemaker_client) if job else f"tuning job {tuning_job_name} not found"


def _no_model_reason(job: dict[str, Any], sagemaker_client: Any) -> str:
    name = job["HyperParameterTuningJobName"]
    counters = job.get("TrainingJobStatusCounters") or {}
    failed = int(counters.get("RetryableError", 0)) + int(counters.get("NonRetryableError", 0))
    stopped = int(counters.get("Stopped", 0))
    parts = [
        f"tuning job {name} ended {job.get('HyperParameterTuningJobStatus')} without a completed training job "
        f"({failed} failed, {stopped} stopped, e.g. by early stopping)"
    ]
    if job.get("FailureReason"):
        parts.append(f"tuning job failure: {job['FailureReason']}")
    reasons = _failure_reasons(name, sagemaker_client)
    if reasons:
        parts.append("training job failures: " + " | ".join(reasons))
    return "; ".join(parts)


def _best_completed(job: dict[str, Any], sagemaker_client: Any) -> dict[str, Any] | None:
    """BestTrainingJob when it Completed, else the best Completed job of the tuning job (if any)."""
    best = job.get("BestTrainingJob")
    if best and best.get("TrainingJobStatus") == "Completed":
        return best
    if _completed_jobs(job) == 0:
        return None
    direction = _job_objective(job).get("Type", "Maximize")
    try:
        page = sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job["HyperParameterTuningJobName"],
            StatusEquals="Completed",
            SortBy="FinalObjectiveMetricValue",
            SortOrder="Descending" if direction == "Maximize" else "Ascending",
            MaxResults=1,
        )
    except ClientError as exc:
        raise _translate(exc) from exc
    summaries = page.get("TrainingJobSummaries") or []
    return summaries[0] if summaries else None


def read_tuning_outcome(tuning_job_name: str, sagemaker_client: Any) -> dict[str, Any]:
    """What a finished tuning job produced: its best completed training job and its model.

    Returns ``tuning_job_name``, ``status``, ``best_training_job_name``/``_arn``, ``hyperparameters``
    (all, as the best job ran), ``tuned_hyperparameters``, ``objective`` (metric, type, value),
    ``model_artifacts`` (S3 URI of model.tar.gz), ``training_job_status_counters`` and
    ``objective_status_counters``. Raises NoModelProduced when no training job completed.
    """
    job = _describe_tuning(tuning_job_name, sagemaker_client)
    if job is None:
        raise NoModelProduced(f"tuning job {tuning_job_name} does not exist", field="tuning_job_name")
    best = _best_completed(job, sagemaker_client)
    if best is None:
        raise NoModelProduced(
            _no_model_reason(job, sagemaker_client),
            field="tuning",
            fix="look at the training jobs' FailureReason; widen ranges or turn early stopping off if all were stopped",
        )
    try:
        training = sagemaker_client.describe_training_job(TrainingJobName=best["TrainingJobName"])
    except ClientError as exc:
        raise _translate(exc) from exc
    final = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    objective = _job_objective(job)
    hyperparameters = {
        k: v for k, v in (training.get("HyperParameters") or {}).items() if k != TUNING_OBJECTIVE_HYPERPARAMETER
    }
    value = final.get("Value")
    return {
        "tuning_job_name": tuning_job_name,
        "status": job.get("HyperParameterTuningJobStatus"),
        "best_training_job_name": best["TrainingJobName"],
        "best_training_job_arn": best.get("TrainingJobArn") or training.get("TrainingJobArn"),
        "hyperparameters": hyperparameters,
        "tuned_hyperparameters": dict(best.get("TunedHyperParameters") or {}),
        "objective": {
            "metric": final.get("MetricName") or objective.get("MetricName"),
            "type": objective.get("Type"),
            "value": None if value is None or math.isnan(float(value)) else float(value),
        },
        "model_artifacts": (training.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
        "training_job_status_counters": dict(job.get("TrainingJobStatusCounters") or {}),
        "objective_status_counters": dict(job.get("ObjectiveStatusCounters") or {}),
    }
