"""The ``CreateHyperParameterTuningJob`` request: the job's deterministic name, its parameter ranges, its
training job definition (from the planner's ``CreateTrainingJob`` request) and its tags. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from trainops.errors import (
    ConfigInvalid,
    InvalidTrainingRequest,
)
from trainops.tuning.limits import TUNING_OBJECTIVE_HYPERPARAMETER
from trainops.tuning.objective import ResolvedObjective, resolve_objective
from trainops.tuning.warm_start import WarmStartChoice
from trainops.tuning_config import (
    CategoricalRange,
    IntegerRange,
    Strategy,
    TuningConfig,
)
from trainops.types import MAX_TAGS, TAG_KEY_RE

if TYPE_CHECKING:
    from trainops.config import ProjectConfig


# --- request ----------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    """SageMaker sends every hyperparameter value as a string; booleans the way the algorithms read them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _integer_values(rng: IntegerRange) -> list[str]:
    low, high = int(float(rng.min)), int(float(rng.max))
    return [str(v) for v in range(low, high + 1)]


def parameter_ranges(tuning: TuningConfig) -> dict[str, list[dict[str, Any]]]:
    """``ParameterRanges`` for the request, config order kept within each kind.

    With Grid, integer ranges are enumerated into categorical ranges: AWS grid search only takes
    categorical ranges (the linter keeps such ranges within 30 values).
    """
    integer: list[dict[str, Any]] = []
    continuous: list[dict[str, Any]] = []
    categorical: list[dict[str, Any]] = []
    for name, rng in tuning.ranges.items():
        if isinstance(rng, CategoricalRange):
            categorical.append({"Name": name, "Values": [_fmt(v) for v in rng.values]})
        elif isinstance(rng, IntegerRange) and tuning.strategy == Strategy.GRID:
            categorical.append({"Name": name, "Values": _integer_values(rng)})
        elif isinstance(rng, IntegerRange):
            integer.append(
                {"Name": name, "MinValue": _fmt(rng.min), "MaxValue": _fmt(rng.max), "ScalingType": str(rng.scaling)}
            )
        else:
            continuous.append(
                {"Name": name, "MinValue": _fmt(rng.min), "MaxValue": _fmt(rng.max), "ScalingType": str(rng.scaling)}
            )
    out: dict[str, list[dict[str, Any]]] = {}
    if integer:
        out["IntegerParameterRanges"] = integer
    if continuous:
        out["ContinuousParameterRanges"] = continuous
    if categorical:
        out["CategoricalParameterRanges"] = categorical
    return out


def grid_size(tuning: TuningConfig) -> int:
    """Number of distinct combinations a Grid search runs (0 when a continuous range makes it infinite)."""
    size = 1
    for rng in tuning.ranges.values():
        if isinstance(rng, CategoricalRange):
            size *= len(rng.values)
        elif isinstance(rng, IntegerRange):
            try:
                size *= max(0, int(float(rng.max)) - int(float(rng.min)) + 1)
            except ValueError:
                return 0
        else:
            return 0
    return size


# The members a CreateTrainingJob request and a tuning TrainingJobDefinition share, besides
# AlgorithmSpecification and the hyperparameters (a unit test checks this against botocore's model). The
# local tuner copies the same members back when it creates each child training job.
DEFINITION_MEMBERS = (
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "VpcConfig",
    "CheckpointConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "RetryStrategy",
    "Environment",
)
ALGORITHM_SPEC_MEMBERS = ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")


def training_job_definition(plan_training_request: dict[str, Any], tuned_names: Iterable[str]) -> dict[str, Any]:
    """Turn a ``CreateTrainingJob`` request into a tuning ``TrainingJobDefinition``.

    Static hyperparameters are the request's hyperparameters minus the tuned ones (and minus
    ``_tuning_objective_metric``, which the tuning job adds itself).
    """
    tuned = set(tuned_names)
    hyperparameters = plan_training_request.get("HyperParameters") or {}
    static = {k: str(v) for k, v in hyperparameters.items() if k not in tuned and k != TUNING_OBJECTIVE_HYPERPARAMETER}
    spec = plan_training_request.get("AlgorithmSpecification") or {}
    definition: dict[str, Any] = {
        "AlgorithmSpecification": {k: spec[k] for k in ALGORITHM_SPEC_MEMBERS if spec.get(k)},
    }
    if static:
        definition["StaticHyperParameters"] = static
    for key in DEFINITION_MEMBERS:
        if plan_training_request.get(key) not in (None, {}, []):
            definition[key] = plan_training_request[key]
    missing = [k for k in ("RoleArn", "OutputDataConfig", "StoppingCondition") if k not in definition]
    if "TrainingInputMode" not in definition["AlgorithmSpecification"]:
        missing.append("AlgorithmSpecification.TrainingInputMode")
    if missing:
        raise InvalidTrainingRequest(
            f"the training request lacks {', '.join(missing)}",
            field="plan_training_request",
            fix="build the request with trainops' training request builder",
        )
    return definition


