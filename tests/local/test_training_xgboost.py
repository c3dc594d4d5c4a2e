"""The local engine running built-in XGBoost: File/Pipe, metrics, checkpoints, bad data, stop, images."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from trainops_local.sagemaker.engine import run_training_job
from trainops_local.sagemaker.types import MetricPoint, StatusChange

BUCKET = "local-test-bucket"
XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def xgb_request(name: str, mode: str = "File", **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": XGB_IMAGE, "TrainingInputMode": mode},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "HyperParameters": {"num_round": "12", "objective": "binary:logistic", "eval_metric": "auc", "max_depth": "3"},
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/{channel}"}},
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    request.update(overrides)
    return request


@pytest.fixture
def dataset(s3: Any, make_csv: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    s3.put_object(Bucket=BUCKET, Key="data/train/part-0.csv", Body=make_csv(x[:300], y[:300]))
    s3.put_object(Bucket=BUCKET, Key="data/train/part-1.csv", Body=make_csv(x[300:450], y[300:450]))
    s3.put_object(Bucket=BUCKET, Key="data/validation/v.csv", Body=make_csv(x[450:], y[450:]))


def load_model(s3: Any, uri: str) -> xgb.Booster:
    key = uri.removeprefix(f"s3://{BUCKET}/")
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["xgboost-model"]
        raw = tar.extractfile("xgboost-model").read()  # type: ignore[union-attr]
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


@pytest.mark.parametrize("mode", ["File", "Pipe"])
def test_xgboost_trains_and_reports_validation_auc(s3: Any, dataset: None, tmp_path: Path, mode: str) -> None:
    points: list[MetricPoint] = []
    statuses: list[StatusChange] = []
    logs: list[str] = []
    outcome = run_training_job(
        xgb_request(f"xgb-{mode.lower()}", mode),
        s3=s3,
        workdir=tmp_path,
        on_status=statuses.append,
        on_metric=points.append,
        on_log=logs.append,
    )
    assert outcome.status == "Completed", outcome.failure_reason
    assert [t.status for t in outcome.transitions] == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert [s.secondary_status for s in statuses][-1] == "Completed"
    assert outcome.final_metrics["validation:auc"].value > 0.95
    assert set(outcome.final_metrics) == {"train:auc", "validation:auc"}
    assert [p.epoch for p in points if p.name == "validation:auc"] == list(range(12))
    assert any(line.startswith("[11]#011train-auc:") and "#011validation-auc:" in line for line in logs)
    assert outcome.model_artifact == f"s3://{BUCKET}/out/xgb-{mode.lower()}/output/model.tar.gz"
    assert load_model(s3, outcome.model_artifact).num_boosted_rounds() == 12
    if mode == "Pipe":  # streamed through FIFOs, never downloaded; no FIFO left behind
        assert not (tmp_path / "input/data/train").exists()
        assert not list((tmp_path / "input/data").iterdir())
    assert threading.active_count() == 1


def test_gzip_channel_is_decompressed(s3: Any, tmp_path: Path, make_csv: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    s3.put_object(Bucket=BUCKET, Key="gz/train/t.csv.gz", Body=gzip.compress(make_csv(x, y)))
    request = xgb_request("xgb-gzip", "Pipe")
    channel = request["InputDataConfig"][0]
    channel["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/gz/train"
    channel["CompressionType"] = "Gzip"
    request["InputDataConfig"] = [channel]
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    assert outcome.status == "Completed", outcome.failure_reason
    assert "train:auc" in outcome.final_metrics


def test_checkpoint_resume_trains_only_remaining_rounds(s3: Any, dataset: None, tmp_path: Path) -> None:
    ckpt = f"s3://{BUCKET}/ckpt/run-1"
    first = xgb_request("xgb-ck-1", CheckpointConfig={"S3Uri": ckpt})
    first["HyperParameters"]["num_round"] = "4"
    assert run_training_job(first, s3=s3, workdir=tmp_path / "a").status == "Completed"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="ckpt/run-1/")["Contents"]]
    assert sorted(keys) == [f"ckpt/run-1/xgboost-checkpoint.{i}" for i in range(4)]

    second = xgb_request("xgb-ck-2", CheckpointConfig={"S3Uri": ckpt})  # num_round 12 is the total
    points: list[MetricPoint] = []
    outcome = run_training_job(second, s3=s3, workdir=tmp_path / "b", on_metric=points.append)
    assert outcome.status == "Completed", outcome.failure_reason
    assert [p.epoch for p in points if p.name == "train:auc"] == list(range(4, 12))
    assert load_model(s3, outcome.model_artifact or "").num_boosted_rounds() == 12
    local = sorted((p.name for p in (tmp_path / "b/checkpoints").iterdir()), key=lambda n: int(n.split(".")[-1]))
    assert local == [f"xgboost-checkpoint.{i}" for i in range(7, 12)]  # the last 5 kept


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"label,f1\n1,2\n0,3\n", "line 1 column 1: non-numeric value 'label' (a header row?"),
        (b"1,2,3\n0,3\n", "line 2: 2 columns, expected 3"),
        (b"1,2\n0,abc\n", "line 2 column 2: non-numeric value 'abc'"),
        (b"", "no data (empty file)"),
        # XGBoost refuses inf and values beyond 32-bit floats: said where, never with its C++ stack
        (b"1,2\n0,inf\n", "line 2 column 2: value 'inf' is infinite or too large"),
        (b"1,2\n0,3\n1,-1e39\n", "line 3 column 2: value '-1e39' is infinite or too large"),
    ],
)
def test_bad_csv_fails_naming_channel_file_and_line(s3: Any, tmp_path: Path, body: bytes, expected: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="data/train/bad.csv", Body=body)
    request = xgb_request("xgb-bad")
    request["InputDataConfig"] = request["InputDataConfig"][:1]
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    assert outcome.failure_reason is not None
    assert "channel 'train' file bad.csv" in outcome.failure_reason
    assert expected in outcome.failure_reason
    assert "Stack trace" not in outcome.failure_reason and "[bt]" not in outcome.failure_reason
    assert outcome.model_artifact is None


def test_nan_features_are_missing_values(s3: Any, tmp_path: Path) -> None:
    body = b"".join(f"{i % 2},{'nan' if i % 5 == 0 else i},{i % 3}\n".encode() for i in range(40))
    s3.put_object(Bucket=BUCKET, Key="data/train/t.csv", Body=body)
    request = xgb_request("xgb-nan")
    request["InputDataConfig"] = request["InputDataConfig"][:1]
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    assert outcome.status == "Completed", outcome.failure_reason


@pytest.mark.parametrize("mode", ["File", "Pipe"])
def test_gzip_channel_of_plain_data_fails_naming_the_file(s3: Any, tmp_path: Path, mode: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="plain/train/t.csv", Body=b"1,2\n0,3\n")
    request = xgb_request("xgb-notgz", mode)
    channel = request["InputDataConfig"][0]
    channel["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/plain/train"
    channel["CompressionType"] = "Gzip"
    request["InputDataConfig"] = [channel]
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    assert "channel 'train' file t.csv: CompressionType is Gzip but the file is not gzip-compressed" in (
        outcome.failure_reason or ""
    )
    assert "no data" not in (outcome.failure_reason or "")


def test_labels_the_objective_refuses_fail_without_the_cpp_stack(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="data/train/t.csv", Body=b"-1,2\n1,3\n-1,4\n1,5\n")
    request = xgb_request("xgb-pm1")
    request["InputDataConfig"] = request["InputDataConfig"][:1]
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    reason = outcome.failure_reason or ""
    assert reason.startswith("AlgorithmError: ") and "label must be in" in reason
    assert "Stack trace" not in reason and "[bt]" not in reason and ".cc:" not in reason


def test_an_undefined_metric_is_not_reported(s3: Any, tmp_path: Path) -> None:
    # AUC of a validation set with one class is NaN: the container logs "nan", which SageMaker's metric regex
    # never reads as a value, so the job has no validation:auc
    s3.put_object(Bucket=BUCKET, Key="data/train/t.csv", Body=b"".join(f"{i % 2},{i}\n".encode() for i in range(20)))
    s3.put_object(Bucket=BUCKET, Key="data/validation/v.csv", Body=b"1,2\n1,3\n1,4\n")
    logs: list[str] = []
    outcome = run_training_job(xgb_request("xgb-oneclass"), s3=s3, workdir=tmp_path, on_log=logs.append)
    assert outcome.status == "Completed", outcome.failure_reason
    assert "train:auc" in outcome.final_metrics
    assert "validation:auc" not in outcome.final_metrics
    assert any("validation-auc:nan" in line for line in logs)


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        ({"num_round": "5", "learning_rate_typo": "0.1"}, "Extraneous hyperparameter found: learning_rate_typo"),
        ({"objective": "binary:logistic"}, "Missing required hyperparameter: num_round"),
        ({"num_round": "five"}, "num_round: value 'five' is not a valid int"),
    ],
)
def test_invalid_hyperparameters_fail_like_the_container(
    s3: Any, dataset: None, tmp_path: Path, hyperparameters: dict[str, str], expected: str
) -> None:
    outcome = run_training_job(xgb_request("xgb-hp", HyperParameters=hyperparameters), s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    assert expected in (outcome.failure_reason or "")


def test_tuning_objective_metric_is_accepted_and_added(s3: Any, dataset: None, tmp_path: Path) -> None:
    hps = {"num_round": "3", "objective": "binary:logistic", "_tuning_objective_metric": "validation:logloss"}
    outcome = run_training_job(xgb_request("xgb-tune", HyperParameters=hps), s3=s3, workdir=tmp_path)
    assert outcome.status == "Completed", outcome.failure_reason
    assert "validation:logloss" in outcome.final_metrics


@pytest.mark.parametrize(("tag", "starts_near_mean"), [("1.7-1", False), ("1.5-1", False), ("3.0-5", True)])
def test_regression_starts_from_the_containers_base_score(
    s3: Any, tmp_path: Path, make_csv: Any, tag: str, starts_near_mean: bool
) -> None:
    # Given labels around 150 (like sklearn's diabetes) and one boosting round that barely moves
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = 150 + 10 * x[:, 0]
    for channel in ("train", "validation"):
        s3.put_object(Bucket=BUCKET, Key=f"data/{channel}/d.csv", Body=make_csv(x, y))
    spec = {"TrainingImage": XGB_IMAGE.replace(":1.7-1", f":{tag}"), "TrainingInputMode": "File"}
    hps = {"num_round": "1", "eta": "0.001", "eval_metric": "rmse"}
    # When it trains
    outcome = run_training_job(
        xgb_request(f"xgb-base-{tag.replace('.', '-')}", AlgorithmSpecification=spec, HyperParameters=hps),
        s3=s3,
        workdir=tmp_path,
    )
    # Then the 1.x containers start from xgboost 1.x's base_score 0.5 (rmse near 150); 3.0-5 from the mean
    assert outcome.status == "Completed", outcome.failure_reason
    rmse = outcome.final_metrics["validation:rmse"].value
    assert (rmse < 20) is starts_near_mean, rmse


def test_libsvm_in_file_mode_and_refused_in_pipe_mode(s3: Any, tmp_path: Path) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    lines = [
        f"{int(lab)} " + " ".join(f"{i}:{v:.5g}" for i, v in enumerate(row)) for row, lab in zip(x, y, strict=True)
    ]
    s3.put_object(Bucket=BUCKET, Key="svm/train/t.libsvm", Body="\n".join(lines).encode())
    channel = {
        "ChannelName": "train",
        "ContentType": "text/libsvm",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/svm/train"}},
    }
    ok = run_training_job(xgb_request("svm-file", InputDataConfig=[channel]), s3=s3, workdir=tmp_path / "f")
    assert ok.status == "Completed", ok.failure_reason
    piped = run_training_job(xgb_request("svm-pipe", "Pipe", InputDataConfig=[channel]), s3=s3, workdir=tmp_path / "p")
    assert piped.status == "Failed"
    assert "Pipe mode not supported for LibSVM" in (piped.failure_reason or "")


def test_stop_request_stops_between_rounds(s3: Any, dataset: None, tmp_path: Path) -> None:
    request = xgb_request("xgb-stop")
    request["HyperParameters"]["num_round"] = "500"
    seen: list[MetricPoint] = []
    outcome = run_training_job(
        request, s3=s3, workdir=tmp_path, on_metric=seen.append, should_stop=lambda: len(seen) >= 6
    )
    assert outcome.status == "Stopped"
    assert outcome.secondary_status == "Stopped"
    assert max(p.epoch for p in seen) < 10


@pytest.mark.parametrize(
    ("spec", "fragment", "why"),
    [
        (
            {"TrainingImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/my-custom:latest"},
            "my-custom:latest",
            "it has no local stand-in command (set algorithm.local_command",
        ),
        (
            {"AlgorithmName": "arn:aws:sagemaker:us-east-1:1:algorithm/x"},
            "algorithm/x",
            "is not available locally: trainops' local cloud runs built-in XGBoost and Linear Learner, script mode",
        ),
        (
            {"TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"},
            "kmeans:1",
            "is not available locally",
        ),
    ],
)
def test_images_the_local_cloud_cannot_run_fail_with_the_reason(
    s3: Any, tmp_path: Path, spec: dict[str, str], fragment: str, why: str
) -> None:
    request = xgb_request("custom", AlgorithmSpecification={**spec, "TrainingInputMode": "File"})
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    reason = outcome.failure_reason or ""
    assert fragment in reason
    assert why in reason


def test_several_instances_train_as_one_process_locally(s3: Any, dataset: None, tmp_path: Path) -> None:
    # Pinned local difference (docs/algorithms.md, "Distributed training"): on AWS built-in XGBoost trains on every instance
    # (Rabit); the local engine trains it as one process, algo-1, on algo-1's share of a ShardedByS3Key channel.
    request = xgb_request("xgb-two", ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2})
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"
    logs: list[str] = []
    outcome = run_training_job(request, s3=s3, workdir=tmp_path, on_log=logs.append)
    assert outcome.status == "Completed", outcome.failure_reason
    assert any("built-in xgboost trains as one process (algo-1" in line for line in logs)
    assert sorted(p.name for p in (tmp_path / "algo-1/input/data/train").iterdir()) == ["part-0.csv"]
    assert not (tmp_path / "algo-2/input/data/train").exists()
    config = json.loads((tmp_path / "algo-1/input/config/resourceconfig.json").read_text())
    assert config["hosts"] == ["algo-1", "algo-2"]
