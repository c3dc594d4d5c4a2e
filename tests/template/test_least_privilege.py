"""Least privilege in template.yaml (docs/security.md, "Least privilege"): SageMaker statements name only the
resources trainops creates (``trainops-*``), every table statement is limited by ``dynamodb:LeadingKeys`` to the
item types its function touches, no function scans the table, and the task-token actions are granted as AWS's
action reference says they can be."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from trainops import ledger
from trainops.naming import RESOURCE_PREFIX
from trainops_local import task_token_check

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# AWS's Service Authorization Reference, machine-readable (https://servicereference.us-east-1.amazonaws.com),
# as vendored by cfn-lint: which resource types each action supports
POLICIES = Path(__import__("cfnlint.data.AdditionalSpecs", fromlist=["x"]).__file__).parent / "Policies.json"

# The item types (pk prefixes) each function reads or writes, from its step in layers/common/trainops/steps/
# (and what those call: trainops.coalescing, trainops.callbacks). A step that starts touching another item type
# must add it here and to its statement in template.yaml.
LEADING_KEYS = {
    "NormalizeRequestFunction": {"table": {"RUN#*", "REQUESTS#*", "PENDING#*", "SLOT#*"}, "by-project": {"PROJECT#*"}},
    "FinishRunFunction": {"table": {"SLOT#*", "PENDING#*", "REQUESTS#*"}},
    "SelectAlgorithmFunction": {"table": {"RUN#*"}},
    "SplitDatasetFunction": {"table": {"JOB#*", "RUN#*"}},
    "StartTrainingFunction": {"table": {"JOB#*", "RUN#*"}},
    "StartTuningFunction": {"table": {"JOB#*", "RUN#*"}},
    "StartAutoMLFunction": {"table": {"RUN#*"}},
    "HandleJobEventFunction": {"table": {"JOB#*", "RUN#*"}},
    "ReconcileJobsFunction": {
        "table": {"JOB#*", "RUN#*", "SLOT#*", "PENDING#*", "REQUESTS#*"},
        "to-reconcile": {"RECONCILE#*"},
    },
    "RegisterModelFunction": {"table": {"RUN#*", "LOCK#*"}},
    "RecordFailureFunction": {"table": {"RUN#*"}},
    "SyncScheduleFunction": {"table": {"CONFIG#*"}},
}
# the statements that stay wider than trainops-*, each for a reason written next to it and in docs/security.md
WIDER_ON_PURPOSE = {"ListHasNoResourceType", "ListModelPackagesOfAGroup", "TaskTokenIsTheCapability"}


def _template() -> dict[str, Any]:
    template, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return template


def _functions() -> dict[str, Any]:
    return {k: v for k, v in _template()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in function["Properties"].get("Policies", []) if "Statement" in p for s in p["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _resources(statement: dict[str, Any]) -> list[Any]:
    res = statement["Resource"]
    return res if isinstance(res, list) else [res]


def _resource_text(resource: Any) -> str:
    """``!Sub "arn:...:training-job/trainops-*"`` -> its string; ``!GetAtt RunsTable.Arn`` -> ``RunsTable``."""
    if isinstance(resource, str):
        return resource
    if "Fn::Sub" in resource:
        return str(resource["Fn::Sub"])
    if "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    return json.dumps(resource)


def _reference() -> dict[str, Any]:
    return json.loads(POLICIES.read_text())


def _resource_types(action: str) -> list[str]:
    service, name = action.split(":")
    actions = {k.lower(): v for k, v in _reference()[service]["Actions"].items()}
    return list(actions[name.lower()].get("Resources", []))


# ------------------------------------------------------------------------------------------------ SageMaker


def test_sagemaker_statements_name_only_what_trainops_creates():
    seen = 0
    for name, function in _functions().items():
        for stmt in _statements(function):
            actions = [a for a in _actions(stmt) if a.startswith("sagemaker:")]
            if not actions or stmt.get("Sid") in WIDER_ON_PURPOSE:
                continue
            for resource in map(_resource_text, _resources(stmt)):
                seen += 1
                # ...:training-job/trainops-*, ...:model-package-group/trainops-*, ...:model-package/trainops-*
                assert re.search(rf":[a-z-]+/{RESOURCE_PREFIX}\*$", resource), (name, stmt.get("Sid"), resource)
    assert seen >= 10


def test_an_action_aws_cannot_scope_is_never_granted_on_a_scoped_resource():
    """An action whose reference entry lists no resource type is authorized against "*" by IAM: a statement naming
    resources never allows it (on AWS the call is denied). Found by the local cloud's IAM enforcement:
    ``sagemaker:ListCandidatesForAutoMLJob`` was granted on ``automl-job/trainops-*``."""
    wrong = []
    for name, function in _functions().items():
        for stmt in _statements(function):
            if stmt["Effect"] != "Allow" or _resources(stmt) == ["*"]:
                continue
            for action in _actions(stmt):
                if "*" not in action and _resource_types(action) == []:
                    wrong.append((name, stmt.get("Sid"), action))
    assert not wrong


def test_statements_wider_than_the_prefix_are_the_ones_aws_cannot_scope():
    for name, function in _functions().items():
        for stmt in _statements(function):
            if stmt.get("Sid") == "ListHasNoResourceType":
                assert _resources(stmt) == ["*"]
                assert all(_resource_types(a) == [] for a in _actions(stmt)), name
            if stmt.get("Sid") == "ListModelPackagesOfAGroup":
                # ListModelPackages names no package, only a group filter: which ARN IAM evaluates is not
                # documented, so it keeps model-package/* (read-only summaries); every other call is trainops-*
                assert _actions(stmt) == ["sagemaker:ListModelPackages"], name
                assert _resource_text(_resources(stmt)[0]).endswith(":model-package/*"), name


def test_every_sagemaker_name_trainops_makes_starts_with_the_prefix():
    from datetime import UTC, datetime

    from trainops.naming import job_name, model_package_group_name, run_id_for
    from trainops.tuning import tuning_job_name

    run = run_id_for(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "b", "k")
    for project in ("a", "churn", "customer-lifetime-value-model-v2"):
        for name in (
            job_name(project, run, "train"),
            job_name(project, run, "split"),
            tuning_job_name(project, run),
            model_package_group_name(project),
        ):
            assert name.startswith(RESOURCE_PREFIX), name


# ------------------------------------------------------------------------------------------------ DynamoDB


def test_no_function_may_scan_the_table():
    for name, function in _functions().items():
        for stmt in _statements(function):
            assert "dynamodb:Scan" not in _actions(stmt), name


def test_every_table_statement_is_limited_to_the_item_types_its_function_touches():
    for name, function in _functions().items():
        found: dict[str, set[str]] = {}
        for stmt in _statements(function):
            if not any(a.startswith("dynamodb:") for a in _actions(stmt)):
                continue
            keys = stmt.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            assert keys, f"{name}: a table statement without dynamodb:LeadingKeys ({stmt.get('Sid')})"
            for resource in map(_resource_text, _resources(stmt)):
                if resource == "RunsTable":
                    target = "table"
                else:  # one named index, never index/*
                    match = re.fullmatch(r"\$\{RunsTable\.Arn\}/index/([a-z-]+)", resource)
                    assert match, (name, resource)
                    target = match.group(1)
                    assert _actions(stmt) == ["dynamodb:Query"], (name, resource)
                found.setdefault(target, set()).update(keys)
        assert found == LEADING_KEYS.get(name, {}), name


def test_the_leading_keys_are_the_ledgers_key_prefixes():
    # every pk the ledger writes starts with one of these (f"RUN#{run_id}", ...), the index's with RECONCILE#
    written = set(re.findall(r'f?"([A-Z]+#)', Path(ledger.__file__).read_text()))
    granted = {k.removesuffix("*") for spec in LEADING_KEYS.values() for keys in spec.values() for k in keys}
    assert granted <= written, granted - written
    assert {"RUN#", "JOB#", "LOCK#", "REQUESTS#", "PENDING#", "SLOT#", "CONFIG#", "RECONCILE#"} <= granted


def test_the_table_has_the_sparse_index_the_reconciler_queries():
    table = _template()["Resources"]["RunsTable"]["Properties"]
    (index,) = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == ledger.RECONCILE_INDEX]
    assert index["KeySchema"] == [{"AttributeName": ledger.RECONCILE_KEY, "KeyType": "HASH"}]
    assert {"AttributeName": ledger.RECONCILE_KEY, "AttributeType": "S"} in table["AttributeDefinitions"]


# ------------------------------------------------------------------------------------------------ task tokens


def test_task_token_actions_have_no_resource_type_in_awss_reference():
    # The evidence for Resource "*" (docs/security.md): if AWS ever gives them a resource type, this fails and
    # the statements can be scoped.
    for action in (*task_token_check.ACTIONS, "states:SendTaskHeartbeat"):
        assert _resource_types(action) == [], action
    # while the actions next to them do have one (the reference is read correctly)
    assert _resource_types("states:StartExecution") == ["statemachine"]
    assert _resource_types("sagemaker:CreateTrainingJob")


def test_task_token_actions_are_granted_on_any_resource_to_the_functions_that_answer_tasks():
    answering = set()
    for name, function in _functions().items():
        for stmt in _statements(function):
            actions = [a for a in _actions(stmt) if a.startswith("states:SendTask")]
            if not actions:
                continue
            answering.add(name)
            assert stmt["Sid"] == "TaskTokenIsTheCapability", name
            assert sorted(actions) == sorted(task_token_check.ACTIONS), name
            assert _resources(stmt) == ["*"], name
    # the deploy check simulates exactly these roles
    assert answering == set(task_token_check.ANSWERING_FUNCTIONS)


@pytest.mark.parametrize("function", task_token_check.ANSWERING_FUNCTIONS)
def test_the_deploy_check_finds_each_functions_role_where_sam_creates_it(function):
    resources = _translated()
    assert resources[f"{function}Role"]["Type"] == "AWS::IAM::Role"
    assert resources[function]["Properties"]["Role"] == {"Fn::GetAtt": [f"{function}Role", "Arn"]}


_CACHE: dict[str, Any] = {}


def _translated() -> dict[str, Any]:
    """The template as CloudFormation (aws-sam-translator, offline), translated once."""
    if "resources" not in _CACHE:
        from trainops_local.scan import translate

        _CACHE["resources"] = translate()["Resources"]
    return _CACHE["resources"]
