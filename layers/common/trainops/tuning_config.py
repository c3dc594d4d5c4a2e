"""The ``tuning:`` section of a project config.

Bounds are kept loosely typed on purpose (``float | int | str``): a config with a non-numeric or
float-for-integer bound must still parse, so that the tuning linter (``trainops.lint``) can report it
with a finding id, the field and the fix instead of a bare validation error. The same goes for the
AWS limits (30 ranges, 30 categorical values, 5 warm-start parents, ...): they are findings, not
parse errors.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError


class _Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)


def yaml_switch(value: object, *, off: str, allowed: str) -> object:
    """YAML 1.1 reads an unquoted ``Off``/``off``/``no`` as false and ``On``/``on``/``yes`` as true.

    For a field whose values are words like Off/Auto, false can only have meant Off: it is taken as ``off``.
    True has no such reading (On is not a value): it is refused, saying exactly why.
    """
    if value is False:
        return off
    if value is True:
        raise PydanticCustomError(
            "yaml_boolean",
            "YAML reads an unquoted On, on, yes or true as the boolean true, and On is not a value here "
            "(one of {allowed})",
            {"allowed": allowed, "fix": f"write one of {allowed}, in quotes (e.g. '{off}')"},
        )
    return value


class Strategy(StrEnum):
    BAYESIAN = "Bayesian"
    RANDOM = "Random"
    HYPERBAND = "Hyperband"
    GRID = "Grid"


class Scaling(StrEnum):
    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


class WarmStartType(StrEnum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


Bound = float | int | str
CategoricalValue = str | int | float | bool


class ContinuousRange(_Strict):
    """A real-valued range ``[min, max]`` (SageMaker ``ContinuousParameterRanges``)."""

    type: Literal["continuous"]
    min: Bound
    max: Bound
    scaling: Scaling = Scaling.AUTO


class IntegerRange(_Strict):
    """An integer range ``[min, max]`` (SageMaker ``IntegerParameterRanges``)."""

    type: Literal["integer"]
    min: Bound
    max: Bound
    scaling: Scaling = Scaling.AUTO


class CategoricalRange(_Strict):
    """A set of values (SageMaker ``CategoricalParameterRanges``; values are sent as strings)."""

    type: Literal["categorical"]
    values: list[CategoricalValue] = Field(min_length=1)


HyperparameterRange = Annotated[ContinuousRange | IntegerRange | CategoricalRange, Field(discriminator="type")]


class TuningObjective(_Strict):
    metric: str | None = Field(default=None, description="Default: problem.objective_metric, else inferred.")
    direction: Literal["Maximize", "Minimize"] | None = Field(
        default=None, description="Default: problem.objective_direction, else inferred from the metric name."
    )


class CompletionCriteria(_Strict):
    target_objective_value: float | None = Field(default=None, description="Stop once a job reaches this value.")
    max_jobs_not_improving: int | None = Field(
        default=None, description="Stop after this many jobs without improvement (AWS minimum: 3)."
    )
    convergence_detected: bool = Field(default=False, description="Stop when SageMaker detects convergence.")


class HyperbandConfig(_Strict):
    min_resource: int | None = Field(default=None, description="Minimum epochs before a job may be stopped.")
    max_resource: int | None = Field(default=None, description="Maximum epochs a job may run.")


class WarmStartConfig(_Strict):
    """Explicit warm start: named parent tuning jobs; the type is decided from data/image when left out."""

    type: WarmStartType | None = None
    parents: list[str] = Field(default_factory=list)


class TuningConfig(_Strict):
    strategy: Strategy = Strategy.BAYESIAN
    objective: TuningObjective = Field(default_factory=TuningObjective)
    ranges: dict[str, HyperparameterRange] = Field(default_factory=dict)
    max_jobs: int = Field(default=20, ge=1, description="MaxNumberOfTrainingJobs (Grid: the grid size is used).")
    max_parallel_jobs: int = Field(default=1, ge=1, description="MaxParallelTrainingJobs.")
    max_runtime_seconds: int | None = Field(
        default=None, ge=120, le=28 * 86400, description="Whole tuning job, MaxRuntimeInSeconds."
    )
    completion_criteria: CompletionCriteria | None = None
    early_stopping: Literal["Auto", "Off"] | None = Field(
        default=None,
        description="TrainingJobEarlyStoppingType: Auto (default) or Off (forced with Hyperband). An unquoted Off, "
        "which YAML reads as false, means Off.",
    )
    warm_start: Literal["auto", "off"] | WarmStartConfig = Field(
        default="auto",
        description="auto (earlier tuning jobs of the project), off (an unquoted off, read as false, too), or "
        "{type, parents}.",
    )
    hyperband: HyperbandConfig | None = None
    random_seed: int | None = Field(default=None, ge=0)

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _early_stopping_switch(cls, value: object) -> object:
        return yaml_switch(value, off="Off", allowed="'Auto', 'Off'")

    @field_validator("warm_start", mode="before")
    @classmethod
    def _warm_start_switch(cls, value: object) -> object:
        return yaml_switch(value, off="off", allowed="'auto', 'off', {type, parents}")

    @property
    def effective_early_stopping(self) -> str:
        """``TrainingJobEarlyStoppingType``: Auto by default, Off with Hyperband (it stops jobs itself)."""
        if self.early_stopping is not None:
            return self.early_stopping
        return "Off" if self.strategy == Strategy.HYPERBAND else "Auto"

    def tunable_names(self) -> list[str]:
        """The tuned hyperparameter names, in config order."""
        return list(self.ranges)

    def explicit_parents(self) -> list[str]:
        """Warm-start parents named in the config (empty for ``auto``/``off``)."""
        return list(self.warm_start.parents) if isinstance(self.warm_start, WarmStartConfig) else []
