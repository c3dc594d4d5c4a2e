"""What a local tuning job searches and how it judges: the search space (SageMaker's ParameterRanges as optuna
distributions), the Grid strategy's sampler, objective values read from a training job, and SageMaker's median
stopping rule. Used by :mod:`trainops_local.sagemaker.tuning` (the tuning job) and
:mod:`trainops_local.sagemaker.tuning_api` (the checks CreateHyperParameterTuningJob makes)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import optuna
from moto.sagemaker.exceptions import ValidationError

from trainops_local.sagemaker.types import TrainingOutcome

MEDIAN_RULE_MIN_JOBS = 3  # ended jobs with data at an epoch before the median rule may stop a job


# --- search space -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One tunable hyperparameter and how it maps to an optuna distribution."""

    name: str
    kind: str  # integer | continuous | categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    @property
    def reverse_log(self) -> bool:
        return self.kind == "continuous" and self.scaling == "ReverseLogarithmic"

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The optuna distribution; ReverseLogarithmic samples ``1 - x`` on a log scale."""
        log_scale = self.scaling == "Logarithmic"
        if self.kind == "categorical":
            return optuna.distributions.CategoricalDistribution(self.values)
        if self.kind == "integer":
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=log_scale)
        if self.reverse_log:
            return optuna.distributions.FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=log_scale)

    def to_hyperparameter(self, internal: Any) -> str:
        """optuna's value -> the string the training job receives."""
        if self.kind == "categorical":
            return str(internal)
        if self.kind == "integer":
            return str(int(internal))
        value = 1.0 - float(internal) if self.reverse_log else float(internal)
        return repr(min(max(value, self.low), self.high))

    def to_internal(self, hyperparameter: str) -> Any | None:
        """A parent job's hyperparameter string -> optuna's value, or None when outside this range."""
        try:
            if self.kind == "categorical":
                return hyperparameter if hyperparameter in self.values else None
            number = float(hyperparameter)
        except ValueError:
            return None
        if not self.low <= number <= self.high:
            return None
        if self.kind == "integer":
            return int(number)
        internal = 1.0 - number if self.reverse_log else number
        return internal if self.distribution()._contains(internal) else None


def search_space(ranges: dict[str, Any], *, grid: bool) -> list[Param]:
    """ParameterRanges -> params; raises ValidationError as SageMaker does for invalid ranges."""
    params: list[Param] = []
    for rng in ranges.get("CategoricalParameterRanges") or []:
        params.append(Param(rng["Name"], "categorical", values=tuple(str(v) for v in rng["Values"])))
    for kind, key in (("integer", "IntegerParameterRanges"), ("continuous", "ContinuousParameterRanges")):
        for rng in ranges.get(key) or []:
            param = _numeric_param(kind, rng)
            if grid and kind == "continuous":
                raise ValidationError(message=f"Grid search does not support continuous parameter {param.name}")
            if grid:  # integer ranges are enumerated as categorical values
                values = tuple(str(v) for v in range(int(param.low), int(param.high) + 1))
                param = Param(param.name, "categorical", values=values)
            params.append(param)
    if not params:
        raise ValidationError(message="ParameterRanges must contain at least one hyperparameter range")
    return params


def _numeric_param(kind: str, rng: dict[str, Any]) -> Param:
    name, scaling = rng["Name"], rng.get("ScalingType", "Auto")
    try:
        low, high = float(rng["MinValue"]), float(rng["MaxValue"])
    except (KeyError, ValueError):
        raise ValidationError(message=f"Hyperparameter {name}: MinValue and MaxValue must be numbers") from None
    if kind == "integer" and not (low.is_integer() and high.is_integer()):
        raise ValidationError(message=f"Hyperparameter {name}: integer ranges need integer MinValue and MaxValue")
    if low >= high:
        raise ValidationError(message=f"Hyperparameter {name}: MinValue must be less than MaxValue")
    if scaling == "Logarithmic" and low <= 0:
        raise ValidationError(message=f"Hyperparameter {name}: Logarithmic scaling requires MinValue > 0")
    if scaling == "ReverseLogarithmic" and (kind == "integer" or low < 0 or high >= 1):
        raise ValidationError(
            message=f"Hyperparameter {name}: ReverseLogarithmic needs a continuous range, 0 <= MinValue < MaxValue < 1"
        )
    return Param(name, kind, low, high, scaling)


# --- early stopping ---------------------------------------------------------------------------------
def median_rule_stops(value: float, epoch: int, earlier: list[list[float]], *, maximize: bool) -> bool:
    """SageMaker's median stopping rule for one job at one epoch.

    ``earlier`` holds the per-epoch objective histories of the jobs that have already ended (Completed or
    early-stopped; AWS: "previously completed training jobs"). The job is stopped when its objective at
    ``epoch`` is worse than the median of those jobs' running averages up to ``epoch`` (only jobs that reached
    ``epoch`` count, and at least MEDIAN_RULE_MIN_JOBS of them).
    """
    averages = [statistics.fmean(h[: epoch + 1]) for h in earlier if len(h) > epoch]
    if len(averages) < MEDIAN_RULE_MIN_JOBS:
        return False
    median = statistics.median(averages)
    return value < median if maximize else value > median


# --- objective values ------------------------------------------------------------------------------
def final_value(metrics: list[dict[str, Any]] | None, name: str) -> float | None:
    for metric in metrics or []:
        if metric.get("MetricName") == name and metric.get("Value") is not None:
            value = float(metric["Value"])
            return value if math.isfinite(value) else None
    return None


def outcome_value(outcome: TrainingOutcome, name: str) -> float | None:
    point = outcome.final_metrics.get(name)
    if point is None or not math.isfinite(point.value):
        return None
    return float(point.value)


# --- the Grid strategy -------------------------------------------------------------------------------
class AskTellGridSampler(optuna.samplers.GridSampler):
    """optuna's grid, driven by ask/tell: its ``after_trial`` calls ``study.stop()`` once the grid is covered,
    which only works inside ``study.optimize``. The tuner runs exactly the grid's size of jobs, as SageMaker's
    Grid strategy does, so nothing needs stopping."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        del study, trial, state, values
