"""Build and start the CreateTrainingJob request (boto3 only), including incremental training."""

from __future__ import annotations

import io
import posixpath
import tarfile
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.catalog import spec_for
from trainops.config import AlgorithmName, InputMode, ProjectConfig
from trainops.errors import IncrementalTrainingNotSupported, InvalidTrainingRequest, require
from trainops.models import RunRequest, SplitResult, TrainingPlan
from trainops.naming import job_name
from trainops.security import StackSecurity, apply_to_training, check_images, job_security
from trainops.support import incremental_refusal, spot_refusals
from trainops.types import MAX_TAGS, split_s3_uri


@dataclass(frozen=True)
class BaseModel:
    """The project's current Approved model package, the starting point of incremental training."""

    package_arn: str
    model_data_url: str
    image: str
    num_round: int | None


def training_job_name(request: RunRequest) -> str:
    return job_name(request.project, request.run_id, "train")


def run_prefix(settings_artifacts_bucket: str, request: RunRequest) -> str:
    return f"s3://{settings_artifacts_bucket}/runs/{request.project}/{request.run_id}"


def tags_for(request: RunRequest, config: ProjectConfig) -> list[dict[str, str]]:
    tags = [
        {"Key": "trainops:project", "Value": request.project},
        {"Key": "trainops:run-id", "Value": request.run_id},
        {"Key": "trainops:config-hash", "Value": request.config_hash},
    ]
    tags += [{"Key": k, "Value": v} for k, v in sorted(config.tags.items())]
    if len(tags) > MAX_TAGS:
        raise InvalidTrainingRequest(
            f"{len(tags)} tags; SageMaker allows {MAX_TAGS}", field="tags", fix="remove tags (trainops adds 3)"
        )
    return tags


def build_training_request(
    request: RunRequest,
    config: ProjectConfig,
    plan: TrainingPlan,
    *,
    channels: SplitResult | None,
    role_arn: str,
    artifacts_bucket: str,
    base_model: BaseModel | None = None,
    stack: StackSecurity | None = None,
) -> dict[str, Any]:
    """The exact CreateTrainingJob request for this run, with the stack's job security (``stack``: KMS key, VPC,
    network isolation; without it, trainops' defaults) tightened by the config's ``security:`` section."""
    security = job_security(config, stack or StackSecurity())  # raises where the config would loosen it
    if stack is not None:
        check_images(config, stack)
    name = training_job_name(request)
    prefix = run_prefix(artifacts_bucket, request)
    mode = plan.input_mode
    uris = channel_uris(request, channels)
    missing = [c for c in plan.channels if c not in uris]
    if missing:
        raise InvalidTrainingRequest(
            f"channel {missing[0]} has no data: the dataset {request.dataset.uri} provides {', '.join(uris)}",
            field="dataset",
            fix=f"upload a {missing[0]}/ folder, or let trainops make the validation split (data.split: auto)",
        )
    input_config = [_channel(channel, uris[channel], plan, config) for channel in plan.channels]
    hyperparameters = dict(plan.hyperparameters)
    algorithm_spec: dict[str, Any] = {"TrainingImage": plan.image, "TrainingInputMode": mode}
    if config.algorithm.name in (AlgorithmName.SCRIPT, AlgorithmName.CONTAINER):
        # built-in algorithms publish their own metrics; custom code needs the regexes
        algorithm_spec["MetricDefinitions"] = [
            {"Name": m["name"], "Regex": m["regex"]} for m in plan.metric_definitions
        ]
    algorithm_spec["EnableSageMakerMetricsTimeSeries"] = True
    body: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": algorithm_spec,
        "RoleArn": role_arn,
        "InputDataConfig": input_config,
        "OutputDataConfig": {"S3OutputPath": f"{prefix}/output/"},
        "ResourceConfig": {
            "InstanceType": config.resources.instance_type,
            "InstanceCount": config.resources.instance_count,
            "VolumeSizeInGB": config.resources.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": config.resources.max_runtime_seconds},
        "HyperParameters": hyperparameters,
        "Tags": tags_for(request, config),
    }
    if config.resources.spot:
        _apply_spot(body, config, prefix)
    if base_model is not None:
        _apply_incremental(body, config, plan, base_model, prefix)
    apply_to_training(body, security, config)
    for key, value in hyperparameters.items():
        if len(value) > 2500:
            raise InvalidTrainingRequest(
                f"hyperparameter {key} is over 2500 characters", field=f"hyperparameters.{key}"
            )
    if len(hyperparameters) > 100:
        raise InvalidTrainingRequest("more than 100 hyperparameters", field="algorithm.hyperparameters")
    return body


def channel_uris(request: RunRequest, split: SplitResult | None) -> dict[str, str]:
    """Each channel's S3 prefix: the dataset's folders as named (a single file is ``train``), and the split's
    ``train``/``validation`` when a validation split was made. Object names are kept as uploaded."""
    dataset = request.dataset
    if dataset.kind == "file" or not dataset.channels:
        uris = {"train": dataset.uri}
    else:
        base = dataset.uri.rstrip("/")
        uris = {channel: f"{base}/{channel}/" for channel in dataset.channels}
    if split is not None:
        uris.update({"train": split.train_uri, "validation": split.validation_uri})
    return uris


