"""The project configuration: ``config/<project>.yaml`` in the data bucket.

One pydantic model is the source of truth; its JSON Schema is exported to ``schemas/`` (``make schemas``)
so editors complete the YAML. Parsing never does I/O: ``load_config_text`` takes the text.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from trainops.errors import ConfigInvalid
from trainops.schedule_expression import ScheduleExpressionError, check_schedule_expression
from trainops.tuning_config import TuningConfig
from trainops.types import ProjectName

# The config travels in the state payload (256 KB in all): keep it small. The pipeline refuses a larger config
# before reading it (S3 ContentLength) and when parsing it; `trainops config validate` / `local run` refuse the
# file: one limit, so what validates also runs.
MAX_CONFIG_BYTES = 32 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


class AlgorithmName(StrEnum):
    XGBOOST = "xgboost"
    LINEAR_LEARNER = "linear-learner"
    SCRIPT = "script"
    CONTAINER = "container"
    AUTOPILOT = "autopilot"
    AUTO = "auto"  # a built-in algorithm chosen from the data (trainops.planning.choose_algorithm)


class ProblemType(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class InputMode(StrEnum):
    PIPE = "Pipe"
    FILE = "File"
    FAST_FILE = "FastFile"


HyperparameterValue = str | int | float | bool


class MetricDefinition(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    regex: Annotated[str, Field(min_length=1, max_length=500)]


# SageMaker's ChannelName: ^[A-Za-z0-9\.\-_]+$, at most 64 characters
CHANNEL_NAME_PATTERN = r"^[A-Za-z0-9.\-_]{1,64}$"
ChannelName = Annotated[str, StringConstraints(pattern=CHANNEL_NAME_PATTERN)]


class AlgorithmConfig(_Strict):
    name: AlgorithmName = Field(
        default=AlgorithmName.XGBOOST,
        description="xgboost, linear-learner, script, container, or auto: a built-in algorithm (XGBoost or Linear "
        "Learner) chosen from the data and the problem, with the reason in the run's inferred list.",
    )
    version: str | None = Field(default=None, description="Built-in algorithm version, e.g. '1.7-1' for XGBoost.")
    hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict)
    # script mode
    entry_point: str | None = Field(
        default=None, description="Script mode: the file to run, relative to source_dir, e.g. train.py."
    )
    source_dir: str | None = Field(
        default=None,
        description="Script mode: the code folder. In the pipeline an s3://.../sourcedir.tar.gz; `trainops local "
        "run` and `trainops config upload` also take a local folder (relative to the config file) and pack it.",
    )
    dependencies: list[str] = Field(
        default_factory=list,
        description="Script mode with a local source_dir: more local folders or files (relative to the config "
        "file) packed into the code archive's root beside it, as the SageMaker Python SDK's `dependencies`.",
    )
    framework: Literal["sklearn", "pytorch", "tensorflow", "xgboost"] | None = None
    framework_version: str | None = Field(default=None, description="Script mode: the framework image's version.")
    # bring your own container
    image_uri: str | None = Field(default=None, description="Bring-your-own-container: an ECR image URI.")
    inference_image_uri: str | None = Field(
        default=None,
        description="Script mode and containers: the image the registered model is served with (default: the "
        "framework's inference image of framework_version; a container's image_uri).",
    )
    local_command: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Container, local cloud only: the command that stands in for the image on this machine "
        "(run in the config file's folder with `train` appended, as SageMaker runs `docker run <image> train`), "
        "e.g. [Rscript, train.R].",
    )
    metric_definitions: list[MetricDefinition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _mode_fields(self) -> AlgorithmConfig:
        if self.name == AlgorithmName.SCRIPT:
            missing = [f for f in ("entry_point", "source_dir", "framework") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"script mode needs {', '.join('algorithm.' + m for m in missing)}")
            if self.entry_point is not None and (
                self.entry_point.startswith("/") or ".." in self.entry_point.split("/")
            ):
                raise ValueError("algorithm.entry_point must be a path inside source_dir (no leading / or ..)")
        elif self.dependencies or any(
            getattr(self, f) is not None for f in ("entry_point", "source_dir", "framework", "framework_version")
        ):
            raise ValueError(
                "algorithm.entry_point, source_dir, dependencies, framework and framework_version are for "
                "algorithm 'script'"
            )
        if self.name == AlgorithmName.CONTAINER and not self.image_uri:
            raise ValueError("algorithm 'container' needs algorithm.image_uri (an ECR image URI)")
        if self.name != AlgorithmName.CONTAINER:
            for f in ("image_uri", "local_command"):
                if getattr(self, f) is not None:
                    raise ValueError(f"algorithm.{f} is only for algorithm 'container'")
        if self.inference_image_uri is not None and not self.brings_own_code:
            raise ValueError("algorithm.inference_image_uri is only for algorithms 'script' and 'container'")
        return self

    @property
    def brings_own_code(self) -> bool:
        """Script mode or a container: the user's code reads the data, not a built-in algorithm."""
        return self.name in (AlgorithmName.SCRIPT, AlgorithmName.CONTAINER)


