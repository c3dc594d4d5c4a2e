"""Lambda handlers run in-process: code, env, context, timeout, error payloads, Step Functions Retry/Catch."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trainops_local.cloud import LocalCloud, StackOutputs

MINI = Path(__file__).parent / "fixtures" / "mini" / "template.yaml"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, StackOutputs]]:
    with LocalCloud(tmp_path_factory.mktemp("cloud")) as cloud:
        yield cloud, cloud.deploy(MINI, "mini")


def flaky_name(stack: StackOutputs) -> str:
    return stack.physical_id("FlakyFunction")


def invoke(cloud: LocalCloud, name: str, payload: dict[str, Any]) -> tuple[str | None, Any]:
    resp = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return resp.get("FunctionError"), json.loads(resp["Payload"].read())


def test_handler_runs_with_env_and_context(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    error, body = invoke(cloud, stack["EchoFunctionName"], {"a": 1})
    assert error is None
    assert body["event"] == {"a": 1}
    assert body["greeting"] == "hello-from-echo"
    assert body["data_bucket"] == stack["DataBucketName"]
    assert body["function_name"] == stack["EchoFunctionName"]
    assert body["memory"] == 256
    assert 0 < body["remaining_ms"] <= 5000
    assert body["arn"] == stack["EchoFunctionArn"]
    assert len(body["request_id"]) == 36
    import os

    assert "GREETING" not in os.environ  # the function's env is a per-invocation overlay


def test_same_named_modules_do_not_collide(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    _, echo = invoke(cloud, stack["EchoFunctionName"], {})
    _, flaky = invoke(cloud, flaky_name(stack), {"key": "collide"})
    assert echo["module"] != flaky["module"]
    assert flaky["greeting"] == "hello-from-flaky"


def test_concurrent_invocations_see_their_own_env(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    results: dict[str, list[str]] = {"echo": [], "flaky": []}

    def run(kind: str, name: str) -> None:
        for i in range(5):
            _, body = invoke(cloud, name, {"key": f"conc-{kind}-{i}"})
            results[kind].append(body["greeting"])

    threads = [
        threading.Thread(target=run, args=("echo", stack["EchoFunctionName"])),
        threading.Thread(target=run, args=("flaky", flaky_name(stack))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["echo"] == ["hello-from-echo"] * 5
    assert results["flaky"] == ["hello-from-flaky"] * 5


def test_exception_becomes_lambda_error_payload(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    error, body = invoke(cloud, flaky_name(stack), {"mode": "invalid", "key": "err"})
    assert error
    assert body["errorType"] == "ConfigInvalidError"
    assert body["errorMessage"] == "bad config for err"
    assert any("app.py" in line for line in body["stackTrace"])


def test_timeout_enforced(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    error, body = invoke(cloud, flaky_name(stack), {"mode": "sleep", "seconds": 2.5, "key": "slow"})
    assert error
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]


def _table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )


def test_a_timed_out_handler_makes_no_further_aws_call(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    # Given a handler that sleeps past its 1 s Timeout and then writes to S3
    cloud, stack = deployed
    error, body = invoke(cloud, flaky_name(stack), {"mode": "sleep", "seconds": 1.5, "key": "late", "put_key": "late"})
    assert body["errorType"] == "Sandbox.Timedout"
    # Then the write never happens (AWS stops the handler; locally its thread's next call is refused)
    time.sleep(1.5)
    listed = cloud.client("s3").list_objects_v2(Bucket=stack["DataBucketName"], Prefix="late")
    assert listed.get("KeyCount", 0) == 0
    # and a handler in time still writes
    error, body = invoke(
        cloud, flaky_name(stack), {"mode": "sleep", "seconds": 0.1, "key": "early", "put_key": "early"}
    )
    assert error is None
    assert cloud.client("s3").list_objects_v2(Bucket=stack["DataBucketName"], Prefix="early")["KeyCount"] == 1


def test_a_dynamodb_write_waiting_for_the_table_lock_is_dropped_when_its_handler_times_out(
    deployed: tuple[LocalCloud, StackOutputs],
) -> None:
    from trainops_local.cloud import deadlines, dynamodb

    cloud, _ = deployed
    ddb = cloud.client("dynamodb")
    _table(ddb, "deadline-test")
    outcome: dict[str, BaseException] = {}
    deadline = deadlines.Deadline()

    def handler() -> None:  # as the runner runs one
        with deadlines.running(deadline):
            try:
                ddb.put_item(TableName="deadline-test", Item={"pk": {"S": "late"}})
            except BaseException as exc:
                outcome["error"] = exc

    # Given the table lock held elsewhere while a handler's write waits for it
    dynamodb._lock.acquire()
    worker = threading.Thread(target=handler)
    try:
        worker.start()
        time.sleep(0.5)
        # When the handler's time runs out before it gets the lock
        deadline.expire()
    finally:
        dynamodb._lock.release()
    worker.join(10)
    # Then the write is dropped
    assert isinstance(outcome.get("error"), deadlines.HandlerTimedOut)
    assert "Item" not in ddb.get_item(TableName="deadline-test", Key={"pk": {"S": "late"}})


def test_a_transaction_under_way_when_its_handler_times_out_is_finished_not_cut(
    deployed: tuple[LocalCloud, StackOutputs],
) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from trainops_local.cloud import deadlines

    cloud, _ = deployed
    ddb = cloud.client("dynamodb")
    _table(ddb, "deadline-tx")
    deadline = deadlines.Deadline()
    put_item = DynamoDBBackend.put_item
    seen: list[str] = []

    def expiring_put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append("put")
        deadline.expire()  # the time runs out after the transaction's first write
        return put_item(self, *args, **kwargs)

    DynamoDBBackend.put_item = expiring_put_item  # type: ignore[method-assign]
    try:
        with deadlines.running(deadline):
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "deadline-tx", "Item": {"pk": {"S": key}}}} for key in ("a", "b", "c")
                ]
            )
    finally:
        DynamoDBBackend.put_item = put_item  # type: ignore[method-assign]
    # Then every item of the transaction was written (a request inside moto completes), and the next call is refused
    assert len(seen) == 3
    assert ddb.scan(TableName="deadline-tx")["Count"] == 3
    with deadlines.running(deadline), pytest.raises(deadlines.HandlerTimedOut):
        ddb.scan(TableName="deadline-tx")


def test_logs_written_to_cloudwatch(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    invoke(cloud, stack["EchoFunctionName"], {"log": True})
    logs = cloud.client("logs")
    group = f"/aws/lambda/{stack['EchoFunctionName']}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    messages = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
    ]
    assert "echo invoked" in messages
    assert any(m.startswith("REPORT RequestId:") for m in messages)


def test_function_created_from_zip_runs(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def lambda_handler(event, context):\n    return {'zipped': event['n'] * 2}\n")
    cloud.client("lambda").create_function(
        FunctionName="zipped",
        Runtime="python3.12",
        Role=stack.resources["EchoFunctionRole"].attributes["Arn"],
        Handler="app.lambda_handler",
        Code={"ZipFile": buf.getvalue()},
    )
    assert invoke(cloud, "zipped", {"n": 21}) == (None, {"zipped": 42})


def run_pipeline(cloud: LocalCloud, stack: StackOutputs, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack["PipelineArn"], name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    return cloud.wait_execution(arn, timeout=20)


def test_catch_matches_exception_class_name(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    desc = run_pipeline(cloud, stack, "catch-it", {"mode": "invalid", "key": "catch-it"})
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Rejected"  # the Catch on ConfigInvalidError routed to the Rejected state
    history = cloud.execution_history(desc["executionArn"])
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "ConfigInvalidError"


def test_retry_on_exception_class_name(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    desc = run_pipeline(cloud, stack, "retry-it", {"mode": "transient-once", "key": "retry-it"})
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["event"]["flaky"]["result"]["calls"] == 2  # failed once with TransientTrainingError, retried
    history = cloud.execution_history(desc["executionArn"])
    assert [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"] == [
        "TransientTrainingError"
    ]
    items = cloud.client("dynamodb").get_item(TableName=stack["RunsTableName"], Key={"pk": {"S": "retry-it"}})
    assert items["Item"]["mode"]["S"] == "transient-once"
