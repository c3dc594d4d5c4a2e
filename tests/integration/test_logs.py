"""Observability (issue 13 item 6), through the Lambda API: every line a function logs is Powertools JSON with the
run's keys (run_id, project, execution) and a correlation id; each decision is one line saying what was decided;
a raised error's ``field`` and ``fix`` are logged before Lambda reports it. docs/operations.md, "Reading the logs"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from trainops.errors import RegistryBusy
from trainops.ledger import Ledger

from tests.helpers import csv_rows
from tests.integration.test_handlers import invoke, invoke_error, normalized, put


@pytest.fixture(scope="module")
def app(trainops_cloud):
    return trainops_cloud


def log_lines(app: Any, logical_id: str) -> list[dict[str, Any]]:
    """The Powertools JSON lines a function printed into its log group (the EMF metric lines left out)."""
    group = f"/aws/lambda/{app.cloud.stacks[app.stack_name].physical_id(logical_id)}"
    events = app.cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    lines = [line for event in events for line in event["message"].splitlines() if line.startswith("{")]
    return [doc for doc in map(json.loads, lines) if "level" in doc and "_aws" not in doc]


def decisions(app: Any, logical_id: str, kind: str, **keys: str) -> list[dict[str, Any]]:
    lines = log_lines(app, logical_id)
    return [doc for doc in lines if doc.get("decision") == kind and all(doc.get(k) == v for k, v in keys.items())]


def test_normalize_logs_the_run_started_and_the_duplicate_skipped_with_the_run_keys(app):
    # Given a run started by execution exec-log-a
    request = normalized(app, "l-norm", "exec-log-a")["request"]
    # When the same run id is delivered again, by another execution
    again = invoke(
        app,
        "NormalizeRequestFunction",
        {"input": {"project": "l-norm", "run_id": request["run_id"]}, "execution": "exec-log-b"},
    )
    assert again["action"] == "skip"
    # Then each decision is one line carrying the run, the project, the execution and the correlation id
    (started,) = decisions(app, "NormalizeRequestFunction", "run_started", execution="exec-log-a")
    assert started["run_id"] == request["run_id"]
    assert started["project"] == "l-norm"
    assert started["correlation_id"] == "exec-log-a"
    assert started["step"] == "normalize_request"
    (skipped,) = decisions(app, "NormalizeRequestFunction", "duplicate_skipped", execution="exec-log-b")
    assert skipped["run_id"] == request["run_id"]
    assert skipped["project"] == "l-norm"
    assert skipped["correlation_id"] == "exec-log-b"
    assert skipped["handled_by"] == "exec-log-a"


def test_a_typed_error_is_logged_with_its_field_and_fix_before_lambda_reports_it(app):
    # When NormalizeRequest refuses a project name
    body = invoke_error(app, "NormalizeRequestFunction", {"input": {"project": "Bad Name"}, "execution": "exec-log-e"})
    assert body["errorType"] == "InvalidProjectName"
    # Then the function's log says which field is wrong and how to fix it, under the execution's correlation id
    (line,) = [d for d in log_lines(app, "NormalizeRequestFunction") if d.get("correlation_id") == "exec-log-e"]
    assert line["level"] == "ERROR"
    assert line["error"] == "InvalidProjectName"
    assert line["field"] == "project"
    assert line["fix"]
    assert line["execution"] == "exec-log-e"


def test_a_retried_start_logs_the_adopted_job_under_the_runs_keys(app):
    # Given a run whose training job was created
    request = normalized(app, "l-train", "exec-log-t")["request"]
    plan = invoke(app, "SelectAlgorithmFunction", {"request": request})
    plan["needs_split"] = False
    plan["channels"] = ["train"]
    put(app, "data/l-train/train.csv", csv_rows(60))
    out = invoke(app, "StartTrainingFunction", {"request": request, "plan": plan, "task_token": "token-1"})
    # When the task is retried
    invoke(app, "StartTrainingFunction", {"request": request, "plan": plan, "task_token": "token-2"})
    # Then the first attempt logged the job it created and the retry the job it adopted, both with the run's keys
    keys = {"run_id": request["run_id"], "project": "l-train", "execution": "exec-log-t", "job": out["job_name"]}
    assert len(decisions(app, "StartTrainingFunction", "job_created", **keys)) == 1
    (adopted,) = decisions(app, "StartTrainingFunction", "job_adopted", **keys)
    assert adopted["correlation_id"] == "exec-log-t"
    # and the plan's step logs under the same correlation id
    assert all(
        d["correlation_id"] == "exec-log-t"
        for d in log_lines(app, "SelectAlgorithmFunction")
        if d.get("run_id") == request["run_id"]
    )


def test_a_job_event_correlates_by_the_eventbridge_event_id_and_a_duplicate_names_its_run(app):
    runs = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))
    # Given a job whose waiting run was already answered
    runs.store_token("l-answered-job", "training", "token-x", "20261126T120000-aaaaaaaa")
    assert runs.claim_token("l-answered-job", "Completed")
    # When its state-change event arrives (again)
    event = {
        "id": "evt-log-1",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Training Job State Change",
        "detail": {"TrainingJobName": "l-answered-job", "TrainingJobStatus": "Completed"},
    }
    assert invoke(app, "HandleJobEventFunction", event)["action"] == "ignored"
    # Then one line says the duplicate was skipped, for which run, under the event's id
    (line,) = decisions(app, "HandleJobEventFunction", "duplicate_skipped", correlation_id="evt-log-1")
    assert line["run_id"] == "20261126T120000-aaaaaaaa"
    assert line["job"] == "l-answered-job"


def test_a_busy_project_lock_is_one_line_before_registry_busy(app, caplog):
    runs = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))
    assert runs.acquire_lock("l-lock", "run-a")
    with caplog.at_level("INFO", logger="trainops"), pytest.raises(RegistryBusy), runs.project_lock("l-lock", "run-b"):
        pass
    (record,) = [r for r in caplog.records if getattr(r, "decision", None) == "lock_busy"]
    assert record.lock == "l-lock"
    runs.release_lock("l-lock", "run-a")
