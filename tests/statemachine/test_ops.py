"""Operating a stack (trainops_local.ops, behind `trainops runs ...` and `trainops models ...`): the same code
runs against a deployed stack's clients; here against the local cloud's, after real runs."""

from __future__ import annotations

import pytest
from trainops_local.ops import (
    OpsError,
    Stack,
    list_models,
    list_runs,
    run_logs,
    set_approval,
    show_run,
    start,
)

from tests.conftest import EXAMPLES

DATA = EXAMPLES / "data" / "breast_cancer.csv"


@pytest.fixture(scope="module")
def stack(trainops_cloud):
    return Stack(outputs=trainops_cloud.outputs, client=trainops_cloud.cloud.client, region="us-east-1")


@pytest.fixture(scope="module")
def ran(trainops_cloud, stack):
    first = trainops_cloud.run("ops", DATA, None, timeout=300)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    return first


def test_runs_list_and_show_tell_what_happened(stack, ran):
    (row,) = [r for r in list_runs(stack, "ops") if r["run_id"] == ran.run_id]
    assert row["status"] == "SUCCEEDED" and row["approval_status"] == "Approved"
    assert any(r["run_id"] == ran.run_id for r in list_runs(stack))  # every project
    shown = show_run(stack, ran.run_id)
    assert shown["states"][:2] == ["ReceiveInput", "NormalizeRequest"] and "RegisterModel" in shown["states"]
    assert {i["field"] for i in shown["inferred"]} >= {"problem.type", "problem.objective_metric"}
    (job,) = shown["jobs"]
    assert job["status"] == "Completed" and "validation:auc" in job["metrics"]
    assert shown["approval_reason"]
    assert [u["run_id"] for u in shown["uploads_covered"]] == [ran.run_id]


def test_runs_logs_reads_the_jobs_logs(stack, ran):
    lines = run_logs(stack, ran.run_id)
    assert any("validation-auc" in line["message"] for line in lines)  # XGBoost's per-round evaluation
    assert {line["stream"].split("/")[0] for line in lines} >= {ran.training_jobs[0]["name"]}


def test_unknown_run_and_project_are_clear_errors(stack):
    with pytest.raises(OpsError, match="no run 'nope'"):
        show_run(stack, "nope")
    with pytest.raises(OpsError, match="no run"):
        run_logs(stack, "nope")
    with pytest.raises(OpsError, match="no model package group"):
        list_models(stack, "never-registered")
    with pytest.raises(OpsError, match="not allowed"):
        list_runs(stack, "Bad Name")


def test_start_runs_the_documented_manual_input(trainops_cloud, stack, ran):
    arn = start(stack, "ops", f"s3://{trainops_cloud.data_bucket}/data/ops/breast_cancer.csv", name="ops-by-hand")
    summary = trainops_cloud.follow(arn, "ops", timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)


def test_models_approve_and_reject_keep_the_reason(stack, ran):
    models = list_models(stack, "ops")
    package = next(m for m in models if m["arn"] == ran.model_package_arn)
    assert package["approval_status"] == "Approved" and package["objective_metric"] == "validation:auc"
    rejected = set_approval(stack, package["arn"], "reject", "drift found in review 42")
    assert rejected["approval_status"] == "Rejected"
    after = next(m for m in list_models(stack, "ops") if m["arn"] == package["arn"])
    assert after["approval_status"] == "Rejected" and after["reason"] == "drift found in review 42"
    assert after["objective_value"] == package["objective_value"]  # the rest of its metadata is kept
    with pytest.raises(OpsError, match="already Rejected"):
        set_approval(stack, package["arn"], "reject", "again")
    with pytest.raises(OpsError, match="not project 'other'"):
        set_approval(stack, package["arn"], "approve", "ok", project="other")
    with pytest.raises(OpsError, match="--reason is required"):
        set_approval(stack, package["arn"], "approve", " ")
    assert set_approval(stack, package["arn"], "approve", "review passed")["approval_status"] == "Approved"
