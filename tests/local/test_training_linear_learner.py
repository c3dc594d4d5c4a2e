"""The local engine running built-in Linear Learner: the container's hyperparameters, channels, metric lines."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from trainops.catalog import LINEAR_LEARNER_METRICS
from trainops_local.sagemaker import linear_learner
from trainops_local.sagemaker.engine import run_training_job

BUCKET = "local-test-bucket"
LL_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"


def ll_request(name: str, hyperparameters: dict[str, str], mode: str = "File", **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": LL_IMAGE, "TrainingInputMode": mode},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "HyperParameters": hyperparameters,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{name}/{channel}/"}},
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    request.update(overrides)
    return request


def put(s3: Any, make_csv: Any, name: str, x: np.ndarray, y: np.ndarray) -> None:
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    cut = int(len(y) * 0.8)
    s3.put_object(Bucket=BUCKET, Key=f"{name}/train/part-0.csv", Body=make_csv(x[:cut], y[:cut]))
    s3.put_object(Bucket=BUCKET, Key=f"{name}/validation/v.csv", Body=make_csv(x[cut:], y[cut:]))


def model_document(s3: Any, uri: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == [linear_learner.MODEL_FILE]
        return dict(json.loads(tar.extractfile(linear_learner.MODEL_FILE).read()))  # type: ignore[union-attr]


BINARY = {"predictor_type": "binary_classifier", "epochs": "15", "mini_batch_size": "100", "feature_dim": "30"}


@pytest.mark.parametrize("mode", ["File", "Pipe"])
def test_binary_classifier_trains_and_reports_the_containers_metrics(
    s3: Any, make_csv: Any, tmp_path: Path, mode: str
) -> None:
    # Given breast_cancer in train/ and validation/ (label first, no header)
    x, y = load_breast_cancer(return_X_y=True)
    put(s3, make_csv, f"bc-{mode.lower()}", x, y)
    logs: list[str] = []
    # When Linear Learner trains on it with the hyperparameters trainops plans
    outcome = run_training_job(
        ll_request(f"bc-{mode.lower()}", BINARY, mode), s3=s3, workdir=tmp_path, on_log=logs.append
    )
    # Then it completes with a good model and the metric names of the container
    assert outcome.status == "Completed", outcome.failure_reason
    final = {name: point.value for name, point in outcome.final_metrics.items()}
    assert final["validation:binary_classification_accuracy"] > 0.93
    assert final["validation:roc_auc_score"] > 0.97
    assert 0 < final["validation:objective_loss"] < 0.3
    for name in ("binary_f_beta", "precision", "recall", "objective_loss:final"):
        assert f"validation:{name}" in final
    # per epoch: the objective is reported at every epoch (what tuning's early stopping reads)
    epochs = [p for p in outcome.metric_history if p.name == "validation:objective_loss"]
    assert len(epochs) >= 4 and [p.epoch for p in epochs] == list(range(len(epochs)))
    # every metric came from a log line through the built-in algorithm's own regex
    assert "#quality_metric: host=algo-1, validation binary_f_1.000 <score>=" in "\n".join(logs)
    regex = re.compile(LINEAR_LEARNER_METRICS["validation:binary_classification_accuracy"][0])
    assert any(regex.search(line) for line in logs)
    # and the artifact predicts
    assert outcome.model_artifact is not None
    document = model_document(s3, outcome.model_artifact)
    model = linear_learner.load_model(document)
    predicted = linear_learner.predict_scores(model, x) >= document["threshold"]
    assert (predicted == y).mean() > 0.95


def test_multiclass_and_regression(s3: Any, make_csv: Any, tmp_path: Path) -> None:
    # Given wine (3 classes) and diabetes (a number to predict)
    x, y = load_wine(return_X_y=True)
    put(s3, make_csv, "wine", x, y)
    xd, yd = load_diabetes(return_X_y=True)
    put(s3, make_csv, "diabetes", xd, yd)
    # When each trains
    wine = run_training_job(
        ll_request("wine", {"predictor_type": "multiclass_classifier", "num_classes": "3", "mini_batch_size": "50"}),
        s3=s3,
        workdir=tmp_path / "w",
    )
    diabetes = run_training_job(
        ll_request("diabetes", {"predictor_type": "regressor", "mini_batch_size": "50", "loss": "huber_loss"}),
        s3=s3,
        workdir=tmp_path / "d",
    )
    # Then both complete with their predictor type's metrics
    assert wine.status == "Completed", wine.failure_reason
    assert wine.final_metrics["validation:multiclass_accuracy"].value > 0.8  # scikit-learn: 0.92 on this split
    for name in ("multiclass_top_k_accuracy", "dcg", "macro_f_beta", "macro_precision", "macro_recall"):
        assert f"validation:{name}" in wine.final_metrics
    assert diabetes.status == "Completed", diabetes.failure_reason
    assert diabetes.final_metrics["validation:mse"].value < 4000  # the label's variance is about 5,900
    assert "validation:absolute_loss" in diabetes.final_metrics


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({}, "Missing required hyperparameter: predictor_type"),
        ({"predictor_type": "binary_classifier", "num_round": "3"}, "Additional hyperparameters are not allowed"),
        ({"predictor_type": "binary_classifier", "learning_rate": "-1"}, "learning_rate: '-1' is outside"),
        ({"predictor_type": "binary_classifier", "loss": "squared_loss"}, "not available for binary_classifier"),
        ({"predictor_type": "multiclass_classifier"}, "num_classes is required"),
        ({"predictor_type": "binary_classifier", "feature_dim": "7"}, "feature_dim is 7 but the data has 30"),
        ({"predictor_type": "regressor", "epochs": "many"}, "epochs: 'many' is not an integer"),
    ],
)
def test_bad_hyperparameters_fail_the_job_as_the_container_does(
    s3: Any, make_csv: Any, tmp_path: Path, hyperparameters: dict[str, str], reason: str
) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    put(s3, make_csv, "bad", x, y)
    outcome = run_training_job(ll_request("bad", hyperparameters), s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    assert reason in (outcome.failure_reason or "")
    assert (outcome.failure_reason or "").startswith("ClientError: ")


def test_bad_labels_and_formats_are_named(s3: Any, make_csv: Any, tmp_path: Path) -> None:
    # labels 0/1/2 for a binary classifier
    x, y = load_wine(return_X_y=True)
    put(s3, make_csv, "labels", x, y)
    labels = run_training_job(ll_request("labels", {"predictor_type": "binary_classifier"}), s3=s3, workdir=tmp_path)
    assert "label 2 found; binary_classifier labels are 0 or 1" in (labels.failure_reason or "")
    # recordIO-protobuf is the container's other format: said to be AWS-only
    x, y = load_breast_cancer(return_X_y=True)
    put(s3, make_csv, "proto", x, y)
    request = ll_request("proto", BINARY)
    for channel in request["InputDataConfig"]:
        channel["ContentType"] = "application/x-recordio-protobuf"
    proto = run_training_job(request, s3=s3, workdir=tmp_path / "p")
    assert "application/x-recordio-protobuf is not available locally" in (proto.failure_reason or "")


def test_a_tuning_job_trains_one_model() -> None:
    # the docs: automatic model tuning turns the algorithm's parallel models off (num_models = 1)
    hps = linear_learner.parse_hyperparameters(
        {"predictor_type": "binary_classifier", "num_models": "8", "_tuning_objective_metric": "validation:recall"}
    )
    assert hps["num_models"] == 1
    assert linear_learner.parse_hyperparameters({"predictor_type": "regressor"})["loss"] == "squared_loss"
