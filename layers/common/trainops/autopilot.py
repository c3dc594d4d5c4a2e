"""Autopilot in the pipeline: ``algorithm.name: autopilot`` -> CreateAutoMLJobV2 (tabular), a bounded describe
loop (SageMaker sends no EventBridge event for AutoML jobs), and the best candidate as the run's model.

Autopilot reads a header CSV (or Parquet) and predicts the column it is told to (TargetAttributeName); it splits,
engineers features, chooses algorithms and tunes by itself. So a headerless CSV, ``tuning:``, spot, distributed
training and incremental training are refused here with the field to change (``refusals``), before any job.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.config import AlgorithmName, ProblemType, ProjectConfig
from trainops.errors import AlgorithmNotSupported, ConfigInvalid, DatasetError, TrainopsError
from trainops.inference import data_objects
from trainops.models import Inference, JobResult, RunRequest, TrainingPlan
from trainops.naming import RESOURCE_PREFIX, digest
from trainops.refusal import Refusal
from trainops.security import StackSecurity, job_security


class AutoMLJobFailed(TrainopsError):
    """The AutoML job ended Failed or Stopped (its FailureReason in the message), or had no best candidate."""


class AutoMLJobTimedOut(TrainopsError):
    """The AutoML job was still running long after its MaxAutoMLJobRuntimeInSeconds: the pipeline stops waiting."""


# botocore's AutoMLJobName: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}, at most 32 characters
MAX_AUTOML_JOB_NAME = 32
STATUSES = ("InProgress", "Completed", "Failed", "Stopped", "Stopping")
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
# the describe loop: first poll after FIRST_POLL seconds, each wait doubled, at most MAX_POLL
FIRST_POLL_SECONDS = 5
MAX_POLL_SECONDS = 300
# how long past MaxAutoMLJobRuntimeInSeconds the loop keeps waiting (Autopilot stops the job at its limit, then
# finishes the candidates it has: minutes, not hours)
GRACE_SECONDS = 3600

# trainops data.content_type -> AutoMLJobChannel.ContentType (Autopilot reads CSV with a header, and Parquet)
CSV = "text/csv"
PARQUET_TYPES = ("application/x-parquet", "application/vnd.apache.parquet", "x-application/vnd.amazon+parquet")
AUTOML_CSV = "text/csv;header=present"
AUTOML_PARQUET = "x-application/vnd.amazon+parquet"

PROBLEM_TYPES = {
    ProblemType.BINARY: "BinaryClassification",
    ProblemType.MULTICLASS: "MulticlassClassification",
    ProblemType.REGRESSION: "Regression",
}
# Autopilot's objective metrics (AutoMLMetricEnum) for tabular problems, with their direction
DIRECTIONS = {
    "Accuracy": "Maximize",
    "AUC": "Maximize",
    "BalancedAccuracy": "Maximize",
    "F1": "Maximize",
    "F1macro": "Maximize",
    "Precision": "Maximize",
    "PrecisionMacro": "Maximize",
    "Recall": "Maximize",
    "RecallMacro": "Maximize",
    "R2": "Maximize",
    "MSE": "Minimize",
    "RMSE": "Minimize",
    "MAE": "Minimize",
}
METRICS_FOR = {
    ProblemType.BINARY: ("AUC", "F1", "Accuracy", "BalancedAccuracy", "Precision", "Recall"),
    ProblemType.MULTICLASS: ("Accuracy", "F1macro", "BalancedAccuracy", "PrecisionMacro", "RecallMacro"),
    ProblemType.REGRESSION: ("RMSE", "MSE", "MAE", "R2"),
}
# trainops' objective names (XGBoost's and Linear Learner's) -> Autopilot's. A metric Autopilot lacks (log loss)
# maps to none: the problem type's default is used instead, and the run says so.
_METRIC_ALIASES = {
    "auc": "AUC",
    "roc_auc_score": "AUC",
    "error": "Accuracy",
    "merror": "Accuracy",
    "accuracy": "Accuracy",
    "binary_classification_accuracy": "Accuracy",
    "multiclass_accuracy": "Accuracy",
    "f1": "F1",
    "binary_f_beta": "F1",
    "macro_f_beta": "F1macro",
    "precision": "Precision",
    "recall": "Recall",
    "macro_precision": "PrecisionMacro",
    "macro_recall": "RecallMacro",
    "rmse": "RMSE",
    "mse": "MSE",
    "mae": "MAE",
    "absolute_loss": "MAE",
    "r2": "R2",
}
# what an unconfigured objective becomes: the built-in XGBoost default mapped (binary AUC, regression RMSE); for
# multiclass XGBoost's mlogloss has no Autopilot counterpart, so Autopilot's own default, Accuracy
DEFAULT_METRIC = {ProblemType.BINARY: "AUC", ProblemType.MULTICLASS: "Accuracy", ProblemType.REGRESSION: "RMSE"}
# a header sample: the problem type is inferred from the target column's values in the first MiB
SAMPLE_BYTES = 1 << 20
MAX_MULTICLASS = 100


def autopilot_metric(name: str) -> str | None:
    """Autopilot's MetricName for a trainops / XGBoost / Linear Learner metric name (or Autopilot's own), or None.

    ``validation:auc`` -> ``AUC``, ``validation:error`` -> ``Accuracy``, ``validation:rmse`` -> ``RMSE``.
    """
    if name in DIRECTIONS:
        return name
    bare = name.split(":", 1)[1] if ":" in name else name
    if bare.endswith(":final"):
        bare = bare[: -len(":final")]
    return _METRIC_ALIASES.get(bare.lower())


def automl_job_name(project: str, run_id: str) -> str:
    """``trainops-<project, at most 14>-<digest of project and run>``: at most 32 characters, the same for the same
    run (a retried StartAutoML adopts the job), starting with the prefix the IAM statements name."""
    head = project[: MAX_AUTOML_JOB_NAME - len(RESOURCE_PREFIX) - 10].rstrip("-")
    return f"{RESOURCE_PREFIX}{head}-{digest(project, run_id, length=8)}"


def content_type_of(config: ProjectConfig) -> str:
    """AutoMLJobChannel.ContentType of the project's data."""
    given = config.data.content_type or CSV
    return AUTOML_PARQUET if given in PARQUET_TYPES else AUTOML_CSV


