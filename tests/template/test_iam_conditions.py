"""Statements that rely on conditions, checked statically against template.yaml (issue 10, item 5).

The local cloud enforces IAM (``trainops_local.cloud.iam_enforcement``) but evaluates only the conditions on values
it supplies (``iam:PassedToService``, ``events:source``, ``iam:PermissionsBoundary`` on CreateRole, all
``StringEquals``); every other condition is *not evaluated locally* (docs/security.md, "Conditions"). So each one is
listed here, and what it relies on is checked against the code that makes the requests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cfnlint.decode import decode
from trainops import notifications, project_roles

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SECURITY_DOC = ROOT / "docs" / "security.md"

EVALUATED_LOCALLY = {"iam:PassedToService", "events:source", "iam:PermissionsBoundary"}

# every (operator, key) a resource's statements condition on; a new condition must be added here and to the docs
CONDITIONS: dict[str, set[tuple[str, str]]] = {
    "DataBucketPolicy": {("Bool", "aws:SecureTransport")},
    "ArtifactsBucketPolicy": {("Bool", "aws:SecureTransport")},
    "AccessLogsBucketPolicy": {
        ("ArnLike", "aws:SourceArn"),
        ("Bool", "aws:SecureTransport"),
        ("StringEquals", "aws:SourceAccount"),
    },
    "SageMakerExecutionRole": {
        ("ArnLike", "aws:SourceArn"),
        ("StringEquals", "aws:SourceAccount"),
        ("StringLike", "cloudwatch:namespace"),
    },
    "JobSecurityPolicy": {("Bool", "kms:GrantIsForAWSResource")},
    "JobsPermissionsBoundary": {("StringLike", "cloudwatch:namespace")},
    "JobsCommonPolicy": {("StringLike", "cloudwatch:namespace")},
    "FunctionsKeyPolicy": {("StringEquals", "kms:ViaService")},
    "SchedulerRole": {("ArnEquals", "aws:SourceArn"), ("StringEquals", "aws:SourceAccount")},
    "NormalizeRequestFunction": {("ForAllValues:StringLike", "dynamodb:LeadingKeys")},
    "FinishRunFunction": {("ForAllValues:StringLike", "dynamodb:LeadingKeys"), ("StringEquals", "events:source")},
    "SelectAlgorithmFunction": {
        ("ArnEquals", "iam:PolicyARN"),
        ("ForAllValues:StringLike", "dynamodb:LeadingKeys"),
        ("StringEquals", "iam:PermissionsBoundary"),
    },
    "SplitDatasetFunction": {
        ("ForAllValues:StringLike", "dynamodb:LeadingKeys"),
        ("StringEquals", "iam:PassedToService"),
    },
    "StartTrainingFunction": {
        ("ForAllValues:StringLike", "dynamodb:LeadingKeys"),
        ("StringEquals", "iam:PassedToService"),
    },
    "StartTuningFunction": {
        ("ForAllValues:StringLike", "dynamodb:LeadingKeys"),
        ("StringEquals", "iam:PassedToService"),
    },
    "StartAutoMLFunction": {
        ("ForAllValues:StringLike", "dynamodb:LeadingKeys"),
        ("StringEquals", "iam:PassedToService"),
    },
    "HandleJobEventFunction": {("ForAllValues:StringLike", "dynamodb:LeadingKeys")},
    "ReconcileJobsFunction": {("ForAllValues:StringLike", "dynamodb:LeadingKeys")},
    "RegisterModelFunction": {("ForAllValues:StringLike", "dynamodb:LeadingKeys"), ("StringEquals", "events:source")},
    "RecordFailureFunction": {("ForAllValues:StringLike", "dynamodb:LeadingKeys")},
    "SyncScheduleFunction": {
        ("ArnEquals", "iam:PolicyARN"),
        ("ForAllValues:StringLike", "dynamodb:LeadingKeys"),
        ("StringEquals", "iam:PassedToService"),
        ("StringEquals", "iam:PermissionsBoundary"),
    },
    "UndeliveredEventsQueuePolicy": {("ArnEquals", "aws:SourceArn")},
    "AlarmTopicKey": {("StringEquals", "aws:SourceAccount")},
    "NotificationTopicPolicy": {("ArnEquals", "aws:SourceArn")},
}
# the project job roles SyncSchedule writes (trainops.project_roles), not in the template
PROJECT_ROLE_CONDITIONS = {
    ("StringEquals", "aws:SourceAccount"),
    ("ArnLike", "aws:SourceArn"),
    ("StringLike", "s3:prefix"),
}


def _template() -> dict[str, Any]:
    template, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return template


def _statements(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            found.append(node)
        for value in node.values():
            found.extend(_statements(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_statements(value))
    return found


def _conditions(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(op, key) for s in statements for op, keys in (s.get("Condition") or {}).items() for key in keys}


def _sub(value: Any) -> str:
    return str(value["Fn::Sub"]) if isinstance(value, dict) and "Fn::Sub" in value else str(value)


def test_every_condition_in_the_template_is_listed() -> None:
    found = {}
    for name, resource in _template()["Resources"].items():
        conditions = _conditions(_statements(resource.get("Properties", {})))
        if conditions:
            found[name] = conditions
    assert found == CONDITIONS


def test_every_condition_of_a_project_role_is_listed() -> None:
    documents = [
        project_roles.trust_policy("aws", "123456789012", "us-east-1"),
        project_roles.project_policy("alpha", data_bucket="d", artifacts_bucket="a"),
    ]
    assert _conditions([s for d in documents for s in d["Statement"]]) == PROJECT_ROLE_CONDITIONS


def test_the_docs_list_each_condition_key_and_whether_it_is_evaluated_locally() -> None:
    text = SECURITY_DOC.read_text()
    section = text.split("### Conditions: what the local cloud evaluates", 1)[1].split("\n## ", 1)[0]
    keys = {key for conditions in CONDITIONS.values() for _, key in conditions} | {
        key for _, key in PROJECT_ROLE_CONDITIONS
    }
    for key in keys:
        assert f"`{key}`" in section, key
    for key in EVALUATED_LOCALLY:
        (line,) = [line for line in section.splitlines() if line.startswith(f"| `{key}`")]
        assert "| evaluated |" in line, line


def test_passrole_is_conditioned_on_the_service_the_role_is_trusted_by() -> None:
    """iam:PassedToService must be the service the passed role trusts: else the pass is denied (evaluated locally)
    or the role cannot be assumed (not evaluated locally)."""
    resources = _template()["Resources"]
    scheduler_trust = resources["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    job_trust = project_roles.trust_policy("aws", "1", "us-east-1")["Statement"]
    trusted = {
        "role/trainops-*-jobs": {s["Principal"]["Service"] for s in job_trust},
        "SchedulerRole": {s["Principal"]["Service"] for s in scheduler_trust},
    }
    seen = 0
    for name, resource in resources.items():
        for stmt in _statements(resource.get("Properties", {})):
            if stmt.get("Action") != "iam:PassRole":
                continue
            seen += 1
            service = stmt["Condition"]["StringEquals"]["iam:PassedToService"]
            target = _sub(stmt["Resource"])
            key = "SchedulerRole" if "SchedulerRole" in target else target.rsplit(":", 1)[1]
            assert {service} == trusted[key], (name, target)
    assert seen == 5


def test_events_source_is_the_source_trainops_sends() -> None:
    for name in ("FinishRunFunction", "RegisterModelFunction"):
        (stmt,) = [
            s
            for s in _statements(_template()["Resources"][name]["Properties"])
            if s.get("Action") == "events:PutEvents"
        ]
        assert stmt["Condition"] == {"StringEquals": {"events:source": notifications.SOURCE}}, name


def test_confused_deputy_conditions_admit_the_stacks_own_resources() -> None:
    """aws:SourceAccount / aws:SourceArn on trust and resource policies (not evaluated locally): each must admit
    the ARNs the service sends for this stack, or the service is refused on AWS only."""
    resources = _template()["Resources"]
    for doc in (
        resources["SageMakerExecutionRole"]["Properties"]["AssumeRolePolicyDocument"],
        project_roles.trust_policy("${AWS::Partition}", "${AWS::AccountId}", "${AWS::Region}"),
    ):
        (stmt,) = doc["Statement"]
        pattern = _sub(stmt["Condition"]["ArnLike"]["aws:SourceArn"])
        job = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:training-job/trainops-a-1-train"
        assert re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), job), pattern
        assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] in (
            {"Ref": "AWS::AccountId"},
            "${AWS::AccountId}",
        )
    (stmt,) = resources["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert _sub(stmt["Condition"]["ArnEquals"]["aws:SourceArn"]).endswith(":schedule-group/${ScheduleGroup}")


def test_the_boundary_syncschedule_must_set_is_the_one_it_is_given() -> None:
    """iam:PermissionsBoundary on CreateRole/PutRolePolicy/AttachRolePolicy: the boundary SyncSchedule passes
    (JOBS_PERMISSIONS_BOUNDARY_ARN) is the one its statements require, so its role creation is allowed on AWS."""
    function = _template()["Resources"]["SyncScheduleFunction"]["Properties"]
    assert function["Environment"]["Variables"]["JOBS_PERMISSIONS_BOUNDARY_ARN"] == {"Ref": "JobsPermissionsBoundary"}
    required = [
        s["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
        for s in _statements(function)
        if "iam:PermissionsBoundary" in (s.get("Condition") or {}).get("StringEquals", {})
    ]
    assert required and all(r == {"Ref": "JobsPermissionsBoundary"} for r in required)


def test_list_bucket_prefixes_cover_what_the_project_reads() -> None:
    """s3:prefix (not evaluated locally: a job may list other projects' keys there, never read them)."""
    policy = project_roles.project_policy("alpha", data_bucket="d", artifacts_bucket="a")
    (data_list,) = [s for s in policy["Statement"] if s["Sid"] == "ListProjectData"]
    assert "data/alpha/*" in data_list["Condition"]["StringLike"]["s3:prefix"]
    (read,) = [s for s in policy["Statement"] if s["Sid"] == "ReadProjectData"]
    assert read["Resource"].endswith(":::d/data/alpha/*")
