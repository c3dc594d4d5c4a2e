"""The exact CreateTrainingJob requests trainops sends, checked against botocore's service model too."""

import io
import json
import tarfile

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from trainops.errors import AwsThrottled, IncrementalTrainingNotSupported, InvalidTrainingRequest, QuotaExceeded
from trainops.processing import split_outputs, split_prefix
from trainops.training import BaseModel, build_training_request, create_training_job, seed_checkpoint

from tests.helpers import ARTIFACTS_BUCKET, ROLE_ARN, XGB_IMAGE, config, plan, run_request

RUN = "20261126T120000-1a2b3c4d"
PREFIX = f"s3://{ARTIFACTS_BUCKET}/runs/demo/{RUN}"


def _validate(body):
    model = botocore.session.get_session().get_service_model("sagemaker")
    from botocore.validate import validate_parameters

    validate_parameters(body, model.operation_model("CreateTrainingJob").input_shape)


def _build(cfg, pl, base=None):
    request = run_request(cfg)
    return build_training_request(
        request,
        cfg,
        pl,
        channels=split_outputs(request, ARTIFACTS_BUCKET),
        role_arn=ROLE_ARN,
        artifacts_bucket=ARTIFACTS_BUCKET,
        base_model=base,
    )


def test_pipe_mode_request_for_builtin_xgboost():
    # Given the default config and a plan that chose Pipe mode
    cfg = config()
    split = split_prefix(run_request(cfg), ARTIFACTS_BUCKET)
    # When the request is built
    body = _build(cfg, plan())
    # Then it is exactly what SageMaker needs
    assert body == {
        "TrainingJobName": "trainops-demo-20261126120000-1a2b3c4d-train",
        "AlgorithmSpecification": {
            "TrainingImage": XGB_IMAGE,
            "TrainingInputMode": "Pipe",
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": ROLE_ARN,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{split}/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
                "CompressionType": "None",
            },
            {
                "ChannelName": "validation",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{split}/validation/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
                "CompressionType": "None",
            },
        ],
        "OutputDataConfig": {"S3OutputPath": f"{PREFIX}/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"num_round": "50", "objective": "binary:logistic", "eval_metric": "auc"},
        "Tags": [
            {"Key": "trainops:project", "Value": "demo"},
            {"Key": "trainops:run-id", "Value": RUN},
            {"Key": "trainops:config-hash", "Value": cfg.config_hash()},
        ],
        # built-in algorithms need no network; one instance has no traffic between instances to encrypt
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": False,
    }
    _validate(body)


