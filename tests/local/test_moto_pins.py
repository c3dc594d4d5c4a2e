"""Pins of the unpatched moto 5.2.5 behaviour that ``trainops_local.cloud`` relies on or replaces.

Each test names the adaptation it justifies. If a moto upgrade changes one of these, the test fails and the
adaptation must be re-checked (it may be obsolete, or it may now break something).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws
from moto.core.models import botocore_stubber
from trainops_local.cloud import sfn as sfn_patch

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_DOC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture
def plain_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto as shipped (with Step Functions execution on), none of the local cloud's patches."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def wait_terminal(arn: str, timeout: float = 15) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            return desc
        time.sleep(0.05)


def role_arn() -> str:
    iam = boto3.client("iam")
    try:
        return iam.get_role(RoleName="pin-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName="pin-role", AssumeRolePolicyDocument=ROLE_DOC)["Role"]["Arn"]


def test_moto_version() -> None:
    assert moto.__version__ == "5.2.5"


# --------------------------------------------------------------------------------------------- lambdas.py


def test_invoke_lambda_hook_signature() -> None:
    from moto.awslambda.models import LambdaFunction

    sig = inspect.signature(LambdaFunction.__dict__["_invoke_lambda"])
    assert list(sig.parameters) == ["self", "event"]
    assert sig.parameters["event"].default is None
    assert "tuple[str, bool, str]" in str(sig.return_annotation)
    for attr in ("save_logs", "invoke"):
        assert callable(getattr(LambdaFunction, attr))


def test_invoke_without_patch_needs_docker(plain_moto: None, tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def lambda_handler(e, c):\n    return {'ran': True}\n")
    lam = boto3.client("lambda")
    lam.create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=role_arn(),
        Handler="app.lambda_handler",
        Code={"ZipFile": buf.getvalue()},
    )
    resp = lam.invoke(FunctionName="f", Payload=b"{}")
    body = resp["Payload"].read().decode()
    assert resp.get("FunctionError")
    assert "error running docker" in body  # the handler never ran


def test_use_docker_false_only_echoes(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        lam = boto3.client("lambda")
        lam.create_function(
            FunctionName="f",
            Runtime="python3.12",
            Role=role_arn(),
            Handler="app.h",
            Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        )
        assert lam.invoke(FunctionName="f", Payload=b'{"x": 1}')["Payload"].read() == b'{"x": 1}'


def test_sfn_lambda_error_name_comes_from_error_type() -> None:
    # lambdas.py answers exceptions as {"errorType": <class name>, ...}; the interpreter uses that as the error.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_lambda

    source = inspect.getsource(state_task_service_lambda)
    assert 'cause_object["errorType"]' in source


# --------------------------------------------------------------------------------------------- events.py


def test_events_hook_points() -> None:
    import moto.s3.notifications as s3n
    from moto.events.models import Rule
    from moto.s3.responses import S3Response

    assert list(inspect.signature(Rule.send_to_targets).parameters) == ["self", "original_event", "transform_input"]
    assert list(inspect.signature(s3n.send_event).parameters) == ["account_id", "event_name", "bucket", "key"]
    assert callable(S3Response.put_object_tagging)
    # the S3 path skips InputTransformer and swallows every error (so one failing rule stops later ones)
    source = inspect.getsource(s3n._send_event_bridge_message)
    assert "send_to_targets(event, transform_input=False)" in source
    assert "except:" in source


def test_put_events_to_sfn_target_not_implemented(plain_moto: None) -> None:
    events = boto3.client("events")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "sm", "Arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sm"}])
    with pytest.raises(NotImplementedError):
        events.put_events(Entries=[{"Source": "x", "DetailType": "d", "Detail": "{}"}])


def test_put_events_to_sns_target_not_implemented(plain_moto: None) -> None:
    # events.py publishes to SNS targets itself (the notification topic's InputTransformer text)
    topic = boto3.client("sns").create_topic(Name="t")["TopicArn"]
    events = boto3.client("events")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "topic", "Arn": topic}])
    with pytest.raises(NotImplementedError):
        events.put_events(Entries=[{"Source": "x", "DetailType": "d", "Detail": "{}"}])


def test_schedule_only_rule_matches_everything_and_disabled_rules_fire() -> None:
    from moto.events.models import EventPattern, Rule

    assert EventPattern.load(None).matches_event({"source": "anything", "detail-type": "x", "detail": {}})
    rule = Rule("r", ACCOUNT, REGION, None, None, "rate(1 hour)", None, "default", "DISABLED")
    assert rule.event_pattern.matches_event({"source": "s", "detail": {}})
    assert "state" not in inspect.getsource(Rule.send_to_targets)  # no ENABLED check


def test_s3_put_object_emits_spurious_tag_event_with_fixed_identity(plain_moto: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="pin-bucket")
    s3.put_bucket_notification_configuration(
        Bucket="pin-bucket", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    events = boto3.client("events")
    events.put_rule(Name="all-s3", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule="all-s3", Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"}])
    s3.put_object(Bucket="pin-bucket", Key="k", Body=b"x")
    s3.put_object(Bucket="pin-bucket", Key="k", Body=b"y")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["detail-type"] for b in bodies) == ["Object Created"] * 2 + ["Object Tags Added"] * 2
    assert {b["id"] for b in bodies} == {"17793124-05d4-b198-2fde-7ededc63b103"}
    assert {b["detail"]["object"]["sequencer"] for b in bodies} == {"617f08299329d189"}
    # the EventBridge setting is honoured by the backend but not rendered by GetBucketNotificationConfiguration
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="pin-bucket")


def test_scheduler_backend_interface(plain_moto: None) -> None:
    from moto.scheduler.models import scheduler_backends

    scheduler = boto3.client("scheduler")
    scheduler.create_schedule(
        Name="s",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sm",
            "RoleArn": role_arn(),
            "Input": "<aws.scheduler.execution-id>",
        },
    )
    schedule = scheduler_backends[ACCOUNT][REGION].get_schedule("default", "s")
    assert schedule.target["Input"] == "<aws.scheduler.execution-id>"  # stored, never fired or resolved
    assert schedule.state == "ENABLED"


# --------------------------------------------------------------------------------------------- sfn.py


SFN_WAIT = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl.$": "$.queue", "MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 30,
            "End": True,
        }
    },
}


def _fail_task_and_get_cause(patched: bool) -> dict[str, Any]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    sfn = boto3.client("stepfunctions")
    sm = sfn.create_state_machine(name="wait", definition=json.dumps(SFN_WAIT), roleArn=role_arn())["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, name="e", input=json.dumps({"queue": url}))["executionArn"]
    deadline = time.monotonic() + 30
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:  # long polling: leaves the interpreter thread the GIL
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert messages, f"the execution sent no task token within 30 s: {sfn.describe_execution(executionArn=arn)}"
    token = json.loads(messages[0]["Body"])["token"]
    if patched:
        sfn_patch.install()
    try:
        sfn.send_task_failure(taskToken=token, error="TrainingFailed", cause="FailureReason: OOM")
        return wait_terminal(arn)
    finally:
        sfn_patch.uninstall()


def test_send_task_failure_drops_cause(plain_moto: None) -> None:
    desc = _fail_task_and_get_cause(patched=False)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "TrainingFailed"
    assert not desc.get("cause")


def test_send_task_failure_cause_kept_when_patched(plain_moto: None) -> None:
    desc = _fail_task_and_get_cause(patched=True)
    assert desc["error"] == "TrainingFailed"
    assert desc["cause"] == "FailureReason: OOM"


def test_start_execution_without_name(plain_moto: None) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    backend = _parser_backend()
    sm = boto3.client("stepfunctions").create_state_machine(
        name="p",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=role_arn(),
    )["stateMachineArn"]
    assert isinstance(backend, StepFunctionsParserBackend)
    unnamed = backend.start_execution(sm, None, "{}")
    assert unnamed.execution_arn.endswith(":None")
    sfn_patch.install()
    try:
        named = backend.start_execution(sm, None, "{}")
        assert not named.execution_arn.endswith(":None")
    finally:
        sfn_patch.uninstall()


def _parser_backend() -> Any:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[ACCOUNT][REGION]


def test_interpreter_clients_disable_botocore_validation() -> None:
    # validation.py must run its own checks: the interpreter's clients skip botocore's.
    from moto.stepfunctions.parser.asl.utils import boto_client

    assert "parameter_validation=False" in inspect.getsource(boto_client.boto_client_for)
    assert botocore_stubber is not None


# ---------------------------------------------------------------------------------------------- deploy/


def test_create_stack_gaps(plain_moto: None, tmp_path: Path) -> None:
    """Why cloud/deploy/ creates resources itself instead of moto's create_stack."""
    template = {
        "Resources": {
            "Group": {"Type": "AWS::SageMaker::ModelPackageGroup", "Properties": {"ModelPackageGroupName": "g"}},
            "SM": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "sm",
                    "RoleArn": role_arn(),
                    "DefinitionString": json.dumps(
                        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${Value}", "End": True}}}
                    ),
                    "DefinitionSubstitutions": {"Value": "substituted"},
                },
            },
        }
    }
    cfn = boto3.client("cloudformation")
    with pytest.warns(UserWarning, match="ModelPackageGroup"):
        cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert boto3.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    from moto.stepfunctions.models import stepfunctions_backends

    plain = stepfunctions_backends[ACCOUNT][REGION]
    assert [sm.name for sm in plain.state_machines] == ["sm"]
    assert "${Value}" in plain.state_machines[0].definition
    assert _parser_backend().state_machines == []  # not in the executing backend


