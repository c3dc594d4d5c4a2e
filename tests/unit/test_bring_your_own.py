"""Script mode and containers in the shipped controller: channels as uploaded, File by default, no data rules,
deployable packages, and no metric is not a failure."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import validate_parameters
from moto import mock_aws
from trainops.config import parse_config
from trainops.errors import ConfigInvalid, DatasetError
from trainops.models import Dataset, JobResult, RunRequest, Trigger
from trainops.planning import plan_training
from trainops.registry import register_model
from trainops.training import build_training_request
from trainops.triggers import inspect_dataset

from tests.helpers import ARTIFACTS_BUCKET, DATA_BUCKET, ROLE_ARN

SOURCE = "s3://trainops-artifacts-test/code/churn/0123456789abcdef/sourcedir.tar.gz"


def script_config(**extra: Any) -> Any:
    algorithm = {
        "name": "script",
        "framework": "sklearn",
        "framework_version": "1.2-1",
        "entry_point": "train.py",
        "source_dir": SOURCE,
        "metric_definitions": [{"name": "validation:rmse", "regex": "rmse=([0-9.]+)"}],
    }
    algorithm.update(extra.pop("algorithm", {}))
    return parse_config({"project": "churn", "algorithm": algorithm, **extra})


def request_for(cfg: Any, channels: list[str], kind: str = "prefix") -> RunRequest:
    prefix = "data/churn/ds1/" if kind == "prefix" else "data/churn/table.parquet"
    return RunRequest(
        run_id="20261126T120000-1a2b3c4d",
        project="churn",
        trigger=Trigger(kind="manual"),
        dataset=Dataset(
            bucket=DATA_BUCKET,
            prefix=prefix,
            kind=kind,  # type: ignore[arg-type]
            uri=f"s3://{DATA_BUCKET}/{prefix}",
            channels=channels,
            has_validation={"train", "validation"} <= set(channels),
            fingerprint="f",
        ),
        config=cfg.model_dump(mode="json", exclude_none=True),
        config_source="test",
        config_hash=cfg.config_hash(),
    )


def _validate(body: dict[str, Any], operation: str) -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(body, model.operation_model(operation).input_shape)


def test_script_channels_are_the_folders_as_uploaded_in_file_mode_without_a_split():
    # Given a dataset with train/ and test/ folders and a script that reads them
    cfg = script_config()
    request = request_for(cfg, ["test", "train"])
    # When it is planned (s3 is never read: no data rules apply to scripts) and the request built
    plan = plan_training(request, cfg, region="us-east-1", s3=None)
    body = build_training_request(
        request, cfg, plan, channels=None, role_arn=ROLE_ARN, artifacts_bucket=ARTIFACTS_BUCKET
    )
    # Then every folder is a channel, named and located as uploaded, in File mode, with no split
    assert plan.needs_split is False
    assert plan.input_mode == "File"
    assert {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in body["InputDataConfig"]} == {
        "test": f"s3://{DATA_BUCKET}/data/churn/ds1/test/",
        "train": f"s3://{DATA_BUCKET}/data/churn/ds1/train/",
    }
    assert all("ContentType" not in c for c in body["InputDataConfig"])  # the bytes as uploaded
    assert body["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert body["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert json.loads(body["HyperParameters"]["sagemaker_submit_directory"]) == SOURCE
    _validate(body, "CreateTrainingJob")


def test_a_single_file_is_the_train_channel_with_its_name_kept():
    cfg = script_config()
    request = request_for(cfg, [], kind="file")
    plan = plan_training(request, cfg, region="us-east-1", s3=None)
    body = build_training_request(
        request, cfg, plan, channels=None, role_arn=ROLE_ARN, artifacts_bucket=ARTIFACTS_BUCKET
    )
    [channel] = body["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{DATA_BUCKET}/data/churn/table.parquet"


def test_per_channel_input_mode_distribution_and_content_type_are_configurable():
    cfg = script_config(
        data={
            "channels": {
                "train": {"input_mode": "Pipe", "distribution": "ShardedByS3Key", "content_type": "text/csv"},
                "test": {"input_mode": "FastFile"},
            }
        }
    )
    request = request_for(cfg, ["test", "train"])
    plan = plan_training(request, cfg, region="us-east-1", s3=None)
    body = build_training_request(
        request, cfg, plan, channels=None, role_arn=ROLE_ARN, artifacts_bucket=ARTIFACTS_BUCKET
    )
    channels = {c["ChannelName"]: c for c in body["InputDataConfig"]}
    assert channels["train"]["InputMode"] == "Pipe"
    assert channels["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert channels["train"]["ContentType"] == "text/csv"
    assert channels["test"]["InputMode"] == "FastFile"
    assert body["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    _validate(body, "CreateTrainingJob")


def test_configuring_a_channel_the_dataset_does_not_have_names_it():
    cfg = script_config(data={"channels": {"holdout": {"input_mode": "Pipe"}}})
    with pytest.raises(ConfigInvalid) as info:
        plan_training(request_for(cfg, ["train"]), cfg, region="us-east-1", s3=None)
    assert info.value.field == "data.channels.holdout"


def test_a_split_for_a_script_only_when_asked_and_then_of_the_train_channel():
    cfg = script_config(data={"split": "always", "header": True})
    request = request_for(cfg, ["test", "train"])
    plan = plan_training(request, cfg, region="us-east-1", s3=None)
    assert plan.needs_split is True
    assert plan.channels == ["train", "validation", "test"]


def test_a_local_source_dir_in_the_pipeline_says_how_to_upload_it():
    cfg = script_config(algorithm={"source_dir": "./src"})
    with pytest.raises(ConfigInvalid) as info:
        plan_training(request_for(cfg, ["train"]), cfg, region="us-east-1", s3=None)
    assert info.value.field == "algorithm.source_dir"
    assert "trainops config upload" in (info.value.fix or "")


def test_built_in_algorithms_keep_their_data_rules_and_read_train_and_validation_only():
    cfg = parse_config({"project": "churn", "data": {"header": True}})
    with pytest.raises(ConfigInvalid) as info:
        plan_training(request_for(cfg, ["train"]), cfg, region="us-east-1", s3=None)
    assert info.value.field == "data.header"


@mock_aws
def test_dataset_folders_become_channels_and_loose_files_beside_them_are_refused():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=DATA_BUCKET)
    for key in ("data/churn/ds1/train/a.csv", "data/churn/ds1/test/b.npz", "data/churn/ds1/_READY"):
        s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=b"x")
    dataset = Dataset(
        bucket=DATA_BUCKET, prefix="data/churn/ds1/", kind="prefix", uri=f"s3://{DATA_BUCKET}/data/churn/ds1/"
    )
    assert inspect_dataset(dataset, s3).channels == ["test", "train"]
    s3.put_object(Bucket=DATA_BUCKET, Key="data/churn/ds1/stray.csv", Body=b"x")
    with pytest.raises(DatasetError) as info:
        inspect_dataset(dataset, s3)
    assert "stray.csv" in str(info.value)
    assert "channel folder" in (info.value.fix or "")


def _register(cfg: Any, plan: Any, metrics: dict[str, float]) -> dict[str, Any]:
    sm = boto3.client("sagemaker", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    request = request_for(cfg, ["train"])
    job = JobResult(
        kind="training",
        job_name="churn-20261126120000-1a2b3c4d-train",
        job_arn="arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-20261126120000-1a2b3c4d-train",
        status="Completed",
        model_artifact=f"s3://{ARTIFACTS_BUCKET}/runs/churn/x/model.tar.gz",
        image=plan.image,
        final_metrics=metrics,
    )
    reg = register_model(
        request, cfg, plan, job, sagemaker=sm, s3=s3, artifacts_bucket=ARTIFACTS_BUCKET, tags=[], extra_metadata={}
    )
    package = sm.describe_model_package(ModelPackageName=reg.model_package_arn)
    return {"registration": reg, "package": package}


@mock_aws
def test_a_script_mode_package_is_deployable_with_the_framework_inference_image():
    cfg = script_config()
    plan = plan_training(request_for(cfg, ["train"]), cfg, region="us-east-1", s3=None)
    out = _register(cfg, plan, {"validation:rmse": 0.5})
    [container] = out["package"]["InferenceSpecification"]["Containers"]
    assert container["Image"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "train.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": SOURCE,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": "us-east-1",
    }
    assert (container["Framework"], container["FrameworkVersion"]) == ("SKLEARN", "1.2-1")


@mock_aws
def test_a_job_without_the_objective_metric_is_registered_for_review_and_the_run_succeeds():
    cfg = script_config()
    plan = plan_training(request_for(cfg, ["train"]), cfg, region="us-east-1", s3=None)
    out = _register(cfg, plan, {})
    reg = out["registration"]
    assert reg.approval_status == "PendingManualApproval"
    assert reg.reason.startswith("no objective metric reported")
    assert reg.objective_value is None
    assert out["package"]["ModelApprovalStatus"] == "PendingManualApproval"


@mock_aws
def test_a_container_package_uses_its_inference_image():
    cfg = parse_config(
        {
            "project": "churn",
            "algorithm": {
                "name": "container",
                "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-r:1",
                "inference_image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-r-serve:1",
            },
        }
    )
    plan = plan_training(request_for(cfg, ["train"]), cfg, region="us-east-1", s3=None)
    assert plan.objective_metric is None  # no metric definitions: nothing to compare
    out = _register(cfg, plan, {})
    [container] = out["package"]["InferenceSpecification"]["Containers"]
    assert container["Image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-r-serve:1"
    assert out["registration"].approval_status == "PendingManualApproval"


def test_tensorflow_patch_releases_register_with_their_minor_release_serving_image():
    cfg = script_config(algorithm={"framework": "tensorflow", "framework_version": "2.16.2"})
    plan = plan_training(request_for(cfg, ["train"]), cfg, region="us-east-1", s3=None)
    assert plan.inference_image is not None
    assert plan.inference_image.endswith("/tensorflow-inference:2.16-cpu")
