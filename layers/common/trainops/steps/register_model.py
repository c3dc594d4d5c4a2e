"""The RegisterModel step."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from trainops import callbacks, logs, notifications, processing, registry, telemetry, training
from trainops.errors import require
from trainops.models import JobResult, Registration, RunRequest, TrainingPlan
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.runs import config_of
from trainops.types import split_s3_uri


def register_model(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    plan = TrainingPlan.model_validate(event["plan"])
    job = job_result(event["training"])
    config = config_of(request)
    ledger = ledger_for(settings, clients)
    existing = ledger.get_run(request.run_id) or {}
    if existing.get("model_package_arn"):
        # a retried RegisterModel task: the package exists already, never register twice; its events again (at
        # least once: the first attempt may have ended before it put them)
        logs.decision("already_registered", f"a retried task: {existing['model_package_arn']} is registered already")
        _announce(request, Registration.model_validate(existing["registration"]), settings, clients)
        return dict(existing["registration"])
    extra: dict[str, str] = {}
    if job.kind == "tuning":
        from trainops import tuning  # only a tuned run's registration pays for this import

        outcome = tuning.read_tuning_outcome(job.job_name, clients.sagemaker)
        extra = {
            "tuning-job": job.job_name,
            "best-hyperparameters": registry.meta_pairs(outcome.get("tuned_hyperparameters", {})),
        }
        job = callbacks.describe_job("training", outcome["best_training_job_name"], clients.sagemaker)
    if job.kind == "automl":
        from trainops import autopilot  # only an Autopilot run's registration pays for this import

        count = autopilot.candidate_count(job.job_name, clients.sagemaker)
        extra = {"automl-job": job.job_name, "best-candidate": str(job.best_training_job)}
        if count is not None:
            extra["candidates"] = str(count)
    split = _split_sizes(request, plan, settings, clients)
    if split:
        extra["split"] = registry.meta_pairs(split)
    # one registration at a time per project: the champion read and the new package form one decision
    with ledger.project_lock(request.project, owner=request.run_id):
        reg: Registration = registry.register_model(
            request,
            config,
            plan,
            job,
            sagemaker=clients.sagemaker,
            s3=clients.s3,
            artifacts_bucket=settings.artifacts_bucket,
            tags=training.tags_for(request, config),
            extra_metadata=extra,
        )
    logs.decision(
        "model_registered",
        f"registered {reg.model_package_arn}: {reg.approval_status} ({reg.reason})",
        model_package_arn=reg.model_package_arn,
        approval_status=reg.approval_status,
    )
    ledger.update_run(
        request.run_id,
        {
            "status": "SUCCEEDED",
            "model_package_arn": reg.model_package_arn,
            "approval_status": reg.approval_status,
            "approval_reason": reg.reason,
            "objective_value": reg.objective_value,
            "split": split,
            "registration": reg.model_dump(mode="json"),
        },
    )
    # after the run record: a task retried because that update failed does not count the model twice
    telemetry.record(
        request.project,
        {"ModelsRegistered": 1, "ModelsApproved": int(reg.approval_status == "Approved")},
        values={"ObjectiveValue": reg.objective_value} if reg.objective_value is not None else {},
        objective_metric=reg.objective_metric or "none",
        run_id=request.run_id,
        model_package_arn=reg.model_package_arn,
    )
    _announce(request, reg, settings, clients)
    return reg.model_dump(mode="json")


def _announce(request: RunRequest, reg: Registration, settings: Settings, clients: Clients) -> None:
    """``Model Registered`` (and ``Model Waiting For Approval``); a failed PutEvents is logged, never raised."""
    details = notifications.model_events(
        request, reg, state_machine_arn=settings.state_machine_arn, studio_domain_id=settings.studio_domain_id
    )
    notifications.emit(list(details), clients.events)


def job_result(training: dict[str, Any]) -> JobResult:
    """The training job's result. A metric without a value (``null``: JSON has no NaN) counts as not reported,
    so an undefined objective is explained by ``registry.check_objective_defined``, never a validation dump."""
    metrics = training.get("final_metrics") or {}
    defined = {name: value for name, value in metrics.items() if value is not None}
    return JobResult.model_validate({**training, "final_metrics": defined})


def _split_sizes(request: RunRequest, plan: TrainingPlan, settings: Settings, clients: Clients) -> dict[str, Any]:
    if not plan.needs_split:
        return {}
    report_uri = require(processing.split_outputs(request, settings.artifacts_bucket).report_uri, "the split report")
    bucket, key = split_s3_uri(report_uri)
    try:
        doc = json.loads(clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError):  # the report is informative; its absence must not fail a registration
        return {}
    return {k: doc[k] for k in ("rows", "train_rows", "validation_rows", "stratified") if k in doc}