# --- what Autopilot cannot do ----------------------------------------------------------------------------------
def refusals(config: ProjectConfig) -> list[Refusal]:  # noqa: PLR0912  (one branch per CreateAutoMLJobV2 field the config may set)
    """Every reason this config cannot become an Autopilot job; empty for other algorithms."""
    if config.algorithm.name != AlgorithmName.AUTOPILOT:
        if config.autopilot is not None:
            return [
                Refusal(
                    ConfigInvalid,
                    f"the autopilot section configures Autopilot, but algorithm.name is {config.algorithm.name.value}",
                    field="autopilot",
                    fix="set algorithm.name: autopilot, or remove the autopilot section",
                )
            ]
        return []
    out: list[Refusal] = []

    def refuse(message: str, field: str, fix: str, kind: type[TrainopsError] = ConfigInvalid) -> None:
        out.append(Refusal(kind, message, field=field, fix=fix))

    given = config.data.content_type or CSV
    if given != CSV and given not in PARQUET_TYPES:
        refuse(
            f"Autopilot reads CSV and Parquet, not {given}",
            "data.content_type",
            f"convert the data to CSV with a header row (text/csv) or Parquet ({PARQUET_TYPES[0]})",
        )
    elif given == CSV and not config.data.header:
        refuse(
            "Autopilot reads CSV with a header row and predicts the column named by autopilot.target; "
            "data.header is false (the built-in algorithms' label-first, headerless CSV)",
            "data.header",
            "add a header row to the files and set data.header: true (autopilot.target names the label column; "
            "default: the first column)",
        )
    if given in PARQUET_TYPES:
        if config.autopilot is None or config.autopilot.target is None:
            refuse("Parquet data has no first column trainops can assume", "autopilot.target", "name the target")
        if config.problem.type is None:
            refuse(
                "trainops infers the problem type from CSV only",
                "problem.type",
                "set problem.type: binary, multiclass or regression",
            )
    if config.tuning is not None:
        refuse(
            "Autopilot tunes its candidates itself: a tuning section does not apply",
            "tuning",
            "remove the tuning section (autopilot.mode: HYPERPARAMETER_TUNING tunes), or use xgboost",
        )
    if config.resources.spot:
        refuse(
            "Autopilot jobs cannot use managed spot training",
            "resources.spot",
            "set resources.spot: false",
            AlgorithmNotSupported,
        )
    if config.resources.distribution != "none":
        refuse(
            "Autopilot chooses its own instances and distribution",
            "resources.distribution",
            "set resources.distribution: none",
            AlgorithmNotSupported,
        )
    if config.incremental.enabled:
        refuse(
            "Autopilot cannot continue from an earlier model",
            "incremental.enabled",
            "set incremental.enabled: false",
        )
    if config.algorithm.hyperparameters or config.algorithm.version is not None:
        field = "algorithm.hyperparameters" if config.algorithm.hyperparameters else "algorithm.version"
        refuse("Autopilot chooses algorithms, versions and hyperparameters itself", field, f"remove {field}")
    if config.data.split == "always" or config.data.input_mode is not None:
        field = "data.split" if config.data.split == "always" else "data.input_mode"
        refuse(
            "Autopilot reads the dataset itself and splits it (validation_fraction)",
            field,
            f"remove {field} (data.validation_fraction sets Autopilot's split)",
        )
    metric = config.problem.objective_metric
    if metric is not None:
        mapped = autopilot_metric(metric)
        allowed = METRICS_FOR[config.problem.type] if config.problem.type else tuple(DIRECTIONS)
        if mapped is None or mapped not in allowed:
            refuse(
                f"Autopilot has no objective metric {metric!r}"
                + (f" for {config.problem.type.value} problems" if config.problem.type and mapped else ""),
                "problem.objective_metric",
                f"use one of {', '.join(allowed)} (or leave it out)",
            )
        elif config.problem.objective_direction not in (None, DIRECTIONS[mapped]):
            refuse(
                f"Autopilot's {mapped} is a {DIRECTIONS[mapped]} metric",
                "problem.objective_direction",
                "remove problem.objective_direction",
            )
    return out


