"""The objective a tuning job optimises: the config's, the plan's, or the algorithm's default, with its direction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from trainops.catalog import spec_for
from trainops.config import AlgorithmName, ProblemType
from trainops.errors import (
    ConfigInvalid,
)
from trainops.objective import Direction, direction_of, for_own_code
from trainops.objective import configured as configured_objective

if TYPE_CHECKING:
    from trainops.config import ProjectConfig

# Metric-name fragments that tell the direction of a metric nobody gave a direction for.
_XGBOOST_OBJECTIVE_PROBLEM = {"binary": "binary", "multi": "multiclass", "reg": "regression"}


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


class ResolvedObjective(_Model):
    """The objective metric a tuning job optimises, and in which direction."""

    metric: str = Field(min_length=1, max_length=255)
    direction: Direction


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
