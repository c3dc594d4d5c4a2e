"""One logic function per Lambda handler. Each takes its event and its adapters and returns a payload.

Handlers in ``functions/*/app.py`` only parse, call one of these with clients from ``trainops.aws``, and
return the result. Every failure is a typed exception (see ``trainops.errors``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trainops import callbacks, processing, registry, training
from trainops.config import ProjectConfig, parse_config
from trainops.errors import ConfigInvalid, TrainopsError
from trainops.ledger import Ledger
from trainops.models import JobResult, Registration, RunFailure, RunRequest, Skip, TrainingPlan
from trainops.planning import plan_training
from trainops.settings import Settings
from trainops.triggers import normalize
from trainops.types import split_s3_uri


@dataclass
class Clients:
    s3: Any = None
    sagemaker: Any = None
    dynamodb: Any = None
    sfn: Any = None
    scheduler: Any = None


def _ledger(settings: Settings, clients: Clients) -> Ledger:
    return Ledger(settings.runs_table, clients.dynamodb)


def _config(request: RunRequest) -> ProjectConfig:
    return parse_config(request.config, expected_project=request.project)


def lint_errors(config: ProjectConfig) -> None:
    """Run the tuning linter before anything is launched; errors stop the run with every finding listed."""
    if config.tuning is None:
        return
    from trainops.lint import lint_config

    findings = [f for f in lint_config(config) if f.severity == "error"]
    if findings:
        first = findings[0]
        listed = "; ".join(f"{f.id} {f.field}: {f.message} (fix: {f.fix})" for f in findings)
        raise ConfigInvalid(f"tuning config has {len(findings)} error(s): {listed}", field=first.field, fix=first.fix)


# --- NormalizeRequest ---------------------------------------------------------------------------
def normalize_request(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    execution = str(event.get("execution") or "")
    result, config = normalize(
        event.get("input"),
        execution=execution,
        start_time=event.get("start_time"),
        data_bucket=settings.data_bucket,
        s3=clients.s3,
    )
    if isinstance(result, Skip):
        return result.model_dump(mode="json")
    assert config is not None
    lint_errors(config)
    ledger = _ledger(settings, clients)
    fields = {
        "trigger": result.trigger.kind,
        "dataset_uri": result.dataset.uri,
        "config_source": result.config_source,
        "config_hash": result.config_hash,
    }
    if not ledger.start_run(result.run_id, result.project, execution, fields):
        existing = ledger.get_run(result.run_id) or {}
        return Skip(
            reason=f"duplicate delivery: run {result.run_id} is already handled by {existing.get('execution')}"
        ).model_dump(mode="json")
    return {"action": "run", "request": result.model_dump(mode="json")}


# --- SelectAlgorithm ----------------------------------------------------------------------------
def select_algorithm(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    config = _config(request)
    plan = plan_training(request, config, region=settings.region, s3=clients.s3)
    _ledger(settings, clients).update_run(
        request.run_id,
        {
            "algorithm": plan.algorithm,
            "image": plan.image,
            "objective": f"{plan.objective_metric} ({plan.objective_direction})",
            "inferred": [i.model_dump() for i in plan.inferred],
            "input_mode": plan.input_mode,
        },
    )
    return plan.model_dump(mode="json")


# --- SplitDataset (waitForTaskToken) ----------------------------------------------------------
def split_dataset(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    plan = TrainingPlan.model_validate(event["plan"])
    config = _config(request)
    code_uri = processing.upload_split_script(clients.s3, settings.artifacts_bucket)
    body = processing.build_split_request(
        request,
        config,
        plan,
        code_uri=code_uri,
        role_arn=settings.sagemaker_role_arn,
        artifacts_bucket=settings.artifacts_bucket,
        region=settings.region,
    )
    ledger = _ledger(settings, clients)
    ledger.store_token(body["ProcessingJobName"], "processing", event["task_token"], request.run_id)
    created = processing.create_processing_job(body, clients.sagemaker)
    _answer_if_done(created, "processing", body["ProcessingJobName"], "ProcessingJobStatus", ledger, clients)
    return {"job_name": body["ProcessingJobName"], "adopted": created["adopted"]}


def _answer_if_done(
    created: dict[str, Any], kind: str, name: str, status_field: str, ledger: Ledger, clients: Clients
) -> None:
    """An adopted job that already ended will send no further event: answer the new token now."""
    if created.get("adopted") and created.get(status_field) in callbacks.TERMINAL:
        token = ledger.get_token(name)
        assert token is not None
        callbacks.answer(kind, name, token, ledger=ledger, sfn=clients.sfn, sagemaker=clients.sagemaker)


# --- StartTraining (waitForTaskToken) ---------------------------------------------------------
def start_training(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    plan = TrainingPlan.model_validate(event["plan"])
    config = _config(request)
    channels = processing.split_outputs(request, settings.artifacts_bucket) if plan.needs_split else None
    base = None
    if config.incremental.enabled:
        champion = registry.current_champion(request.project, clients.sagemaker)
        if champion is not None:
            base = registry.base_model_from(champion)
    body = training.build_training_request(
        request,
        config,
        plan,
        channels=channels,
        role_arn=settings.sagemaker_role_arn,
        artifacts_bucket=settings.artifacts_bucket,
        base_model=base,
    )
    seeded = training.seed_checkpoint(body, base, clients.s3) if base is not None else None
    ledger = _ledger(settings, clients)
    name = body["TrainingJobName"]
    ledger.store_token(name, "training", event["task_token"], request.run_id)
    created = training.create_training_job(body, clients.sagemaker)
    ledger.update_run(
        request.run_id,
        {
            "training_job": name,
            "incremental_from": base.package_arn if base else None,
            "checkpoint_seed": seeded,
        },
    )
    _answer_if_done(created, "training", name, "TrainingJobStatus", ledger, clients)
    return {"job_name": name, "adopted": created["adopted"], "incremental_from": base.package_arn if base else None}


# --- StartTuning (waitForTaskToken) -----------------------------------------------------------
def start_tuning(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    from trainops import tuning

    request = RunRequest.model_validate(event["request"])
    plan = TrainingPlan.model_validate(event["plan"])
    config = _config(request)
    channels = processing.split_outputs(request, settings.artifacts_bucket) if plan.needs_split else None
    body = training.build_training_request(
        request,
        config,
        plan,
        channels=channels,
        role_arn=settings.sagemaker_role_arn,
        artifacts_bucket=settings.artifacts_bucket,
    )
    ledger = _ledger(settings, clients)
    name = tuning.tuning_job_name(request.project, request.run_id)
    ledger.store_token(name, "tuning", event["task_token"], request.run_id)
    started = tuning.start_tuning(
        body, config, run_id=request.run_id, project=request.project, sagemaker_client=clients.sagemaker
    )
    ledger.update_run(request.run_id, {"tuning_job": name, "warm_start": json.dumps(started.get("warm_start"))})
    return json.loads(json.dumps(started, default=str))  # type: ignore[no-any-return]


# --- HandleJobEvent (EventBridge) -------------------------------------------------------------
def handle_job_event(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    return callbacks.handle_job_event(
        event, ledger=_ledger(settings, clients), sfn=clients.sfn, sagemaker=clients.sagemaker
    )


# --- RegisterModel ------------------------------------------------------------------------------
def register_model(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    plan = TrainingPlan.model_validate(event["plan"])
    job = JobResult.model_validate(event["training"])
    config = _config(request)
    ledger = _ledger(settings, clients)
    existing = ledger.get_run(request.run_id) or {}
    if existing.get("model_package_arn"):
        # a retried RegisterModel task: the package exists already, never register twice
        return dict(existing["registration"])
    extra: dict[str, str] = {}
    if job.kind == "tuning":
        from trainops import tuning

        outcome = tuning.read_tuning_outcome(job.job_name, clients.sagemaker)
        extra = {"tuning-job": job.job_name, "best-hyperparameters": json.dumps(outcome.get("hyperparameters", {}))}
        job = callbacks.describe_job("training", outcome["best_training_job"], clients.sagemaker)
    split = _split_sizes(request, plan, settings, clients)
    if split:
        extra["split"] = json.dumps(split)[:256]
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
    return reg.model_dump(mode="json")


def _split_sizes(request: RunRequest, plan: TrainingPlan, settings: Settings, clients: Clients) -> dict[str, Any]:
    if not plan.needs_split:
        return {}
    report_uri = processing.split_outputs(request, settings.artifacts_bucket).report_uri
    assert report_uri is not None
    bucket, key = split_s3_uri(report_uri)
    try:
        doc = json.loads(clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception:  # the report is informative; its absence must not fail a registration
        return {}
    return {k: doc[k] for k in ("rows", "train_rows", "validation_rows", "stratified") if k in doc}


# --- RecordFailure ------------------------------------------------------------------------------
def record_failure(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    error = event.get("error") or {}
    name = str(error.get("Error") or "UnknownError")
    cause = callbacks.parse_cause(error.get("Cause"))
    request = event.get("request") or {}
    execution = str(event.get("execution") or "unknown")
    run_id = str(request.get("run_id") or execution)
    project = request.get("project")
    ledger = _ledger(settings, clients)
    existing = ledger.get_run(run_id) if request.get("run_id") else None
    if existing and existing.get("job_failure") and (not cause or name.endswith("JobFailed")):
        cause = str(existing["job_failure"])  # SendTaskFailure's cause, kept by the callback
    status = "NO_MODEL" if name in ("NoModelProduced", "TuningJobFailed") else "FAILED"
    failure = RunFailure(run_id=run_id, project=project, status=status, error=name, cause=cause or name)
    fields = {"status": status, "error": name, "cause": failure.cause, "execution": execution}
    if existing is None:
        fields["run_id"] = run_id
    ledger.update_run(run_id, {k: v for k, v in fields.items() if v is not None}, project=project)
    return failure.model_dump(mode="json")


# --- SyncSchedule -------------------------------------------------------------------------------
def sync_schedule(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    from trainops.schedules import sync_from_config_event

    return sync_from_config_event(event, settings=settings, s3=clients.s3, scheduler=clients.scheduler)


__all__ = ["Clients", "TrainopsError"]