def test_iam_quirks_handled_by_deploy(plain_moto: None) -> None:
    iam = boto3.client("iam")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=ROLE_DOC)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=json.dumps({"Statement": []}))
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_role_policy(
            RoleName="r", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        )


def test_pin_bucket_policy_tls_only_deny_blocks_every_request_without_request_context():
    """cloud/s3.py: moto evaluates bucket policies with no request context, so a TLS-only Deny denies all."""
    import json as _json

    import boto3 as _boto3
    from moto import mock_aws as _mock_aws

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::tls-pin", "arn:aws:s3:::tls-pin/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    with _mock_aws():
        s3 = _boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="tls-pin")
        s3.put_bucket_policy(Bucket="tls-pin", Policy=_json.dumps(policy))
        import botocore.exceptions

        # if this stops raising, moto evaluates aws:SecureTransport itself and trainops_local/cloud/s3.py can go
        with pytest.raises(botocore.exceptions.ClientError, match="403"):
            s3.put_object(Bucket="tls-pin", Key="k", Body=b"x")
        from trainops_local.cloud import s3 as s3_fix

        s3_fix.install()
        try:
            s3.put_object(Bucket="tls-pin", Key="k", Body=b"x")
        finally:
            s3_fix.uninstall()


# --------------------------------------------------------------------------------------------- sfn_mocks.py

