"""What the local cloud pays once instead of per request or per execution (``cloud.sfn``, ``cloud.dispatch``),
and that sharing it changes nothing an execution or a request sees."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trainops_local.cloud import dispatch
from trainops_local.cloud import sfn as sfn_patch

from tests.local.test_moto_pins import role_arn, wait_terminal

# a Choice on the input, a Pass with Parameters and a ResultPath: JSONPaths of every kind the interpreter compiles
DEFINITION = {
    "StartAt": "Pick",
    "States": {
        "Pick": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
            "Default": "Small",
        },
        "Big": {"Type": "Pass", "Parameters": {"size": "big", "n.$": "$.n"}, "ResultPath": "$.out", "End": True},
        "Small": {"Type": "Pass", "Parameters": {"size": "small", "n.$": "$.n"}, "ResultPath": "$.out", "End": True},
    },
}


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn_patch.install()
        dispatch.install()
        try:
            yield
        finally:
            dispatch.uninstall()
            sfn_patch.uninstall()


def test_executions_share_one_program_and_keep_their_own_data(patched: None) -> None:
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(name="shared", definition=json.dumps(DEFINITION), roleArn=role_arn())[
        "stateMachineArn"
    ]
    started: list[tuple[int, str]] = []
    lock = threading.Lock()

    def start(n: int) -> None:
        execution = sfn.start_execution(stateMachineArn=arn, name=f"e{n}", input=json.dumps({"n": n}))
        with lock:
            started.append((n, execution["executionArn"]))

    threads = [threading.Thread(target=start, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, execution_arn in started:
        desc = wait_terminal(execution_arn)
        assert desc["status"] == "SUCCEEDED", desc
        assert json.loads(desc["output"]) == {"n": n, "out": {"size": "big" if n > 10 else "small", "n": n}}
    # one program for the definition, built once
    assert list(sfn_patch._programs) == [json.dumps(DEFINITION)]


def test_a_changed_definition_gets_its_own_program(patched: None) -> None:
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(name="changing", definition=json.dumps(DEFINITION), roleArn=role_arn())[
        "stateMachineArn"
    ]
    changed: dict[str, Any] = json.loads(json.dumps(DEFINITION))
    changed["States"]["Small"]["Parameters"]["size"] = "tiny"
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(changed))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 1}))["executionArn"]
    assert json.loads(wait_terminal(execution)["output"])["out"]["size"] == "tiny"


def test_a_bad_path_still_fails_the_execution_as_before(patched: None) -> None:
    # the cache keeps compiled paths, never the outcome of applying one
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(name="paths", definition=json.dumps(DEFINITION), roleArn=role_arn())[
        "stateMachineArn"
    ]
    ok = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 3}))["executionArn"]
    bad = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"m": 3}))["executionArn"]
    assert wait_terminal(ok)["status"] == "SUCCEEDED"
    desc = wait_terminal(bad)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "States.Runtime"


def test_every_component_has_its_heap_key_before_sharing(patched: None) -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    program = sfn_patch._program(json.dumps(DEFINITION))
    unset = []
    seen: set[int] = set()
    stack: list[Any] = [program]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif hasattr(item, "__dict__") and type(item).__module__.startswith("moto."):
            if isinstance(item, EvalComponent) and "_EvalComponent__heap_key" not in vars(item):
                unset.append(type(item).__name__)
            stack.extend(vars(item).values())
    assert len(seen) > 20
    assert unset == []


def test_jsonpaths_are_compiled_once(patched: None) -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")
    assert result_path.parse("$.out") is result_path.parse("$.out")
    assert json_path.extract_json("$.a.b", {"a": {"b": 1}}) == 1
    assert json_path.extract_json("$.a.b", {"a": {"b": 2}}) == 2


def test_uninstall_restores_moto(patched: None) -> None:
    from moto.core.base_backend import BackendDict
    from moto.stepfunctions.parser.asl.utils import json_path

    sfn_patch.uninstall()
    dispatch.uninstall()
    try:
        assert json_path.parse("$.a") is not json_path.parse("$.a")
        assert BackendDict._create_account_specific_backend.__module__ == "moto.core.base_backend"
        import moto.core.responses

        assert moto.core.responses.method_names_from_class.__module__ == "moto.core.utils"
    finally:
        sfn_patch.install()
        dispatch.install()


def test_backends_of_a_new_account_are_still_created(patched: None) -> None:
    from moto.core.base_backend import BackendDict
    from moto.sqs.models import sqs_backends

    assert BackendDict._create_account_specific_backend.__module__ == dispatch.__name__
    account = "210987654321"
    assert account not in sqs_backends
    backend = sqs_backends[account]["us-east-1"]
    assert backend.account_id == account
    assert sqs_backends[account]["us-east-1"] is backend  # the fast path finds it the second time
    assert any(known is sqs_backends for known in BackendDict._instances)


def test_a_response_class_is_listed_once_and_again_when_it_changes(patched: None) -> None:
    import moto.core.responses
    from moto.core.utils import method_names_from_class as moto_list
    from moto.sqs.responses import SQSResponse

    listed = moto.core.responses.method_names_from_class
    assert listed.__module__ == dispatch.__name__
    assert listed(SQSResponse) == moto_list(SQSResponse)
    assert listed(SQSResponse) is listed(SQSResponse)  # kept, not listed again

    class Extended(SQSResponse):
        pass

    before = listed(Extended)
    Extended.brand_new_action = lambda self: None  # type: ignore[attr-defined]
    try:
        assert "brand_new_action" in listed(Extended) and "brand_new_action" not in before
    finally:
        del Extended.brand_new_action  # type: ignore[attr-defined]
    assert "brand_new_action" not in listed(Extended)
    # and a request still reaches its action
    import boto3

    sqs = boto3.client("sqs")
    assert sqs.create_queue(QueueName="listed")["QueueUrl"].endswith("/listed")
