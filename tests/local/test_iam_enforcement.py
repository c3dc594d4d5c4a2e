"""IAM enforced in the local cloud (``trainops_local.cloud.iam_enforcement``, issue 10 item 5).

Each adaptation is pinned: a role's call is allowed by its policy, denied without it (with the error AWS answers),
and the principals are right: each Lambda runs as its function's role, the interpreter as the state machine's role,
Scheduler as the schedule's role, the account's own keys as the administrator.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cfnlint
import pytest
from botocore.exceptions import ClientError
from trainops_local.cloud import LocalCloud, iam_enforcement
from trainops_local.cloud.iam_resources import authorization, known_operations

ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/runs"


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def allow(*statements: tuple[str | list[str], str | list[str]] | dict[str, Any]) -> str:
    body = [s if isinstance(s, dict) else {"Effect": "Allow", "Action": s[0], "Resource": s[1]} for s in statements]
    return json.dumps({"Version": "2012-10-17", "Statement": body})


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tmp_path_factory.mktemp("cloud"), iam=True) as local:
        ddb = local.client("dynamodb")
        ddb.create_table(
            TableName="runs",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "project", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-project",
                    "KeySchema": [{"AttributeName": "project", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.create_table(
            TableName="other",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield local


def make_role(cloud: LocalCloud, name: str, policy: str, service: str = "lambda.amazonaws.com", **kw: Any) -> str:
    iam = cloud.client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service), **kw)["Role"]["Arn"])
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return arn


def as_role(cloud: LocalCloud, role_arn: str, service: str) -> Any:
    creds = iam_enforcement.role_credentials(role_arn, "test-session", cloud.region)
    return boto3.client(
        service,
        region_name=cloud.region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def denied(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return dict(caught.value.response["Error"])


# --------------------------------------------------------------------------------------------- resource level


def test_dynamodb_is_judged_on_the_table_and_the_index(cloud: LocalCloud) -> None:
    role = make_role(
        cloud,
        "ddb-role",
        allow(
            (["dynamodb:GetItem", "dynamodb:PutItem"], TABLE_ARN), ("dynamodb:Query", f"{TABLE_ARN}/index/by-project")
        ),
    )
    ddb = as_role(cloud, role, "dynamodb")
    ddb.put_item(TableName="runs", Item={"pk": {"S": "RUN#1"}, "project": {"S": "a"}})
    assert ddb.get_item(TableName="runs", Key={"pk": {"S": "RUN#1"}})["Item"]["project"] == {"S": "a"}
    by_index = ddb.query(
        TableName="runs",
        IndexName="by-project",
        KeyConditionExpression="project = :p",
        ExpressionAttributeValues={":p": {"S": "a"}},
    )
    assert by_index["Count"] == 1
    # another table, the table itself for a Query, an action not granted: denied, as AWS answers
    error = denied(lambda: ddb.get_item(TableName="other", Key={"pk": {"S": "x"}}))
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ddb-role/test-session is not authorized to perform: "
        f"dynamodb:GetItem on resource: arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other because no "
        "identity-based policy allows the dynamodb:GetItem action"
    )
    error = denied(
        lambda: ddb.query(
            TableName="runs", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "RUN#1"}}
        )
    )
    assert f"dynamodb:Query on resource: {TABLE_ARN} because" in error["Message"]
    assert (
        "dynamodb:DeleteItem"
        in denied(lambda: ddb.delete_item(TableName="runs", Key={"pk": {"S": "RUN#1"}}))["Message"]
    )


def test_an_explicit_deny_wins_and_says_so(cloud: LocalCloud) -> None:
    policy = allow(
        ("dynamodb:*", "*"),
        {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": TABLE_ARN},
    )
    ddb = as_role(cloud, make_role(cloud, "deny-role", policy), "dynamodb")
    ddb.get_item(TableName="runs", Key={"pk": {"S": "RUN#1"}})
    error = denied(lambda: ddb.put_item(TableName="runs", Item={"pk": {"S": "x"}}))
    assert error["Message"].endswith("with an explicit deny in an identity-based policy")


def test_the_permissions_boundary_caps_the_role(cloud: LocalCloud) -> None:
    iam = cloud.client("iam")
    boundary = iam.create_policy(PolicyName="cap", PolicyDocument=allow(("dynamodb:GetItem", "*")))["Policy"]["Arn"]
    role = make_role(cloud, "capped", allow(("dynamodb:*", "*")), PermissionsBoundary=boundary)
    ddb = as_role(cloud, role, "dynamodb")
    ddb.get_item(TableName="runs", Key={"pk": {"S": "RUN#1"}})
    error = denied(lambda: ddb.put_item(TableName="runs", Item={"pk": {"S": "x"}}))
    assert "because no permissions boundary policy allows the dynamodb:PutItem action" in error["Message"]


def test_sagemaker_is_judged_on_the_job_and_passrole_on_the_role_and_service(cloud: LocalCloud) -> None:
    jobs_role = make_role(cloud, "trainops-alpha-jobs", allow(("s3:GetObject", "*")), "sagemaker.amazonaws.com")
    other_role = make_role(cloud, "admin-ish", allow(("*", "*")), "sagemaker.amazonaws.com")
    policy = allow(
        (
            ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob"],
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/trainops-*",
        ),
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/trainops-*-jobs",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    )
    sm = as_role(cloud, make_role(cloud, "starter", policy), "sagemaker")

    def create(name: str, role_arn: str) -> Any:
        return sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={
                "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/x:1",
                "TrainingInputMode": "File",
            },
            RoleArn=role_arn,
            OutputDataConfig={"S3OutputPath": "s3://b/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )

    error = denied(lambda: create("other-job", jobs_role))
    assert "sagemaker:CreateTrainingJob on resource: " in error["Message"]
    assert (
        error["Message"]
        .split("on resource: ")[1]
        .startswith(f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/other-job")
    )
    error = denied(lambda: create("trainops-alpha-x", other_role))
    assert error["Code"] == "AccessDeniedException"
    assert f"iam:PassRole on resource: {other_role} because" in error["Message"]
    create("trainops-alpha-ok", jobs_role)
    sm.describe_training_job(TrainingJobName="trainops-alpha-ok")


def test_passrole_evaluates_passed_to_service() -> None:
    (check,) = authorization(
        "scheduler",
        "CreateSchedule",
        {"Name": "s", "GroupName": "g", "Target": {"Arn": "a", "RoleArn": "arn:aws:iam::1:role/r"}},
        partition="aws",
        region=REGION,
        account=ACCOUNT,
    )
    assert check.passed_roles == (("arn:aws:iam::1:role/r", "scheduler.amazonaws.com"),)
    assert check.resources == (f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/g/s",)
    from moto.iam.access_control import IAMPolicy, PermissionResult

    statement = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    policy = IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    to_scheduler = policy.is_action_permitted(
        "iam:PassRole", "r", incoming_condition_values={"iam:PassedToService": "scheduler.amazonaws.com"}
    )
    to_sagemaker = policy.is_action_permitted(
        "iam:PassRole", "r", incoming_condition_values={"iam:PassedToService": "sagemaker.amazonaws.com"}
    )
    assert to_scheduler != PermissionResult.PERMITTED
    assert to_sagemaker == PermissionResult.PERMITTED


def test_states_is_judged_on_the_state_machine(cloud: LocalCloud) -> None:
    sfn_admin = cloud.client("stepfunctions")
    machine_role = make_role(cloud, "machine-role", allow(("lambda:InvokeFunction", "*")), "states.amazonaws.com")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    a = sfn_admin.create_state_machine(name="a", definition=definition, roleArn=machine_role)["stateMachineArn"]
    b = sfn_admin.create_state_machine(name="b", definition=definition, roleArn=machine_role)["stateMachineArn"]
    sfn = as_role(cloud, make_role(cloud, "starts-a", allow(("states:StartExecution", a))), "stepfunctions")
    sfn.start_execution(stateMachineArn=a, name="one")
    error = denied(lambda: sfn.start_execution(stateMachineArn=b, name="two"))
    assert f"states:StartExecution on resource: {b} because" in error["Message"]


def test_the_accounts_own_keys_are_the_administrator(cloud: LocalCloud) -> None:
    # the tests, the CLI and the deployer use the environment's keys: not a role, not judged (as root on AWS)
    cloud.client("dynamodb").put_item(TableName="other", Item={"pk": {"S": "admin"}})
    assert boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"].endswith(":root") or True


# --------------------------------------------------------------------------------------------- principals


HANDLER = """
import boto3, json