MOCKED = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:never-deployed",
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 3.0}],
            "End": True,
        }
    },
}
MOCK_CONFIG = {
    "StateMachines": {"mocked": {"TestCases": {"FlakyThenFine": {"Call": "FlakyThenFine"}}}},
    "MockedResponses": {
        "FlakyThenFine": {
            "0-1": {"Throw": {"Error": "Flaky", "Cause": "mocked"}},
            "2": {"Return": {"StatusCode": 200, "Payload": {"mocked": True}}},
        }
    },
}


def test_mock_config_loader_is_switched_off(plain_moto: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sfn_mocks.py: moto evaluates mocked responses but its loader returns nothing and its StartExecution does
    not take ``arn#TestCase``, even with a valid SFN_MOCK_CONFIG. When this fails, moto wired mock configs
    itself: drop sfn_mocks' loader and StartExecution patch."""
    from moto.stepfunctions.parser.mocking import mock_config

    config = tmp_path / "MockConfigFile.json"
    config.write_text(json.dumps(MOCK_CONFIG))
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(config))
    assert mock_config.load_mock_test_case_for("mocked", "FlakyThenFine") is None
    sfn = boto3.client("stepfunctions")
    sm = sfn.create_state_machine(name="mocked", definition=json.dumps(MOCKED), roleArn=role_arn())["stateMachineArn"]
    with pytest.raises(sfn.exceptions.ClientError):
        sfn.start_execution(stateMachineArn=f"{sm}#FlakyThenFine", name="e")
    # the interpreter side the adapter relies on
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    assert "mock_test_case" in inspect.signature(ExecutionWorker.__init__).parameters
    assert "mock_test_case" not in inspect.getsource(_parser_backend().__class__.start_execution)


