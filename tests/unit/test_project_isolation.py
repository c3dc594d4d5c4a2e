"""Isolation between projects (issue 10, item 2): the project's role policy, the linter's CONF-E012 and the
template's IAM for the project roles (PassRole, the boundary)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from trainops.config import parse_config
from trainops.lint import lint_config
from trainops.project_roles import project_policy, project_role_arn, project_role_name
from trainops.settings import Settings

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
ROLE_RESOURCE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/trainops-*-jobs"
SCRIPT = {
    "name": "script",
    "framework": "sklearn",
    "framework_version": "1.2-1",
    "entry_point": "train.py",
    "metric_definitions": [{"name": "validation:rmse", "regex": "rmse=([0-9.]+)"}],
}


def errors_012(config: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.field, f.message) for f in lint_config(parse_config(config)) if f.id == "CONF-E012"]


def test_role_names_and_arns():
    settings = Settings("d", "a", "t", "arn:aws-us-gov:iam::111122223333:role/x", "us-gov-west-1")
    assert project_role_name("churn") == "trainops-churn-jobs"
    assert project_role_arn(settings, "churn") == "arn:aws-us-gov:iam::111122223333:role/trainops-churn-jobs"
    assert len(project_role_name("a" * 32)) <= 64


def test_the_project_policy_names_only_the_projects_prefixes():
    policy = json.dumps(project_policy("churn", data_bucket="d", artifacts_bucket="a"))
    for own in ("d/data/churn/*", "a/code/churn/*", "a/splits/churn/*", "a/runs/churn/*"):
        assert own in policy
    resources = [
        r
        for s in json.loads(policy)["Statement"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    # every object resource is under the project's prefix, but trainops' own split script (code/<16 hex>/split.py)
    assert all(
        "churn" in r or r.endswith("code/*/split.py") or r in ("arn:aws:s3:::d", "arn:aws:s3:::a") for r in resources
    )
    assert not any("config/" in r for r in resources)


def test_lint_refuses_another_projects_code():
    # Given churn's config naming fraud's code
    config = {"project": "churn", "algorithm": {**SCRIPT, "source_dir": "s3://art/code/fraud/0123/sourcedir.tar.gz"}}
    # Then CONF-E012 names the field
    assert [f for f, _ in errors_012(config)] == ["algorithm.source_dir"]
    # and its own code is fine (a project whose name starts the other's is not confused with it)
    own = {"project": "churn", "algorithm": {**SCRIPT, "source_dir": "s3://art/code/churn/0123/sourcedir.tar.gz"}}
    assert errors_012(own) == []
    prefix = {"project": "churn", "algorithm": {**SCRIPT, "source_dir": "s3://art/code/churn2/01/sourcedir.tar.gz"}}
    assert [f for f, _ in errors_012(prefix)] == ["algorithm.source_dir"]


@pytest.mark.parametrize(
    ("parent", "refused"),
    [
        ("trainops-fraud-0a1b2c3d", True),
        ("trainops-churnx-0a1b2c3d", True),
        ("someone-elses-tuning-job", True),
        ("trainops-churn-0a1b2c3d", False),
    ],
)
def test_lint_refuses_another_projects_warm_start_parent(parent: str, refused: bool):
    config = {
        "project": "churn",
        "algorithm": {"name": "xgboost", "hyperparameters": {"num_round": 100}},
        "problem": {"type": "binary", "objective_metric": "validation:auc", "objective_direction": "Maximize"},
        "tuning": {
            "ranges": {"eta": {"type": "continuous", "min": 0.05, "max": 0.3}},
            "max_jobs": 4,
            "max_parallel_jobs": 2,
            "warm_start": {"type": "IdenticalDataAndAlgorithm", "parents": [parent]},
        },
    }
    fields = [f for f, _ in errors_012(config)]
    assert fields == (["tuning.warm_start.parents.0"] if refused else [])


def _template() -> dict[str, Any]:
    template, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return template


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    props = resource["Properties"]
    if "PolicyDocument" in props:
        return list(props["PolicyDocument"]["Statement"])
    return [s for p in props.get("Policies", []) if "Statement" in p for s in p["Statement"]]


def test_pass_role_is_narrowed_to_the_project_roles_passed_to_sagemaker():
    resources = _template()["Resources"]
    passing = {
        name: s
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
        for s in _statements(r)
        if s.get("Action") == "iam:PassRole" and "sagemaker" in json.dumps(s.get("Condition"))
    }
    assert set(passing) >= {"SplitDatasetFunction", "StartTrainingFunction", "StartTuningFunction"}
    for statement in passing.values():
        assert statement["Resource"] == {"Fn::Sub": ROLE_RESOURCE}
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_only_sync_schedule_and_select_algorithm_make_project_roles_and_only_under_the_boundary():
    # SyncSchedule on a config upload; SelectAlgorithm for a project trained on defaults (no config object)
    makers = {"SyncScheduleFunction", "SelectAlgorithmFunction"}
    resources = _template()["Resources"]
    iam_writers = {
        name: [s for s in _statements(r) if any(str(a).startswith("iam:") and a != "iam:PassRole" for a in _actions(s))]
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert {k for k, v in iam_writers.items() if v} == makers
    for maker in makers:
        for statement in iam_writers[maker]:
            assert statement["Resource"] == {"Fn::Sub": ROLE_RESOURCE}
            actions = set(_actions(statement))
            assert not actions & {"iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary", "iam:*"}
            if actions & {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"}:
                boundary = statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
                assert boundary == {"Ref": "JobsPermissionsBoundary"}
        env = resources[maker]["Properties"]["Environment"]["Variables"]
        assert env["JOBS_PERMISSIONS_BOUNDARY_ARN"] == {"Ref": "JobsPermissionsBoundary"}
    assert iam_writers["SelectAlgorithmFunction"] == iam_writers["SyncScheduleFunction"]
    # the former shared job role reads no project's data any more
    old = json.dumps(_statements(resources["SageMakerExecutionRole"]))
    assert "s3:" not in old


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)
