"""trainops's own events: their typed details, console links, and what a failed PutEvents does (nothing to the
run: logged and counted). The events on the local bus, end to end, are in tests/statemachine/test_events.py."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trainops import notifications, telemetry
from trainops.models import Registration
from trainops.settings import Settings
from trainops.steps.common import Clients
from trainops.steps.finish_run import finish_run

from tests.helpers import run_request

REGION = "us-east-1"
SM_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:trainops-training-pipeline"
PACKAGE = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/trainops-demo/3"


def registration(status: str = "Approved", **overrides: Any) -> Registration:
    data: dict[str, Any] = {
        "model_package_group": "trainops-demo",
        "model_package_arn": PACKAGE,
        "approval_status": status,
        "reason": "validation:auc=0.95 is not higher than the Approved model's 0.97",
        "objective_metric": "validation:auc",
        "objective_value": 0.95,
        "champion_arn": PACKAGE.replace("/3", "/2"),
        "champion_value": 0.97,
        "model_artifact": "s3://artifacts/runs/demo/r/output/model.tar.gz",
        "training_job": "trainops-demo-r-train",
    }
    data.update(overrides)
    return Registration.model_validate(data)


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_bucket": "d",
        "artifacts_bucket": "a",
        "runs_table": "t",
        "sagemaker_role_arn": "arn:aws:iam::123456789012:role/r",
        "region": REGION,
        "state_machine_arn": SM_ARN,
    }
    base.update(overrides)
    return Settings(**base)


def request_with_execution(name: str = "exec-1"):
    return run_request().model_copy(update={"execution": name})


# ------------------------------------------------------------------------------------------------ links


def test_execution_arn_and_console_url_are_built_from_the_state_machine_arn():
    arn = notifications.execution_arn(SM_ARN, "exec-1")
    assert arn == f"arn:aws:states:{REGION}:123456789012:execution:trainops-training-pipeline:exec-1"
    assert notifications.execution_url(arn) == (
        f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/{arn}"
    )


@pytest.mark.parametrize(
    ("partition", "region", "host"),
    [
        ("aws-cn", "cn-north-1", "cn-north-1.console.amazonaws.cn"),
        ("aws-us-gov", "us-gov-west-1", "us-gov-west-1.console.amazonaws-us-gov.com"),
    ],
)
def test_console_links_follow_the_partition(partition, region, host):
    arn = f"arn:{partition}:states:{region}:123456789012:execution:sm:e"
    assert (
        notifications.execution_url(arn) == f"https://{host}/states/home?region={region}#/v2/executions/details/{arn}"
    )
    package = f"arn:{partition}:sagemaker:{region}:123456789012:model-package/trainops-demo/1"
    assert notifications.model_package_url(package, "trainops-demo") == f"https://{host}/sagemaker/home?region={region}"


def test_partitions_without_a_public_console_get_no_link():
    arn = "arn:aws-iso:states:us-iso-east-1:123456789012:execution:sm:e"
    assert notifications.execution_url(arn) is None
    assert notifications.execution_arn(None, "e") is None


def test_model_package_link_goes_to_studio_when_the_stack_names_a_domain():
    url = notifications.model_package_url(PACKAGE, "trainops-demo", "d-abcdefghijkl")
    assert url == (
        f"https://studio-d-abcdefghijkl.studio.{REGION}.sagemaker.aws/models/registered-models/trainops-demo/versions"
    )
    assert notifications.model_package_url(PACKAGE, "trainops-demo") == (
        f"https://{REGION}.console.aws.amazon.com/sagemaker/home?region={REGION}"
    )


# ------------------------------------------------------------------------------------------------ details


def test_an_approved_model_is_registered_and_not_waiting():
    (event,) = notifications.model_events(request_with_execution(), registration(), state_machine_arn=SM_ARN)
    assert isinstance(event, notifications.ModelRegistered)
    entry = notifications.entry(event)
    assert entry["Source"] == "trainops" and entry["DetailType"] == "Model Registered"
    assert entry["EventBusName"] == "default"
    detail = json.loads(entry["Detail"])
    assert detail["schema_version"] == 1
    assert detail["project"] == "demo" and detail["approval_status"] == "Approved"
    assert detail["model_version"] == 3
    assert detail["objective"] == {"name": "validation:auc", "value": 0.95}
    assert detail["execution_arn"].endswith(":execution:trainops-training-pipeline:exec-1")
    assert entry["Resources"] == [PACKAGE, detail["execution_arn"]]


def test_a_pending_model_is_also_waiting_for_approval_with_the_command_that_approves_it():
    registered, waiting = notifications.model_events(
        request_with_execution(), registration("PendingManualApproval"), state_machine_arn=SM_ARN
    )
    assert notifications.entry(registered)["DetailType"] == "Model Registered"
    entry = notifications.entry(waiting)
    assert entry["DetailType"] == "Model Waiting For Approval"
    detail = json.loads(entry["Detail"])
    assert detail["reason"].startswith("validation:auc=0.95 is not higher")
    assert detail["approve_command"].startswith(f"aws sagemaker update-model-package --model-package-arn {PACKAGE} ")
    assert '"' not in detail["approve_command"]  # it reads plainly inside the e-mail's quoted lines


def test_a_failed_run_names_project_run_error_and_cause():
    state = {
        "request": request_with_execution("exec-9").model_dump(mode="json"),
        "failure": {
            "run_id": "20261126T120000-1a2b3c4d",
            "project": "demo",
            "status": "FAILED",
            "error": "TrainingJobFailed",
            "cause": "x" * 10_000,
        },
    }
    event = notifications.run_failed(state, state_machine_arn=SM_ARN)
    assert event is not None
    assert (event.project, event.run_id, event.status, event.error) == (
        "demo",
        "20261126T120000-1a2b3c4d",
        "FAILED",
        "TrainingJobFailed",
    )
    assert len(event.cause) == notifications.MAX_CAUSE  # the whole cause stays on the run record
    assert event.execution_arn is not None and event.execution_arn.endswith(":exec-9")


@pytest.mark.parametrize(
    ("raw", "project"),
    [
        ({"project": "churn"}, "churn"),
        ({"detail": {"object": {"key": "data/churn/part/_READY"}}}, "churn"),
        ({"detail": {"object": {"key": "data/readme.txt"}}}, None),
        ({"project": "Bad Name!"}, None),
        (None, None),
    ],
)
def test_a_run_that_failed_before_its_request_still_names_its_project_when_the_input_did(raw, project):
    state = {
        "input": raw,
        "failure": {"run_id": "exec-2", "project": None, "status": "FAILED", "error": "ConfigInvalid", "cause": "c"},
    }
    event = notifications.run_failed(state, state_machine_arn=SM_ARN)
    assert event is not None and event.project == project
    assert event.execution_arn is not None and event.execution_arn.endswith(":exec-2")


def test_details_are_typed_and_closed():
    with pytest.raises(ValueError, match="status"):
        notifications.RunFailed(
            project="demo", run_id="r", execution_arn=None, execution_url=None, status="BROKEN", error="e", cause="c"
        )
    with pytest.raises(ValueError, match="unknown"):
        notifications.RunFailed.model_validate(
            {"project": "demo", "run_id": "r", "execution_arn": None, "execution_url": None, "status": "FAILED"}
            | {"error": "e", "cause": "c", "unknown": 1}
        )


# ------------------------------------------------------------------------------------------------ publishing


@mock_aws
def test_events_reach_the_default_bus():
    # Given a rule on trainops events to a queue
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["trainops"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
    # When a pending model is announced
    details = notifications.model_events(
        request_with_execution(), registration("PendingManualApproval"), state_machine_arn=SM_ARN
    )
    assert notifications.emit(list(details), events) is True
    # Then both events are on the bus
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["detail-type"] for b in bodies) == ["Model Registered", "Model Waiting For Approval"]
    assert {b["detail"]["run_id"] for b in bodies} == {"20261126T120000-1a2b3c4d"}


class RefusingEvents:
    def __init__(self, *, raise_error: bool) -> None:
        self.raise_error = raise_error

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.raise_error:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutEvents")
        return {
            "FailedEntryCount": len(Entries),
            "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} for _ in Entries],
        }


@pytest.mark.parametrize("raise_error", [True, False])
def test_a_failed_put_events_is_a_typed_error(raise_error):
    details = notifications.model_events(request_with_execution(), registration(), state_machine_arn=SM_ARN)
    with pytest.raises(notifications.EventsNotPublished):
        notifications.put_events(list(details), RefusingEvents(raise_error=raise_error))


def test_a_failed_put_events_never_fails_the_run_it_is_logged_and_counted(caplog, capsys):
    # Given EventBridge refusing every event, and a failed run reaching FinishFailedRun
    state = {
        "input": {"project": "demo"},
        "failure": {"run_id": "exec-3", "project": "demo", "status": "FAILED", "error": "ConfigInvalid", "cause": "c"},
    }
    clients = Clients(events=RefusingEvents(raise_error=True))
    # When FinishRun runs
    with caplog.at_level("ERROR"):
        outcome = finish_run({"state": state}, settings=settings(), clients=clients)
    telemetry.flush()
    # Then it ends as it would have, the failure logged and counted as a metric
    assert outcome["action"] == "none"
    assert "trainops events not published" in caplog.text and "AccessDeniedException" in caplog.text
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (doc,) = [d for d in emf if "EventsNotPublished" in d]
    assert doc["project"] == "demo" and doc["detail_types"] == "Run Failed"


def test_the_docs_describe_every_detail_type_and_field():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    for model, detail_type in notifications.DETAIL_TYPES.items():
        assert f"`{detail_type}`" in doc
        for name in model.model_fields:
            assert f"`{name}`" in doc, f"{detail_type}.{name} is not in docs/events.md"