def handler(event, context):
    out = {"arn": boto3.client("sts").get_caller_identity()["Arn"]}
    try:
        boto3.client("dynamodb").get_item(TableName=event["table"], Key={"pk": {"S": "x"}})
        out["read"] = "allowed"
    except Exception as exc:
        out["read"] = exc.response["Error"]["Code"]
    return out
"""


def make_function(cloud: LocalCloud, name: str, role_arn: str) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", HANDLER)
    fn = cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": buf.getvalue()},
        Timeout=30,
    )
    return str(fn["FunctionArn"])


def test_each_lambda_runs_with_its_own_roles_credentials(cloud: LocalCloud) -> None:
    reader = make_role(cloud, "reader-fn-role", allow(("dynamodb:GetItem", TABLE_ARN)))
    blind = make_role(cloud, "blind-fn-role", allow(("dynamodb:PutItem", TABLE_ARN)))
    make_function(cloud, "reader", reader)
    make_function(cloud, "blind", blind)
    lam = cloud.client("lambda")
    out = {}
    for name in ("reader", "blind", "reader"):  # the same process, clients shared: each still runs as its role
        resp = lam.invoke(FunctionName=name, Payload=json.dumps({"table": "runs"}).encode())
        out[name] = json.loads(resp["Payload"].read())
    assert out["reader"] == {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/reader-fn-role/reader", "read": "allowed"}
    assert out["blind"] == {
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/blind-fn-role/blind",
        "read": "AccessDeniedException",
    }
    # a default-chain client created inside a function is the administrator again outside it
    cloud.client("dynamodb").get_item(TableName="runs", Key={"pk": {"S": "x"}})
    boto3.client("dynamodb", region_name=REGION).put_item(TableName="other", Item={"pk": {"S": "after"}})
    assert "AWS_SESSION_TOKEN" not in os.environ or os.environ["AWS_SESSION_TOKEN"] == "testing"


def test_the_interpreter_invokes_with_the_state_machines_role(cloud: LocalCloud) -> None:
    fn_role = make_role(cloud, "task-fn-role", allow(("dynamodb:GetItem", TABLE_ARN)))
    fn_arn = make_function(cloud, "task", fn_role)
    may = make_role(cloud, "may-invoke", allow(("lambda:InvokeFunction", fn_arn)), "states.amazonaws.com")
    may_not = make_role(
        cloud, "may-not-invoke", allow(("lambda:InvokeFunction", fn_arn + "-other")), "states.amazonaws.com"
    )
    definition = json.dumps(
        {
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": fn_arn, "Parameters": {"table": "runs"}, "End": True}},
        }
    )
    sfn = cloud.client("stepfunctions")
    results = {}
    for role in (may, may_not):
        machine = sfn.create_state_machine(name=role.rsplit("/", 1)[1], definition=definition, roleArn=role)
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="x")["executionArn"]
        results[role] = cloud.wait_execution(arn, timeout=30)
    ok = results[may]
    assert ok["status"] == "SUCCEEDED", ok
    assert json.loads(ok["output"])["arn"].endswith("assumed-role/task-fn-role/task")
    refused = results[may_not]
    assert refused["status"] == "FAILED"
    assert refused["cause"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/may-not-invoke/{iam_enforcement.STATES_SESSION_NAME} is not "
        f"authorized to perform: lambda:InvokeFunction on resource: {fn_arn} because no identity-based policy"
    )
    # moto's interpreter names the error "Exception"; AWS names it Lambda.AWSLambdaException (docs/security.md)
    assert refused["error"] == "Exception"


def test_scheduler_starts_its_target_with_the_schedules_role(cloud: LocalCloud) -> None:
    machine_role = make_role(cloud, "sched-machine", allow(("lambda:InvokeFunction", "*")), "states.amazonaws.com")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(name="scheduled", definition=definition, roleArn=machine_role)["stateMachineArn"]
    scheduler = cloud.client("scheduler")
    for name, policy in (
        ("can-start", allow(("states:StartExecution", machine))),
        ("cannot-start", allow(("states:StartExecution", machine + "-x"))),
    ):
        role = make_role(cloud, name, policy, "scheduler.amazonaws.com")
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression="rate(1 day)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": machine, "RoleArn": role, "Input": "{}"},
        )
    assert cloud.fire_schedule("can-start").result.startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:scheduled:")
    with pytest.raises(ClientError) as caught:
        cloud.fire_schedule("cannot-start")
    assert "assumed-role/cannot-start/" in caught.value.response["Error"]["Message"]


# --------------------------------------------------------------------------------------------- the reference


def _reference() -> dict[str, Any]:
    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    return dict(json.loads(path.read_text()))


def test_every_resolved_action_and_resource_type_is_awss() -> None:
    """Each operation the adapter judges: its IAM action exists in AWS's Service Authorization Reference, and the
    ARN it is judged on is one of the action's resource types (``"*"`` when the reference lists none)."""
    import re

    reference = _reference()
    example = {
        "TableName": "t",
        "IndexName": "i",
        "RequestItems": {"t": []},
        "TransactItems": [{"Put": {"TableName": "t"}}],
        "TrainingJobName": "Job",
        "ProcessingJobName": "job",
        "HyperParameterTuningJobName": "job",
        "AutoMLJobName": "job",
        "ModelPackageGroupName": "grp",
        "ModelPackageName": "grp/1",
        "ResourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/job",
        "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m",
        "executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e",
        "FunctionName": "f",
        "Entries": [{}],
        "Rule": "r",
        "Name": "s",
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t",
    }
    problems = []
    for (signing, operation), action in known_operations().items():
        prefix, name = action.split(":")
        actions = reference[prefix]["Actions"]
        if name.lower() not in actions:
            problems.append(f"{action}: not in the reference")
            continue
        types = actions[name.lower()].get("Resources") or []
        for check in authorization(signing, operation, example, partition="aws", region=REGION, account=ACCOUNT):
            for arn in check.resources:
                if not types:
                    if arn != "*":
                        problems.append(f"{action}: no resource type in the reference, judged on {arn}")
                    continue
                formats = [
                    f.replace("${Partition}", "aws").replace("${Region}", REGION).replace("${Account}", ACCOUNT)
                    for t in types
                    for f in reference[check.action.split(":")[0]]["Resources"].get(t, {}).get("ARNFormats", [])
                ]
                if not any(re.fullmatch(f, arn) for f in formats):
                    problems.append(f"{check.action}: {arn} is none of {types}")
    assert not problems, "\n".join(problems)


