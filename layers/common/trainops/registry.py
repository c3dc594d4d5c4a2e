"""The SageMaker Model Registry: one model package group per project, one package per successful run,
approved automatically only when it beats the current Approved package (the champion) by the margin."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.config import ProjectConfig
from trainops.errors import DatasetError, NoModelProduced, RegistryError
from trainops.models import JobResult, Registration, RunRequest, TrainingPlan
from trainops.naming import digest, model_package_group_name
from trainops.training import BaseModel

Approval = Literal["Approved", "PendingManualApproval"]
META_PREFIX = "trainops:"
# CustomerMetadataProperties values: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)${1,256} (botocore's model)
_META_UNSAFE = re.compile(r"[^\w\s.:/=+\-@]")


def meta_value(value: object) -> str:
    """A metadata value AWS accepts: no brackets, commas, quotes or semicolons; at most 256 characters."""
    text = _META_UNSAFE.sub(" ", str(value))
    return " ".join(text.split())[:256]


def meta_pairs(values: dict[str, object]) -> str:
    """``{"rows": 569, "stratified": True}`` -> ``rows=569 stratified=True``."""
    return meta_value(" ".join(f"{k}={v}" for k, v in values.items()))


@dataclass(frozen=True)
class Champion:
    arn: str
    objective_metric: str | None
    objective_value: float | None
    model_data_url: str
    image: str
    num_round: int | None


def ensure_group(project: str, sagemaker: Any, *, tags: list[dict[str, str]] | None = None) -> str:
    name = model_package_group_name(project)
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=name)
        return name
    except ClientError as exc:
        if error_code(exc) not in ("ValidationException", "ResourceNotFound"):
            raise translate(exc, "DescribeModelPackageGroup") from exc
    try:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=name,
            ModelPackageGroupDescription=f"trainops models of project {project}",
            Tags=tags or [],
        )
    except ClientError as exc:
        # created concurrently by another run of the same project
        if "already exists" not in str(exc) and error_code(exc) not in ("ResourceInUse", "ConflictException"):
            raise RegistryError(f"cannot create model package group {name}: {exc}", field="registry") from exc
    return name


def current_champion(project: str, sagemaker: Any, *, excluding_run: str | None = None) -> Champion | None:
    """The newest Approved package of the project, or None.

    ``excluding_run`` skips a package that run registered itself: a RegisterModel task retried after its
    package was created must judge against the champion before it, not against its own package.
    """
    name = model_package_group_name(project)
    try:
        resp = sagemaker.list_model_packages(
            ModelPackageGroupName=name,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=2 if excluding_run else 1,
        )
    except ClientError as exc:
        if error_code(exc) in ("ValidationException", "ResourceNotFound"):
            return None
        raise translate(exc, "ListModelPackages") from exc
    for summary in resp.get("ModelPackageSummaryList", []):
        desc = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        meta = desc.get("CustomerMetadataProperties", {}) or {}
        if excluding_run is None or meta.get(f"{META_PREFIX}run-id") != meta_value(excluding_run):
            return _champion(desc, meta)
    return None


def _champion(desc: dict[str, Any], meta: dict[str, str]) -> Champion:
    container = desc["InferenceSpecification"]["Containers"][0]
    value = meta.get(f"{META_PREFIX}objective-value")
    rounds = meta.get(f"{META_PREFIX}num-round")
    return Champion(
        arn=desc["ModelPackageArn"],
        objective_metric=meta.get(f"{META_PREFIX}objective-metric"),
        objective_value=float(value) if value is not None else None,
        model_data_url=container["ModelDataUrl"],
        image=container["Image"],
        num_round=int(rounds) if rounds else None,
    )


def base_model_from(champion: Champion) -> BaseModel:
    return BaseModel(
        package_arn=champion.arn,
        model_data_url=champion.model_data_url,
        image=champion.image,
        num_round=champion.num_round,
    )


def decide_approval(
    *,
    metric: str,
    direction: str,
    value: float,
    champion: Champion | None,
    auto_approve_first: bool,
    min_improvement: float,
) -> tuple[Approval, str]:
    """Approved when the new objective beats the champion by the margin; the reason says why either way."""
    if champion is None:
        if auto_approve_first:
            return "Approved", f"first model of the project ({metric}={value:.6g}); auto-approval of the first is on"
        return "PendingManualApproval", "first model of the project; registry.auto_approve_first is off"
    if champion.objective_metric != metric or champion.objective_value is None:
        return (
            "PendingManualApproval",
            f"the Approved model was judged on {champion.objective_metric}, not {metric}: review manually",
        )
    old = champion.objective_value
    gain = value - old if direction == "Maximize" else old - value
    verb = "higher" if direction == "Maximize" else "lower"
    if gain > min_improvement or (min_improvement == 0.0 and gain > 0):
        return (
            "Approved",
            f"{metric} {value:.6g} beats the Approved model's {old:.6g} by {gain:.6g} ({verb} is better; "
            f"margin {min_improvement:g})",
        )
    return (
        "PendingManualApproval",
        f"{metric} {value:.6g} does not beat the Approved model's {old:.6g} by more than {min_improvement:g} "
        f"({verb} is better)",
    )


NO_METRIC_REASON = "no objective metric reported"


def objective_value(job: JobResult, metric: str | None) -> float | None:
    """The job's final value of the objective metric; None when it reported none (or the run has none)."""
    if metric is None:
        return None
    return job.final_metrics.get(metric)


