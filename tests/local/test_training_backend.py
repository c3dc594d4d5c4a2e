"""The moto adapter: CreateTrainingJob/CreateProcessingJob really run, Describe tells the truth, events flow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer
from trainops_local.sagemaker import backend

BUCKET = "local-test-bucket"
REGION = "us-east-1"
XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture
def local_sagemaker(s3: Any, tmp_path: Path) -> Iterator[backend.LocalSageMaker]:
    state = backend.install(tmp_path / "jobs", region=REGION)
    try:
        yield state
    finally:
        assert backend.uninstall(timeout=30)


@pytest.fixture
def sm(local_sagemaker: backend.LocalSageMaker) -> Any:
    return boto3.client("sagemaker", region_name=REGION)


@pytest.fixture
def events_queue(aws: None) -> tuple[Any, str]:
    """An EventBridge rule for aws.sagemaker delivering to an SQS queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="sagemaker-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="sagemaker", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(Rule="sagemaker", Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def received(queue: tuple[Any, str]) -> list[dict[str, Any]]:
    sqs, url = queue
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return out


@pytest.fixture
def dataset(s3: Any, make_csv: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    s3.put_object(Bucket=BUCKET, Key="data/train/t.csv", Body=make_csv(x[:450], y[:450]))
    s3.put_object(Bucket=BUCKET, Key="data/validation/v.csv", Body=make_csv(x[450:], y[450:]))


def training_request(name: str, num_round: int = 10, image: str = XGB_IMAGE) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "HyperParameters": {"num_round": str(num_round), "objective": "binary:logistic", "eval_metric": "auc"},
        "InputDataConfig": [
            {
                "ChannelName": c,
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/{c}"}},
            }
            for c in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def test_create_training_job_runs_for_real(sm: Any, s3: Any, dataset: None, events_queue: Any) -> None:
    sm.create_training_job(**training_request("real-1"))
    first = sm.describe_training_job(TrainingJobName="real-1")
    assert first["TrainingJobStatus"] == "InProgress"
    assert "FinalMetricDataList" not in first
    assert backend.wait_idle(30)
    done = sm.describe_training_job(TrainingJobName="real-1")
    assert done["TrainingJobStatus"] == "Completed"
    assert done["SecondaryStatus"] == "Completed"
    metrics = {m["MetricName"]: m["Value"] for m in done["FinalMetricDataList"]}
    assert set(metrics) == {"train:auc", "validation:auc"}
    assert metrics["validation:auc"] > 0.95
    assert "MetricDefinitions" not in done["AlgorithmSpecification"]  # kept as sent, not moto's fake
    assert [t["Status"] for t in done["SecondaryStatusTransitions"]][-2:] == ["Uploading", "Completed"]
    assert done["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/out/real-1/output/model.tar.gz"
    assert s3.head_object(Bucket=BUCKET, Key="out/real-1/output/model.tar.gz")["ContentLength"] > 0
    assert done["TrainingTimeInSeconds"] >= 1
    assert done["TrainingEndTime"] >= done["TrainingStartTime"]

    events = received(events_queue)
    assert [(e["detail-type"], e["detail"]["TrainingJobStatus"]) for e in events] == [
        ("SageMaker Training Job State Change", "InProgress"),
        ("SageMaker Training Job State Change", "Completed"),
    ]
    assert events[1]["source"] == "aws.sagemaker"
    assert events[1]["resources"] == [done["TrainingJobArn"]]
    assert isinstance(events[1]["detail"]["TrainingEndTime"], int)  # epoch milliseconds

    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="/aws/sagemaker/TrainingJobs")["Metrics"]}
    assert names == {"train:auc", "validation:auc"}
    logs = boto3.client("logs", region_name=REGION)
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
    assert streams[0]["logStreamName"].startswith("real-1/algo-1-")


def test_duplicate_name_is_resource_in_use(sm: Any, dataset: None) -> None:
    sm.create_training_job(**training_request("dup-1"))
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**training_request("dup-1", num_round=3))
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    assert backend.wait_idle(30)
    assert sm.describe_training_job(TrainingJobName="dup-1")["HyperParameters"]["num_round"] == "10"


def test_failed_job_reports_failure_reason(sm: Any, dataset: None, events_queue: Any) -> None:
    sm.create_training_job(**training_request("custom-1", image="1.dkr.ecr.us-east-1.amazonaws.com/mine:2"))
    assert backend.wait_idle(30)
    described = sm.describe_training_job(TrainingJobName="custom-1")
    assert described["TrainingJobStatus"] == "Failed"
    assert "no local stand-in command" in described["FailureReason"]
    assert "ModelArtifacts" not in described
    assert received(events_queue)[-1]["detail"]["FailureReason"] == described["FailureReason"]


