"""Which kind of training an image URI stands for, locally."""

from __future__ import annotations

from typing import Any

from trainops_local.sagemaker.script_mode import is_script_mode
from trainops_local.sagemaker.types import JobFailed

XGBOOST_REPO = "sagemaker-xgboost"
LINEAR_LEARNER_REPO = "linear-learner"
FRAMEWORK_REPOS = frozenset({XGBOOST_REPO, "sagemaker-scikit-learn", "pytorch-training", "tensorflow-training"})
# Images of SageMaker's built-in algorithms (not bring-your-own containers) the local cloud cannot run.
ALGORITHM_REPOS = frozenset(
    {
        "kmeans",
        "pca",
        "factorization-machines",
        "randomcutforest",
        "knn",
        "object2vec",
        "ntm",
        "lda",
        "forecasting-deepar",
        "blazingtext",
        "image-classification",
        "object-detection",
        "semantic-segmentation",
        "seq2seq",
        "ipinsights",
    }
)
NOT_LOCAL = (
    "is not available locally: trainops' local cloud runs built-in XGBoost and Linear Learner, script mode and "
    "containers with a local stand-in command; run this project on AWS"
)


def repository(image_uri: str) -> str:
    """``<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`` -> ``<repo>`` (last path segment)."""
    path = image_uri.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def training_kind(request: dict[str, Any]) -> str:
    """``xgboost`` or ``linear-learner`` (built-in), ``script`` (a framework image running an entry point) or
    ``container`` (any other image); an algorithm the local cloud cannot run raises JobFailed("... not available
    locally")."""
    spec = request.get("AlgorithmSpecification") or {}
    image = spec.get("TrainingImage")
    if not image:
        name = spec.get("AlgorithmName", "this algorithm")
        raise JobFailed(f"ClientError: Algorithm {name} {NOT_LOCAL}")
    repo = repository(image)
    if repo in FRAMEWORK_REPOS and is_script_mode(request.get("HyperParameters") or {}):
        return "script"
    if repo == XGBOOST_REPO:
        return "xgboost"
    if repo == LINEAR_LEARNER_REPO:
        return "linear-learner"
    if repo in FRAMEWORK_REPOS or repo in ALGORITHM_REPOS:
        raise JobFailed(f"ClientError: Image {image} {NOT_LOCAL}")
    return "container"


def processing_runnable(image_uri: str) -> bool:
    """Processing runs locally for the framework images (their ``python3`` is the current interpreter)."""
    return repository(image_uri) in FRAMEWORK_REPOS
