"""A local emulation of Autopilot (CreateAutoMLJobV2, tabular) for trainops' local cloud.

It is NOT Autopilot: no feature engineering, no AutoGluon ensembles, no deep-learning candidates, no explainability
or insight reports. It reads the header CSV, moves the target column first (and encodes class labels 0..k-1),
splits it (DataSplitConfig.ValidationFraction, seeded by the job name), and trains real candidates with the local
engines as ordinary training jobs: built-in XGBoost and Linear Learner with a few hyperparameter settings, at most
MaxCandidates. Each candidate's objective is the Autopilot metric read from the engine's validation metrics (see
``METRIC_SOURCES``); the best one is ``BestCandidate``, in DescribeAutoMLJobV2's and ListCandidatesForAutoMLJob's
shapes, with its training image and model artifact as the inference container. docs/algorithms.md, "Autopilot".
"""

from __future__ import annotations

import copy
import csv
import io
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker import models as sm_models
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from trainops.catalog import image_uri

from trainops_local.sagemaker.types import utcnow

# capture moto's own methods before the backend patches them
_MOTO_CREATE = sm_models.SageMakerModelBackend.create_auto_ml_job_v2
_MOTO_DESCRIBE = sm_models.SageMakerModelBackend.describe_auto_ml_job_v2

# Autopilot metric -> per engine, (validation metric, transform). XGBoost is asked for the metric it can log.
METRIC_SOURCES: dict[str, dict[str, tuple[str, Any]]] = {
    "AUC": {"xgboost": ("validation:auc", None), "linear-learner": ("validation:roc_auc_score", None)},
    "Accuracy": {
        "xgboost": ("validation:error", lambda v: 1.0 - v),
        "linear-learner": ("validation:binary_classification_accuracy", None),
    },
    "F1": {"linear-learner": ("validation:binary_f_beta", None)},
    "Precision": {"linear-learner": ("validation:precision", None)},
    "Recall": {"linear-learner": ("validation:recall", None)},
    "RMSE": {"xgboost": ("validation:rmse", None), "linear-learner": ("validation:mse", math.sqrt)},
    "MSE": {"xgboost": ("validation:rmse", lambda v: v * v), "linear-learner": ("validation:mse", None)},
    "MAE": {"xgboost": ("validation:mae", None), "linear-learner": ("validation:absolute_loss", None)},
}
MULTICLASS_SOURCES: dict[str, dict[str, tuple[str, Any]]] = {
    "Accuracy": {
        "xgboost": ("validation:merror", lambda v: 1.0 - v),
        "linear-learner": ("validation:multiclass_accuracy", None),
    },
    "F1macro": {"linear-learner": ("validation:macro_f_beta", None)},
    "PrecisionMacro": {"linear-learner": ("validation:macro_precision", None)},
    "RecallMacro": {"linear-learner": ("validation:macro_recall", None)},
}
MAXIMIZE = {"Accuracy", "AUC", "BalancedAccuracy", "F1", "F1macro", "Precision", "PrecisionMacro", "Recall"}
MAXIMIZE |= {"RecallMacro", "R2"}
# the settings tried, in order (MaxCandidates keeps the first n the metric can be read from)
XGB_SETTINGS = [
    {"num_round": "60", "max_depth": "3", "eta": "0.2"},
    {"num_round": "100", "max_depth": "6", "eta": "0.1", "subsample": "0.8"},
    {"num_round": "150", "max_depth": "4", "eta": "0.05", "min_child_weight": "2"},
    {"num_round": "40", "max_depth": "8", "eta": "0.3", "colsample_bytree": "0.7"},
]
LL_SETTINGS = [
    {"epochs": "15", "mini_batch_size": "100", "learning_rate": "0.01"},
    {"epochs": "25", "mini_batch_size": "50", "wd": "0.001"},
]
CANDIDATE_TIMEOUT = 600.0


@dataclass
class TrainingEngine:
    """What the emulation needs from the local training backend, handed in by it (no import back to it)."""

    client: Callable[[str], Any]  # a boto3 client of the local cloud for a service name
    start_training: Callable[[dict[str, Any]], Any]  # CreateTrainingJob's request -> a JobHandle


@dataclass
class AutoMLRun:
    name: str
    arn: str
    request: dict[str, Any]
    engine: TrainingEngine
    status: str = "InProgress"
    secondary: str = "Starting"
    failure: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    end: datetime | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


_RUNS: dict[str, AutoMLRun] = {}
_LOCK = threading.Lock()


