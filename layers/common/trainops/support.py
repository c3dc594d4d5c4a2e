"""What the pipeline cannot run, decided once.

Each function returns a Refusal (never raises), so the same decision, message, field and fix reach the user from
``trainops config validate`` (the linter turns refusals into findings) and from the step that would otherwise fail
later (planning and training raise ``refusal.error()``, a defence behind the linter, which the pipeline runs first).
"""

from __future__ import annotations

from dataclasses import dataclass

from trainops.catalog import spec_for
from trainops.config import AlgorithmName, ProjectConfig
from trainops.errors import AlgorithmNotSupported, ConfigInvalid, IncrementalTrainingNotSupported, TrainopsError

DISTRIBUTED_FRAMEWORKS = ("pytorch", "tensorflow")


@dataclass(frozen=True)
class Refusal:
    """Something the pipeline will not run: what, which field, what to do, and the error type it raises."""

    kind: type[TrainopsError]
    message: str
    field: str
    fix: str

    def error(self) -> TrainopsError:
        return self.kind(self.message, field=self.field, fix=self.fix)


def unsupported(config: ProjectConfig) -> list[Refusal]:
    """The algorithm and resource combinations ``plan_training`` refuses (it raises the first)."""
    algo = config.algorithm
    out: list[Refusal] = []
    if algo.name == AlgorithmName.AUTOPILOT:
        out.append(
            Refusal(
                AlgorithmNotSupported,
                "Autopilot runs are not part of the training pipeline yet",
                field="algorithm.name",
                fix="use xgboost, linear-learner, auto (one of those two, chosen from the data), script or container",
            )
        )
    if algo.name == AlgorithmName.AUTO:
        out.extend(_auto_refusals(config))
    distribution = config.resources.distribution
    if distribution != "none" and algo.name != AlgorithmName.SCRIPT:
        out.append(
            Refusal(
                AlgorithmNotSupported,
                f"resources.distribution {distribution} needs script mode (the SageMaker distributed libraries "
                f"run inside the PyTorch/TensorFlow framework containers)",
                field="resources.distribution",
                fix="use algorithm.name: script with framework pytorch or tensorflow, or set distribution: none",
            )
        )
    elif distribution != "none" and algo.framework not in DISTRIBUTED_FRAMEWORKS:
        out.append(
            Refusal(
                AlgorithmNotSupported,
                f"resources.distribution {distribution} is not available for framework {algo.framework}",
                field="algorithm.framework",
                fix="use framework pytorch or tensorflow for data or model parallel training",
            )
        )
    return out


def _auto_refusals(config: ProjectConfig) -> list[Refusal]:
    """``algorithm.name: auto`` picks XGBoost or Linear Learner per run: settings that only make sense for one
    algorithm (its version, hyperparameters, metric names, tuning ranges, a model to continue) need a named one."""
    fix = "name the algorithm (xgboost or linear-learner), or remove the setting and let auto choose"
    out: list[Refusal] = []
    algo = config.algorithm
    named = [
        ("algorithm.version", algo.version is not None, "a version"),
        ("algorithm.hyperparameters", bool(algo.hyperparameters), "hyperparameters"),
        ("problem.objective_metric", config.problem.objective_metric is not None, "an objective metric"),
        ("tuning", config.tuning is not None, "tuning ranges"),
        ("incremental.enabled", config.incremental.enabled, "incremental training"),
    ]
    for field, present, what in named:
        if present:
            out.append(
                Refusal(
                    ConfigInvalid,
                    f"algorithm.name auto chooses XGBoost or Linear Learner from the data; {what} belong(s) to one "
                    f"algorithm",
                    field=field,
                    fix=fix,
                )
            )
    return out


def incremental_refusal(config: ProjectConfig, version: str | None) -> Refusal | None:
    """Why ``incremental.enabled`` cannot work for this algorithm and image ``version``, or None.

    Built-in XGBoost resumes from a seeded checkpoint only in the versions the catalog lists as verified;
    an algorithm with neither a model channel nor a checkpoint resume cannot continue at all.
    """
    if not config.incremental.enabled or config.algorithm.name == AlgorithmName.AUTO:
        return None  # auto: refused by unsupported(), with the reason
    spec = spec_for(config.algorithm.name)
    if spec.incremental == "model-channel":
        return None
    if spec.incremental == "checkpoint":
        if version in spec.checkpoint_resume_versions:
            return None
        return Refusal(
            IncrementalTrainingNotSupported,
            f"built-in XGBoost {version} does not resume from a seeded checkpoint "
            f"(verified for {', '.join(spec.checkpoint_resume_versions)})",
            field="algorithm.version",
            fix=f"use version {spec.checkpoint_resume_versions[-1]}, or turn incremental.enabled off",
        )
    return Refusal(
        IncrementalTrainingNotSupported,
        f"{config.algorithm.name.value} cannot continue from an earlier model",
        field="incremental.enabled",
        fix="use xgboost or script mode, or set incremental.enabled: false",
    )
