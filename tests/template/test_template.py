"""The template and the state machine, checked statically: cfn-lint, sam validate --lint, ASL structure."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachines" / "training_pipeline.asl.json"
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"


def _template() -> dict:
    template, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return template


def _asl() -> dict:
    return json.loads(ASL.read_text())


def test_cfn_lint_is_clean_with_the_serverless_rules():
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), str(TEMPLATE), "-a", "cfn_lint_serverless.rules"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean():
    assert SAM.exists(), "the SAM CLI tool environment is missing: run `make .tools/sam/bin/sam`"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_state_machine_substitution_is_provided_and_used():
    template = _template()
    machine = template["Resources"]["TrainingPipeline"]["Properties"]
    provided = set(machine["DefinitionSubstitutions"])
    used = set(re.findall(r"\$\{(\w+)\}", ASL.read_text()))
    assert used == provided


def _walk_states(states: dict) -> dict:
    out = {}
    for name, state in states.items():
        out[name] = state
        for branch in state.get("Branches", []):
            out.update(_walk_states(branch["States"]))
        if "Iterator" in state:
            out.update(_walk_states(state["Iterator"]["States"]))
        if "ItemProcessor" in state:
            out.update(_walk_states(state["ItemProcessor"]["States"]))
    return out


def _targets(state: dict) -> list[str]:
    targets = []
    if "Next" in state:
        targets.append(state["Next"])
    if "Default" in state:
        targets.append(state["Default"])
    targets += [c["Next"] for c in state.get("Choices", [])]
    targets += [c["Next"] for c in state.get("Catch", [])]
    return targets


def test_every_next_exists_and_every_state_is_reachable():
    asl = _asl()
    states = asl["States"]
    for name, state in states.items():
        for target in _targets(state):
            assert target in states, f"{name} -> {target} does not exist"
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += _targets(states[name])
    assert seen == set(states), f"unreachable: {set(states) - seen}"


def test_every_task_retries_transient_errors_and_catches_to_the_failure_path():
    states = _walk_states(_asl()["States"])
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert "Lambda.ServiceException" in retried, name
        assert "Lambda.TooManyRequestsException" in retried, name
        assert all(r.get("BackoffRate", 1) > 1 for r in state["Retry"]), name
        catches = state.get("Catch", [])
        assert catches, f"{name} has no Catch"
        assert catches[-1]["ErrorEquals"] == ["States.ALL"], name
        assert "TimeoutSeconds" in state, f"{name} has no TimeoutSeconds"
        if "HeartbeatSeconds" in state:
            assert state["HeartbeatSeconds"] < state["TimeoutSeconds"]


def test_waiting_tasks_use_a_task_token_and_outlast_the_longest_job():
    states = _asl()["States"]
    waiting = {n: s for n, s in states.items() if s.get("Resource", "").endswith(".waitForTaskToken")}
    assert set(waiting) == {"SplitDataset", "StartTraining", "StartTuning"}
    for name, state in waiting.items():
        assert state["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token", name
    # MaxRuntimeInSeconds is at most 28 days; a wait shorter than that would fail a healthy job
    assert states["StartTraining"]["TimeoutSeconds"] > 28 * 86400
    assert _asl()["TimeoutSeconds"] >= states["StartTraining"]["TimeoutSeconds"]


def test_catch_and_retry_names_are_exception_classes_of_the_shared_package():
    import trainops.errors as errors

    names = {e for s in _walk_states(_asl()["States"]).values() for r in s.get("Retry", []) for e in r["ErrorEquals"]}
    ours = {n for n in names if not n.startswith(("Lambda.", "States."))}
    for name in ours:
        assert isinstance(getattr(errors, name, None), type), f"{name} is not a class in trainops.errors"


def test_asl_is_accepted_by_the_interpreter_parser():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    text = ASL.read_text()
    for key in set(re.findall(r"\$\{(\w+)\}", text)):
        text = text.replace("${" + key + "}", f"arn:aws:lambda:us-east-1:123456789012:function:{key}")
    AmazonStateLanguageParser.parse(text)


def test_least_privilege():
    template = _template()
    roles = {
        k: v for k, v in template["Resources"].items() if v["Type"] in ("AWS::IAM::Role", "AWS::Serverless::Function")
    }
    for name, resource in roles.items():
        text = json.dumps(resource)
        assert '"Action": "*"' not in text and '"Action": ["*"]' not in text, name
        for stmt in _statements(resource):
            actions = stmt.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if "iam:PassRole" in actions:
                assert "iam:PassedToService" in json.dumps(stmt.get("Condition", {})), name


def _statements(resource: dict) -> list[dict]:
    props = resource["Properties"]
    docs = [p["PolicyDocument"] for p in props.get("Policies", []) if isinstance(p, dict) and "PolicyDocument" in p]
    docs += [p for p in props.get("Policies", []) if isinstance(p, dict) and "Statement" in p]
    return [s for d in docs for s in d["Statement"]]


@pytest.mark.parametrize("bucket", ["DataBucket", "ArtifactsBucket"])
def test_buckets_are_private_encrypted_versioned_and_tls_only(bucket):
    resources = _template()["Resources"]
    props = resources[bucket]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert props["BucketEncryption"]
    policy = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    )
    assert "aws:SecureTransport" in json.dumps(policy)


def test_data_bucket_sends_events_to_eventbridge():
    props = _template()["Resources"]["DataBucket"]["Properties"]
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True


def test_every_queue_keeps_messages_14_days_encrypted_and_is_alarmed_to_the_topic():
    resources = _template()["Resources"]
    queues = [k for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue"]
    assert set(queues) == {"UndeliveredEventsQueue", "FailedCallbacksQueue", "RejectedConfigsQueue"}
    alarms = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::CloudWatch::Alarm"]
    for queue in queues:
        props = resources[queue]["Properties"]
        assert props["MessageRetentionPeriod"] == 14 * 86400, queue
        # SQS-managed keys, or the stack's KMS key when KmsKeyArn is given (never both, never neither)
        assert props["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", {"Ref": "AWS::NoValue"}, True]}, queue
        assert props["KmsMasterKeyId"] == {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
        watching = [
            a
            for a in alarms
            if a.get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
        ]
        assert len(watching) == 1, queue
        # messages sent, not waiting: each new failure alarms again while older ones wait to be read
        assert (watching[0]["MetricName"], watching[0]["Statistic"]) == ("NumberOfMessagesSent", "Sum")
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_no_event_or_callback_can_fail_without_landing_in_an_alarmed_queue():
    text = TEMPLATE.read_text()
    # every EventBridge rule (the schedule of ReconcileJobs and the notification rules included) sends what it
    # cannot deliver to the undelivered-events queue, whose policy admits exactly those rules
    rules = text.count("Type: EventBridgeRule") + text.count("Type: Schedule\n") + text.count("Type: AWS::Events::Rule")
    assert text.count("DeadLetterConfig:") == rules == 6
    assert text.count("Arn: !GetAtt UndeliveredEventsQueue.Arn") == 6
    policy = _template()["Resources"]["UndeliveredEventsQueuePolicy"]["Properties"]["PolicyDocument"]
    assert len(policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]) == 6
    invoke = _template()["Resources"]["HandleJobEventFunction"]["Properties"]["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailedCallbacksQueue", "Arn"]}
    # a rejected config upload too (SyncSchedule's asynchronous invocations)
    invoke = _template()["Resources"]["SyncScheduleFunction"]["Properties"]["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["RejectedConfigsQueue", "Arn"]}
    # and a reconciliation sweep that keeps failing
    invoke = _template()["Resources"]["ReconcileJobsFunction"]["Properties"]["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailedCallbacksQueue", "Arn"]}
    # and every execution that ends without a model raises the failed-runs alarm
    failed = _template()["Resources"]["FailedRunsAlarm"]["Properties"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in failed["Metrics"] if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use():
    resources = _template()["Resources"]
    # its own key, unless the stack has a KMS key (whose policy must then grant CloudWatch the same: docs/security.md)
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {
        "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AlarmTopicKey"}]
    }
    assert resources["AlarmTopicKey"]["Condition"] == "NoKmsKey"
    key = resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    grants = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(grants) == 1
    assert set(grants[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_registry_busy_retries_outlast_a_lock_whose_holder_was_killed():
    from trainops.ledger import LOCK_LEASE_SECONDS

    retry = next(r for r in _asl()["States"]["RegisterModel"]["Retry"] if r["ErrorEquals"] == ["RegistryBusy"])
    delays = [
        min(retry["IntervalSeconds"] * retry["BackoffRate"] ** i, retry["MaxDelaySeconds"])
        for i in range(retry["MaxAttempts"])
    ]
    # FULL jitter waits a uniform fraction of each delay: on average half of the schedule
    assert retry["JitterStrategy"] == "FULL"
    assert sum(delays) / 2 > 2 * LOCK_LEASE_SECONDS
    template = _template()
    timeout = template["Resources"]["RegisterModelFunction"]["Properties"].get(
        "Timeout", template["Globals"]["Function"]["Timeout"]
    )
    assert timeout < LOCK_LEASE_SECONDS  # a holder killed at its timeout frees the lock when the lease ends