def create(backend: Any, kwargs: dict[str, Any], engine: TrainingEngine) -> str:
    """CreateAutoMLJobV2: moto's record, then the candidates trained in a background thread by ``engine``."""
    name = kwargs["auto_ml_job_name"]
    with _LOCK:
        if name in backend.auto_ml_jobs:
            raise ResourceInUseException(message=f"Auto ML Job {name} already exists")
        tabular = (kwargs.get("auto_ml_problem_type_config") or {}).get("TabularJobConfig")
        if tabular is None:
            raise ValidationError(message="the local Autopilot emulation runs tabular jobs (TabularJobConfig) only")
        arn = _MOTO_CREATE(backend, **kwargs)
        run = AutoMLRun(name=name, arn=arn, request=copy.deepcopy(kwargs), engine=engine)
        _RUNS[name] = run
    run.thread = threading.Thread(target=_run_safely, args=(run, backend.region_name), name=f"automl-{name}")
    run.thread.daemon = True
    run.thread.start()
    return str(arn)


def describe(backend: Any, auto_ml_job_name: str) -> dict[str, Any]:
    """DescribeAutoMLJobV2: moto's description with the emulation's status, failure and best candidate."""
    desc = dict(_MOTO_DESCRIBE(backend, auto_ml_job_name))
    run = _RUNS.get(auto_ml_job_name)
    if run is None:
        return desc
    desc["AutoMLJobStatus"] = run.status
    desc["AutoMLJobSecondaryStatus"] = run.secondary
    if run.failure:
        desc["FailureReason"] = run.failure
    if run.end is not None:
        desc["EndTime"] = run.end
    if run.best is not None:
        desc["BestCandidate"] = run.best
    else:
        desc.pop("BestCandidate", None)
    return desc


def list_candidates(params: dict[str, Any]) -> dict[str, Any]:
    name = params["AutoMLJobName"]
    run = _RUNS.get(name)
    if run is None:  # AWS documents ResourceNotFound for ListCandidatesForAutoMLJob (as moto's Describe answers)
        raise ResourceNotFound(message=f"Could not find AutoML job with name {name}.")
    found = [
        c for c in run.candidates if not params.get("StatusEquals") or c["CandidateStatus"] == params["StatusEquals"]
    ]
    if params.get("CandidateNameEquals"):
        found = [c for c in found if c["CandidateName"] == params["CandidateNameEquals"]]
    if params.get("SortBy") == "FinalObjectiveMetricValue":
        found.sort(key=lambda c: (c.get("FinalAutoMLJobObjectiveMetric") or {}).get("Value", float("nan")))
        if params.get("SortOrder", "Ascending") == "Descending":
            found.reverse()
    return {"Candidates": found[: int(params.get("MaxResults") or 10)]}


def response_list_candidates(self: Any) -> ActionResult:
    return ActionResult(list_candidates(self._get_params()))


def stop(backend: Any, auto_ml_job_name: str) -> None:  # noqa: ARG001 - the backend method's signature
    """StopAutoMLJob. Not the shared stop routine (sagemaker/stopping.py): AWS documents only ResourceNotFound for
    it (no ValidationException for a job that has ended) and sends no EventBridge event for AutoML jobs."""
    run = _RUNS.get(auto_ml_job_name)
    if run is None:
        raise ResourceNotFound(message=f"Could not find AutoML job with name {auto_ml_job_name}.")
    run.stop.set()
    if run.status == "InProgress":
        run.status, run.secondary = "Stopping", "Stopping"


def close(timeout: float = 30.0) -> None:
    for run in list(_RUNS.values()):
        run.stop.set()
    for run in list(_RUNS.values()):
        if run.thread is not None:
            run.thread.join(timeout)
    _RUNS.clear()


# --- the emulation -------------------------------------------------------------------------------------------
def _run_safely(run: AutoMLRun, region: str) -> None:
    try:
        _run(run, region)
    except _JobError as exc:
        run.status, run.secondary, run.failure = "Failed", "Failed", str(exc)
    except Exception as exc:  # noqa: BLE001  (an emulation bug ends the job Failed (InternalServerError), never a hung job)
        run.status, run.secondary, run.failure = "Failed", "Failed", f"InternalServerError: {exc}"
    finally:
        run.end = utcnow()


class _JobError(Exception):
    pass