def test_stop_training_job(sm: Any, dataset: None, events_queue: Any) -> None:
    handle = backend.start_local_training_job(training_request("stop-1", num_round=100000))
    deadline_ok = threading.Event()
    metric_seen = threading.Event()
    handle2 = backend.start_local_training_job(
        training_request("stop-2", num_round=100000), on_metric=lambda _p: metric_seen.set()
    )
    assert metric_seen.wait(20) or deadline_ok.is_set()
    sm.stop_training_job(TrainingJobName="stop-2")
    assert sm.describe_training_job(TrainingJobName="stop-2")["TrainingJobStatus"] in ("Stopping", "Stopped")
    assert handle2.wait(20).status == "Stopped"
    handle.stop()
    assert handle.wait(20).status == "Stopped"
    assert sm.describe_training_job(TrainingJobName="stop-2")["TrainingJobStatus"] == "Stopped"
    assert backend.wait_idle(10)
    statuses = [
        e["detail"]["TrainingJobStatus"] for e in received(events_queue) if e["detail"]["TrainingJobName"] == "stop-2"
    ]
    assert statuses == ["InProgress", "Stopping", "Stopped"]


def test_start_local_training_job_for_tuning(sm: Any, dataset: None) -> None:
    seen: list[str] = []
    handle = backend.start_local_training_job(
        training_request("tune-001", num_round=5), tuning_job_name="tune", on_metric=lambda p: seen.append(p.name)
    )
    outcome = handle.wait(30)
    assert outcome.status == "Completed"
    assert handle.status == "Completed"
    assert seen.count("validation:auc") == 5
    described = sm.describe_training_job(TrainingJobName="tune-001")
    assert described["TuningJobArn"].endswith(":hyper-parameter-tuning-job/tune")
    with pytest.raises(ClientError) as err:
        backend.start_local_training_job(training_request("tune-001"))
    assert err.value.response["Error"]["Code"] == "ResourceInUse"


def test_processing_job_through_the_api(sm: Any, s3: Any, events_queue: Any) -> None:
    s3.put_object(
        Bucket=BUCKET,
        Key="code/p.py",
        Body=b"import sys, pathlib\npathlib.Path(sys.argv[1], 'o.txt').write_text('ok')\n",
    )
    sm.create_processing_job(
        ProcessingJobName="proc-1",
        RoleArn="arn:aws:iam::123456789012:role/sm",
        AppSpecification={
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/p.py"],
            "ContainerArguments": ["/opt/ml/processing/output/o"],
        },
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/p.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "o",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/proc-out",
                        "LocalPath": "/opt/ml/processing/output/o",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
    )
    assert sm.describe_processing_job(ProcessingJobName="proc-1")["ProcessingJobStatus"] == "InProgress"
    assert backend.wait_idle(30)
    assert sm.describe_processing_job(ProcessingJobName="proc-1")["ProcessingJobStatus"] == "Completed"
    assert s3.get_object(Bucket=BUCKET, Key="proc-out/o.txt")["Body"].read() == b"ok"
    statuses = [(e["detail-type"], e["detail"]["ProcessingJobStatus"]) for e in received(events_queue)]
    assert statuses == [
        ("SageMaker Processing Job State Change", "InProgress"),
        ("SageMaker Processing Job State Change", "Completed"),
    ]


def test_autopilot_without_a_header_csv_fails_with_its_reason(sm: Any) -> None:
    # Given no data under the job's input prefix, When the local emulation (automl.py) runs the job
    sm.create_auto_ml_job_v2(
        AutoMLJobName="auto",
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/d"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/a"},
        AutoMLProblemTypeConfig={
            "TabularJobConfig": {
                "TargetAttributeName": "y",
                "ProblemType": "Regression",
                "CompletionCriteria": {"MaxCandidates": 1},
            }
        },
        RoleArn="arn:aws:iam::123456789012:role/sm",
    )
    # Then it ends Failed, with the reason DescribeAutoMLJobV2 gives
    deadline = time.monotonic() + 30
    desc = sm.describe_auto_ml_job_v2(AutoMLJobName="auto")
    while desc["AutoMLJobStatus"] == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.2)
        desc = sm.describe_auto_ml_job_v2(AutoMLJobName="auto")
    assert desc["AutoMLJobStatus"] == "Failed"
    assert "no data under" in desc["FailureReason"]


def test_autopilot_calls_on_a_missing_job_answer_resource_not_found(sm: Any) -> None:
    # AWS documents ResourceNotFound (not ValidationException) for these three AutoML calls
    from botocore.exceptions import ClientError

    for call in (sm.describe_auto_ml_job_v2, sm.stop_auto_ml_job, sm.list_candidates_for_auto_ml_job):
        with pytest.raises(ClientError) as caught:
            call(AutoMLJobName="never-created")
        assert caught.value.response["Error"]["Code"] == "ResourceNotFound", call


def test_uninstall_stops_running_jobs_and_leaves_no_threads(s3: Any, dataset: None, tmp_path: Path) -> None:
    backend.install(tmp_path / "jobs", region=REGION)
    try:
        sm = boto3.client("sagemaker", region_name=REGION)
        for i in range(3):  # two workers: the third waits, InProgress
            sm.create_training_job(**training_request(f"long-{i}", num_round=100000))
    finally:
        assert backend.uninstall(timeout=30)
    assert {sm.describe_training_job(TrainingJobName=f"long-{i}")["TrainingJobStatus"] for i in range(3)} == {"Stopped"}
    assert threading.active_count() == 1
    assert backend.current() is None
