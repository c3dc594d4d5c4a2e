"""Typed payloads passed between states. Only S3 URIs travel, never data (the 256 KB payload limit)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainops.types import ProjectName, S3Uri


class Payload(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


class Dataset(Payload):
    bucket: str
    prefix: str = Field(description="Key prefix (multi-file) or the object key (single file).")
    kind: Literal["file", "prefix"]
    uri: S3Uri
    version_id: str | None = None
    has_validation: bool = Field(default=False, description="A multi-file dataset with train/ and validation/ parts.")
    channels: list[str] = Field(
        default_factory=list, description="A multi-file dataset's first-level folders: its channels, as named."
    )
    fingerprint: str | None = Field(
        default=None, description="ETag of the file (or of the _READY marker): what 'new data' means for schedules."
    )


class Trigger(Payload):
    kind: Literal["s3", "schedule", "manual", "follow-up"]
    detail: dict[str, Any] = Field(default_factory=dict)


class RunRequest(Payload):
    """The one typed request every trigger is normalised into at the first state."""

    run_id: str
    project: ProjectName
    trigger: Trigger
    dataset: Dataset
    config: dict[str, Any]
    config_source: str
    config_hash: str
    execution: str | None = None

    @property
    def config_uploaded(self) -> bool:
        """Whether the project has a config object (``config/<project>.yaml`` or a given URI), rather than the
        defaults inferred from the data."""
        return self.config_source.startswith("s3://")


class Skip(Payload):
    action: Literal["skip"] = "skip"
    reason: str


class Inference(Payload):
    field: str
    value: str
    reason: str


class TrainingPlan(Payload):
    algorithm: str
    image: str | None
    version: str | None = None
    problem_type: str | None
    objective_metric: str | None = Field(description="None: the code reports no metric (registered for review).")
    objective_direction: Literal["Maximize", "Minimize"] | None
    content_type: str | None
    input_mode: str
    channels: list[str] = Field(default_factory=lambda: ["train", "validation"], description="In request order.")
    inference_image: str | None = None
    inference_environment: dict[str, str] = Field(default_factory=dict)
    framework: str | None = None
    hyperparameters: dict[str, str]
    metric_definitions: list[dict[str, str]] = Field(default_factory=list)
    inferred: list[Inference] = Field(default_factory=list)
    needs_split: bool
    tune: bool = False
    sample: dict[str, Any] = Field(default_factory=dict)


class SplitResult(Payload):
    train_uri: S3Uri
    validation_uri: S3Uri
    report_uri: S3Uri | None = None
    sizes: dict[str, Any] = Field(default_factory=dict)
    job_name: str | None = None


class JobResult(Payload):
    """What the state-change callback hands the next state (a trimmed Describe* response)."""

    kind: Literal["training", "processing", "tuning", "automl"]
    job_name: str
    job_arn: str
    status: str
    failure_reason: str | None = None
    model_artifact: str | None = None
    image: str | None = None
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    final_metrics: dict[str, float] = Field(default_factory=dict)
    best_training_job: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Registration(Payload):
    model_package_group: str
    model_package_arn: str
    approval_status: Literal["Approved", "PendingManualApproval", "Rejected"]
    reason: str
    objective_metric: str | None
    objective_value: float | None
    champion_arn: str | None = None
    champion_value: float | None = None
    model_artifact: str
    training_job: str


class RunFailure(Payload):
    run_id: str
    project: str | None
    status: Literal["FAILED", "NO_MODEL"]
    error: str
    cause: str
