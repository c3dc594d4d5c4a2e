"""EventBridge delivery to Lambda and Step Functions targets, S3 events, schedules, wait_idle."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trainops_local.cloud import LocalCloud, StackOutputs
from trainops_local.cloud.events import render_input_transformer

MINI = Path(__file__).parent / "fixtures" / "mini" / "template.yaml"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, StackOutputs]]:
    with LocalCloud(tmp_path_factory.mktemp("cloud")) as cloud:
        yield cloud, cloud.deploy(MINI, "mini")


def runs(cloud: LocalCloud, stack: StackOutputs) -> dict[str, dict[str, Any]]:
    items = cloud.client("dynamodb").scan(TableName=stack["RunsTableName"])["Items"]
    return {i["pk"]["S"]: i for i in items}


def executions(cloud: LocalCloud, stack: StackOutputs) -> list[dict[str, Any]]:
    return cloud.client("stepfunctions").list_executions(stateMachineArn=stack["PipelineArn"])["executions"]


def wait_all_executions(cloud: LocalCloud, stack: StackOutputs) -> list[dict[str, Any]]:
    return [cloud.wait_execution(e["executionArn"], timeout=20) for e in executions(cloud, stack)]


def test_s3_upload_reaches_lambda_and_state_machine(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    before = {e["executionArn"] for e in executions(cloud, stack)}
    s3 = cloud.client("s3")
    s3.put_object(Bucket=stack["DataBucketName"], Key="data/a b+c.csv", Body=b"1,2\n")
    s3.put_object(Bucket=stack["DataBucketName"], Key="pipeline/run.csv", Body=b"1,2\n")
    cloud.wait_idle(10)
    record = runs(cloud, stack)["Object Created:data/a b+c.csv"]
    event = json.loads(record["event"]["S"])
    assert event["source"] == "aws.s3"
    assert event["detail"]["object"]["key"] == "data/a b+c.csv"  # as stored, not URL-encoded
    assert event["time"].endswith("Z") and "ingestion-time" not in event
    new = [e for e in executions(cloud, stack) if e["executionArn"] not in before]
    assert len(new) == 1
    desc = cloud.wait_execution(new[0]["executionArn"], timeout=20)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["input"]) == {
        "mode": "ok",
        "uri": f"s3://{stack['DataBucketName']}/pipeline/run.csv",
        "key": "pipeline/run.csv",
    }


def test_s3_events_have_unique_ids_and_increasing_sequencers(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    s3 = cloud.client("s3")
    for _ in range(2):
        s3.put_object(Bucket=stack["DataBucketName"], Key="data/same.csv", Body=b"x")
        cloud.wait_idle(10)
    delivered = [
        r.payload
        for r in cloud.events.records
        if isinstance(r.payload, dict) and r.payload.get("detail", {}).get("object", {}).get("key") == "data/same.csv"
    ]
    assert len(delivered) == 2
    assert delivered[0]["id"] != delivered[1]["id"]
    seqs = [d["detail"]["object"]["sequencer"] for d in delivered]
    assert seqs[0] < seqs[1]


def test_redeliver_sends_an_event_again_to_the_rules_it_matches(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    s3 = cloud.client("s3")
    s3.put_object(Bucket=stack["DataBucketName"], Key="pipeline/again.csv", Body=b"x")
    cloud.wait_idle(10)

    def starts() -> list[Any]:
        return [
            r
            for r in cloud.events.records
            if isinstance(r.payload, dict) and r.payload.get("key") == "pipeline/again.csv"
        ]

    (first,) = starts()
    # the event as EventBridge delivered it (AWS shape, ISO time), rebuilt from what S3 emitted
    event = json.loads(json.dumps(first.payload))
    raw = {
        "version": "0",
        "id": "5a6e0f3e-0000-4000-8000-000000000001",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": cloud.account_id,
        "time": "2026-12-01T10:00:00Z",
        "region": cloud.region,
        "resources": [f"arn:aws:s3:::{stack['DataBucketName']}"],
        "detail": {"bucket": {"name": stack["DataBucketName"]}, "object": {"key": event["key"], "size": 1}},
    }
    # delivered twice (at least once), then re-announced with a new time: each a delivery to the same target,
    # through the rule's InputTransformer, and each starts an execution
    again = cloud.redeliver_event(raw)
    renamed = cloud.redeliver_event({**raw, "time": "2026-12-01T10:05:00Z"})
    cloud.wait_idle(10)
    assert [r.target_arn for r in again] == [first.target_arn] and [r.target_arn for r in renamed] == [first.target_arn]
    assert all(r.error is None and r.result and ":execution:" in r.result for r in again + renamed)
    assert [r.payload for r in starts()] == [first.payload] * 3
    # an event no enabled rule matches goes nowhere
    assert cloud.redeliver_event({**raw, "source": "mini.nothing"}) == []


def test_no_spurious_tag_events_but_real_put_object_tagging_emits(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    events = cloud.client("events")
    queue_url = stack["QueueUrl"]
    queue_arn = stack.resources["EventsQueue"].attributes["Arn"]
    events.put_rule(Name="tags", EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Tags Added"]}))
    events.put_targets(Rule="tags", Targets=[{"Id": "q", "Arn": queue_arn}])
    try:
        s3 = cloud.client("s3")
        s3.put_object(Bucket=stack["DataBucketName"], Key="other/t.csv", Body=b"x")
        sqs = cloud.client("sqs")
        assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", []) == []
        s3.put_object_tagging(
            Bucket=stack["DataBucketName"], Key="other/t.csv", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        )
        msgs = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)["Messages"]
        assert json.loads(msgs[0]["Body"])["detail-type"] == "Object Tags Added"
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    finally:
        events.remove_targets(Rule="tags", Ids=["q"])
        events.delete_rule(Name="tags")


def test_put_events_with_input_transformer_to_lambda(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    resp = cloud.client("events").put_events(
        Entries=[{"Source": "mini.custom", "DetailType": "Thing", "Detail": json.dumps({"kind": 'a"b'})}]
    )
    assert resp["FailedEntryCount"] == 0
    cloud.wait_idle(10)
    record = runs(cloud, stack)['custom-a"b']
    assert json.loads(record["event"]["S"]) == {"pk": 'custom-a"b', "note": 'from mini.custom: a"b'}


def test_failing_target_does_not_stop_other_rules_and_sqs_still_works(
    deployed: tuple[LocalCloud, StackOutputs],
) -> None:
    cloud, stack = deployed
    events = cloud.client("events")
    queue_arn = stack.resources["EventsQueue"].attributes["Arn"]
    missing_sm = "arn:aws:states:us-east-1:123456789012:stateMachine:does-not-exist"
    events.put_rule(Name="a-broken", EventPattern=json.dumps({"source": ["mini.fanout"]}))
    events.put_targets(
        Rule="a-broken", Targets=[{"Id": "gone", "Arn": missing_sm, "DeadLetterConfig": {"Arn": queue_arn}}]
    )
    events.put_rule(Name="b-queue", EventPattern=json.dumps({"source": ["mini.fanout"]}))
    events.put_targets(Rule="b-queue", Targets=[{"Id": "q", "Arn": queue_arn, "InputPath": "$.detail"}])
    events.put_rule(Name="c-disabled", EventPattern=json.dumps({"source": ["mini.fanout"]}), State="DISABLED")
    events.put_targets(Rule="c-disabled", Targets=[{"Id": "q2", "Arn": queue_arn}])
    try:
        events.put_events(Entries=[{"Source": "mini.fanout", "DetailType": "X", "Detail": '{"n": 1}'}])
        cloud.wait_idle(10)
        failed = [r for r in cloud.events.errors() if r.target_arn == missing_sm]
        assert len(failed) == 1 and "StateMachineDoesNotExist" in (failed[0].error or "")
        assert failed[0].dead_lettered
        sqs = cloud.client("sqs")
        msgs = sqs.receive_message(QueueUrl=stack["QueueUrl"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
            "Messages"
        ]
        # one from the queue rule, one dead letter; the disabled rule delivered nothing
        assert len(msgs) == 2
        dead = [m for m in msgs if "ERROR_CODE" in m.get("MessageAttributes", {})]
        assert dead[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "StateMachineDoesNotExist"
        assert json.loads(dead[0]["Body"])["source"] == "mini.fanout"
        for m in msgs:
            sqs.delete_message(QueueUrl=stack["QueueUrl"], ReceiptHandle=m["ReceiptHandle"])
    finally:
        for rule, ids in (("a-broken", ["gone"]), ("b-queue", ["q"]), ("c-disabled", ["q2"])):
            events.remove_targets(Rule=rule, Ids=ids)
            events.delete_rule(Name=rule)


def test_schedule_only_rule_matches_no_event_but_fires_on_demand(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    before = {e["executionArn"] for e in executions(cloud, stack)}
    cloud.client("events").put_events(Entries=[{"Source": "anything", "DetailType": "X", "Detail": "{}"}])
    cloud.wait_idle(10)
    assert {e["executionArn"] for e in executions(cloud, stack)} == before
    records = cloud.fire_schedule_rule(stack["TickRuleName"])
    cloud.wait_idle(10)
    assert {r.target_id for r in records} >= {"pipeline"}
    sfn_record = next(r for r in records if r.target_id == "pipeline")
    assert sfn_record.error is None and sfn_record.result
    desc = cloud.wait_execution(sfn_record.result, timeout=20)
    assert json.loads(desc["input"]) == {"mode": "ok", "tick": True}
    msgs = cloud.client("sqs").receive_message(QueueUrl=stack["QueueUrl"], MaxNumberOfMessages=10)["Messages"]
    body = json.loads(msgs[0]["Body"])
    assert body["detail-type"] == "Scheduled Event"
    cloud.client("sqs").delete_message(QueueUrl=stack["QueueUrl"], ReceiptHandle=msgs[0]["ReceiptHandle"])


def test_fire_scheduler_schedule_resolves_context(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, _ = deployed
    schedule = cloud.client("scheduler").list_schedules(GroupName="mini-schedules")["Schedules"][0]
    record = cloud.fire_schedule(schedule["Name"], "mini-schedules")
    assert record.result and record.result.startswith("arn:aws:states:")
    desc = cloud.wait_execution(record.result, timeout=20)
    payload = json.loads(desc["input"])
    assert payload["mode"] == "ok"
    assert payload["scheduled"].endswith("Z") and "<" not in payload["scheduled"]
    assert len(payload["exec"]) == 36


def test_wait_idle_has_a_deadline(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    events = cloud.client("events")
    events.put_rule(Name="slow", EventPattern=json.dumps({"source": ["mini.slow"]}))
    flaky_arn = cloud.client("lambda").get_function(FunctionName=stack.physical_id("FlakyFunction"))["Configuration"][
        "FunctionArn"
    ]
    events.put_targets(
        Rule="slow", Targets=[{"Id": "f", "Arn": flaky_arn, "Input": '{"mode": "sleep", "seconds": 0.6, "key": "s"}'}]
    )
    try:
        events.put_events(Entries=[{"Source": "mini.slow", "DetailType": "X", "Detail": "{}"}])
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            cloud.wait_idle(0.05)
        cloud.wait_idle(10)
        assert time.monotonic() - started < 5
        assert cloud.events.pending == 0
    finally:
        events.remove_targets(Rule="slow", Ids=["f"])
        events.delete_rule(Name="slow")


def test_all_pipeline_executions_terminal(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    # Given at least one execution of its own (the module's earlier tests may add more)
    cloud, stack = deployed
    schedule = cloud.client("scheduler").list_schedules(GroupName="mini-schedules")["Schedules"][0]
    assert cloud.fire_schedule(schedule["Name"], "mini-schedules").result
    # Then every execution ends, and ends well (an empty list would prove nothing)
    finished = wait_all_executions(cloud, stack)
    assert finished
    assert all(d["status"] == "SUCCEEDED" for d in finished)


def test_input_transformer_rendering() -> None:
    event = {"detail": {"key": "a/b c.csv", "size": 3, "obj": {"x": 1}}, "source": "s"}
    transformer = {
        "InputPathsMap": {"key": "$.detail.key", "size": "$.detail.size", "obj": "$.detail.obj"},
        "InputTemplate": '{"uri": "s3://b/<key>", "size": <size>, "obj": <obj>, "rule": "<aws.events.rule-name>"}',
    }
    out = render_input_transformer(transformer, event, {"aws.events.rule-name": "r"})
    assert out == {"uri": "s3://b/a/b c.csv", "size": 3, "obj": {"x": 1}, "rule": "r"}
    assert render_input_transformer({"InputPathsMap": {"k": "$.detail.key"}, "InputTemplate": "key is <k>"}, event) == (
        "key is a/b c.csv"
    )


def test_a_failing_async_lambda_is_retried_then_recorded_in_its_on_failure_destination(
    deployed: tuple[LocalCloud, StackOutputs],
) -> None:
    cloud, stack = deployed
    # Given a function that always fails, with 1 retry and an SQS OnFailure destination
    cloud.client("events").put_events(
        Entries=[{"Source": "mini.flaky", "DetailType": "X", "Detail": json.dumps({"key": "async-1"})}]
    )
    # When EventBridge invokes it asynchronously
    cloud.wait_idle(10)
    # Then it ran twice and Lambda's invocation record landed in the queue
    failed = [r for r in cloud.events.errors() if "FlakyFunction" in r.target_arn]
    assert len(failed) == 1 and "after 2 attempt(s)" in (failed[0].error or "")
    msgs = cloud.client("sqs").receive_message(QueueUrl=stack["FailuresQueueUrl"], MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 1
    record = json.loads(msgs[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"mode": "always-transient", "key": "async-1"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "TransientTrainingError"
