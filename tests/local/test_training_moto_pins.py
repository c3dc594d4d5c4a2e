"""Pins of the moto 5.2.5 behaviour that trainops_local.sagemaker.backend replaces or relies on.

If one of these fails after a moto upgrade, re-read backend.py: the patch it guards may be obsolete or broken.
"""

from __future__ import annotations

import inspect
from typing import Any

import boto3
import moto
import pytest
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from trainops_local.sagemaker import backend

REGION = "us-east-1"


def _request(name: str, **hps: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "mine", "Regex": "mine=([0-9.]+)"}],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "HyperParameters": {"num_round": "1", **hps},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def test_moto_version() -> None:
    assert moto.__version__ == "5.2.5"


def test_patched_names_exist_with_the_expected_signatures() -> None:
    assert backend.current() is None  # pins run against unpatched moto
    params = inspect.signature(sm_models.SageMakerModelBackend.create_training_job).parameters
    assert set(params) - {"self"} == set(backend._TRAINING_KWARGS)
    params = inspect.signature(sm_models.SageMakerModelBackend.create_processing_job).parameters
    assert set(params) - {"self"} == set(backend._PROCESSING_KWARGS)
    for name in ("describe_training_job", "stop_processing_job", "describe_processing_job", "create_auto_ml_job_v2"):
        assert callable(getattr(sm_models.SageMakerModelBackend, name))
    for name in ("create_training_job", "create_processing_job", "describe_training_job"):
        assert callable(getattr(sm_responses.SageMakerResponse, name))
    assert callable(sm_responses.SageMakerResponse._get_params)
    # Actions moto lacks, which install() adds:
    assert not hasattr(sm_models.SageMakerModelBackend, "stop_training_job")
    assert not hasattr(sm_responses.SageMakerResponse, "stop_training_job")
    assert not hasattr(sm_responses.SageMakerResponse, "create_auto_ml_job")
    assert sm_models.FakeTrainingJob.arn_formatter("j", "1", REGION).endswith(":training-job/j")


def test_unpatched_training_job_completes_instantly_with_fake_metrics(aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_training_job(**_request("pin-1"))
    described = sm.describe_training_job(TrainingJobName="pin-1")
    assert described["TrainingJobStatus"] == "Completed"
    assert [m["MetricName"] for m in described["FinalMetricDataList"]] == ["train:progress"]
    assert described["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "test:dcg"  # overwritten
    record = sm_models.sagemaker_backends["123456789012"][REGION].training_jobs["pin-1"]
    for attr in (
        "training_job_status",
        "secondary_status",
        "secondary_status_transitions",
        "final_metric_data_list",
        "model_artifacts",
        "training_start_time",
        "training_end_time",
        "last_modified_time",
    ):
        assert hasattr(record, attr)


def test_unpatched_duplicate_name_overwrites(aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_training_job(**_request("pin-2"))
    sm.create_training_job(**_request("pin-2", eta="0.5"))
    assert sm.describe_training_job(TrainingJobName="pin-2")["HyperParameters"]["eta"] == "0.5"


def test_unpatched_stop_training_job_is_not_implemented(aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_training_job(**_request("pin-3"))
    with pytest.raises(NotImplementedError):
        sm.stop_training_job(TrainingJobName="pin-3")


def test_unpatched_processing_job_completes_instantly(aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_processing_job(
        ProcessingJobName="pin-4",
        RoleArn="arn:aws:iam::123456789012:role/sm",
        AppSpecification={"ImageUri": "x/sagemaker-scikit-learn:1"},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
    )
    assert sm.describe_processing_job(ProcessingJobName="pin-4")["ProcessingJobStatus"] == "Completed"


def test_describe_serializes_extra_record_attributes_we_set(aws: None) -> None:
    """The adapter sets FailureReason, TuningJobArn, Environment... as plain attributes of moto's record."""
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_training_job(**_request("pin-5"))
    record = sm_models.sagemaker_backends["123456789012"][REGION].training_jobs["pin-5"]
    record.failure_reason = "because"
    record.tuning_job_arn = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/t"
    record.training_time_in_seconds = 3
    record.model_artifacts = None
    described = sm.describe_training_job(TrainingJobName="pin-5")
    assert described["FailureReason"] == "because"
    assert described["TuningJobArn"].endswith("/t")
    assert described["TrainingTimeInSeconds"] == 3
    assert "ModelArtifacts" not in described
