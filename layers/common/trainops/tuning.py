"""SageMaker hyperparameter tuning: request builder, job naming, warm start and outcome reading.

Pure functions build the ``CreateHyperParameterTuningJob`` request from the training request the planner
built (``plan_training_request``, a full ``CreateTrainingJob`` request) and the ``tuning:`` section of the
project config. The two adapters the handlers call take an injected SageMaker client:

* :func:`start_tuning` names the job, picks warm-start parents and creates the job
  (a retried create with the same deterministic name adopts the running job);
* :func:`read_tuning_outcome` reads ``BestTrainingJob`` once the state-change event arrived, or raises
  :class:`~trainops.errors.NoModelProduced` with the reason when no training job completed.

Shipped in the Lambda layer: boto3, pydantic and the standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from trainops.aws import error_code, translate
from trainops.catalog import spec_for
from trainops.config import AlgorithmName, ProblemType
from trainops.errors import (
    ConfigInvalid,
    InvalidTrainingRequest,
    NoModelProduced,
)
from trainops.naming import RESOURCE_PREFIX, digest
from trainops.objective import Direction, direction_of, for_own_code
from trainops.objective import configured as configured_objective
from trainops.tuning_config import (
    CategoricalRange,
    IntegerRange,
    Strategy,
    TuningConfig,
    WarmStartConfig,
    WarmStartType,
)
from trainops.types import MAX_TAGS, TAG_KEY_RE, TUNING_JOB_NAME_RE

if TYPE_CHECKING:
    from trainops.config import ProjectConfig

# --- AWS limits (the SageMaker API reference; botocore's service model wins where they differ) -------
MAX_TUNING_JOB_NAME = 32
# what is left of a tuning job name for the project: 32 - len("trainops-") - len("-<8 hex>")
MAX_TUNING_PROJECT_PART = MAX_TUNING_JOB_NAME - len(RESOURCE_PREFIX) - 9
MAX_RANGES = 30
MAX_CATEGORICAL_VALUES = 30
MAX_HYPERPARAMETERS = 100
MAX_METRIC_DEFINITIONS = 20
MAX_WARM_START_PARENTS = 5
MAX_TRAINING_JOBS = 750
MAX_TRAINING_JOBS_RANDOM = 10_000
MAX_PARALLEL_JOBS = 100
MAX_HYPERPARAMETER_VALUE = 2500
TERMINAL_TUNING_STATUSES = frozenset({"Completed", "Stopped", "Failed"})
TUNING_OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
# How many of the project's most recent terminal tuning jobs auto warm start looks at (one Describe each).
WARM_START_LOOKBACK = 20


# Metric-name fragments that tell the direction of a metric nobody gave a direction for.
_XGBOOST_OBJECTIVE_PROBLEM = {"binary": "binary", "multi": "multiclass", "reg": "regression"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResolvedObjective(_Model):
    """The objective metric a tuning job optimises, and in which direction."""

    metric: str = Field(min_length=1, max_length=255)
    direction: Direction


class WarmStartChoice(_Model):
    """Which parent tuning jobs seed a new tuning job, of which warm-start type, and why."""

    parents: list[str] = Field(default_factory=list)
    type: WarmStartType | None = None
    reason: str
    considered: dict[str, str] = Field(
        default_factory=dict, description="Earlier tuning jobs looked at and why each was left out."
    )

    def request(self) -> dict[str, Any] | None:
        """The ``WarmStartConfig`` request member, or None for a cold start."""
        if not self.parents or self.type is None:
            return None
        return {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in self.parents],
            "WarmStartType": str(self.type),
        }


# --- objective --------------------------------------------------------------------------------------
def _plan_metric(plan_hyperparameters: dict[str, str] | None) -> str | None:
    """XGBoost reports ``validation:<eval_metric>``: the planner's eval_metric is the natural objective."""
    if not plan_hyperparameters or not plan_hyperparameters.get("eval_metric"):
        return None
    first = str(plan_hyperparameters["eval_metric"]).split(",")[0].strip()
    return f"validation:{first}" if first else None


