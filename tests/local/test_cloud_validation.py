"""Strict request validation: what AWS rejects is rejected locally, for every client in the process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ParamValidationError
from moto import mock_aws
from trainops_local.cloud import validation
from trainops_local.cloud.validation import StrictParamValidationError

ROLE = "arn:aws:iam::123456789012:role/sagemaker"


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    validation.install()
    try:
        with mock_aws():
            yield
    finally:
        validation.uninstall()


def training_job(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "trainops-demo-20240101-abc",
        "AlgorithmSpecification": {"TrainingImage": "123.dkr.ecr/xgb:1", "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://artifacts/runs/demo/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"num_round": "10"},
        "Tags": [{"Key": "project", "Value": "demo"}],
    }
    request.update(overrides)
    return request


def test_valid_create_training_job_passes(strict: None) -> None:
    sm = boto3.client("sagemaker")
    sm.create_training_job(**training_job())
    assert sm.describe_training_job(TrainingJobName="trainops-demo-20240101-abc")["TrainingJobName"]


@pytest.mark.parametrize(
    ("overrides", "path", "constraint"),
    [
        (
            {"AlgorithmSpecification": {"TrainingImage": "x", "TrainingInputMode": "Streaming"}},
            "AlgorithmSpecification.TrainingInputMode",
            "enum",
        ),
        ({"TrainingJobName": "a" * 70}, "TrainingJobName", "max=63"),
        ({"TrainingJobName": "bad name!"}, "TrainingJobName", "pattern="),
        ({"StoppingCondition": {"MaxRuntimeInSeconds": 0}}, "StoppingCondition.MaxRuntimeInSeconds", "min=1"),
        ({"Tags": [{"Key": "k", "Value": "v"}] * 51}, "Tags", "max=50"),
        ({"HyperParameters": {"lr": "x" * 2501}}, "HyperParameters.lr", "max=2500"),
    ],
)
def test_invalid_create_training_job_rejected(
    strict: None, overrides: dict[str, Any], path: str, constraint: str
) -> None:
    sm = boto3.client("sagemaker")
    with pytest.raises(StrictParamValidationError) as info:
        sm.create_training_job(**training_job(**overrides))
    err = info.value
    assert isinstance(err, ParamValidationError)
    assert err.operation == "sagemaker.CreateTrainingJob"
    assert any(v.path == path and v.constraint.startswith(constraint) for v in err.violations), err.violations
    assert "sagemaker.CreateTrainingJob" in str(err)
    assert path in str(err)
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def test_tuning_job_name_over_32_chars_rejected(strict: None) -> None:
    sm = boto3.client("sagemaker")
    with pytest.raises(StrictParamValidationError, match="HyperParameterTuningJobName"):
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="t" * 33)


def test_clients_without_botocore_validation_are_checked(strict: None) -> None:
    # moto's Step Functions interpreter builds its clients with parameter_validation=False.
    sfn = boto3.client("stepfunctions", config=Config(parameter_validation=False))
    with pytest.raises(StrictParamValidationError, match="name"):
        sfn.start_execution(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:x", name="n" * 81)


def test_recursive_shapes_and_unicode_tag_patterns(strict: None) -> None:
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    nested = {"M": {"a": {"L": [{"M": {"b": {"S": "deep"}}}]}}}
    ddb.put_item(TableName="t", Item={"pk": {"S": "1"}, "v": nested})
    lam = boto3.client("lambda")
    # \\p{L} (any letter) is honoured: a non-ASCII letter passes, a control character does not.
    with pytest.raises(StrictParamValidationError, match="pattern"):
        lam.tag_resource(Resource="arn:aws:lambda:us-east-1:123456789012:function:f", Tags={"bad\x07key": "v"})
    assert not validation.SKIPPED_PATTERNS or all(isinstance(p, str) for p in validation.SKIPPED_PATTERNS)


def test_uninstall_turns_validation_off_for_existing_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    validation.install()
    with mock_aws():
        sm = boto3.client("sagemaker")
        validation.uninstall()
        assert not validation.is_installed()
        sm.create_training_job(**training_job(TrainingJobName="a" * 70))  # moto itself accepts it
        assert len(sm.list_training_jobs()["TrainingJobSummaries"]) == 1