def test_file_mode_request_for_libsvm():
    cfg = config(data={"content_type": "text/libsvm", "input_mode": "File"})
    body = _build(cfg, plan(input_mode="File", content_type="text/libsvm"))
    assert body["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert [c["ContentType"] for c in body["InputDataConfig"]] == ["text/libsvm", "text/libsvm"]
    _validate(body)


def test_script_mode_carries_metric_definitions_and_model_channel_in_file_mode():
    cfg = config(
        algorithm={
            "name": "script",
            "entry_point": "train.py",
            "source_dir": "s3://code-bucket/demo/sourcedir.tar.gz",
            "framework": "sklearn",
            "metric_definitions": [{"name": "validation:auc", "regex": "validation-auc=([0-9.]+)"}],
        }
    )
    pl = plan(
        algorithm="script",
        image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        metric_definitions=[{"name": "validation:auc", "regex": "validation-auc=([0-9.]+)"}],
        hyperparameters={"sagemaker_program": '"train.py"'},
    )
    base = BaseModel(
        package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/trainops-demo/1",
        model_data_url="s3://b/runs/demo/old/output/model.tar.gz",
        image=pl.image or "",
        num_round=None,
    )
    body = _build(cfg, pl, base)
    assert body["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "validation:auc", "Regex": "validation-auc=([0-9.]+)"}
    ]
    model = body["InputDataConfig"][-1]
    assert model["ChannelName"] == "model"
    assert model["InputMode"] == "File"  # even though the job streams its other channels
    assert model["ContentType"] == "application/x-sagemaker-model"
    assert body["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    _validate(body)


def test_incremental_xgboost_seeds_the_checkpoint_and_counts_rounds_in_total():
    cfg = config(incremental={"enabled": True})
    base = BaseModel(package_arn="arn:pkg/1", model_data_url="s3://b/m/model.tar.gz", image=XGB_IMAGE, num_round=50)
    body = _build(cfg, plan(), base)
    # the 1.7-1 container trains num_round - (N + 1) more rounds from xgboost-checkpoint.N
    assert body["HyperParameters"]["num_round"] == "100"
    assert body["CheckpointConfig"] == {"S3Uri": f"{PREFIX}/checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
    _validate(body)


def test_incremental_xgboost_refuses_a_version_that_does_not_resume():
    cfg = config(incremental={"enabled": True})
    base = BaseModel(package_arn="arn:pkg/1", model_data_url="s3://b/m/model.tar.gz", image=XGB_IMAGE, num_round=50)
    with pytest.raises(IncrementalTrainingNotSupported) as info:
        _build(cfg, plan(version="3.0-5"), base)
    assert info.value.field == "algorithm.version"


def test_incremental_refuses_a_base_model_of_another_algorithm():
    cfg = config(incremental={"enabled": True})
    base = BaseModel(
        package_arn="arn:pkg/1",
        model_data_url="s3://b/m/model.tar.gz",
        image="382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
        num_round=50,
    )
    with pytest.raises(IncrementalTrainingNotSupported, match="linear-learner"):
        _build(cfg, plan(), base)


def test_incremental_linear_learner_is_a_clear_error():
    cfg = config(algorithm={"name": "linear-learner"}, incremental={"enabled": True})
    base = BaseModel(package_arn="arn:pkg/1", model_data_url="s3://b/m/model.tar.gz", image="x", num_round=None)
    with pytest.raises(IncrementalTrainingNotSupported) as info:
        _build(cfg, plan(algorithm="linear-learner", input_mode="File"), base)
    assert "incremental.enabled" in str(info.value)


def test_too_many_tags_is_refused_before_aws_does():
    cfg = config(tags={f"k{i}": "v" for i in range(40)})
    request = run_request(cfg)
    cfg2 = cfg.model_copy(update={"tags": {f"k{i}": "v" for i in range(48)}})
    with pytest.raises(InvalidTrainingRequest, match="50"):
        build_training_request(
            request,
            cfg2,
            plan(),
            channels=split_outputs(request, ARTIFACTS_BUCKET),
            role_arn=ROLE_ARN,
            artifacts_bucket=ARTIFACTS_BUCKET,
        )


@mock_aws
def test_seed_checkpoint_puts_the_earlier_model_where_the_container_resumes():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="bbb")
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"model-bytes"
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket="bbb", Key="m/model.tar.gz", Body=archive.getvalue())
    cfg = config(incremental={"enabled": True})
    base = BaseModel(package_arn="arn:pkg/1", model_data_url="s3://bbb/m/model.tar.gz", image=XGB_IMAGE, num_round=50)
    body = _build(cfg, plan(), base)
    uri = seed_checkpoint(body, base, s3)
    assert uri == f"{PREFIX}/checkpoints/xgboost-checkpoint.49"
    got = s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=f"runs/demo/{RUN}/checkpoints/xgboost-checkpoint.49")
    assert got["Body"].read() == b"model-bytes"
    assert json.dumps(body)  # serialisable as a state payload


def test_split_location_depends_on_the_data_and_the_split_settings_only():
    cfg = config()
    a = run_request(cfg, run_id="20261126T120000-aaaaaaaa")
    b = run_request(cfg, run_id="20261127T120000-bbbbbbbb")
    assert split_prefix(a, ARTIFACTS_BUCKET) == split_prefix(b, ARTIFACTS_BUCKET)  # same data: identical inputs
    changed = b.model_copy(update={"dataset": b.dataset.model_copy(update={"fingerprint": "other-etag"})})
    assert split_prefix(changed, ARTIFACTS_BUCKET) != split_prefix(a, ARTIFACTS_BUCKET)
    reseeded = run_request(config(data={"split_seed": 7}))
    assert split_prefix(reseeded, ARTIFACTS_BUCKET) != split_prefix(a, ARTIFACTS_BUCKET)


def test_distribution_needs_script_mode_with_a_distributed_framework():
    from trainops.errors import AlgorithmNotSupported
    from trainops.planning import plan_training

    cfg = config(resources={"distribution": "data_parallel", "instance_count": 2})
    with pytest.raises(AlgorithmNotSupported) as info:
        plan_training(run_request(cfg), cfg, region="us-east-1", s3=None)
    assert info.value.field == "resources.distribution"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", AwsThrottled),
        ("InternalFailure", AwsThrottled),
        ("ResourceLimitExceeded", QuotaExceeded),
    ],
)
def test_create_training_job_refusals_become_typed_errors(code: str, error: type) -> None:
    class Refusing:
        def create_training_job(self, **body: object) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "CreateTrainingJob")

    with pytest.raises(error):
        create_training_job({"TrainingJobName": "x"}, Refusing())
