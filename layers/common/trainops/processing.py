"""The validation-split step: a SageMaker Processing job running the bundled ``scripts/split.py``."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.catalog import image_uri
from trainops.config import ProjectConfig
from trainops.models import RunRequest, SplitResult, TrainingPlan
from trainops.naming import digest, job_name
from trainops.security import StackSecurity, apply_to_processing, job_security
from trainops.training import channel_uris, tags_for

BASE = "/opt/ml/processing"
SPLIT_INSTANCE = "ml.m5.large"


def split_script() -> bytes:
    return resources.files("trainops").joinpath("scripts/split.py").read_bytes()


def upload_split_script(s3: Any, artifacts_bucket: str) -> str:
    """Content-addressed, so every version of the script stays reproducible."""
    body = split_script()
    key = f"code/{hashlib.sha256(body).hexdigest()[:16]}/split.py"
    s3.put_object(Bucket=artifacts_bucket, Key=key, Body=body)
    return f"s3://{artifacts_bucket}/{key}"


def split_job_name(request: RunRequest) -> str:
    return job_name(request.project, request.run_id, "split")


def split_prefix(request: RunRequest, artifacts_bucket: str) -> str:
    """Content-addressed: the same data (ETag) split with the same fraction and seed lands at the same place,
    so runs on unchanged data train on identical inputs (which is what lets a tuning job warm-start as
    ``IdenticalDataAndAlgorithm``) and the split of a run is reproducible from its inputs."""
    data = request.config.get("data") or {}
    identity = digest(
        request.dataset.uri,
        request.dataset.fingerprint or request.run_id,
        str(data.get("validation_fraction")),
        str(data.get("split_seed")),
        str(data.get("content_type")),
        *(["header"] if data.get("header") else []),
        length=16,
    )
    return f"s3://{artifacts_bucket}/splits/{request.project}/{identity}"


def split_outputs(request: RunRequest, artifacts_bucket: str) -> SplitResult:
    prefix = split_prefix(request, artifacts_bucket)
    return SplitResult(
        train_uri=f"{prefix}/train/",
        validation_uri=f"{prefix}/validation/",
        report_uri=f"{prefix}/report/split.json",
        job_name=split_job_name(request),
    )


def build_split_request(
    request: RunRequest,
    config: ProjectConfig,
    plan: TrainingPlan,
    *,
    code_uri: str,
    role_arn: str,
    artifacts_bucket: str,
    region: str,
    stack: StackSecurity | None = None,
) -> dict[str, Any]:
    """The CreateProcessingJob request of the validation split, with the stack's KMS key and VPC; the split needs
    no network, so it always runs with network isolation."""
    security = job_security(config, stack or StackSecurity())
    out = split_outputs(request, artifacts_bucket)
    data_type = "S3Prefix"
    arguments = [
        "--fraction",
        str(config.data.validation_fraction),
        "--seed",
        str(config.data.split_seed),
        "--problem",
        plan.problem_type or "regression",
        "--content-type",
        plan.content_type or "text/csv",
        "--base",
        BASE,
    ]
    if config.data.header:
        arguments.append("--header")
    if config.algorithm.brings_own_code:
        arguments.append("--own-code")  # the script reads its rows its own way: split them, do not judge them
    body: dict[str, Any] = {
        "ProcessingJobName": split_job_name(request),
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": channel_uris(request, None)["train"],
                    "LocalPath": f"{BASE}/input/data",
                    "S3DataType": data_type,
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": code_uri,
                    "LocalPath": f"{BASE}/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {
                        "S3Uri": out.train_uri,
                        "LocalPath": f"{BASE}/output/train",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {
                    "OutputName": "validation",
                    "S3Output": {
                        "S3Uri": out.validation_uri,
                        "LocalPath": f"{BASE}/output/validation",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": f"{split_prefix(request, artifacts_bucket)}/report/",
                        "LocalPath": f"{BASE}/output/report",
                        "S3UploadMode": "EndOfJob",
                    },
                },
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": SPLIT_INSTANCE, "VolumeSizeInGB": 30}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "AppSpecification": {
            "ImageUri": image_uri("sklearn", region),
            "ContainerEntrypoint": ["python3", f"{BASE}/input/code/split.py"],
            "ContainerArguments": arguments,
        },
        "RoleArn": role_arn,
        "Tags": tags_for(request, config),
    }
    apply_to_processing(body, security)
    return body


def create_processing_job(body: dict[str, Any], sagemaker: Any) -> dict[str, Any]:
    try:
        sagemaker.create_processing_job(**body)
    except ClientError as exc:
        if (
            error_code(exc) in ("ResourceInUse", "ResourceInUseException", "ValidationException")
            and "exist" in str(exc).lower()
        ):
            return {"adopted": True, **sagemaker.describe_processing_job(ProcessingJobName=body["ProcessingJobName"])}
        raise translate(exc, "CreateProcessingJob") from exc
    return {"adopted": False}