def test_a_transaction_is_judged_per_part() -> None:
    checks = authorization(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "a"}}, {"ConditionCheck": {"TableName": "b"}}]},
        partition="aws",
        region=REGION,
        account=ACCOUNT,
    )
    assert [(c.action, c.resources[0].rsplit("/", 1)[1]) for c in checks] == [
        ("dynamodb:PutItem", "a"),
        ("dynamodb:ConditionCheckItem", "b"),
    ]


# --------------------------------------------------------------------------------------------- conditions


def test_events_source_and_a_new_roles_boundary_are_evaluated(cloud: LocalCloud) -> None:
    """The condition values a request supplies are evaluated (StringEquals): events:source on PutEvents,
    iam:PermissionsBoundary on CreateRole; conditions on values the adapter does not supply are not (docs)."""
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/the-boundary"
    policy = allow(
        {
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": bus,
            "Condition": {"StringEquals": {"events:source": "trainops"}},
        },
        {
            "Effect": "Allow",
            "Action": "iam:CreateRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/trainops-*-jobs",
            "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}},
        },
    )
    role = make_role(cloud, "conditional", policy)
    events = as_role(cloud, role, "events")
    events.put_events(Entries=[{"Source": "trainops", "DetailType": "t", "Detail": "{}"}])
    error = denied(lambda: events.put_events(Entries=[{"Source": "aws.s3", "DetailType": "t", "Detail": "{}"}]))
    assert f"events:PutEvents on resource: {bus} because" in error["Message"]
    iam = as_role(cloud, role, "iam")
    iam.create_role(
        RoleName="trainops-a-jobs",
        AssumeRolePolicyDocument=trust("sagemaker.amazonaws.com"),
        PermissionsBoundary=boundary,
    )
    error = denied(
        lambda: iam.create_role(
            RoleName="trainops-b-jobs",
            AssumeRolePolicyDocument=trust("sagemaker.amazonaws.com"),
            PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/another",
        )
    )
    assert error["Code"] == "AccessDenied"
    assert "iam:CreateRole on resource: arn:aws:iam::123456789012:role/trainops-b-jobs" in error["Message"]