class ProblemConfig(_Strict):
    type: ProblemType | None = Field(default=None, description="Inferred from a sample of the data when left out.")
    objective_metric: str | None = Field(default=None, description="e.g. validation:auc; inferred when left out.")
    objective_direction: Literal["Maximize", "Minimize"] | None = None
    num_classes: int | None = Field(default=None, ge=2)


class ChannelConfig(_Strict):
    """How one channel reaches the training code (CreateTrainingJob's InputDataConfig entry)."""

    input_mode: InputMode | None = Field(default=None, description="Default: the job's input mode.")
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = Field(
        default="FullyReplicated", description="ShardedByS3Key gives each instance a share of the objects."
    )
    content_type: str | None = Field(default=None, description="Default: data.content_type.")
    compression: Literal["None", "Gzip"] | None = Field(default=None, description="Default: data.compression.")


class DataConfig(_Strict):
    content_type: str | None = Field(
        default=None,
        description="Built-in algorithms: text/csv (default; label first, no header) or text/libsvm. Scripts and "
        "containers read the objects as uploaded; a value here is passed on as the channels' ContentType.",
    )
    input_mode: InputMode | None = Field(
        default=None,
        description="Default: Pipe where the built-in algorithm supports it; File for script mode and containers.",
    )
    compression: Literal["None", "Gzip"] = "None"
    header: bool = Field(
        default=False,
        description="CSV files start with a header row (scripts and containers; built-in algorithms refuse one). "
        "A validation split keeps it at the top of both parts.",
    )
    split: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="The validation split (a processing job): 'auto' makes one for built-in algorithms when the "
        "dataset has no validation/ folder; scripts and containers get their channels as uploaded unless "
        "'always'.",
    )
    validation_fraction: float = Field(default=0.2, gt=0.0, le=0.5)
    split_seed: int = 42
    channels: dict[ChannelName, ChannelConfig] = Field(
        default_factory=dict,
        max_length=20,
        description="Per channel (the dataset's folder names, or train for a single file): input mode, "
        "distribution, content type, compression.",
    )

    @field_validator("compression", mode="before")
    @classmethod
    def _null_is_none(cls, value: object) -> object:
        # YAML reads `compression: null` (or `~`) as null, where `None` stays the string "None": both mean none.
        return "None" if value is None else value


class ModelParallelConfig(_Strict):
    """The SageMaker model parallelism library v2 (SMP v2) parameters, passed to the job as ``mp_parameters``."""

    hybrid_shard_degree: int | None = Field(default=None, ge=0, description="Sharded data parallel degree (0..GPUs).")
    sm_activation_offloading: bool | None = None
    activation_loading_horizon: int | None = Field(default=None, ge=1)
    fsdp_cache_flush_warnings: bool | None = None
    allow_empty_shards: bool | None = None
    tensor_parallel_degree: int | None = Field(default=None, ge=1)
    context_parallel_degree: int | None = Field(default=None, ge=1)
    expert_parallel_degree: int | None = Field(default=None, ge=1)
    random_seed: int | None = None