# --- the plan ------------------------------------------------------------------------------------------------
def plan_autopilot(request: RunRequest, config: ProjectConfig, s3: Any) -> TrainingPlan:
    """Problem type (inferred from the target column when not configured), objective and target of the run."""
    refused = refusals(config)
    if refused:
        raise refused[0].error()
    inferred: list[Inference] = []
    content_type = content_type_of(config)
    settings = config.autopilot
    target = settings.target if settings is not None else None
    problem = config.problem.type
    sample_info: dict[str, Any] = {}
    if content_type == AUTOML_CSV:
        header, values, uri = _read_target_sample(request, config, target, s3)
        if target is None:
            target = header[0]
            inferred.append(
                Inference(
                    field="autopilot.target",
                    value=target,
                    reason="the first column, as for the built-in algorithms (set autopilot.target to choose)",
                )
            )
        if problem is None:
            problem, why = infer_problem_type(values, target)
            inferred.append(Inference(field="problem.type", value=problem.value, reason=why))
        sample_info = {"uri": uri, "rows": len(values), "columns": len(header)}
    if problem is None or target is None:  # Parquet: both required by refusals()
        raise ConfigInvalid("Parquet data needs autopilot.target and problem.type", field="autopilot.target")
    metric = autopilot_metric(config.problem.objective_metric) if config.problem.objective_metric else None
    if metric is not None and metric not in METRICS_FOR[problem]:
        raise ConfigInvalid(
            f"Autopilot's {metric} is not an objective for {problem.value} problems",
            field="problem.objective_metric",
            fix=f"use one of {', '.join(METRICS_FOR[problem])}",
        )
    if metric is None:
        metric = DEFAULT_METRIC[problem]
        inferred.append(
            Inference(
                field="problem.objective_metric",
                value=f"{metric} ({DIRECTIONS[metric]})",
                reason=f"trainops' default for {problem.value} problems, as Autopilot names it",
            )
        )
    return TrainingPlan(
        algorithm=AlgorithmName.AUTOPILOT.value,
        image=None,
        problem_type=problem.value,
        objective_metric=metric,
        objective_direction=DIRECTIONS[metric],
        content_type=content_type,
        input_mode="File",
        channels=["train"],
        hyperparameters={"target": target},
        inferred=inferred,
        needs_split=False,
        tune=False,
        sample=sample_info,
    )


