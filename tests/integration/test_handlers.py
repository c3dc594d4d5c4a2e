"""Handlers against moto: each function of template.yaml invoked through the Lambda API (in-process, with the
environment the template gives it), asserting what a user would see: the run record, the job, the package."""

from __future__ import annotations

import json

import pytest
from trainops.errors import RegistryBusy
from trainops.ledger import Ledger

from tests.conftest import EXAMPLES
from tests.helpers import csv_rows, emf_lines

DATA = EXAMPLES / "data" / "breast_cancer.csv"


def invoke(app, logical_id: str, payload: dict) -> dict:
    name = app.cloud.stacks[app.stack_name].physical_id(logical_id)
    resp = app.cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    body = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError"):
        raise AssertionError(f"{logical_id} raised {body.get('errorType')}: {body.get('errorMessage')}")
    return body


def invoke_error(app, logical_id: str, payload: dict) -> dict:
    name = app.cloud.stacks[app.stack_name].physical_id(logical_id)
    resp = app.cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    assert resp.get("FunctionError"), "expected the handler to raise"
    return json.loads(resp["Payload"].read())


@pytest.fixture(scope="module")
def app(trainops_cloud):
    return trainops_cloud


def ledger(app) -> Ledger:
    return Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))


def put(app, key: str, body: bytes) -> None:
    app.cloud.client("s3").put_object(Bucket=app.data_bucket, Key=key, Body=body)


def normalized(app, project: str, execution: str) -> dict:
    # the upload itself starts a run through EventBridge; with the default concurrency (coalesce) that run would
    # hold the project and this direct invocation would wait for it: these projects run in parallel
    put(app, f"config/{project}.yaml", f"project: {project}\nconcurrency: parallel\n".encode())
    app.cloud.wait_idle(30)
    put(app, f"data/{project}/train.csv", csv_rows(60))
    return invoke(
        app,
        "NormalizeRequestFunction",
        {"input": {"project": project}, "execution": execution, "start_time": "2026-11-26T12:00:00Z"},
    )


def test_normalize_writes_the_run_record_and_a_duplicate_is_skipped(app):
    first = normalized(app, "h-norm", "exec-a")
    assert first["action"] == "run"
    request = first["request"]
    record = ledger(app).get_run(request["run_id"])
    assert record["status"] == "RUNNING"
    assert record["dataset_uri"].endswith("data/h-norm/train.csv")
    assert record["config_source"].endswith("config/h-norm.yaml")
    # the same run id from another execution (a duplicate delivery) is skipped, not run twice
    again = invoke(
        app,
        "NormalizeRequestFunction",
        {"input": {"project": "h-norm", "run_id": request["run_id"]}, "execution": "exec-b"},
    )
    assert again["action"] == "skip"
    assert "duplicate" in again["reason"]


def test_normalize_raises_typed_errors_the_state_machine_can_catch(app):
    body = invoke_error(app, "NormalizeRequestFunction", {"input": {"project": "Bad Name"}, "execution": "e"})
    assert body["errorType"] == "InvalidProjectName"
    assert "lower-case" in body["errorMessage"]


def test_select_algorithm_infers_and_records_why(app):
    request = normalized(app, "h-select", "exec-s")["request"]
    plan = invoke(app, "SelectAlgorithmFunction", {"request": request})
    assert plan["algorithm"] == "xgboost"
    assert plan["problem_type"] == "binary"
    assert plan["objective_metric"] == "validation:auc"
    assert plan["input_mode"] == "Pipe"
    assert plan["hyperparameters"]["objective"] == "binary:logistic"
    record = ledger(app).get_run(request["run_id"])
    assert {i["field"] for i in record["inferred"]} >= {"problem.type", "problem.objective_metric"}


def test_start_training_creates_the_job_and_parks_the_token(app):
    request = normalized(app, "h-train", "exec-t")["request"]
    plan = invoke(app, "SelectAlgorithmFunction", {"request": request})
    plan["needs_split"] = False  # a single-file dataset trains on itself, with no validation channel
    plan["channels"] = ["train"]
    put(app, "data/h-train/train.csv", csv_rows(60))
    out = invoke(app, "StartTrainingFunction", {"request": request, "plan": plan, "task_token": "token-123"})
    job = app.cloud.client("sagemaker").describe_training_job(TrainingJobName=out["job_name"])
    assert job["TrainingJobName"] == out["job_name"]
    assert {t["Key"] for t in app.cloud.client("sagemaker").list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]} >= {
        "trainops:project",
        "trainops:run-id",
    }
    token = ledger(app).get_token(out["job_name"])
    assert token["task_token"] == "token-123"
    assert token["run_id"] == request["run_id"]
    # a retried task (same deterministic name) adopts the job instead of failing or starting another
    again = invoke(app, "StartTrainingFunction", {"request": request, "plan": plan, "task_token": "token-456"})
    assert again["adopted"] is True