class ResourcesConfig(_Strict):
    instance_type: Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")] = "ml.m5.large"
    instance_count: int = Field(default=1, ge=1, le=100)
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=3600, ge=1, le=28 * 86400)
    distribution: Literal["none", "torch_distributed", "data_parallel", "model_parallel"] = Field(
        default="none",
        description="Script mode, as the SageMaker Python SDK's `distribution`: torch_distributed (torchrun, PyTorch "
        "on GPU instances), data_parallel (the SageMaker data parallelism library, SMDDP, on ml.p4d/p4de/p5), "
        "model_parallel (the SageMaker model parallelism library v2 with torchrun, on ml.p4d/p4de/p5, configured "
        "by resources.model_parallel).",
    )
    model_parallel: ModelParallelConfig | None = Field(
        default=None, description="With distribution: model_parallel: the SMP v2 parameters (mp_parameters)."
    )
    spot: bool = Field(
        default=False,
        description="Managed spot training (EnableManagedSpotTraining): cheaper, interruptible capacity. Every job "
        "gets a CheckpointConfig under the run's prefix (/opt/ml/checkpoints, synced to S3) to resume from after an "
        "interruption. Refused for algorithms that cannot resume (Linear Learner).",
    )
    max_wait_seconds: int | None = Field(
        default=None,
        ge=1,
        description="With spot: StoppingCondition.MaxWaitTimeInSeconds, the time for the whole job including waits "
        "for spot capacity; at least max_runtime_seconds. Default: twice max_runtime_seconds.",
    )

    def max_wait(self) -> int:
        """MaxWaitTimeInSeconds of a spot job: the configured one, else twice the maximum runtime."""
        return self.max_wait_seconds if self.max_wait_seconds is not None else 2 * self.max_runtime_seconds


class IncrementalConfig(_Strict):
    enabled: bool = Field(default=False, description="Start from the project's current Approved model.")


class RegistryConfig(_Strict):
    auto_approve_first: bool = Field(default=True, description="Approve the first model when none is Approved yet.")
    min_improvement: float = Field(
        default=0.0, ge=0.0, description="Absolute margin by which a new model must beat the Approved one."
    )


# A KMS key ARN (SageMaker also accepts key ids and aliases; trainops asks for the ARN, which IAM and key policies
# name): arn:<partition>:kms:<region>:<account>:key/<uuid or mrk-...>. template.yaml's KmsKeyArn uses the same.
KMS_KEY_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)


class SecurityConfig(_Strict):
    """Job security beyond the stack's: a project may tighten it, never loosen it (``trainops.security``)."""

    network_isolation: bool | None = Field(
        default=None,
        description="true: the project's jobs run without network access (EnableNetworkIsolation). Default: on for "
        "built-in algorithms and when the stack requires it (RequireNetworkIsolation); off for script mode and "
        "containers. false is refused where the default is on. Script mode then gets its code through a `code` "
        "channel, and a requirements.txt cannot be installed.",
    )
    encrypt_inter_container_traffic: bool | None = Field(
        default=None,
        description="true: encrypt the traffic between the job's instances. Default: on when "
        "resources.instance_count > 1 (false is then refused).",
    )
    kms_key: Annotated[str, StringConstraints(pattern=KMS_KEY_ARN_PATTERN)] | None = Field(
        default=None,
        description="A KMS key ARN for the project's job output and volumes, when the stack has no key (KmsKeyArn); "
        "refused when the stack has one. Its key policy must let the SageMaker execution role use it.",
    )
    vpc: bool | None = Field(
        default=None,
        description="true: the project's jobs must run in the stack's VPC (refused when the stack has none); false "
        "is refused when the stack has one. The subnets and security groups are the stack's (JobSubnetIds, "
        "JobSecurityGroupIds), never a project's.",
    )


class AutopilotConfig(_Strict):
    """``algorithm.name: autopilot``: CreateAutoMLJobV2 for tabular data (trainops.autopilot)."""

    target: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        default=None,
        description="The header's name of the column to predict (TargetAttributeName). Default: the first column, "
        "as for the built-in algorithms. Autopilot reads CSV with a header row (data.header: true) or Parquet.",
    )
    mode: Literal["ENSEMBLING", "HYPERPARAMETER_TUNING", "AUTO"] = Field(
        default="ENSEMBLING",
        description="ENSEMBLING (AutoGluon stacks candidates) or HYPERPARAMETER_TUNING (tunes XGBoost, Linear "
        "Learner and deep learning candidates); AUTO lets Autopilot choose from the dataset size.",
    )
    max_candidates: int | None = Field(
        default=10, ge=1, description="CompletionCriteria.MaxCandidates (null: Autopilot's own limit)."
    )
    max_runtime_per_training_job_seconds: int | None = Field(
        default=None, ge=1, description="CompletionCriteria.MaxRuntimePerTrainingJobInSeconds."
    )
    max_job_runtime_seconds: int = Field(
        default=4 * 3600,
        ge=1,
        le=30 * 86400,
        description="CompletionCriteria.MaxAutoMLJobRuntimeInSeconds; the pipeline stops waiting (and the run fails) "
        "if the job has not ended an hour after it.",
    )