def _read_target_sample(
    request: RunRequest, config: ProjectConfig, target: str | None, s3: Any
) -> tuple[list[str], list[str], str]:
    """(header, the target column's values in the first MiB, the object's URI)."""
    key = data_objects(request.dataset, s3)[0][0]
    uri = f"s3://{request.dataset.bucket}/{key}"
    try:
        raw = s3.get_object(Bucket=request.dataset.bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read()
    except ClientError as exc:
        raise translate(exc, f"reading a sample of {uri}") from exc
    if config.data.compression == "Gzip":
        import zlib

        raw = zlib.decompressobj(wbits=31).decompress(raw)
    text = raw.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # a row cut by the range
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows or not rows[0]:
        raise DatasetError(f"{uri} is empty", field="dataset", fix="upload a CSV with a header row and data rows")
    header = [h.strip() for h in rows[0]]
    column = header.index(target) if target in header else None
    if target is not None and column is None:
        raise ConfigInvalid(
            f"autopilot.target {target!r} is not a column of {uri} (its header: {', '.join(header[:20])})",
            field="autopilot.target",
            fix="name a column of the header row",
        )
    index = column or 0
    values = [r[index].strip() for r in rows[1:] if len(r) > index and r[index].strip()]
    if not values:
        raise DatasetError(
            f"{uri} has a header row but no data rows", field="dataset", fix="upload rows below the header"
        )
    return header, values, uri


def infer_problem_type(values: list[str], target: str) -> tuple[ProblemType, str]:
    """The problem type from the target column's values, with the reason."""
    distinct = set(values)
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        numbers = None
    if numbers is None or len(distinct) <= 2:
        kind = ProblemType.BINARY if len(distinct) <= 2 else ProblemType.MULTICLASS
        what = "text labels" if numbers is None else "labels"
        return kind, f"{target} holds {len(distinct)} distinct {what} in the sample"
    integral = all(n.is_integer() for n in numbers)
    if integral and len(distinct) <= min(MAX_MULTICLASS, max(3, len(values) // 20)):
        return ProblemType.MULTICLASS, f"{target} holds {len(distinct)} distinct integer labels in the sample"
    return ProblemType.REGRESSION, f"{target} holds {len(distinct)} distinct numbers in the sample"


# --- the request -----------------------------------------------------------------------------------------------
def build_request(
    request: RunRequest,
    config: ProjectConfig,
    plan: TrainingPlan,
    *,
    role_arn: str,
    artifacts_bucket: str,
    tags: list[dict[str, str]],
    stack: StackSecurity | None = None,
) -> dict[str, Any]:
    """The CreateAutoMLJobV2 request of the run."""
    settings = config.autopilot
    if settings is None:
        from trainops.config import AutopilotConfig

        settings = AutopilotConfig()
    if plan.problem_type is None or plan.objective_metric is None:
        raise ConfigInvalid("an Autopilot plan without a problem type or objective", field="problem.type")
    channel: dict[str, Any] = {
        "ChannelType": "training",
        "ContentType": plan.content_type or AUTOML_CSV,
        "CompressionType": "Gzip" if config.data.compression == "Gzip" else "None",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": request.dataset.uri}},
    }
    criteria: dict[str, int] = {"MaxAutoMLJobRuntimeInSeconds": settings.max_job_runtime_seconds}
    if settings.max_candidates is not None:
        criteria["MaxCandidates"] = settings.max_candidates
    if settings.max_runtime_per_training_job_seconds is not None:
        criteria["MaxRuntimePerTrainingJobInSeconds"] = settings.max_runtime_per_training_job_seconds
    tabular: dict[str, Any] = {
        "CompletionCriteria": criteria,
        "Mode": settings.mode,
        "ProblemType": PROBLEM_TYPES[ProblemType(plan.problem_type)],
        "TargetAttributeName": plan.hyperparameters["target"],
    }
    output: dict[str, str] = {"S3OutputPath": f"s3://{artifacts_bucket}/runs/{request.project}/{request.run_id}/automl"}
    body: dict[str, Any] = {
        "AutoMLJobName": automl_job_name(request.project, request.run_id),
        "AutoMLJobInputDataConfig": [channel],
        "OutputDataConfig": output,
        "AutoMLProblemTypeConfig": {"TabularJobConfig": tabular},
        "RoleArn": role_arn,
        "AutoMLJobObjective": {"MetricName": plan.objective_metric},
        "DataSplitConfig": {"ValidationFraction": config.data.validation_fraction},
        "Tags": tags,
    }
    if stack is not None:
        job = job_security(config, stack)
        security: dict[str, Any] = {}
        if job.kms_key:
            output["KmsKeyId"] = job.kms_key
            security["VolumeKmsKeyId"] = job.kms_key
        if job.inter_container_encryption:
            security["EnableInterContainerTrafficEncryption"] = True
        vpc = job.vpc_config()
        if vpc:
            security["VpcConfig"] = vpc
        if security:
            body["SecurityConfig"] = security
    return body


def start_automl_job(body: dict[str, Any], sagemaker: Any) -> dict[str, Any]:
    """Create the job; a retried create of the same name adopts the existing job."""
    name = body["AutoMLJobName"]
    try:
        arn = sagemaker.create_auto_ml_job_v2(**body)["AutoMLJobArn"]
        return {"job_name": name, "job_arn": arn, "adopted": False}
    except ClientError as exc:
        if error_code(exc) != "ResourceInUse":
            raise translate(exc, "CreateAutoMLJobV2") from exc
    desc = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=name)
    return {"job_name": name, "job_arn": desc["AutoMLJobArn"], "adopted": True}


# --- the describe loop ---------------------------------------------------------------------------------------
def poll(name: str, sagemaker: Any, *, waited: int, max_runtime: int, now: datetime | None = None) -> dict[str, Any]:
    """One turn of the state machine's describe loop: the job's status and the next wait (doubled each turn, at
    most MAX_POLL_SECONDS). Raises AutoMLJobFailed when it Failed or Stopped (with its FailureReason), and
    AutoMLJobTimedOut when it still runs GRACE_SECONDS after its MaxAutoMLJobRuntimeInSeconds."""
    try:
        desc = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=name)
    except ClientError as exc:
        raise translate(exc, "DescribeAutoMLJobV2") from exc
    status = desc["AutoMLJobStatus"]
    secondary = desc.get("AutoMLJobSecondaryStatus")
    if status in ("Failed", "Stopped"):
        reason = desc.get("FailureReason") or f"the job was {status.lower()} ({secondary})"
        raise AutoMLJobFailed(f"AutoML job {name} {status}: {reason}", field="autopilot")
    if status == "Completed":
        return {"job_name": name, "status": status, "secondary_status": secondary, "done": True, "waited": waited}
    created = desc.get("CreationTime")
    elapsed = ((now or datetime.now(UTC)) - created).total_seconds() if isinstance(created, datetime) else waited
    if elapsed > max_runtime + GRACE_SECONDS:
        raise AutoMLJobTimedOut(
            f"AutoML job {name} is still {status} ({secondary}) {int(elapsed)} s after it started; its "
            f"MaxAutoMLJobRuntimeInSeconds is {max_runtime}",
            field="autopilot.max_job_runtime_seconds",
            fix="look at the job in the SageMaker console; stop it there",
        )
    previous = waited
    wait = FIRST_POLL_SECONDS if previous <= 0 else min(MAX_POLL_SECONDS, previous * 2)
    return {
        "job_name": name,
        "status": status,
        "secondary_status": secondary,
        "done": False,
        "wait_seconds": wait,
        "waited": wait,
    }


def best_candidate(name: str, sagemaker: Any) -> JobResult:
    """The Completed job's BestCandidate as the run's result: its inference containers and objective value."""
    try:
        desc = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=name)
    except ClientError as exc:
        raise translate(exc, "DescribeAutoMLJobV2") from exc
    best = desc.get("BestCandidate")
    if not best or not best.get("InferenceContainers"):
        raise AutoMLJobFailed(
            f"AutoML job {name} {desc.get('AutoMLJobStatus')} without a best candidate with inference containers",
            field="autopilot",
            fix="look at the job's candidates (ListCandidatesForAutoMLJob) for their failure reasons",
        )
    objective = best.get("FinalAutoMLJobObjectiveMetric") or {}
    containers = [
        {k: c[k] for k in ("Image", "ModelDataUrl", "Environment") if c.get(k) is not None}
        for c in best["InferenceContainers"]
    ]
    metrics = {}
    metric_name = objective.get("StandardMetricName") or objective.get("MetricName")
    if metric_name and objective.get("Value") is not None:
        metrics[str(metric_name)] = float(objective["Value"])
    return JobResult(
        kind="automl",
        job_name=name,
        job_arn=desc["AutoMLJobArn"],
        status=desc["AutoMLJobStatus"],
        model_artifact=containers[-1].get("ModelDataUrl") or containers[0].get("ModelDataUrl"),
        image=containers[0].get("Image"),
        final_metrics=metrics,
        best_training_job=best.get("CandidateName"),
        details={"inference_containers": containers, "candidate": best.get("CandidateName")},
    )


def candidate_count(name: str, sagemaker: Any) -> int | None:
    """How many candidates the job tried (ListCandidatesForAutoMLJob, first page); None when unreadable."""
    try:
        resp = sagemaker.list_candidates_for_auto_ml_job(AutoMLJobName=name, MaxResults=100)
    except ClientError:
        return None
    return len(resp.get("Candidates", []))