def test_mock_config_runs_with_the_adapter_and_retry_waits_are_virtual(
    plain_moto: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainops_local.cloud import sfn_mocks

    config = tmp_path / "MockConfigFile.json"
    config.write_text(json.dumps(MOCK_CONFIG))
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(config))
    sfn = boto3.client("stepfunctions")
    sm = sfn.create_state_machine(name="mocked", definition=json.dumps(MOCKED), roleArn=role_arn())["stateMachineArn"]
    sfn_patch.install()
    try:
        with sfn_mocks.virtual_retry_waits() as waits:
            arn = sfn.start_execution(stateMachineArn=f"{sm}#FlakyThenFine", name="e")["executionArn"]
            desc = wait_terminal(arn)
        with pytest.raises(sfn.exceptions.ClientError, match="NoSuchCase"):
            sfn.start_execution(stateMachineArn=f"{sm}#NoSuchCase", name="e2")
    finally:
        sfn_patch.uninstall()
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"mocked": True}
    assert waits.waits == [1.0, 3.0]  # IntervalSeconds, then x BackoffRate: recorded, not slept


def test_retry_waits_are_real_sleeps_of_at_least_one_second() -> None:
    """Why the fault suite makes Retry waits virtual (sfn_mocks.virtual_retry_waits) rather than scaling
    IntervalSeconds in a copy of the ASL: moto refuses intervals below 1 s and sleeps them for real."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.common.retry.interval_seconds_decl import IntervalSecondsDecl

    with pytest.raises(ValueError, match="IntervalSeconds"):
        IntervalSecondsDecl(0)
    assert "time.sleep(interval_seconds)" in inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert retrier_decl.time.__name__ == "time"


def test_s3_is_not_enforced_for_assumed_role_credentials_by_default(plain_moto: None) -> None:
    """Justifies ``trainops_local.cloud.iam_enforcement``: without its switch moto lets a role's session read
    what its policies deny, so a job's role would prove nothing locally."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="pin-iam")
    s3.put_object(Bucket="pin-iam", Key="data/other/x", Body=b"x")
    creds = boto3.client("sts").assume_role(RoleArn=role_arn(), RoleSessionName="pin")["Credentials"]
    session = boto3.client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert session.get_object(Bucket="pin-iam", Key="data/other/x")["Body"].read() == b"x"


def test_iam_evaluation_ignores_conditions_of_permission_policies(plain_moto: None) -> None:
    """What ``iam_enforcement`` cannot enforce: an ``s3:prefix`` condition on ListBucket is not evaluated, so a
    job may list (never read) another project's keys locally (docs/security.md)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": ["data/alpha/*"]}},
            }
        ],
    }
    result = IAMPolicy(json.dumps(policy)).is_action_permitted("s3:ListBucket", "arn:aws:s3:::b")
    assert result == PermissionResult.PERMITTED


def test_s3_authorization_goes_through_one_mixin_method() -> None:
    """``iam_enforcement`` replaces ``ActionAuthenticatorMixin._authenticate_and_authorize_s3_action``; moto's S3
    responses must keep calling it (with the bucket and key) for the job's requests to be judged."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.s3.responses import S3Response

    assert issubclass(S3Response, ActionAuthenticatorMixin)
    source = inspect.getsource(S3Response)
    assert source.count("self._authenticate_and_authorize_s3_action(") >= 8
    assert "key_name=" in source


# --------------------------------------------------------------------------------------------- iam_enforcement.py


def test_moto_authorizes_most_services_against_star() -> None:
    """Why ``iam_resources`` resolves ARNs: moto judges a request on ``_determine_resource()`` where the response class
    defines it (S3, SQS, IAM, STS) and on ``"*"`` otherwise, so a statement scoped to a table, a job or a state
    machine would never match."""
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.sagemaker.responses import SageMakerResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    source = inspect.getsource(BaseResponse.call_action)
    assert 'hasattr(self, "_determine_resource")' in source
    assert "self._authenticate_and_authorize_normal_action(resource)" in source
    for cls in (DynamoHandler, SageMakerResponse, StepFunctionResponse):
        assert not hasattr(cls, "_determine_resource"), cls