def check_objective_defined(plan: TrainingPlan, job: JobResult, metric: str | None) -> None:
    """Built-in XGBoost logs every eval metric it was asked for after every round; SageMaker reads them with a
    numeric regex, so an objective it asked for and did not report was undefined (``nan``). That model cannot
    be judged: a typed error names the objective and why, instead of a package nobody can compare.

    The usual cause is one class only: AUC needs both, so it is NaN when the evaluated data holds one class.
    """
    if metric is None or plan.algorithm != "xgboost" or metric in job.final_metrics or ":" not in metric:
        return
    channel, name = metric.split(":", 1)
    asked = {m.strip() for m in job.hyperparameters.get("eval_metric", "").split(",")}
    if name not in asked and job.hyperparameters.get("_tuning_objective_metric") != metric:
        return  # never asked for: no_metric_reason says so
    reported = ", ".join(sorted(job.final_metrics)) or "none"
    if name.startswith("auc"):
        raise DatasetError(
            f"training job {job.job_name} reported no value of the objective {metric} (reported: {reported}): "
            f"XGBoost logs it as nan because {name} is undefined when the {channel} data holds one class only",
            field="dataset",
            fix=f"the {channel} data needs rows of both classes: check its labels (or leave out validation/ so "
            f"that trainops makes a stratified split)",
        )
    raise NoModelProduced(
        f"training job {job.job_name} reported no value of the objective {metric} (reported: {reported}): XGBoost "
        f"logs it every round, so it was undefined (nan) on the {channel} data",
        field="problem.objective_metric",
        fix="look for labels the objective cannot use and for a training that diverges (a very large eta), "
        "or choose another objective metric",
    )


def no_metric_reason(job: JobResult, metric: str | None) -> str:
    """Why a model without an objective value waits for a person."""
    if metric is None:
        return (
            f"{NO_METRIC_REASON}: the project defines no objective metric (algorithm.metric_definitions); "
            f"review manually"
        )
    reported = ", ".join(sorted(job.final_metrics)) or "none"
    return (
        f"{NO_METRIC_REASON}: training job {job.job_name} did not report {metric} (reported: {reported}); check "
        f"the metric definition's regex against the job's log, then review manually"
    )


def _description(request: RunRequest, metric: str | None, value: float | None) -> str:
    if metric is None or value is None:
        return f"run {request.run_id}: {NO_METRIC_REASON}"
    return f"run {request.run_id}: {metric}={value:.6g}"[:1024]


