"""What the pipeline cannot run, decided once.

Each function returns a Refusal (never raises), so the same decision, message, field and fix reach the user from
``trainops config validate`` (the linter turns refusals into findings) and from the step that would otherwise fail
later (planning and training raise ``refusal.error()``, a defence behind the linter, which the pipeline runs first).
"""

from __future__ import annotations

from dataclasses import dataclass

from trainops.catalog import spec_for
from trainops.config import AlgorithmName, ProjectConfig
from trainops.errors import AlgorithmNotSupported, IncrementalTrainingNotSupported, TrainopsError

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
                fix="use xgboost, linear-learner, script or container",
            )
        )
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


def incremental_refusal(config: ProjectConfig, version: str | None) -> Refusal | None:
    """Why ``incremental.enabled`` cannot work for this algorithm and image ``version``, or None.

    Built-in XGBoost resumes from a seeded checkpoint only in the versions the catalog lists as verified;
    an algorithm with neither a model channel nor a checkpoint resume cannot continue at all.
    """
    if not config.incremental.enabled:
        return None
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
