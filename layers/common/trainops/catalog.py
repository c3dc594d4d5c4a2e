"""The algorithm catalog: what each algorithm accepts, as data, so a later issue widens it by adding rows.

Facts encoded here were checked against the AWS docs and the containers' source (see docs/algorithms.md):
- built-in XGBoost: channels train (required) / validation; CSV (label first, no header) and libsvm;
  Pipe mode for CSV but not libsvm ("Pipe mode not supported for LibSVM"); no ``model`` channel; it resumes
  from ``xgboost-checkpoint.<N>`` in its checkpoint directory, training ``num_round - (N + 1)`` more rounds
  (``num_round`` is the total). That resume is verified for 1.7-1; 3.0-5 writes checkpoints under other names.
- Linear Learner: CSV and recordIO-protobuf in File and Pipe mode; no incremental training.
- script mode: any channel, File/FastFile/Pipe as the script handles it; incremental through a ``model`` channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from trainops.config import AlgorithmName, InputMode, ProblemType
from trainops.errors import AlgorithmNotSupported


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str  # Maximize | Minimize


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


_XGB_MAX = ("auc", "aucpr", "accuracy", "f1", "map", "ndcg", "r2", "precision", "recall", "balanced_accuracy")
_XGB_MIN = ("rmse", "mae", "mse", "logloss", "error", "merror", "mlogloss", "mape", "rmsle", "poisson-nloglik")


def _xgb_metrics() -> dict[str, str]:
    out: dict[str, str] = {}
    for channel in ("train", "validation"):
        out.update({f"{channel}:{m}": "Maximize" for m in _XGB_MAX})
        out.update({f"{channel}:{m}": "Minimize" for m in _XGB_MIN})
    return out


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
        metrics={
            "validation:objective_loss": "Minimize",
            "validation:binary_classification_accuracy": "Maximize",
            "validation:binary_f_beta": "Maximize",
            "validation:multiclass_accuracy": "Maximize",
            "validation:mse": "Minimize",
            "validation:absolute_loss": "Minimize",
            "train:objective_loss": "Minimize",
        },
        runs_locally=False,
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


@cache
def _image_table() -> dict[str, Any]:
    text = resources.files("trainops").joinpath("image_uris.json").read_text()
    return json.loads(text)


def image_uri(key: str, region: str, version: str | None = None) -> str:
    """Image URI of a built-in algorithm or framework container, from the vendored table."""
    table = _image_table()
    image = table["images"].get(key)
    if image is None:
        raise AlgorithmNotSupported(f"no image known for {key!r}", field="algorithm.name")
    version = version or image["default"]
    if version not in image["versions"]:
        raise AlgorithmNotSupported(
            f"{key} version {version!r} is not in trainops' image table",
            field="algorithm.version" if key in ("xgboost", "linear-learner") else "algorithm.framework_version",
            fix=f"use one of {', '.join(image['versions'])}",
        )
    account = table["accounts"][image["account"]].get(region)
    if account is None:
        raise AlgorithmNotSupported(f"{key} images are not listed for region {region}", field="region")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    tag = image["tag"].format(version=version)
    return f"{account}.dkr.ecr.{region}.{suffix}/{image['repository']}:{tag}"


def default_input_mode(spec: AlgorithmSpec, content_type: str) -> InputMode:
    """Pipe where the algorithm supports it for this content type, File otherwise."""
    return InputMode.PIPE if content_type in spec.pipe_content_types else InputMode.FILE
