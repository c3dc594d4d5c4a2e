"""The algorithm catalog: what each algorithm accepts, as data, so a later issue widens it by adding rows.

Facts encoded here were checked against the AWS docs and the containers' source (see docs/algorithms.md):
- built-in XGBoost: channels train (required) / validation; CSV (label first, no header) and libsvm;
  Pipe mode for CSV but not libsvm ("Pipe mode not supported for LibSVM"); no ``model`` channel; it resumes
  from ``xgboost-checkpoint.<N>`` in its checkpoint directory, training ``num_round - (N + 1)`` more rounds
  (``num_round`` is the total). That resume is verified for 1.7-1; 3.0-5 writes checkpoints under other names.
- Linear Learner: CSV and recordIO-protobuf in File and Pipe mode; channels train (required), validation and
  test; no incremental training and no resume from checkpoints; metrics from its ``#quality_metric`` log lines,
  through the MetricDefinitions SageMaker attaches to the built-in algorithm (``LINEAR_LEARNER_METRICS``).
- script mode: any channel, File/FastFile/Pipe as the script handles it; incremental through a ``model`` channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trainops import image_uris
from trainops.config import AlgorithmName, InputMode, ProblemType
from trainops.errors import AlgorithmNotSupported
from trainops.objective import Direction


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: Direction


@dataclass(frozen=True)
class AlgorithmSpec:
    name: AlgorithmName
    image_key: str | None
    content_types: tuple[str, ...]
    pipe_content_types: tuple[str, ...]
    incremental: str | None  # "model-channel" | "checkpoint" | None
    checkpoint_resume_versions: tuple[str, ...] = ()
    objectives: dict[ProblemType, Objective] = field(default_factory=dict)
    # metric name -> direction, for validating a configured objective
    metrics: dict[str, str] = field(default_factory=dict)
    runs_locally: bool = True
    # resumes from what it wrote to /opt/ml/checkpoints after an interruption (managed spot training)
    resumes_from_checkpoints: bool = True


_XGB_MAX = ("auc", "aucpr", "accuracy", "f1", "map", "ndcg", "r2", "precision", "recall", "balanced_accuracy")
_XGB_MIN = ("rmse", "mae", "mse", "logloss", "error", "merror", "mlogloss", "mape", "rmsle", "poisson-nloglik")


def _xgb_metrics() -> dict[str, str]:
    out: dict[str, str] = {}
    for channel in ("train", "validation"):
        out.update({f"{channel}:{m}": "Maximize" for m in _XGB_MAX})
        out.update({f"{channel}:{m}": "Minimize" for m in _XGB_MIN})
    return out


# The MetricDefinitions SageMaker attaches to built-in Linear Learner jobs (as a tuning job's TrainingJobDefinition
# shows them): metric name -> (regex over the container's log, direction). Per-epoch objective lines carry
# ``epoch=``; the final values (``...:final`` and every score) are printed once, after training. The direction is
# the docs' "Metrics computed by the linear learner algorithm" table; ``roc_auc_score`` is in that table, its
# regex follows the others'.
_LL_SCORE = "#quality_metric: host=\\S+, {channel} {metric} <score>=(\\S+)"
_LL_LOSS = "#quality_metric: host=\\S+, {channel} {metric} <loss>=(\\S+)"


def _ll_metrics() -> dict[str, tuple[str, Direction]]:
    out: dict[str, tuple[str, Direction]] = {}
    scores = {
        "binary_classification_accuracy": "binary_classification_accuracy",
        "binary_f_beta": "binary_f_\\S+",
        "precision": "precision",
        "recall": "recall",
        "roc_auc_score": "roc_auc_score",
        "multiclass_accuracy": "multiclass_accuracy",
        "multiclass_top_k_accuracy": "multiclass_top_k_accuracy_\\S+",
        "dcg": "dcg",
        "macro_f_beta": "macro_f_\\S+",
        "macro_precision": "macro_precision",
        "macro_recall": "macro_recall",
    }
    for channel in ("train", "validation", "test"):
        epoch = "#quality_metric: host=\\S+, epoch=\\S+, {channel} \\S+_objective <loss>=(\\S+)"
        if channel != "test":
            out[f"{channel}:objective_loss"] = (epoch.format(channel=channel), "Minimize")
            out[f"{channel}:objective_loss:final"] = (
                _LL_LOSS.format(channel=channel, metric="\\S+_objective"),
                "Minimize",
            )
        else:  # the test channel is scored once, after training
            out["test:objective_loss"] = (_LL_LOSS.format(channel=channel, metric="\\S+_objective"), "Minimize")
        for name in ("mse", "absolute_loss"):
            out[f"{channel}:{name}"] = (_LL_LOSS.format(channel=channel, metric=name), "Minimize")
        for name, pattern in scores.items():
            out[f"{channel}:{name}"] = (_LL_SCORE.format(channel=channel, metric=pattern), "Maximize")
    return out


LINEAR_LEARNER_METRICS = _ll_metrics()


CATALOG: dict[AlgorithmName, AlgorithmSpec] = {
    AlgorithmName.XGBOOST: AlgorithmSpec(
        name=AlgorithmName.XGBOOST,
        image_key="xgboost",
        content_types=("text/csv", "text/libsvm"),
        pipe_content_types=("text/csv",),
        incremental="checkpoint",
        checkpoint_resume_versions=("1.5-1", "1.7-1"),
        objectives={
            ProblemType.BINARY: Objective("validation:auc", "Maximize"),
            ProblemType.MULTICLASS: Objective("validation:mlogloss", "Minimize"),
            ProblemType.REGRESSION: Objective("validation:rmse", "Minimize"),
        },
        metrics=_xgb_metrics(),
    ),
    AlgorithmName.LINEAR_LEARNER: AlgorithmSpec(
        name=AlgorithmName.LINEAR_LEARNER,
        image_key="linear-learner",
        content_types=("text/csv",),
        pipe_content_types=("text/csv",),
        incremental=None,
        objectives={
            ProblemType.BINARY: Objective("validation:objective_loss", "Minimize"),
            ProblemType.MULTICLASS: Objective("validation:objective_loss", "Minimize"),
            ProblemType.REGRESSION: Objective("validation:objective_loss", "Minimize"),
        },
        metrics={name: direction for name, (_, direction) in LINEAR_LEARNER_METRICS.items()},
        resumes_from_checkpoints=False,
    ),
    AlgorithmName.SCRIPT: AlgorithmSpec(
        name=AlgorithmName.SCRIPT,
        image_key=None,
        content_types=("text/csv", "text/libsvm"),
        pipe_content_types=("text/csv", "text/libsvm"),
        incremental="model-channel",
    ),
    AlgorithmName.CONTAINER: AlgorithmSpec(
        name=AlgorithmName.CONTAINER,
        image_key=None,
        content_types=("text/csv", "text/libsvm"),
        pipe_content_types=("text/csv", "text/libsvm"),
        incremental="model-channel",
        runs_locally=False,
    ),
    # chosen per run among the built-ins (planning.choose_algorithm): what any of them reads
    AlgorithmName.AUTO: AlgorithmSpec(
        name=AlgorithmName.AUTO,
        image_key=None,
        content_types=("text/csv", "text/libsvm"),
        pipe_content_types=(),
        incremental=None,
    ),
    AlgorithmName.AUTOPILOT: AlgorithmSpec(
        name=AlgorithmName.AUTOPILOT,
        image_key=None,
        content_types=("text/csv",),
        pipe_content_types=(),
        incremental=None,
        runs_locally=False,
    ),
}


def spec_for(name: AlgorithmName) -> AlgorithmSpec:
    return CATALOG[name]


# trainops' image keys -> the SDK's framework names; the XGBoost framework and algorithm share one image
FRAMEWORK_OF_KEY = {
    "xgboost": "xgboost",
    "xgboost-framework": "xgboost",
    "linear-learner": "linear-learner",
    "sklearn": "sklearn",
    "pytorch": "pytorch",
    "tensorflow": "tensorflow",
}
# script mode: config framework -> image key
FRAMEWORK_IMAGE_KEY = {
    "sklearn": "sklearn",
    "pytorch": "pytorch",
    "tensorflow": "tensorflow",
    "xgboost": "xgboost-framework",
}
DEFAULT_VERSIONS = {
    "xgboost": "1.7-1",
    "xgboost-framework": "1.7-1",
    "linear-learner": "1",
    "sklearn": "1.2-1",
    "pytorch": "2.5.1",
    "tensorflow": "2.16.2",
}
_BUILT_IN_KEYS = ("xgboost", "linear-learner")


def image_version(key: str, version: str | None) -> str:
    """The version a run uses: the configured one, else trainops' default for the image."""
    return version or DEFAULT_VERSIONS[key]


