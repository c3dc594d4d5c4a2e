"""Warm start: which of the project's earlier tuning jobs seed a new one, of which type, and why (pure
decisions over Describe'd jobs; the reads are in :mod:`trainops.tuning.aws`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from trainops.errors import (
    InvalidTrainingRequest,
)
from trainops.naming import RESOURCE_PREFIX
from trainops.tuning.aws import _describe_tuning, _list_project_jobs
from trainops.tuning.limits import (
    MAX_TRAINING_JOBS,
    MAX_TRAINING_JOBS_RANDOM,
    MAX_WARM_START_PARENTS,
    TERMINAL_TUNING_STATUSES,
)
from trainops.tuning_config import (
    Strategy,
    TuningConfig,
    WarmStartConfig,
    WarmStartType,
)

if TYPE_CHECKING:
    from trainops.config import ProjectConfig


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


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