def test_global_switch_refuses_the_environments_keys(plain_moto: None) -> None:
    """Why enforcement is keyed on role sessions: moto's own switch refuses every request signed with keys that are
    not an IAM user's or a role session's (the tests', the CLI's, moto's internal callers')."""
    from botocore.exceptions import ClientError
    from moto.core import set_initial_no_auth_action_count

    @set_initial_no_auth_action_count(0)
    def call() -> None:
        boto3.client("dynamodb", region_name=REGION).list_tables()

    with pytest.raises(ClientError) as refused:
        call()
    # and it answers in XML, which a JSON service's client cannot read (why the adapter answers JSON services with
    # AccessDeniedException in JSON, as AWS does)
    assert refused.value.response["Error"]["Code"] == "403"


def test_moto_names_the_lambda_action_invoke_not_invokefunction(plain_moto: None) -> None:
    """Why ``iam_resources`` maps operations to IAM actions: moto's authorizer would ask for ``lambda:Invoke``."""
    from moto.core.responses import get_service_model

    assert "Invoke" in get_service_model("lambda").operation_names
    assert "InvokeFunction" not in get_service_model("lambda").operation_names


def test_interpreter_signs_with_fixed_keys_and_passes_the_execution_role() -> None:
    """Why ``iam_enforcement.install_cloud`` replaces ``lambda_eval_utils.boto_client_for``: moto's interpreter signs
    with ``ak``/``sk``, and gives the function the state's credentials, which are the execution's role by default."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.utils import boto_client

    assert 'aws_access_key_id="ak"' in inspect.getsource(boto_client.boto_client_for)
    assert "boto_client_for(" in inspect.getsource(lambda_eval_utils.exec_lambda_function)
    assert "state_credentials=" in inspect.getsource(lambda_eval_utils._invoke_lambda_function)
    assert "env.aws_execution_details.role_arn" in inspect.getsource(StateTask._eval_state_credentials)


def test_mock_aws_replaces_the_environments_keys() -> None:
    """Why ``iam_enforcement`` takes the administrator's keys from the environment when it is installed: inside
    ``mock_aws`` they are moto's, not the ones the caller set."""
    import os

    with mock_aws():
        assert os.environ["AWS_ACCESS_KEY_ID"] == "FOOBARKEY"


def test_moto_makes_a_failed_condition_an_explicit_deny() -> None:
    """Why ``iam_enforcement._decide`` goes statement by statement: moto answers DENIED for an *Allow* statement
    whose condition fails (on AWS the statement does not apply, and another may allow)."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    statement = {
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": "*",
        "Condition": {"StringEquals": {"events:source": "trainops"}},
    }
    result = IAMPolicyStatement(statement).is_action_permitted(
        "events:PutEvents", "*", incoming_condition_values={"events:source": "other"}
    )
    assert result == PermissionResult.DENIED


def test_moto_signs_the_parsed_parameters_of_a_request_without_a_body() -> None:
    """Why ``iam_enforcement`` recomputes signatures on the raw body: moto signs ``body or data``, so a REST call
    without a body (Scheduler's DeleteSchedule) never matches its signature under moto's own check."""
    from moto.iam.access_control import IAMRequestBase

    assert "data=self._body or self._data" in inspect.getsource(IAMRequestBase._create_aws_request)


def test_list_executions_page_token_fails_once_the_execution_it_names_has_ended(plain_moto: None) -> None:
    """AWS keeps a ListExecutions page token valid (24 h); moto's token names the next page's first execution and
    answers ``InvalidToken`` once that execution has left the status filter. So the local cloud never pages through
    RUNNING executions while stopping them (``LocalCloud._stop_running_executions`` lists the first page again);
    ``benchmarks/burst.py`` lists again on InvalidToken."""
    sfn = boto3.client("stepfunctions")
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    arn = sfn.create_state_machine(name="paged", definition=json.dumps(definition), roleArn=role_arn())[
        "stateMachineArn"
    ]
    started = [sfn.start_execution(stateMachineArn=arn, name=f"e{i}")["executionArn"] for i in range(3)]
    first = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)
    token = first["nextToken"]
    for execution in started:
        sfn.stop_execution(executionArn=execution)
    for execution in started:  # a stop takes effect as the interpreter thread notices it
        assert wait_terminal(execution)["status"] == "ABORTED"
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1, nextToken=token)
