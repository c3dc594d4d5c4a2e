"""The deploy check of the task-token permissions (trainops_local.task_token_check), with stubbed AWS clients:
what it concludes from each answer Step Functions and IAM's simulator can give."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from trainops_local import task_token_check
from trainops_local.task_token_check import ANSWERING_FUNCTIONS, probe_send_task, simulate_roles


def _error(code: str, op: str = "SendTaskFailure") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} message"}}, op)


class _Sfn:
    def __init__(self, error: ClientError | None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return {}


@pytest.mark.parametrize("code", ["InvalidToken", "TaskDoesNotExist", "TaskTimedOut"])
def test_a_judged_token_means_the_caller_may_answer_tasks(code):
    sfn = _Sfn(_error(code))
    check = probe_send_task(sfn)
    assert check.ok and code in check.detail
    assert sfn.calls[0]["taskToken"] == task_token_check.BOGUS_TOKEN


@pytest.mark.parametrize("code", ["AccessDeniedException", "AccessDenied"])
def test_access_denied_fails_the_check(code):
    check = probe_send_task(_Sfn(_error(code)))
    assert not check.ok and code in check.detail


def test_an_accepted_bogus_token_or_another_error_fails_the_check():
    assert not probe_send_task(_Sfn(None)).ok
    assert not probe_send_task(_Sfn(_error("ThrottlingException"))).ok


class _CloudFormation:
    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        if LogicalResourceId == "MissingRole":
            raise _error("ValidationError", "DescribeStackResource")
        return {"StackResourceDetail": {"PhysicalResourceId": f"{StackName}-{LogicalResourceId}-ABC"}}


class _Iam:
    def __init__(self, decisions: dict[str, dict[str, str]]) -> None:
        self.decisions = decisions  # role name -> action -> decision
        self.simulated: list[dict[str, Any]] = []

    def get_role(self, RoleName: str) -> dict[str, Any]:
        return {"Role": {"Arn": f"arn:aws:iam::123456789012:role/{RoleName}"}}

    def simulate_principal_policy(self, **kwargs: Any) -> dict[str, Any]:
        self.simulated.append(kwargs)
        role = kwargs["PolicySourceArn"].rsplit("/", 1)[1]
        decisions = self.decisions.get(role, {})
        return {
            "EvaluationResults": [
                {"EvalActionName": a, "EvalDecision": decisions.get(a, "allowed")} for a in kwargs["ActionNames"]
            ]
        }


def test_every_answering_functions_role_is_simulated_on_any_resource():
    iam = _Iam({})
    checks = simulate_roles(_CloudFormation(), iam, "trainops")
    assert [c.ok for c in checks] == [True] * len(ANSWERING_FUNCTIONS)
    assert len(iam.simulated) == len(ANSWERING_FUNCTIONS)
    # no ResourceArns: the simulator evaluates "*", as IAM does for actions without a resource type
    assert all("ResourceArns" not in call for call in iam.simulated)
    assert iam.simulated[0]["ActionNames"] == ["states:SendTaskSuccess", "states:SendTaskFailure"]


def test_a_role_scoped_to_the_state_machine_is_reported_with_its_decision():
    role = "trainops-HandleJobEventFunctionRole-ABC"
    iam = _Iam({role: {"states:SendTaskFailure": "implicitDeny"}})
    checks = {c.name.split()[0]: c for c in simulate_roles(_CloudFormation(), iam, "trainops")}
    failed = checks["HandleJobEventFunction"]
    assert not failed.ok and "states:SendTaskFailure: implicitDeny" in failed.detail and role in failed.detail
    assert all(c.ok for n, c in checks.items() if n != "HandleJobEventFunction")


def test_main_exits_1_when_a_check_fails_and_0_when_all_pass(monkeypatch, capsys):
    results = [task_token_check.Check("a", True, "fine"), task_token_check.Check("b", False, "denied")]
    monkeypatch.setattr(task_token_check, "run_checks", lambda session, stack, role_arn=None: results)
    assert task_token_check.main(["--stack", "trainops", "--region", "us-east-1"]) == 1
    assert "FAIL b: denied" in capsys.readouterr().out
    monkeypatch.setattr(task_token_check, "run_checks", lambda session, stack, role_arn=None: results[:1])
    assert task_token_check.main(["--stack", "trainops", "--region", "us-east-1", "--json"]) == 0