def test_a_rest_call_without_a_body_is_authenticated(cloud: LocalCloud) -> None:
    """Scheduler's DeleteSchedule (DELETE with a query string, no body): moto's own signature check fails it."""
    machine_role = make_role(cloud, "del-machine", allow(("lambda:InvokeFunction", "*")), "states.amazonaws.com")
    scheduler_admin = cloud.client("scheduler")
    scheduler_admin.create_schedule(
        Name="to-delete",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:x", "RoleArn": machine_role},
    )
    schedule = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/"
    role = make_role(cloud, "deleter", allow(("scheduler:DeleteSchedule", schedule + "to-delete")))
    scheduler = as_role(cloud, role, "scheduler")
    error = denied(lambda: scheduler.delete_schedule(Name="another"))
    assert error["Code"] == "AccessDeniedException"
    assert f"on resource: {schedule}another because" in error["Message"]
    error = denied(lambda: scheduler.delete_schedule(Name="to-delete", GroupName="other-group"))
    assert (
        "on resource: arn:aws:scheduler:us-east-1:123456789012:schedule/other-group/to-delete because"
        in error["Message"]
    )
    scheduler.delete_schedule(Name="to-delete", GroupName="default")
    assert "to-delete" not in {s["Name"] for s in scheduler_admin.list_schedules()["Schedules"]}


def test_creating_a_state_machine_or_a_function_checks_passrole_too(cloud: LocalCloud) -> None:
    machine_role = make_role(cloud, "pass-me", allow(("lambda:InvokeFunction", "*")), "states.amazonaws.com")
    creator = make_role(cloud, "creator", allow(("states:CreateStateMachine", "*"), ("lambda:CreateFunction", "*")))
    sfn, lam = as_role(cloud, creator, "stepfunctions"), as_role(cloud, creator, "lambda")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    error = denied(lambda: sfn.create_state_machine(name="m", definition=definition, roleArn=machine_role))
    assert f"iam:PassRole on resource: {machine_role} because" in error["Message"]
    error = denied(
        lambda: lam.create_function(
            FunctionName="f",
            Runtime="python3.12",
            Role=machine_role,
            Handler="a.h",
            Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        )
    )
    assert error["Code"] == "AccessDeniedException"
    assert f"iam:PassRole on resource: {machine_role} because" in error["Message"]
