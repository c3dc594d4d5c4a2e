"""trainops's own events (source ``trainops``) read from the local default bus, as a user's rule would see them,
and the readable message the notification topic delivers (its rule's InputTransformer, through the local
EventBridge delivery, to an SQS queue subscribed to the topic). The real template, state machine and handlers,
with real local training (docs/events.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import EXAMPLES, bad_rows_in_the_middle

DATA = EXAMPLES / "data" / "breast_cancer.csv"


@dataclass
class Inbox:
    """Everything trainops put on the bus (a rule ``source: [trainops]`` to a queue), and every message the
    notification topic sent (a queue subscribed to it, raw delivery)."""

    app: Any
    events_url: str
    notes_url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _drain(self, url: str) -> list[str]:
        sqs = self.app.cloud.client("sqs")
        bodies: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return bodies
            for m in messages:
                bodies.append(m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def read(self) -> None:
        self.app.cloud.wait_idle(30)
        self.events += [json.loads(b) for b in self._drain(self.events_url)]
        self.notes += self._drain(self.notes_url)

    def of_run(self, run_id: str) -> list[dict[str, Any]]:
        self.read()
        return [e for e in self.events if e["detail"]["run_id"] == run_id]

    def notes_naming(self, text: str) -> list[str]:
        self.read()
        return [n for n in self.notes if text in n]


@pytest.fixture(scope="module")
def inbox(trainops_cloud) -> Inbox:
    app = trainops_cloud
    sqs, events, sns = (app.cloud.client(s) for s in ("sqs", "events", "sns"))

    def queue(name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    events_url, events_arn = queue("test-trainops-events")
    events.put_rule(Name="test-trainops-events", EventPattern=json.dumps({"source": ["trainops"]}))
    events.put_targets(Rule="test-trainops-events", Targets=[{"Id": "queue", "Arn": events_arn}])
    notes_url, notes_arn = queue("test-trainops-notifications")
    sns.subscribe(
        TopicArn=app.outputs["NotificationTopicArn"],
        Protocol="sqs",
        Endpoint=notes_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return Inbox(app, events_url, notes_url)


def _config(tmp_path, project: str):
    path = tmp_path / f"{project}.yaml"
    path.write_text((EXAMPLES / "configs" / "demo.yaml").read_text().replace("project: demo", f"project: {project}"))
    return path


def test_a_champion_then_a_model_that_is_not_better_waits_for_approval(trainops_cloud, inbox, tmp_path):
    app = trainops_cloud
    config = _config(tmp_path, "announced")
    # Given a first run: the project's first model, approved
    first = app.run("announced", DATA, config, timeout=300)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    events = inbox.of_run(first.run_id)
    # Then the bus carries "Model Registered" (Approved) and "Run Succeeded", nothing waits
    assert [e["detail-type"] for e in events] == ["Model Registered", "Run Succeeded"]
    assert {e["source"] for e in events} == {"trainops"}
    registered, succeeded = (e["detail"] for e in events)
    assert registered["approval_status"] == succeeded["approval_status"] == "Approved"
    assert registered["model_package_arn"] == first.model_package_arn == succeeded["model_package_arn"]
    assert registered["project"] == "announced" and registered["model_version"] == 1
    assert registered["objective"]["name"] == "validation:auc" and registered["objective"]["value"] > 0.9
    assert registered["reason"].startswith("first model of the project")
    assert registered["execution_arn"] == first.execution_arn
    assert registered["execution_url"] == (
        f"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        f"#/v2/executions/details/{first.execution_arn}"
    )
    assert events[0]["resources"] == [first.model_package_arn, first.execution_arn]
    assert not inbox.notes_naming(first.run_id)  # an approved model needs nobody

    # When the same data trains again: the same objective does not beat the champion by min_improvement
    second = app.run("announced", DATA, config, timeout=300)
    assert second.status == "SUCCEEDED", (second.error, second.cause)
    events = inbox.of_run(second.run_id)
    # Then the new model is registered, waiting for approval, and the run succeeded
    assert [e["detail-type"] for e in events] == ["Model Registered", "Model Waiting For Approval", "Run Succeeded"]
    waiting = events[1]["detail"]
    assert waiting["approval_status"] == "PendingManualApproval"
    assert waiting["champion_arn"] == first.model_package_arn and waiting["model_version"] == 2
    assert waiting["reason"] == second.approval_reason
    # and whoever subscribed to the notification topic reads why, and how to approve it
    (note,) = inbox.notes_naming(second.run_id)
    value = json.dumps(waiting["objective"]["value"])
    assert note.splitlines() == [
        '"A model of project announced is waiting for approval (trainops)."',
        '""',
        '"Project: announced"',
        f'"Run: {second.run_id}"',
        f'"Model package: {second.model_package_arn} (version 2)"',
        f'"Objective: validation:auc = {value}"',
        f'"Why it waits: {waiting["reason"]}"',
        '""',
        '"Review it: https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1"',
        f'"The run in Step Functions: {waiting["execution_url"]}"',
        '""',
        '"To approve it:"',
        f'"aws sagemaker update-model-package --model-package-arn {second.model_package_arn} '
        "--model-approval-status Approved --approval-description 'why it is approved'\"",
    ]


def test_a_failed_run_is_announced_with_its_error_and_cause_and_notified(trainops_cloud, inbox, tmp_path):
    app = trainops_cloud
    # When a training job fails on a bad row in the middle of the data
    summary = app.run("announced-broken", bad_rows_in_the_middle(tmp_path / "broken"), None, timeout=300)
    assert summary.status == "FAILED" and summary.error == "TrainingJobFailed"
    # Then "Run Failed" names the project, the run, the error and SageMaker's reason
    (event,) = inbox.of_run(summary.run_id)
    assert event["detail-type"] == "Run Failed"
    detail = event["detail"]
    assert detail["project"] == "announced-broken" and detail["status"] == "FAILED"
    assert detail["error"] == "TrainingJobFailed" and detail["cause"] == summary.cause and "abc" in detail["cause"]
    assert detail["execution_arn"] == summary.execution_arn
    assert event["resources"] == [summary.execution_arn]
    # and the notification reads as a message, cause included
    (note,) = inbox.notes_naming(summary.run_id)
    lines = note.splitlines()
    assert lines[0] == f'"Run {summary.run_id} of project announced-broken failed (trainops)."'
    assert '"Error: TrainingJobFailed"' in lines and '"Status: FAILED"' in lines
    (cause_line,) = [line for line in lines if line.startswith('"Cause: ')]
    assert "abc" in cause_line
    assert lines[-1] == f'"The run in Step Functions: {detail["execution_url"]}"'


def test_a_run_that_fails_at_its_first_state_still_names_its_project(trainops_cloud, inbox):
    app = trainops_cloud
    # Given an invalid config: the run fails in NormalizeRequest, before it has a request
    s3 = app.cloud.client("s3")
    s3.put_object(
        Bucket=app.data_bucket, Key="config/badevents.yaml", Body=b"project: badevents\nalgorithm: {name: x}\n"
    )
    app.cloud.wait_idle(30)
    summary = app.run("badevents", DATA, None, timeout=120)
    assert summary.status == "FAILED" and summary.failed_state == "NormalizeRequest"
    # Then "Run Failed" still names the project (from the uploaded key); the run is named after its execution
    execution = summary.execution_arn.rsplit(":", 1)[-1]
    (event,) = inbox.of_run(execution)
    assert event["detail-type"] == "Run Failed"
    assert event["detail"]["project"] == "badevents" and event["detail"]["error"] == "ConfigInvalid"
    assert event["detail"]["execution_arn"] == summary.execution_arn
    (note,) = inbox.notes_naming(execution)
    assert note.startswith(f'"Run {execution} of project badevents failed (trainops)."')
