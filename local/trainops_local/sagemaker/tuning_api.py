"""The local tuner's moto surface: what CreateHyperParameterTuningJob checks and records, and the two calls moto
5.2.5 lacks (StopHyperParameterTuningJob, ListTrainingJobsForHyperParameterTuningJob), as backend and response
methods. :func:`backend_patches` binds them to a :class:`Tuner` (the running registry of
:mod:`trainops_local.sagemaker.tuning`), which installs them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.utils import arn_formatter

from trainops_local.sagemaker import stopping
from trainops_local.sagemaker.tuning_space import final_value, search_space
from trainops_local.sagemaker.types import utcnow

TERMINAL_TUNING = frozenset({"Completed", "Failed", "Stopped"})


class Tuner(Protocol):
    """The local tuning jobs of this process (``tuning.LocalTuner``) as the moto methods use them."""

    def get(self, name: str, backend: Any | None = None) -> Any: ...

    def create(self, backend: Any, kwargs: dict[str, Any]) -> Any: ...


def request_from_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    mapping = {
        "hyper_parameter_tuning_job_name": "HyperParameterTuningJobName",
        "hyper_parameter_tuning_job_config": "HyperParameterTuningJobConfig",
        "training_job_definition": "TrainingJobDefinition",
        "training_job_definitions": "TrainingJobDefinitions",
        "warm_start_config": "WarmStartConfig",
        "tags": "Tags",
        "autotune": "Autotune",
    }
    return {member: copy.deepcopy(kwargs[k]) for k, member in mapping.items() if kwargs.get(k) is not None}


def validate(backend: Any, request: dict[str, Any]) -> None:
    """What SageMaker refuses at CreateHyperParameterTuningJob and the local tuner can check."""
    config = request.get("HyperParameterTuningJobConfig") or {}
    if "TrainingJobDefinition" not in request:
        raise ValidationError(message="TrainingJobDefinitions (multi-algorithm tuning) is not available locally")
    strategy = config.get("Strategy")
    if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType") == "Auto":
        raise ValidationError(message="TrainingJobEarlyStoppingType must be Off with the Hyperband strategy")
    search_space(config.get("ParameterRanges") or {}, grid=strategy == "Grid")
    limits = config.get("ResourceLimits") or {}
    if strategy != "Grid" and "MaxNumberOfTrainingJobs" not in limits:
        raise ValidationError(message="ResourceLimits.MaxNumberOfTrainingJobs is required")
    warm = request.get("WarmStartConfig") or {}
    for parent in warm.get("ParentHyperParameterTuningJobs") or []:
        name = parent["HyperParameterTuningJobName"]
        record = backend.hyper_parameter_tuning_jobs.get(name)
        if record is None:
            raise ValidationError(message=f"Parent hyperparameter tuning job {name} does not exist")
        if record.hyper_parameter_tuning_job_status not in TERMINAL_TUNING:
            raise ValidationError(message=f"Parent hyperparameter tuning job {name} is not in a terminal state")


def reset_record(record: Any) -> None:
    """Undo moto's instant completion and fake best job."""
    now = utcnow()
    record.hyper_parameter_tuning_job_status = "InProgress"
    record.hyper_parameter_tuning_end_time = None
    record.training_job_status_counters = {
        "Completed": 0,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    record.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    record.best_training_job = None
    record.OverallBestTrainingJob = None
    record.failure_reason = None
    record.tuning_job_completion_details = None
    record.consumed_resources = None
    record.creation_time = record.last_modified_time = now


_SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Name": lambda s: s["TrainingJobName"],
    "CreationTime": lambda s: s["CreationTime"],
    "Status": lambda s: s["TrainingJobStatus"],
}


def stop(tuner: Tuner, backend: Any, name: str) -> None:
    """StopHyperParameterTuningJob: refused as SageMaker refuses it, else the job stops (stopping.begin_stop)."""
    job = tuner.get(name, backend)
    record = job.record if job is not None else None
    arn = arn_formatter("hyper-parameter-tuning-job", name.lower(), backend.account_id, backend.region_name)
    stopping.check_stoppable("tuning", name, record, arn)
    job.stop()