class ProjectConfig(_Strict):
    project: ProjectName
    description: str = ""
    algorithm: AlgorithmConfig = Field(default_factory=AlgorithmConfig)
    problem: ProblemConfig = Field(default_factory=ProblemConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    incremental: IncrementalConfig = Field(default_factory=IncrementalConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    schedule: str | None = Field(
        default=None,
        description="Retrain on the latest data: an EventBridge Scheduler rate or cron expression, e.g. "
        "'rate(7 days)', 'rate(1 day)' or 'cron(0 3 ? * MON *)' (minutes hours day-of-month month day-of-week year).",
        json_schema_extra={"pattern": r"^(rate|cron)\(.+\)$"},
    )
    tuning: TuningConfig | None = None
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    autopilot: AutopilotConfig | None = Field(
        default=None, description="Autopilot's settings (algorithm.name: autopilot); defaults when left out."
    )
    concurrency: Literal["coalesce", "queue", "parallel"] = Field(
        default="coalesce",
        description="New data while a run of the project is in progress: 'coalesce' (one follow-up run trains on "
        "the newest data when the run ends), 'queue' (every upload trains, one at a time, oldest first) or "
        "'parallel' (every upload starts its own run at once).",
    )
    tags: dict[str, str] = Field(default_factory=dict, max_length=40)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_schedule_expression(value)
        except ScheduleExpressionError as exc:
            raise PydanticCustomError("schedule_expression", "{reason}", {"reason": str(exc), "fix": exc.fix}) from exc

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key {key!r}: the 'aws:' prefix is reserved")
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise ValueError(f"tag {key!r}: keys are 1-128 characters, values at most 256")
        return tags

    def config_hash(self) -> str:
        data = self.model_dump(mode="json")
        if not self.security.model_dump(exclude_none=True):
            del data["security"]  # a config without security settings keeps the hash it had before the section existed
        if self.resources.model_parallel is None:
            del data["resources"]["model_parallel"]  # likewise for configs without model parallel settings
        if self.autopilot is None:
            del data["autopilot"]  # likewise for configs without an autopilot section
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def default_config(project: str) -> ProjectConfig:
    """What a run uses when the project has no config: everything inferred."""
    return ProjectConfig(project=project)


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"{loc}: {err['msg']}")
    return "; ".join(lines)


def parse_config(data: Any, *, expected_project: str | None = None, source: str = "config") -> ProjectConfig:
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{source} must be a YAML mapping", field="(root)", fix="start from examples/configs/")
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(root)"
        fix = (first.get("ctx") or {}).get("fix")  # validators that know the fix say it (PydanticCustomError)
        raise ConfigInvalid(
            f"{source} is invalid: {_format_errors(exc)}",
            field=field,
            fix=str(fix) if fix else "correct the field; the JSON Schema is in schemas/project-config.schema.json",
        ) from exc
    if expected_project is not None and config.project != expected_project:
        raise ConfigInvalid(
            f"{source} names project {config.project!r} but lives at config/{expected_project}.yaml",
            field="project",
            fix=f"set project: {expected_project}",
        )
    return config


def parse_yaml(text: str | bytes, *, source: str = "config") -> Any:
    """The YAML document of a config (not yet validated): at most MAX_CONFIG_BYTES, UTF-8, every key once.

    The one reader of config text: the pipeline (``load_config_text``) and the CLI's config files use it.
    """
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigInvalid(
            f"{source} is larger than 32 KiB ({len(raw)} bytes; the pipeline reads at most {MAX_CONFIG_BYTES})",
            field="(file)",
            fix="trim the config (comments and unused sections count too)",
        )
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigInvalid(f"{source} is not UTF-8 text", field="(file)", fix="save the config as UTF-8") from exc
    # PyYAML is imported by the functions that read config text (NormalizeRequest, SyncSchedule import it at
    # start), not by those that only validate a run's config dict
    from trainops.config_yaml import read_yaml

    return read_yaml(decoded, source=source)


def load_config_text(
    text: str | bytes, *, expected_project: str | None = None, source: str = "config"
) -> ProjectConfig:
    """Parse and validate a config's text (``parse_yaml``'s checks, then the model)."""
    return parse_config(parse_yaml(text, source=source), expected_project=expected_project, source=source)


def json_schema() -> dict[str, Any]:
    schema = ProjectConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "trainops project configuration"
    return schema
