"""Autopilot: the CreateAutoMLJobV2 request, the metric mapping, the refusals and the describe loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
from trainops import autopilot
from trainops.config import ProblemType, parse_config
from trainops.errors import ConfigInvalid
from trainops.models import Dataset, RunRequest, TrainingPlan, Trigger
from trainops.support import unsupported

MODEL = botocore.session.get_session().get_service_model("sagemaker")


def _config(**extra):
    base = {"project": "churn", "algorithm": {"name": "autopilot"}, "data": {"header": True}}
    for key, value in extra.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(base)


def _request(config):
    dataset = Dataset(bucket="data", prefix="data/churn/x.csv", kind="file", uri="s3://data/data/churn/x.csv")
    return RunRequest(
        run_id="20260101T000000-abcdef12",
        project="churn",
        trigger=Trigger(kind="manual"),
        dataset=dataset,
        config=config.model_dump(mode="json"),
        config_source="s3://data/config/churn.yaml",
        config_hash="0" * 16,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("validation:auc", "AUC"),
        ("validation:error", "Accuracy"),
        ("validation:merror", "Accuracy"),
        ("validation:binary_classification_accuracy", "Accuracy"),
        ("validation:binary_f_beta", "F1"),
        ("validation:macro_f_beta", "F1macro"),
        ("validation:rmse", "RMSE"),
        ("validation:mse", "MSE"),
        ("validation:mae", "MAE"),
        ("validation:absolute_loss", "MAE"),
        ("F1", "F1"),
        ("validation:mlogloss", None),  # Autopilot has no log loss objective
        ("validation:objective_loss", None),
    ],
)
def test_metric_mapping(name, expected):
    assert autopilot.autopilot_metric(name) == expected


def test_every_mapped_metric_is_in_the_api_enum():
    enum = set(MODEL.shape_for("AutoMLMetricEnum").enum)
    assert set(autopilot.DIRECTIONS) <= enum
    for metrics in autopilot.METRICS_FOR.values():
        assert set(metrics) <= enum


def test_job_name_fits_the_model_and_is_deterministic():
    shape = MODEL.shape_for("AutoMLJobName")
    name = autopilot.automl_job_name("a-very-long-project-name-of-32ch", "20260101T000000-abcdef12")
    assert len(name) <= shape.metadata["max"] == 32
    assert name.startswith("trainops-")
    assert name == autopilot.automl_job_name("a-very-long-project-name-of-32ch", "20260101T000000-abcdef12")
    assert name != autopilot.automl_job_name("a-very-long-project-name-of-32ch", "20260101T000000-abcdef13")


def test_request_builder_validates_against_the_service_model():
    from botocore.validate import ParamValidator

    config = _config(
        autopilot={
            "target": "churned",
            "mode": "HYPERPARAMETER_TUNING",
            "max_candidates": 7,
            "max_runtime_per_training_job_seconds": 600,
            "max_job_runtime_seconds": 7200,
        },
    )
    plan = TrainingPlan(
        algorithm="autopilot",
        image=None,
        problem_type="multiclass",
        objective_metric="F1macro",
        objective_direction="Maximize",
        content_type=autopilot.AUTOML_CSV,
        input_mode="File",
        hyperparameters={"target": "churned"},
        needs_split=False,
    )
    body = autopilot.build_request(
        _request(config),
        config,
        plan,
        role_arn="arn:aws:iam::123456789012:role/r",
        artifacts_bucket="art",
        tags=[{"Key": "k", "Value": "v"}],
    )
    report = ParamValidator().validate(body, MODEL.operation_model("CreateAutoMLJobV2").input_shape)
    assert not report.has_errors(), report.generate_report()
    tabular = body["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular == {
        "CompletionCriteria": {
            "MaxAutoMLJobRuntimeInSeconds": 7200,
            "MaxCandidates": 7,
            "MaxRuntimePerTrainingJobInSeconds": 600,
        },
        "Mode": "HYPERPARAMETER_TUNING",
        "ProblemType": "MulticlassClassification",
        "TargetAttributeName": "churned",
    }
    assert body["AutoMLJobObjective"] == {"MetricName": "F1macro"}
    assert body["AutoMLJobInputDataConfig"][0]["ContentType"] == "text/csv;header=present"
    assert body["DataSplitConfig"] == {"ValidationFraction": 0.2}
    assert tabular["Mode"] in MODEL.shape_for("AutoMLMode").enum


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"data": {"header": False}}, "data.header"),
        ({"data": {"content_type": "text/libsvm"}}, "data.content_type"),
        ({"resources": {"spot": True}}, "resources.spot"),
        (
            {
                "tuning": {
                    "strategy": "Random",
                    "max_jobs": 2,
                    "max_parallel_jobs": 1,
                    "ranges": {"eta": {"type": "continuous", "min": 0.1, "max": 0.5}},
                }
            },
            "tuning",
        ),
        ({"problem": {"type": "regression", "objective_metric": "AUC"}}, "problem.objective_metric"),
        ({"problem": {"objective_metric": "validation:mlogloss"}}, "problem.objective_metric"),
        ({"incremental": {"enabled": True}}, "incremental.enabled"),
    ],
)
def test_bad_input_is_refused_naming_the_field(extra, field):
    refused_by_model: str | None = None
    try:
        config = _config(**extra)
    except ConfigInvalid as exc:  # refused by the config model itself: it must name the same field
        refused_by_model = exc.field
    if refused_by_model is not None:
        assert refused_by_model.startswith(field.split(".")[0])
        return
    fields = [r.field for r in unsupported(config)]
    assert field in fields


def test_distribution_is_refused():
    config = _config(resources={"distribution": "data_parallel"})
    assert "resources.distribution" in [r.field for r in unsupported(config)]


def test_a_header_csv_config_is_accepted():
    assert unsupported(_config(autopilot={"target": "y"})) == []


def test_problem_type_inference():
    assert autopilot.infer_problem_type(["0", "1", "1"], "y")[0] == ProblemType.BINARY
    assert autopilot.infer_problem_type(["a", "b", "c"], "y")[0] == ProblemType.MULTICLASS
    assert autopilot.infer_problem_type([str(i % 3) for i in range(100)], "y")[0] == ProblemType.MULTICLASS
    assert autopilot.infer_problem_type([str(i * 0.37) for i in range(100)], "y")[0] == ProblemType.REGRESSION


class _Stub:
    def __init__(self, desc):
        self.desc = desc

    def describe_auto_ml_job_v2(self, AutoMLJobName):
        return {"AutoMLJobName": AutoMLJobName, **self.desc}


def test_the_describe_loop_backs_off_and_is_bounded():
    now = datetime.now(UTC)
    running = _Stub({"AutoMLJobStatus": "InProgress", "AutoMLJobSecondaryStatus": "ModelTuning", "CreationTime": now})
    first = autopilot.poll("j", running, waited=0, max_runtime=3600, now=now)
    assert (first["done"], first["wait_seconds"]) == (False, autopilot.FIRST_POLL_SECONDS)
    assert autopilot.poll("j", running, waited=160, max_runtime=3600, now=now)["wait_seconds"] == 300
    late = now + timedelta(seconds=3600 + autopilot.GRACE_SECONDS + 1)
    with pytest.raises(autopilot.AutoMLJobTimedOut, match="MaxAutoMLJobRuntimeInSeconds is 3600"):
        autopilot.poll("j", running, waited=300, max_runtime=3600, now=late)


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_the_describe_loop_ends_on_failed_with_the_failure_reason(status):
    stub = _Stub({"AutoMLJobStatus": status, "FailureReason": "ClientError: no target column"})
    with pytest.raises(autopilot.AutoMLJobFailed, match="no target column"):
        autopilot.poll("j", stub, waited=5, max_runtime=3600)
