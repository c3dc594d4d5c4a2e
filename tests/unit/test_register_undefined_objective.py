"""A model whose objective is undefined (NaN: AUC of one class) fails RegisterModel with a typed error naming the
objective and the cause, never a pydantic dump of the job's metrics."""

from __future__ import annotations

from typing import Any

import pytest
from trainops.errors import DatasetError, NoModelProduced
from trainops.registry import check_objective_defined, register_model
from trainops.steps.register_model import job_result

from tests.helpers import config, plan, run_request

JOB = {
    "kind": "training",
    "job_name": "demo-20261126120000-1a2b3c4d-train",
    "job_arn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/demo-20261126120000-1a2b3c4d-train",
    "status": "Completed",
    "model_artifact": "s3://trainops-artifacts-test/out/model.tar.gz",
    "hyperparameters": {"num_round": "50", "objective": "binary:logistic", "eval_metric": "auc"},
}


def training(metrics: dict[str, Any], **hyperparameters: str) -> dict[str, Any]:
    return {**JOB, "final_metrics": metrics, "hyperparameters": {**JOB["hyperparameters"], **hyperparameters}}


def test_an_undefined_auc_is_named_with_its_cause_before_anything_is_registered():
    # Given the event the callback hands over when XGBoost's validation AUC was NaN (JSON null)
    job = job_result(training({"train:auc": 0.91, "validation:auc": None}))
    # When it is registered (sagemaker=None: nothing may be called before the check)
    with pytest.raises(DatasetError) as caught:
        register_model(run_request(), config(), plan(), job, sagemaker=None, s3=None, artifacts_bucket="b", tags=[])
    # Then the error names the objective and why, in words
    message = str(caught.value)
    assert "validation:auc" in message and "one class only" in message
    assert caught.value.field == "dataset"
    assert "validation error" not in message.lower() and "float_type" not in message


def test_another_undefined_objective_is_no_model():
    rmse = plan(objective_metric="validation:rmse", objective_direction="Minimize", problem_type="regression")
    job = job_result(training({"train:rmse": 1.0}, eval_metric="rmse", objective="reg:squarederror"))
    with pytest.raises(NoModelProduced, match=r"no value of the objective validation:rmse .*undefined \(nan\)"):
        check_objective_defined(rmse, job, "validation:rmse")


def test_an_objective_never_asked_for_is_left_to_review_as_before():
    job = job_result(training({"validation:logloss": 0.3}, eval_metric="logloss"))
    check_objective_defined(plan(), job, "validation:auc")  # registered for review with no_metric_reason


def test_script_mode_is_not_judged_by_xgboost_rules():
    job = job_result(training({}))
    check_objective_defined(plan(algorithm="script"), job, "validation:auc")