def image_uri(
    key: str, region: str, version: str | None = None, *, instance_type: str | None = None, scope: str = "training"
) -> str:
    """Image URI of a built-in algorithm or framework container, from the vendored table (CPU or GPU image by
    the instance family). Errors name the field to change and list what exists."""
    framework = FRAMEWORK_OF_KEY.get(key)
    if framework is None:
        raise AlgorithmNotSupported(f"no image known for {key!r}", field="algorithm.name")
    version = image_version(key, version)
    field = "algorithm.version" if key in _BUILT_IN_KEYS else "algorithm.framework_version"
    if scope == "training":
        image_uris.check_version(framework, version, field=field)
    py_version = image_uris.newest_python(framework, version, scope)
    try:
        return image_uris.retrieve(
            framework, region, version, instance_type=instance_type, scope=scope, py_version=py_version
        )
    except image_uris.ImageNotFound as exc:
        where, fix = {
            "instance_type": ("resources.instance_type", "choose an instance type the image supports"),
            "region": ("region", "deploy trainops in a region where the image is published"),
        }.get(exc.about, (field, f"use one of {', '.join(exc.versions)}" if exc.versions else "check the version"))
        raise AlgorithmNotSupported(str(exc), field=where, fix=fix) from exc


def default_input_mode(spec: AlgorithmSpec, content_type: str) -> InputMode:
    """Pipe where the algorithm supports it for this content type, File otherwise."""
    return InputMode.PIPE if content_type in spec.pipe_content_types else InputMode.FILE
