"""Typed errors. Their class names are the contract with the state machine's Retry/Catch.

A Lambda task that raises surfaces in Step Functions with ``errorType`` = the class name, so renaming
one of these classes means changing ``statemachines/*.asl.json`` in the same commit (a test checks).
"""

from __future__ import annotations


class TrainopsError(Exception):
    """Base class. ``field`` names the offending input; ``fix`` says what to do about it."""

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None) -> None:
        self.field = field
        self.fix = fix
        parts = [message]
        if field:
            parts.insert(0, f"[{field}]")
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__(" ".join(parts))


# --- input problems: never retried, the run ends in the failure path --------------------------
class InvalidEvent(TrainopsError):
    """The execution input is not a trigger trainops understands (foreign or malformed event)."""


class InvalidProjectName(TrainopsError):
    """A project name that is unsafe in S3 prefixes, job names, tags or logs."""


class ConfigNotFound(TrainopsError):
    """No ``config/<project>.yaml`` in the data bucket."""


class ConfigInvalid(TrainopsError):
    """The project configuration does not validate."""


class DatasetError(TrainopsError):
    """The dataset is missing, empty, or unreadable."""


class AlgorithmNotSupported(TrainopsError):
    """The config asks for an algorithm, image or option trainops cannot run."""


class IncrementalTrainingNotSupported(TrainopsError):
    """Incremental training was asked for where neither a model channel nor a checkpoint applies."""


class InvalidTrainingRequest(TrainopsError):
    """A request that AWS would reject (name, tag, limit)."""


# --- job outcomes: raised by callbacks as task failures ----------------------------------------
class TrainingJobFailed(TrainopsError):
    """The SageMaker training job ended Failed or Stopped."""


class ProcessingJobFailed(TrainopsError):
    """The SageMaker processing job (validation split) ended Failed or Stopped."""


class TuningJobFailed(TrainopsError):
    """The hyperparameter tuning job ended Failed or Stopped."""


class NoModelProduced(TrainopsError):
    """A tuning job finished without any completed training job: nothing to register."""


# --- AWS side: some retried by the state machine --------------------------------------------------
class AwsThrottled(TrainopsError):
    """Throttling or a transient service error; the state machine retries with backoff."""


class QuotaExceeded(TrainopsError):
    """``ResourceLimitExceeded``: an account quota (instances, concurrent jobs) is reached."""


class AccessDenied(TrainopsError):
    """AWS refused the call: a missing permission, or a KMS key the caller may not use or that is disabled."""


class RegistryError(TrainopsError):
    """The model registry refused an operation."""


class RegistryBusy(TrainopsError):
    """Another run of the project is registering right now; the state machine retries with backoff."""


class CallbackError(TrainopsError):
    """A job state-change event could not be matched to a waiting run."""


class InternalError(TrainopsError):
    """An invariant of trainops itself did not hold: a bug to report, never the user's input. (Shipped code has
    no ``assert``: an AssertionError would reach Step Functions without a field or a fix.)"""


def require[T](value: T | None, what: str) -> T:
    """``value``, which trainops' own logic guarantees is set; InternalError naming ``what`` when it is not."""
    if value is None:
        raise InternalError(f"{what} is missing", fix="report this as a trainops bug, with the run id")
    return value