def tuning_job_config(tuning: TuningConfig, objective: ResolvedObjective) -> dict[str, Any]:
    """``HyperParameterTuningJobConfig`` from the ``tuning:`` section."""
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": tuning.max_parallel_jobs}
    if tuning.strategy != Strategy.GRID:  # Grid runs every combination: AWS computes the number itself
        limits["MaxNumberOfTrainingJobs"] = tuning.max_jobs
    if tuning.max_runtime_seconds is not None:
        limits["MaxRuntimeInSeconds"] = tuning.max_runtime_seconds
    cfg: dict[str, Any] = {
        "Strategy": str(tuning.strategy),
        "HyperParameterTuningJobObjective": {"Type": objective.direction, "MetricName": objective.metric},
        "ResourceLimits": limits,
        "ParameterRanges": parameter_ranges(tuning),
        "TrainingJobEarlyStoppingType": tuning.effective_early_stopping,
    }
    if tuning.strategy == Strategy.HYPERBAND and tuning.hyperband is not None:
        hb = {
            k: v
            for k, v in (("MinResource", tuning.hyperband.min_resource), ("MaxResource", tuning.hyperband.max_resource))
            if v is not None
        }
        if hb:
            cfg["StrategyConfig"] = {"HyperbandStrategyConfig": hb}
    criteria = _completion_criteria(tuning)
    if criteria:
        cfg["TuningJobCompletionCriteria"] = criteria
    if tuning.random_seed is not None:
        cfg["RandomSeed"] = tuning.random_seed
    return cfg


def _completion_criteria(tuning: TuningConfig) -> dict[str, Any]:
    cc = tuning.completion_criteria
    if cc is None:
        return {}
    out: dict[str, Any] = {}
    if cc.target_objective_value is not None:
        out["TargetObjectiveMetricValue"] = cc.target_objective_value
    if cc.max_jobs_not_improving is not None:
        out["BestObjectiveNotImproving"] = {"MaxNumberOfTrainingJobsNotImproving": cc.max_jobs_not_improving}
    if cc.convergence_detected:
        out["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    return out


def tuning_tags(plan_training_request: dict[str, Any], *, project: str, run_id: str) -> list[dict[str, str]]:
    """The training request's tags plus the project and run ids (AWS: <= 50, no ``aws:`` prefix)."""
    tags = [dict(t) for t in plan_training_request.get("Tags") or []]
    keys = {t["Key"] for t in tags}
    for key, value in (("trainops:project", project), ("trainops:run-id", run_id)):
        if key not in keys:
            tags.append({"Key": key, "Value": value})
    for tag in tags:
        if tag["Key"].lower().startswith("aws:") or not TAG_KEY_RE.match(tag["Key"]) or len(tag["Value"]) > 256:
            raise InvalidTrainingRequest(
                f"tag {tag['Key']!r} is not valid", field="tags", fix="tag keys 1-128 chars, values <= 256, no aws:"
            )
    if len(tags) > MAX_TAGS:
        raise InvalidTrainingRequest(f"{len(tags)} tags (AWS allows {MAX_TAGS})", field="tags", fix="drop some tags")
    return tags


def build_tuning_request(
    plan_training_request: dict[str, Any],
    config: ProjectConfig,
    *,
    tuning_job_name: str,
    warm_start: WarmStartChoice | None = None,
    tags: list[dict[str, str]] | None = None,
    objective: ResolvedObjective | None = None,
) -> dict[str, Any]:
    """The full ``CreateHyperParameterTuningJob`` request (pure: no I/O). ``objective`` is the run plan's, so
    the search optimises what the registry compares; without it, it is resolved from the config the same way."""
    if config.tuning is None:
        raise ConfigInvalid("the project config has no tuning section", field="tuning", fix="add a tuning: section")
    tuning = config.tuning
    objective = objective or resolve_objective(config, plan_training_request.get("HyperParameters"))
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": tuning_job_name,
        "HyperParameterTuningJobConfig": tuning_job_config(tuning, objective),
        "TrainingJobDefinition": training_job_definition(plan_training_request, tuning.tunable_names()),
    }
    warm = warm_start.request() if warm_start is not None else None
    if warm is not None:
        request["WarmStartConfig"] = warm
    if tags:
        request["Tags"] = tags
    return request