def _problem_type(config: ProjectConfig, plan_hyperparameters: dict[str, str] | None) -> str | None:
    if config.problem.type is not None:
        return str(config.problem.type)
    objective = str((plan_hyperparameters or {}).get("objective", ""))
    return _XGBOOST_OBJECTIVE_PROBLEM.get(objective.split(":", maxsplit=1)[0]) if objective else None


def resolve_objective(config: ProjectConfig, plan_hyperparameters: dict[str, str] | None = None) -> ResolvedObjective:
    """The objective a tuning job of this config optimises, as planning resolves it (``trainops.objective``):
    ``tuning.objective`` > ``problem`` > the planner's eval_metric > the algorithm's default for the problem.

    Raises ConfigInvalid when neither the config nor the plan tells the metric or its direction.
    """
    if config.algorithm.brings_own_code:
        own = for_own_code(config)
        if own.metric is None or own.direction is None:
            raise ConfigInvalid(
                "tuning needs an objective metric: the config has no algorithm.metric_definitions",
                field="tuning.objective.metric",
                fix="add a metric definition (name + regex over the job's log) and name it as the objective",
            )
        return ResolvedObjective(metric=own.metric, direction=own.direction)
    metric, direction = configured_objective(config)
    spec = spec_for(config.algorithm.name)
    if metric is None and config.algorithm.name == AlgorithmName.XGBOOST:
        metric = _plan_metric(plan_hyperparameters)
    problem = _problem_type(config, plan_hyperparameters)
    if metric is None and problem is not None and spec.objectives:
        metric = spec.objectives[ProblemType(problem)].metric
    if metric is None:
        raise ConfigInvalid(
            "tuning needs an objective metric and none is given or can be inferred",
            field="tuning.objective.metric",
            fix="set tuning.objective.metric (e.g. validation:auc) and tuning.objective.direction",
        )
    direction = direction or direction_of(metric, spec.metrics)
    if direction is None:
        raise ConfigInvalid(
            f"cannot tell whether objective metric {metric!r} is to be maximised or minimised",
            field="tuning.objective.direction",
            fix="set tuning.objective.direction: Maximize or Minimize",
        )
    return ResolvedObjective(metric=metric, direction=direction)


# --- names ------------------------------------------------------------------------------------------
def project_job_prefix(project: str) -> str:
    """The part of every tuning job name of ``project`` before the run's digest: ``trainops-<project>``.

    A tuning job name has 32 characters at most, and the run's digest takes 9 of them after this prefix, so a
    project of more than 14 characters keeps its first 7 and a digest of the whole name (``trainops-<7>-<6 hex>``,
    23 characters): two projects sharing a long start never share tuning jobs (or warm-start parents).
    """
    if len(project) <= MAX_TUNING_PROJECT_PART:
        return f"{RESOURCE_PREFIX}{project}"
    return f"{RESOURCE_PREFIX}{project[:7].rstrip('-')}-{digest(project, length=6)}"


def tuning_job_name(project: str, run_id: str) -> str:
    """Deterministic tuning job name, <= 32 characters: ``trainops-<project part>-<8 hex of project+run>``.

    Deterministic so that a retried start finds (and adopts) the job the first attempt created. Its training
    jobs (``<tuning job>-<3 digits>-<8 hex>``, named by SageMaker) start with the same prefix.
    """
    name = f"{project_job_prefix(project)}-{digest(project, run_id)}"
    if len(name) > MAX_TUNING_JOB_NAME or not TUNING_JOB_NAME_RE.match(name):
        raise InvalidTrainingRequest(
            f"tuning job name {name!r} is not valid (<= 32 chars, letters, digits, hyphens)",
            field="project",
            fix="use a project name of lower-case letters, digits and inner hyphens",
        )
    return name


def is_project_tuning_job(name: str, project: str) -> bool:
    """True when ``name`` was made by :func:`tuning_job_name` for ``project``."""
    prefix, _, suffix = name.rpartition("-")
    return prefix == project_job_prefix(project) and re.fullmatch(r"[0-9a-f]{8}", suffix) is not None


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


# --- warm start -------------------------------------------------------------------------------------
def _definition(job: dict[str, Any]) -> dict[str, Any]:
    return job.get("TrainingJobDefinition") or {}