def test_job_event_for_a_job_nobody_waits_for_is_ignored(app):
    out = invoke(
        app,
        "HandleJobEventFunction",
        {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Training Job State Change",
            "detail": {"TrainingJobName": "someone-elses-job", "TrainingJobStatus": "Completed"},
        },
    )
    assert out["action"] == "ignored"
    assert "no run waits" in out["reason"]
    foreign = invoke(app, "HandleJobEventFunction", {"source": "aws.ec2", "detail-type": "x", "detail": {}})
    assert foreign["action"] == "ignored"


def test_record_failure_keeps_error_and_cause_on_the_run_record(app):
    request = normalized(app, "h-fail", "exec-f")["request"]
    out = invoke(
        app,
        "RecordFailureFunction",
        {
            "execution": "exec-f",
            "state": {
                "request": request,
                "error": {"Error": "DatasetError", "Cause": json.dumps({"errorMessage": "[dataset] it is empty"})},
            },
        },
    )
    assert out["status"] == "FAILED"
    record = ledger(app).get_run(request["run_id"])
    assert record["status"] == "FAILED"
    assert record["error"] == "DatasetError"
    assert record["cause"] == "[dataset] it is empty"
    # and the failure is a CloudWatch metric (embedded metric format) with the project as a dimension
    failed = [m for m in emf_lines(app, "RecordFailureFunction") if "RunsFailed" in m]
    assert failed[-1]["project"] == "h-fail"
    assert failed[-1]["RunsFailed"] == 1.0
    directive = failed[-1]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "trainops"
    assert ["project", "service"] in [sorted(d) for d in directive["Dimensions"]]
    assert failed[-1]["error"] == "DatasetError"


def test_normalize_counts_started_and_skipped_runs(app):
    first = normalized(app, "h-metric", "exec-m1")
    assert first["action"] == "run"
    again = invoke(  # the same run delivered twice
        app,
        "NormalizeRequestFunction",
        {"input": {"project": "h-metric", "run_id": first["request"]["run_id"]}, "execution": "exec-m2"},
    )
    assert again["action"] == "skip"
    run_id = first["request"]["run_id"]
    lines = [m for m in emf_lines(app, "NormalizeRequestFunction") if m.get("run_id") == run_id]
    assert [("RunsStarted" in m, "RunsSkipped" in m) for m in lines] == [(True, False), (False, True)]
    assert all(m["project"] == "h-metric" for m in lines)
    assert lines[0]["trigger"] == "manual" and lines[1]["reason"] == "duplicate delivery"


def test_sync_schedule_creates_and_removes_the_project_schedule(app):
    put(app, "config/h-sched.yaml", b"project: h-sched\nschedule: rate(7 days)\n")
    app.cloud.wait_idle(30)  # the config upload reached SyncSchedule through EventBridge
    scheduler = app.cloud.client("scheduler")
    group = app.outputs["ScheduleGroupName"]
    schedule = scheduler.get_schedule(Name="trainops-h-sched", GroupName=group)
    assert schedule["ScheduleExpression"] == "rate(7 days)"
    assert json.loads(schedule["Target"]["Input"])["project"] == "h-sched"
    assert schedule["Target"]["Arn"] == app.state_machine_arn
    put(app, "config/h-sched.yaml", b"project: h-sched\n")
    app.cloud.wait_idle(30)
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name="trainops-h-sched", GroupName=group)


def test_project_lock_is_exclusive_reentrant_for_its_owner_and_leased(app):
    runs = ledger(app)
    # one holder at a time; the same run (a retried task) may take it again
    assert runs.acquire_lock("h-lock", "run-a")
    assert not runs.acquire_lock("h-lock", "run-b")
    assert runs.acquire_lock("h-lock", "run-a")
    # only the holder releases it
    runs.release_lock("h-lock", "run-b")
    assert not runs.acquire_lock("h-lock", "run-b")
    runs.release_lock("h-lock", "run-a")
    assert runs.acquire_lock("h-lock", "run-b")
    runs.release_lock("h-lock", "run-b")
    # a holder that crashed frees it when its lease runs out
    assert runs.acquire_lock("h-lock", "run-c", lease_seconds=-1)
    assert runs.acquire_lock("h-lock", "run-d")
    # the context manager raises the error the state machine retries, and releases on the way out
    with pytest.raises(RegistryBusy, match="another run of project h-lock"), runs.project_lock("h-lock", "run-e"):
        pass
    runs.release_lock("h-lock", "run-d")
    with runs.project_lock("h-lock", "run-e"):
        assert not runs.acquire_lock("h-lock", "run-f")
    assert runs.acquire_lock("h-lock", "run-f")
    runs.release_lock("h-lock", "run-f")
    # a registration that raises still lets go of the lock, and its own error is what surfaces
    with pytest.raises(RuntimeError, match="registry said no"), runs.project_lock("h-lock", "run-g"):
        raise RuntimeError("registry said no")
    assert runs.acquire_lock("h-lock", "run-h")