def inference_specification(plan: TrainingPlan, job: JobResult) -> dict[str, Any]:
    """How the package is served: the inference image of the training's framework and version (for script
    mode with the entry point and code archive, as the SageMaker Python SDK deploys it), the container's
    configured inference image, or the built-in algorithm's image. An Autopilot candidate: its own containers."""
    if job.kind == "automl":
        spec_: dict[str, Any] = {"Containers": [dict(c) for c in job.details["inference_containers"]]}
        spec_["SupportedContentTypes"] = ["text/csv"]
        spec_["SupportedResponseMIMETypes"] = ["text/csv"]
        return spec_
    container: dict[str, Any] = {
        "Image": plan.inference_image or job.image or plan.image,
        "ModelDataUrl": job.model_artifact,
    }
    if plan.inference_environment:
        container["Environment"] = dict(plan.inference_environment)
    if plan.framework:
        container["Framework"] = plan.framework.upper()
        if plan.version:
            container["FrameworkVersion"] = plan.version
    spec: dict[str, Any] = {"Containers": [container]}
    if plan.content_type:
        spec["SupportedContentTypes"] = [plan.content_type]
        spec["SupportedResponseMIMETypes"] = ["text/csv"]
    return spec


def register_model(
    request: RunRequest,
    config: ProjectConfig,
    plan: TrainingPlan,
    job: JobResult,
    *,
    sagemaker: Any,
    s3: Any,
    artifacts_bucket: str,
    tags: list[dict[str, str]],
    extra_metadata: dict[str, str] | None = None,
) -> Registration:
    metric = plan.objective_metric
    check_objective_defined(plan, job, metric)
    group = ensure_group(request.project, sagemaker, tags=tags)
    value = objective_value(job, metric)
    champion = current_champion(request.project, sagemaker, excluding_run=request.run_id)
    status: Approval
    if value is None or metric is None or plan.objective_direction is None:
        status, reason = "PendingManualApproval", no_metric_reason(job, metric)
    else:
        status, reason = decide_approval(
            metric=metric,
            direction=plan.objective_direction,
            value=value,
            champion=champion,
            auto_approve_first=config.registry.auto_approve_first,
            min_improvement=config.registry.min_improvement,
        )
    if job.model_artifact is None:
        raise RegistryError(f"training job {job.job_name} has no model artifact", field="training")
    metrics_key = f"runs/{request.project}/{request.run_id}/metrics.json"
    metrics_doc = {
        "objective": {"name": metric, "value": value, "direction": plan.objective_direction},
        "final_metrics": job.final_metrics,
        "training_job": job.job_name,
    }
    s3.put_object(
        Bucket=artifacts_bucket,
        Key=metrics_key,
        Body=json.dumps(metrics_doc, indent=2).encode(),
        ContentType="application/json",
    )
    metadata: dict[str, object] = {
        "project": request.project,
        "run-id": request.run_id,
        "data": request.dataset.uri,
        "data-version": request.dataset.version_id or request.dataset.fingerprint or "unversioned",
        "config-hash": request.config_hash,
        "training-job": job.job_name,
        "algorithm": plan.algorithm,
        "approval-reason": reason,
    }
    if metric is not None and value is not None:
        metadata.update(
            {
                "objective-metric": metric,
                "objective-value": repr(value),
                "objective-direction": plan.objective_direction,
            }
        )
    if "num_round" in job.hyperparameters:
        metadata["num-round"] = job.hyperparameters["num_round"]
    if champion is not None:
        metadata["champion"] = champion.arn
    metadata.update(extra_metadata or {})
    try:
        resp = sagemaker.create_model_package(
            # a retried RegisterModel task gets the same package back instead of a second one
            ClientToken=digest("register", request.run_id, length=32),
            ModelPackageGroupName=group,
            ModelPackageDescription=_description(request, metric, value),
            InferenceSpecification=inference_specification(plan, job),
            ModelApprovalStatus=status,
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{artifacts_bucket}/{metrics_key}"}
                }
            },
            MetadataProperties={"GeneratedBy": job.job_arn[:1024], "CommitId": request.config_hash},
            CustomerMetadataProperties={f"{META_PREFIX}{k}": meta_value(v) for k, v in metadata.items()},
            Tags=tags,
        )
    except ClientError as exc:
        raise translate(exc, "CreateModelPackage") from exc
    return Registration(
        model_package_group=group,
        model_package_arn=resp["ModelPackageArn"],
        approval_status=status,
        reason=reason,
        objective_metric=metric,
        objective_value=value,
        champion_arn=champion.arn if champion else None,
        champion_value=champion.objective_value if champion else None,
        model_artifact=job.model_artifact,
        training_job=job.job_name,
    )