def _run(run: AutoMLRun, region: str) -> None:
    s3 = run.engine.client("s3")
    req = run.request
    tabular = req["auto_ml_problem_type_config"]["TabularJobConfig"]
    channel = req["auto_ml_job_input_data_config"][0]
    if channel.get("ContentType", "text/csv;header=present") != "text/csv;header=present":
        raise _JobError(f"ClientError: the local Autopilot emulation reads CSV only, not {channel['ContentType']}")
    run.secondary = "AnalyzingData"
    header, rows = _read_csv(s3, channel["DataSource"]["S3DataSource"]["S3Uri"], channel.get("CompressionType"))
    target = tabular["TargetAttributeName"]
    if target not in header:
        raise _JobError(f"ClientError: the target attribute {target!r} is not a column of the dataset header")
    problem = tabular.get("ProblemType") or "BinaryClassification"
    metric = (req.get("auto_ml_job_objective") or {}).get("MetricName") or _default_metric(problem)
    sources = (MULTICLASS_SOURCES if problem == "MulticlassClassification" else METRIC_SOURCES).get(metric)
    if not sources:
        raise _JobError(f"ClientError: the local Autopilot emulation cannot compute {metric} for {problem}")
    train, validation, classes = _prepare(header, rows, target, problem, req, run.name)
    output = req["output_data_config"]["S3OutputPath"].rstrip("/") + f"/{run.name}"
    data_uri = _upload(s3, output, train, validation)
    criteria = tabular.get("CompletionCriteria") or {}
    max_candidates = int(criteria.get("MaxCandidates") or 10)
    per_job = int(criteria.get("MaxRuntimePerTrainingJobInSeconds") or 3600)
    deadline = utcnow().timestamp() + int(criteria.get("MaxAutoMLJobRuntimeInSeconds") or 86400)
    plans = [("xgboost", s) for s in XGB_SETTINGS] + [("linear-learner", s) for s in LL_SETTINGS]
    plans = [p for p in plans if p[0] in sources]
    # alternate engines so a small MaxCandidates still tries both
    ordered = [p for pair in zip(plans[: len(XGB_SETTINGS)], plans[len(XGB_SETTINGS) :], strict=False) for p in pair]
    ordered += [p for p in plans if p not in ordered]
    run.secondary = "ModelTuning"
    for index, (engine, settings) in enumerate(ordered[:max_candidates]):
        if run.stop.is_set() or utcnow().timestamp() > deadline:
            break
        candidate = _train_candidate(
            run, index, engine, settings, problem, classes, len(header) - 1, data_uri, output, region, per_job
        )
        objective = _objective(candidate, metric, sources[engine])
        if objective:
            candidate["FinalAutoMLJobObjectiveMetric"] = objective
        run.candidates.append(candidate)
    scored = [c for c in run.candidates if c["CandidateStatus"] == "Completed" and "FinalAutoMLJobObjectiveMetric" in c]
    if run.stop.is_set():
        run.status, run.secondary = "Stopped", "Stopped"
    elif not scored:
        reasons = "; ".join(c.get("FailureReason", "") for c in run.candidates)[:900]
        raise _JobError(f"AlgorithmError: no candidate completed with an objective value ({reasons})")
    else:
        run.status = "Completed"
        run.secondary = "MaxCandidatesReached" if len(run.candidates) >= max_candidates else "Completed"
    if scored:
        sign = 1.0 if metric in MAXIMIZE else -1.0
        run.best = max(scored, key=lambda c: sign * c["FinalAutoMLJobObjectiveMetric"]["Value"])


def _default_metric(problem: str) -> str:
    return {"BinaryClassification": "F1", "MulticlassClassification": "Accuracy"}.get(problem, "MSE")


def _read_csv(s3: Any, uri: str, compression: str | None) -> tuple[list[str], list[list[str]]]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    keys = sorted(o["Key"] for o in listed if o.get("Size", 0) > 0 and not o["Key"].rsplit("/", 1)[-1].startswith("_"))
    if not keys:
        raise _JobError(f"ClientError: no data under {uri}")
    header: list[str] | None = None
    rows: list[list[str]] = []
    for key in keys:
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if compression == "Gzip":
            import gzip

            raw = gzip.decompress(raw)
        reader = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        if not reader:
            continue
        first = [h.strip() for h in reader[0]]
        if header is None:
            header = first
        elif first != header:
            raise _JobError(f"ClientError: s3://{bucket}/{key} has another header than the first file")
        rows += [r for r in reader[1:] if r]
    if header is None or len(rows) < 10:
        raise _JobError("ClientError: the dataset needs a header row and at least 10 data rows")
    return header, rows