def _range_kinds(ranges: dict[str, Any]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges"):
        for rng in ranges.get(kind) or []:
            kinds[rng["Name"]] = kind
    return kinds


def job_hyperparameter_names(job: dict[str, Any]) -> set[str]:
    """Static + tunable hyperparameter names of a tuning job (request or Describe response)."""
    definition = _definition(job)
    ranges = definition.get("HyperParameterRanges") or (job.get("HyperParameterTuningJobConfig") or {}).get(
        "ParameterRanges", {}
    )
    static = {k for k in definition.get("StaticHyperParameters") or {} if not k.startswith("_tuning")}
    return static | set(_range_kinds(ranges))


def _job_ranges(job: dict[str, Any]) -> dict[str, str]:
    definition = _definition(job)
    ranges = definition.get("HyperParameterRanges") or (job.get("HyperParameterTuningJobConfig") or {}).get(
        "ParameterRanges", {}
    )
    return _range_kinds(ranges)


def _job_objective(job: dict[str, Any]) -> dict[str, Any]:
    return (job.get("HyperParameterTuningJobConfig") or {}).get("HyperParameterTuningJobObjective") or {}


def _completed_jobs(job: dict[str, Any]) -> int:
    return int((job.get("TrainingJobStatusCounters") or {}).get("Completed", 0))


def _total_jobs(job: dict[str, Any]) -> int:
    counters = job.get("TrainingJobStatusCounters") or {}
    return sum(int(v) for v in counters.values())


def parent_ineligibility(parent: dict[str, Any], new_job: dict[str, Any]) -> str | None:
    """Why a Describe'd tuning job cannot warm-start ``new_job`` (a request); None when it can.

    AWS rules: the parent is terminal (Completed, Stopped, Failed), has the same objective metric and
    the same set of static + tunable hyperparameter names, and no range changes its kind. A parent
    without a single completed training job would teach nothing, so it is left out too.
    """
    status = parent.get("HyperParameterTuningJobStatus")
    if status not in TERMINAL_TUNING_STATUSES:
        return f"status {status} is not terminal"
    if _job_objective(parent).get("MetricName") != _job_objective(new_job).get("MetricName"):
        return f"objective {_job_objective(parent).get('MetricName')} differs"
    if _completed_jobs(parent) == 0:
        return "no completed training job"
    ours, theirs = job_hyperparameter_names(new_job), job_hyperparameter_names(parent)
    if ours != theirs:
        diff = sorted(ours ^ theirs)
        return f"hyperparameter names differ ({', '.join(diff[:5])}{'...' if len(diff) > 5 else ''})"
    our_ranges, their_ranges = _job_ranges(new_job), _job_ranges(parent)
    changed = sorted(n for n in our_ranges.keys() & their_ranges.keys() if our_ranges[n] != their_ranges[n])
    if changed:
        return f"range kind changed for {', '.join(changed)}"
    return None


def _data_and_image(job: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    definition = _definition(job)
    spec = definition.get("AlgorithmSpecification") or {}
    image = spec.get("TrainingImage") or spec.get("AlgorithmName") or ""
    channels = sorted(
        (c.get("ChannelName", ""), ((c.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri", ""))
        for c in definition.get("InputDataConfig") or []
    )
    return image, channels


def warm_start_type(parents: list[dict[str, Any]], new_job: dict[str, Any]) -> WarmStartType:
    """IdenticalDataAndAlgorithm when every parent used the same data and image, else TransferLearning."""
    ours = _data_and_image(new_job)
    if parents and all(_data_and_image(p) == ours for p in parents):
        return WarmStartType.IDENTICAL_DATA_AND_ALGORITHM
    return WarmStartType.TRANSFER_LEARNING


def _training_job_budget(tuning: TuningConfig) -> int:
    limit = MAX_TRAINING_JOBS_RANDOM if tuning.strategy == Strategy.RANDOM else MAX_TRAINING_JOBS
    return limit - tuning.max_jobs


def select_parents(
    candidates: list[dict[str, Any]], new_job: dict[str, Any], tuning: TuningConfig
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Pick up to 5 eligible parents, most recent first, within the training-job budget.

    ``candidates`` are Describe responses, newest first. Parents' training jobs count toward the new
    job's limit (750, Random 10,000), so a parent that would break it is skipped. Returns the chosen
    parents and, for every candidate left out, the reason.
    """
    chosen: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    budget = _training_job_budget(tuning)
    for job in candidates:
        name = job.get("HyperParameterTuningJobName", "?")
        reason = parent_ineligibility(job, new_job)
        if reason is None and len(chosen) >= MAX_WARM_START_PARENTS:
            reason = f"already {MAX_WARM_START_PARENTS} parents"
        if reason is None and _total_jobs(job) > budget:
            reason = "its training jobs would exceed the training-job limit"
        if reason is not None:
            skipped[name] = reason
            continue
        chosen.append(job)
        budget -= _total_jobs(job)
    return chosen, skipped


def _list_project_jobs(project: str, sagemaker_client: Any, exclude: str) -> list[str]:
    """Names of the project's terminal tuning jobs, newest first (at most WARM_START_LOOKBACK)."""
    names: list[str] = []
    kwargs: dict[str, Any] = {
        "NameContains": project_job_prefix(project),
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    while len(names) < WARM_START_LOOKBACK:
        try:
            page = sagemaker_client.list_hyper_parameter_tuning_jobs(**kwargs)
        except ClientError as exc:
            raise _translate(exc) from exc
        for summary in page.get("HyperParameterTuningJobSummaries", []):
            name = summary["HyperParameterTuningJobName"]
            if (
                name != exclude
                and is_project_tuning_job(name, project)
                and summary.get("HyperParameterTuningJobStatus") in TERMINAL_TUNING_STATUSES
            ):
                names.append(name)
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return names[:WARM_START_LOOKBACK]


def _describe_tuning(name: str, sagemaker_client: Any) -> dict[str, Any] | None:
    try:
        return sagemaker_client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ResourceNotFound", "ValidationException"):
            return None
        raise _translate(exc) from exc


def choose_warm_start(
    config: ProjectConfig, new_job: dict[str, Any], *, project: str, sagemaker_client: Any
) -> WarmStartChoice:
    """Decide the warm start of ``new_job`` (a request without ``WarmStartConfig``) from the config.

    ``off`` -> cold start; explicit parents -> each must be eligible (else InvalidTrainingRequest);
    ``auto`` -> up to 5 of the project's earlier terminal tuning jobs with the same objective and the
    same hyperparameter names. Grid and Hyperband start cold.
    """
    tuning = config.tuning or TuningConfig()
    if tuning.warm_start == "off":
        return WarmStartChoice(reason="warm start is off in the config")
    if tuning.strategy in (Strategy.GRID, Strategy.HYPERBAND) and tuning.warm_start == "auto":
        return WarmStartChoice(reason=f"{tuning.strategy} searches are not warm-started")
    if isinstance(tuning.warm_start, WarmStartConfig):
        return _explicit_warm_start(tuning.warm_start, new_job, sagemaker_client)
    exclude = new_job.get("HyperParameterTuningJobName", "")
    names = _list_project_jobs(project, sagemaker_client, exclude)
    candidates = [job for job in (_describe_tuning(n, sagemaker_client) for n in names) if job is not None]
    chosen, skipped = select_parents(candidates, new_job, tuning)
    if not chosen:
        why = "no earlier tuning job of this project" if not candidates else "no earlier tuning job is compatible"
        return WarmStartChoice(reason=f"cold start: {why}", considered=skipped)
    kind = warm_start_type(chosen, new_job)
    same = "same data and image" if kind == WarmStartType.IDENTICAL_DATA_AND_ALGORITHM else "data or image changed"
    return WarmStartChoice(
        parents=[p["HyperParameterTuningJobName"] for p in chosen],
        type=kind,
        reason=f"auto: {len(chosen)} earlier tuning job(s) with the same objective and hyperparameters; {same}",
        considered=skipped,
    )


def _explicit_warm_start(ws: WarmStartConfig, new_job: dict[str, Any], sagemaker_client: Any) -> WarmStartChoice:
    if not ws.parents:
        return WarmStartChoice(reason="warm start configured without parents")
    if len(ws.parents) > MAX_WARM_START_PARENTS:
        raise InvalidTrainingRequest(
            f"{len(ws.parents)} warm-start parents (AWS allows {MAX_WARM_START_PARENTS})",
            field="tuning.warm_start.parents",
            fix="keep at most 5 parents",
        )
    parents = []
    for i, name in enumerate(ws.parents):
        if not name.startswith(RESOURCE_PREFIX):
            # the functions may only read tuning jobs named trainops-* (template.yaml): say so, not AccessDenied
            raise InvalidTrainingRequest(
                f"tuning job {name!r} cannot be a warm-start parent: trainops reads only its own tuning jobs, "
                f"named {RESOURCE_PREFIX}*",
                field=f"tuning.warm_start.parents.{i}",
                fix=f"name an earlier tuning job of this project (its name starts with {RESOURCE_PREFIX}), or use auto",
            )
        job = _describe_tuning(name, sagemaker_client)
        reason = "it does not exist" if job is None else parent_ineligibility(job, new_job)
        if reason == "no completed training job":
            reason = None  # named by the user: AWS accepts it, so do we
        if reason is not None:
            raise InvalidTrainingRequest(
                f"tuning job {name!r} cannot be a warm-start parent: {reason}",
                field=f"tuning.warm_start.parents.{i}",
                fix="name a terminal tuning job with the same objective and hyperparameter names, or use auto",
            )
        parents.append(job)
    kind = ws.type or warm_start_type([p for p in parents if p is not None], new_job)
    return WarmStartChoice(parents=list(ws.parents), type=kind, reason="explicit parents from the config")


# --- adapters ---------------------------------------------------------------------------------------
def _translate(exc: ClientError) -> Exception:
    """The shared translation (throttling, quotas), plus what a tuning request's ValidationException means."""
    if error_code(exc) == "ValidationException":
        message = exc.response.get("Error", {}).get("Message", str(exc))
        return InvalidTrainingRequest(message, field="tuning", fix="run `trainops config validate` on the config")
    return translate(exc, "SageMaker")


def start_tuning(
    plan_training_request: dict[str, Any],
    config: ProjectConfig,
    *,
    run_id: str,
    project: str,
    sagemaker_client: Any,
    objective: ResolvedObjective | None = None,
) -> dict[str, Any]:
    """Create the run's hyperparameter tuning job and say which warm start it got and why.

    Returns ``tuning_job_name``, ``tuning_job_arn``, ``adopted`` (a retried create found the job
    already there), ``objective`` and ``warm_start`` (parents, type, reason).
    """
    if config.tuning is None:
        raise ConfigInvalid("the project config has no tuning section", field="tuning", fix="add a tuning: section")
    # the config was linted once, at NormalizeRequest (trainops.lint.raise_on_errors), before anything started
    name = tuning_job_name(project, run_id)
    request = build_tuning_request(
        plan_training_request,
        config,
        tuning_job_name=name,
        tags=tuning_tags(plan_training_request, project=project, run_id=run_id),
        objective=objective,
    )
    warm = choose_warm_start(config, request, project=project, sagemaker_client=sagemaker_client)
    if warm.request() is not None:
        request["WarmStartConfig"] = warm.request()
    adopted = False
    try:
        arn = sagemaker_client.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUse":
            raise _translate(exc) from exc
        existing = _describe_tuning(name, sagemaker_client)
        if existing is None:
            raise _translate(exc) from exc
        arn, adopted = existing["HyperParameterTuningJobArn"], True
    sent = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    return {
        "tuning_job_name": name,
        "tuning_job_arn": arn,
        "adopted": adopted,
        "objective": {"metric": sent["MetricName"], "direction": sent["Type"]},
        "warm_start": warm.model_dump(mode="json"),
    }


def _failure_reasons(tuning_job_name: str, sagemaker_client: Any, limit: int = 3) -> list[str]:
    """Distinct FailureReasons of the tuning job's failed training jobs (best effort)."""
    try:
        page = sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_job_name, StatusEquals="Failed", MaxResults=100
        )
    except ClientError:
        return []
    reasons: list[str] = []
    for summary in page.get("TrainingJobSummaries", []):
        reason = summary.get("FailureReason")
        if reason and reason not in reasons:
            reasons.append(reason)
    return reasons[:limit]


def failure_cause(tuning_job_name: str, sagemaker_client: Any) -> str:
    """Why a tuning job produced no model, with its training jobs' FailureReasons (for the run's cause)."""
    job = _describe_tuning(tuning_job_name, sagemaker_client)
    return _no_model_reason(job, sagemaker_client) if job else f"tuning job {tuning_job_name} not found"


def _no_model_reason(job: dict[str, Any], sagemaker_client: Any) -> str:
    name = job["HyperParameterTuningJobName"]
    counters = job.get("TrainingJobStatusCounters") or {}
    failed = int(counters.get("RetryableError", 0)) + int(counters.get("NonRetryableError", 0))
    stopped = int(counters.get("Stopped", 0))
    parts = [
        f"tuning job {name} ended {job.get('HyperParameterTuningJobStatus')} without a completed training job "
        f"({failed} failed, {stopped} stopped, e.g. by early stopping)"
    ]
    if job.get("FailureReason"):
        parts.append(f"tuning job failure: {job['FailureReason']}")
    reasons = _failure_reasons(name, sagemaker_client)
    if reasons:
        parts.append("training job failures: " + " | ".join(reasons))
    return "; ".join(parts)


def _best_completed(job: dict[str, Any], sagemaker_client: Any) -> dict[str, Any] | None:
    """BestTrainingJob when it Completed, else the best Completed job of the tuning job (if any)."""
    best = job.get("BestTrainingJob")
    if best and best.get("TrainingJobStatus") == "Completed":
        return best
    if _completed_jobs(job) == 0:
        return None
    direction = _job_objective(job).get("Type", "Maximize")
    try:
        page = sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job["HyperParameterTuningJobName"],
            StatusEquals="Completed",
            SortBy="FinalObjectiveMetricValue",
            SortOrder="Descending" if direction == "Maximize" else "Ascending",
            MaxResults=1,
        )
    except ClientError as exc:
        raise _translate(exc) from exc
    summaries = page.get("TrainingJobSummaries") or []
    return summaries[0] if summaries else None


def read_tuning_outcome(tuning_job_name: str, sagemaker_client: Any) -> dict[str, Any]:
    """What a finished tuning job produced: its best completed training job and its model.

    Returns ``tuning_job_name``, ``status``, ``best_training_job_name``/``_arn``, ``hyperparameters``
    (all, as the best job ran), ``tuned_hyperparameters``, ``objective`` (metric, type, value),
    ``model_artifacts`` (S3 URI of model.tar.gz), ``training_job_status_counters`` and
    ``objective_status_counters``. Raises NoModelProduced when no training job completed.
    """
    job = _describe_tuning(tuning_job_name, sagemaker_client)
    if job is None:
        raise NoModelProduced(f"tuning job {tuning_job_name} does not exist", field="tuning_job_name")
    best = _best_completed(job, sagemaker_client)
    if best is None:
        raise NoModelProduced(
            _no_model_reason(job, sagemaker_client),
            field="tuning",
            fix="look at the training jobs' FailureReason; widen ranges or turn early stopping off if all were stopped",
        )
    try:
        training = sagemaker_client.describe_training_job(TrainingJobName=best["TrainingJobName"])
    except ClientError as exc:
        raise _translate(exc) from exc
    final = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    objective = _job_objective(job)
    hyperparameters = {
        k: v for k, v in (training.get("HyperParameters") or {}).items() if k != TUNING_OBJECTIVE_HYPERPARAMETER
    }
    value = final.get("Value")
    return {
        "tuning_job_name": tuning_job_name,
        "status": job.get("HyperParameterTuningJobStatus"),
        "best_training_job_name": best["TrainingJobName"],
        "best_training_job_arn": best.get("TrainingJobArn") or training.get("TrainingJobArn"),
        "hyperparameters": hyperparameters,
        "tuned_hyperparameters": dict(best.get("TunedHyperParameters") or {}),
        "objective": {
            "metric": final.get("MetricName") or objective.get("MetricName"),
            "type": objective.get("Type"),
            "value": None if value is None or math.isnan(float(value)) else float(value),
        },
        "model_artifacts": (training.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
        "training_job_status_counters": dict(job.get("TrainingJobStatusCounters") or {}),
        "objective_status_counters": dict(job.get("ObjectiveStatusCounters") or {}),
    }