def _channel(name: str, uri: str, plan: TrainingPlan, config: ProjectConfig) -> dict[str, Any]:
    own = config.data.channels.get(name)
    channel: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": own.distribution if own else "FullyReplicated",
            }
        },
    }
    content_type = (own.content_type if own else None) or plan.content_type
    if content_type:
        channel["ContentType"] = content_type
    compression = (own.compression if own else None) or config.data.compression
    mode = (own.input_mode.value if own and own.input_mode else None) or plan.input_mode
    if config.algorithm.brings_own_code and mode != "Pipe":
        compression = "None"  # AWS: CompressionType is used only in Pipe mode; File mode copies the bytes
    if compression != "None" or plan.content_type:
        channel["CompressionType"] = compression
    if own is not None and own.input_mode is not None:
        channel["InputMode"] = own.input_mode.value
    return channel


def checkpoint_config(prefix: str) -> dict[str, str]:
    """The job's checkpoint location under the run's prefix: spot resume and incremental XGBoost share it."""
    return {"S3Uri": f"{prefix}/checkpoints/", "LocalPath": "/opt/ml/checkpoints"}


def _apply_spot(body: dict[str, Any], config: ProjectConfig, prefix: str) -> None:
    """Managed spot training: spot capacity, the wait it may take, and checkpoints to resume from."""
    refused = spot_refusals(config)  # the linter reports the same (CONF-E009) first
    if refused:
        raise refused[0].error()
    body["EnableManagedSpotTraining"] = True
    body["StoppingCondition"]["MaxWaitTimeInSeconds"] = config.resources.max_wait()
    body["CheckpointConfig"] = checkpoint_config(prefix)


def _apply_incremental(
    body: dict[str, Any], config: ProjectConfig, plan: TrainingPlan, base: BaseModel, prefix: str
) -> None:
    refused = incremental_refusal(config, plan.version)  # the linter reports the same (CONF-E009) first
    if refused is not None:
        raise refused.error()
    spec = spec_for(config.algorithm.name)
    if spec.incremental == "model-channel":
        # The model channel is always File mode, even when the other channels stream (Pipe).
        body["InputDataConfig"].append(
            {
                "ChannelName": "model",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": base.model_data_url,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "application/x-sagemaker-model",
                "InputMode": InputMode.FILE.value,
            }
        )
        return
    if spec.incremental == "checkpoint":
        if base.image.rsplit(":", 1)[0] != (plan.image or "").rsplit(":", 1)[0]:
            raise IncrementalTrainingNotSupported(
                f"the Approved model was trained with {base.image}, not {plan.image}",
                field="incremental.enabled",
                fix="incremental training continues a model of the same algorithm; turn it off for this run",
            )
        if base.num_round is None:
            raise IncrementalTrainingNotSupported(
                "the Approved model does not record how many rounds it was trained for",
                field="incremental.enabled",
                fix="register one model without incremental training first",
            )
        # The container trains num_round - (N + 1) more rounds from xgboost-checkpoint.N: num_round is a total.
        more = int(body["HyperParameters"].get("num_round", "100"))
        body["HyperParameters"]["num_round"] = str(base.num_round + more)
        body["CheckpointConfig"] = checkpoint_config(prefix)


def checkpoint_seed_key(base: BaseModel) -> str:
    return f"xgboost-checkpoint.{require(base.num_round, 'the base model num_round') - 1}"


def seed_checkpoint(body: dict[str, Any], base: BaseModel, s3: Any) -> str | None:
    """For built-in XGBoost: put the earlier model into the new job's checkpoint location."""
    checkpoint = body.get("CheckpointConfig")
    if not checkpoint:
        return None
    src_bucket, src_key = split_s3_uri(base.model_data_url)
    try:
        archive = s3.get_object(Bucket=src_bucket, Key=src_key)["Body"].read()
    except ClientError as exc:
        raise translate(exc, f"reading the base model {base.model_data_url}") from exc
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = next((m for m in tar.getmembers() if posixpath.basename(m.name) == "xgboost-model"), None)
        if member is None:
            raise IncrementalTrainingNotSupported(
                f"{base.model_data_url} holds no xgboost-model file", field="incremental.enabled"
            )
        model_bytes = require(tar.extractfile(member), f"the xgboost-model file of {base.model_data_url}").read()
    dst_bucket, dst_prefix = split_s3_uri(checkpoint["S3Uri"])
    key = dst_prefix.rstrip("/") + "/" + checkpoint_seed_key(base)
    s3.put_object(Bucket=dst_bucket, Key=key, Body=model_bytes)
    return f"s3://{dst_bucket}/{key}"


def create_training_job(body: dict[str, Any], sagemaker: Any) -> dict[str, Any]:
    """Create the job; a retried create with the same deterministic name adopts the existing job."""
    try:
        sagemaker.create_training_job(**body)
    except ClientError as exc:
        if error_code(exc) in ("ResourceInUse", "ResourceInUseException"):
            return {"adopted": True, **sagemaker.describe_training_job(TrainingJobName=body["TrainingJobName"])}
        raise translate(exc, "CreateTrainingJob") from exc
    return {"adopted": False, "TrainingJobName": body["TrainingJobName"]}