def _prepare(
    header: list[str], rows: list[list[str]], target: str, problem: str, req: dict[str, Any], name: str
) -> tuple[list[list[str]], list[list[str]], int]:
    """Target first (classes encoded 0..k-1), every other column as a number; shuffled and split."""
    column = header.index(target)
    labels = [r[column].strip() for r in rows]
    classes = 0
    if problem != "Regression":
        distinct = sorted(set(labels), key=lambda v: (_number(v) is None, _number(v) or 0.0, v))
        classes = len(distinct)
        code = {v: str(i) for i, v in enumerate(distinct)}
        labels = [code[v] for v in labels]
    out: list[list[str]] = []
    for label, row in zip(labels, rows, strict=True):
        features = [c.strip() for i, c in enumerate(row) if i != column]
        if any(_number(f) is None for f in features):
            raise _JobError(
                "ClientError: the local Autopilot emulation reads numeric feature columns only (no categorical "
                "encoding)"
            )
        out.append([label, *features])
    random.Random(name).shuffle(out)
    fraction = float((req.get("data_split_config") or {}).get("ValidationFraction") or 0.2)
    cut = max(1, round(len(out) * fraction))
    return out[cut:], out[:cut], classes


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _upload(s3: Any, output: str, train: list[list[str]], validation: list[list[str]]) -> str:
    bucket, _, prefix = output.removeprefix("s3://").partition("/")
    for part, rows in (("train", train), ("validation", validation)):
        body = "".join(",".join(r) + "\n" for r in rows).encode()
        s3.put_object(Bucket=bucket, Key=f"{prefix}/data/{part}/{part}.csv", Body=body)
    return f"s3://{bucket}/{prefix}/data"


def _train_candidate(
    run: AutoMLRun,
    index: int,
    engine: str,
    settings: dict[str, str],
    problem: str,
    classes: int,
    features: int,
    data_uri: str,
    output: str,
    region: str,
    max_runtime: int,
) -> dict[str, Any]:
    job = f"{run.name}-{engine[:3]}-{index:03d}"  # 32 + 8 characters: within TrainingJobName's 63
    hps = dict(settings)
    if engine == "xgboost":
        hps["objective"] = {
            "BinaryClassification": "binary:logistic",
            "MulticlassClassification": "multi:softprob",
        }.get(problem, "reg:squarederror")
        if problem == "MulticlassClassification":
            hps["num_class"] = str(classes)
        hps["eval_metric"] = {
            "BinaryClassification": "auc,error",
            "MulticlassClassification": "merror,mlogloss",
        }.get(problem, "rmse,mae")
        image = image_uri("xgboost", region, None)
    else:
        hps["predictor_type"] = {
            "BinaryClassification": "binary_classifier",
            "MulticlassClassification": "multiclass_classifier",
        }.get(problem, "regressor")
        hps["feature_dim"] = str(features)
        if problem == "MulticlassClassification":
            hps["num_classes"] = str(classes)
        image = image_uri("linear-learner", region, None)
    request = {
        "TrainingJobName": job,
        "HyperParameters": hps,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": run.request["role_arn"],
        "InputDataConfig": [
            {
                "ChannelName": part,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{data_uri}/{part}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for part in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"{output}/candidates"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    started = utcnow()
    handle = run.engine.start_training(request)
    try:
        handle.wait(CANDIDATE_TIMEOUT)
    except TimeoutError:
        handle.stop()
    record = handle.record
    status = str(record.training_job_status)
    metrics = {m["MetricName"]: float(m["Value"]) for m in (record.final_metric_data_list or [])}
    artifact = (getattr(record, "model_artifacts", None) or {}).get("S3ModelArtifacts")
    candidate: dict[str, Any] = {
        "CandidateName": job,
        "ObjectiveStatus": "Succeeded" if status == "Completed" else "Failed",
        "CandidateSteps": [
            {
                "CandidateStepType": "AWS::SageMaker::TrainingJob",
                "CandidateStepArn": handle.arn,
                "CandidateStepName": job,
            }
        ],
        "CandidateStatus": status,
        "InferenceContainers": [
            {
                "Image": image,
                "ModelDataUrl": artifact or "",
                "Environment": {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
            }
        ],
        "CreationTime": started,
        "EndTime": utcnow(),
        "LastModifiedTime": utcnow(),
        "CandidateProperties": {},
        "_metrics": metrics,
    }
    if status != "Completed":
        candidate["FailureReason"] = str(getattr(record, "failure_reason", None) or status)
    return candidate


def _objective(candidate: dict[str, Any], metric: str, source: tuple[str, Any]) -> dict[str, Any]:
    metrics = candidate.pop("_metrics")
    name, transform = source
    value = metrics.get(name)
    if value is None or candidate["CandidateStatus"] != "Completed":
        return {}
    value = transform(value) if transform else value
    kind = "Maximize" if metric in MAXIMIZE else "Minimize"
    return {"Type": kind, "MetricName": f"validation:{metric.lower()}", "Value": value, "StandardMetricName": metric}
