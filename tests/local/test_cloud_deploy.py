"""The SAM deployer: one template, packaged, transformed offline and created resource by resource."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from trainops_local.cloud import DeployError, LocalCloud, StackOutputs

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini" / "template.yaml"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, StackOutputs]]:
    with LocalCloud(tmp_path_factory.mktemp("cloud")) as cloud:
        yield cloud, cloud.deploy(MINI, "mini")


def test_outputs_resolved(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    _, stack = deployed
    assert stack["DataBucketName"] == "mini-data-123456789012-test"
    assert stack["PipelineArn"].startswith("arn:aws:states:us-east-1:123456789012:stateMachine:mini-Pipeline-")
    assert stack["EchoFunctionArn"].endswith(":function:" + stack["EchoFunctionName"])
    assert stack["ModelGroupArn"].endswith(":model-package-group/mini-models-test")
    assert stack["Joined"] == "test/b"
    assert "ProdQueue" not in stack.outputs  # Condition IsProd is false
    assert "ProdOnlyQueue" not in stack.resources


def test_state_machine_in_executing_backend_with_substitutions(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    definition = json.loads(
        cloud.client("stepfunctions").describe_state_machine(stateMachineArn=stack["PipelineArn"])["definition"]
    )
    assert definition["States"]["Echo"]["Resource"] == stack["EchoFunctionArn"]
    assert "${" not in json.dumps(definition)
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
    assert [sm.arn for sm in backend.state_machines] == [stack["PipelineArn"]]


def test_gaps_of_moto_create_stack_are_covered(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    from moto.s3.models import s3_backends

    # moto's GetBucketNotificationConfiguration does not render EventBridgeConfiguration: check the backend.
    bucket = s3_backends["123456789012"]["aws"].get_bucket(stack["DataBucketName"])
    assert bucket.notification_configuration.event_bridge is not None
    fn = cloud.client("lambda").get_function(FunctionName=stack["EchoFunctionName"])["Configuration"]
    assert [layer["Arn"] for layer in fn["Layers"]] == [
        stack.physical_id(next(k for k in stack.resources if k.startswith("CommonLayer")))
    ]
    assert fn["Environment"]["Variables"]["GREETING"] == "hello-from-echo"
    assert fn["Timeout"] == 5 and fn["MemorySize"] == 256
    groups = cloud.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["mini-models-test"]
    schedules = cloud.client("scheduler").list_schedules(GroupName="mini-schedules")["Schedules"]
    assert len(schedules) == 1
    rules = cloud.client("events").list_rules()["Rules"]
    assert {r["Name"] for r in rules} >= {stack["TickRuleName"]}
    targets = cloud.client("events").list_targets_by_rule(Rule=stack["TickRuleName"])["Targets"]
    assert {t["Id"] for t in targets} == {"pipeline", "queue"}


def test_function_code_dirs_recorded(deployed: tuple[LocalCloud, StackOutputs]) -> None:
    cloud, stack = deployed
    code = stack.functions[stack["EchoFunctionName"]]
    assert code == (FIXTURES / "mini" / "functions" / "echo").resolve()
    assert cloud.runner.registered()[stack["EchoFunctionName"]].code_dir == code
    assert stack.layers[stack["EchoFunctionName"]][0].startswith("arn:aws:lambda:us-east-1:123456789012:layer:")


def test_unsupported_type_fails_loudly(deployed: tuple[LocalCloud, StackOutputs], tmp_path: Path) -> None:
    cloud, _ = deployed
    tpl = tmp_path / "bad.yaml"
    tpl.write_text("Resources:\n  Cluster:\n    Type: AWS::EKS::Cluster\n    Properties: {Name: x}\n")
    with pytest.raises(DeployError, match=r"AWS::EKS::Cluster"):
        cloud.deploy(tpl, "bad")


def test_import_value_and_unknown_parameter_rejected(deployed: tuple[LocalCloud, StackOutputs], tmp_path: Path) -> None:
    cloud, _ = deployed
    tpl = tmp_path / "imp.yaml"
    tpl.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !ImportValue other}\n")
    with pytest.raises(DeployError, match="ImportValue"):
        cloud.deploy(tpl, "imp")
    with pytest.raises(DeployError, match="unknown parameters"):
        cloud.deploy(MINI, "mini2", {"Nope": "x"})
    with pytest.raises(DeployError, match=r"AllowedValues|not one of"):
        cloud.deploy(MINI, "mini3", {"Stage": "qa"})


def test_missing_substitution_fails(deployed: tuple[LocalCloud, StackOutputs], tmp_path: Path) -> None:
    cloud, _ = deployed
    asl = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${Missing}", "End": True}}}
    (tmp_path / "sm.json").write_text(json.dumps(asl))
    (tmp_path / "t.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  SM:\n    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n      DefinitionUri: sm.json\n"
    )
    with pytest.raises(DeployError, match="Missing"):
        cloud.deploy(tmp_path / "t.yaml", "subst")


REPO = Path(__file__).resolve().parents[2]


def test_real_template_deploys(tmp_path: Path) -> None:
    """The project's own template.yaml deploys into a fresh local cloud, state machine executable."""
    from trainops_local.cloud.deploy import load_template

    template_path = REPO / "template.yaml"
    sam = load_template(template_path)
    with LocalCloud(tmp_path / "cloud") as cloud:
        stack = cloud.deploy(template_path, "trainops")
        declared_outputs = set(sam.get("Outputs", {}))
        assert set(stack.outputs) == declared_outputs
        for key, value in stack.outputs.items():
            assert value and "${" not in str(value), key
        function_ids = [k for k, v in sam["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]
        assert len(stack.functions) == len(function_ids)
        for logical_id in function_ids:
            name = stack.physical_id(logical_id)
            assert (stack.functions[name] / "app.py").is_file()
        machines = [r for r in stack.resources.values() if r.type == "AWS::StepFunctions::StateMachine"]
        assert machines
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        executing = {sm.arn for sm in stepfunctions_parser_backends[stack.account_id][stack.region].state_machines}
        for machine in machines:
            assert machine.physical_id in executing
            definition = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=machine.physical_id)[
                "definition"
            ]
            assert "${" not in definition


def test_real_template_alarms_and_queues_exist_locally(tmp_path: Path) -> None:
    """What an operator looks at: the queues keep 14 days, the alarms watch them and notify the topic."""
    template_path = REPO / "template.yaml"
    with LocalCloud(tmp_path / "cloud") as cloud:
        stack = cloud.deploy(template_path, "trainops-alarms", parameters={"AlarmEmail": "ops@example.org"})
        sqs = cloud.client("sqs")
        for logical_id in ("UndeliveredEventsQueue", "FailedCallbacksQueue"):
            attrs = sqs.get_queue_attributes(QueueUrl=stack.physical_id(logical_id), AttributeNames=["All"])
            assert attrs["Attributes"]["MessageRetentionPeriod"] == "1209600"
        names = [stack.physical_id(k) for k in ("UndeliveredEventsAlarm", "FailedCallbacksAlarm", "FailedRunsAlarm")]
        alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        topic = stack.outputs["AlarmTopicArn"]
        assert len(alarms) == 3
        assert all(a["AlarmActions"] == [topic] for a in alarms)
        sns = cloud.client("sns")
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == stack.physical_id(
            "AlarmTopicKey"
        )
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.org")]