def list_children(tuner: Tuner, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob, filtered, sorted and paged as SageMaker does."""
    name = params.get("HyperParameterTuningJobName", "")
    job = tuner.get(name, backend)
    if job is not None:
        with job.lock:
            summaries = [job.summary(c) for c in job.children]
    elif name in backend.hyper_parameter_tuning_jobs:  # ran in an earlier process (a persisted workdir)
        summaries = summaries_from_records(backend, backend.hyper_parameter_tuning_jobs[name])
    else:
        raise ValidationError(message=f"Could not find hyper parameter tuning job '{name}'.")
    if params.get("StatusEquals"):
        summaries = [s for s in summaries if s["TrainingJobStatus"] == params["StatusEquals"]]
    sort_by = params.get("SortBy") or "CreationTime"
    descending = (params.get("SortOrder") or "Descending") == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        # jobs without an objective value sort last either way
        scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        unscored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" not in s]
        scored.sort(key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=descending)
        summaries = scored + unscored
    else:
        summaries.sort(key=_SORT_KEYS[sort_by], reverse=descending)
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 10)
    page = summaries[start : start + size]
    out: dict[str, Any] = {"TrainingJobSummaries": page}
    if start + size < len(summaries):
        out["NextToken"] = str(start + size)
    return out


def summaries_from_records(backend: Any, record: Any) -> list[dict[str, Any]]:
    """HyperParameterTrainingJobSummary of each child of a tuning job this process did not run, from moto's
    training job records (what an earlier command persisted)."""
    config = record.hyper_parameter_tuning_job_config or {}
    objective = config.get("HyperParameterTuningJobObjective") or {}
    metric, kind = objective.get("MetricName", ""), objective.get("Type", "Maximize")
    tuned = {r["Name"] for ranges in (config.get("ParameterRanges") or {}).values() for r in ranges}
    summaries = []
    for child in list(backend.training_jobs.values()):
        if getattr(child, "tuning_job_arn", None) != record.arn:
            continue
        value = final_value(child.final_metric_data_list, metric)
        summary: dict[str, Any] = {
            "TrainingJobName": child.training_job_name,
            "TrainingJobArn": child.arn,
            "TuningJobName": record.hyper_parameter_tuning_job_name,
            "CreationTime": child.creation_time,
            "TrainingJobStatus": child.training_job_status,
            "TunedHyperParameters": {k: v for k, v in (child.hyper_parameters or {}).items() if k in tuned},
            "ObjectiveStatus": "Succeeded" if value is not None else "Failed",
        }
        for key, attr in (("TrainingStartTime", "training_start_time"), ("TrainingEndTime", "training_end_time")):
            if getattr(child, attr, None) is not None:
                summary[key] = getattr(child, attr)
        if child.failure_reason:
            summary["FailureReason"] = child.failure_reason
        if value is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": kind,
                "MetricName": metric,
                "Value": value,
            }
        summaries.append(summary)
    return summaries


def _response_stop(self: Any) -> EmptyResult:
    self.sagemaker_backend.stop_hyper_parameter_tuning_job(self._get_param("HyperParameterTuningJobName"))
    return EmptyResult()


def _response_list_children(self: Any) -> ActionResult:
    return ActionResult(self.sagemaker_backend.list_training_jobs_for_hyper_parameter_tuning_job(self._get_params()))


def backend_patches(tuner: Tuner) -> dict[str, Callable[..., Any]]:
    """The SageMaker backend methods the local tuner replaces or adds, bound to ``tuner``."""

    def create_hyper_parameter_tuning_job(self: Any, **kwargs: Any) -> str:
        return str(tuner.create(self, kwargs))

    def stop_hyper_parameter_tuning_job(self: Any, hyper_parameter_tuning_job_name: str) -> None:
        stop(tuner, self, hyper_parameter_tuning_job_name)

    def list_training_jobs_for_hyper_parameter_tuning_job(self: Any, params: dict[str, Any]) -> dict[str, Any]:
        return list_children(tuner, self, params)

    return {
        "create_hyper_parameter_tuning_job": create_hyper_parameter_tuning_job,
        "stop_hyper_parameter_tuning_job": stop_hyper_parameter_tuning_job,
        "list_training_jobs_for_hyper_parameter_tuning_job": list_training_jobs_for_hyper_parameter_tuning_job,
    }


RESPONSE_PATCHES: dict[str, Callable[..., Any]] = {
    "stop_hyper_parameter_tuning_job": _response_stop,
    "list_training_jobs_for_hyper_parameter_tuning_job": _response_list_children,
}
