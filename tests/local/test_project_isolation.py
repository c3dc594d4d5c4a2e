"""Isolation between projects, proven locally (issue 10, item 2): each job reads and writes S3 with its project's
role (trainops-<project>-jobs, made by SyncSchedule's ``ensure_project_role``), and the local cloud enforces that
role's policies on the job's S3 requests (``trainops_local.cloud.iam_enforcement``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer
from trainops.project_roles import POLICY_NAME, ensure_project_role, project_role_arn
from trainops.settings import Settings
from trainops_local.cloud import iam_enforcement
from trainops_local.sagemaker import backend

REGION = "us-east-1"
DATA = "isolation-data"
ARTIFACTS = "isolation-artifacts"
XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SETTINGS = Settings(
    data_bucket=DATA,
    artifacts_bucket=ARTIFACTS,
    runs_table="runs",
    sagemaker_role_arn="arn:aws:iam::123456789012:role/trainops-stack-role",
    region=REGION,
    jobs_permissions_boundary_arn="arn:aws:iam::123456789012:policy/boundary",
    jobs_policy_arns="arn:aws:iam::123456789012:policy/common",
)


@pytest.fixture
def isolated(aws: None, make_csv: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two projects' data and roles, the local SageMaker running jobs with their role's credentials."""
    s3 = boto3.client("s3", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    for bucket in (DATA, ARTIFACTS):
        s3.create_bucket(Bucket=bucket)
    for name, actions in (("boundary", ["logs:*", "s3:*"]), ("common", ["logs:*"])):
        # the boundary caps the role (the enforcement evaluates it); the stack's allows the job prefixes' S3 too
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(doc))
    x, y = load_breast_cancer(return_X_y=True)
    for project in ("alpha", "beta"):
        s3.put_object(Bucket=DATA, Key=f"data/{project}/ds/train/t.csv", Body=make_csv(x[:450], y[:450]))
        ensure_project_role(project, settings=SETTINGS, iam=iam)
    iam_enforcement.install()
    state = backend.install(tmp_path / "jobs", region=REGION)
    state.job_s3_factory = iam_enforcement.job_s3_factory(REGION)
    try:
        yield {"s3": s3, "iam": iam, "sm": boto3.client("sagemaker", region_name=REGION)}
    finally:
        assert backend.uninstall(timeout=30)
        iam_enforcement.uninstall()


def job(name: str, project: str, data_project: str) -> dict[str, Any]:
    """A CreateTrainingJob request as trainops builds it: the project's role, its runs/ prefix for output."""
    uri = f"s3://{DATA}/data/{data_project}/ds/train/"
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": XGB_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": project_role_arn(SETTINGS, project),
        "HyperParameters": {"num_round": "5", "objective": "binary:logistic"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{ARTIFACTS}/runs/{project}/r1"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def test_a_projects_job_is_denied_another_projects_data(isolated: dict[str, Any]) -> None:
    # Given alpha's job, with alpha's role, pointed at beta's data
    sm = isolated["sm"]
    # When it runs
    sm.create_training_job(**job("trainops-alpha-steals", "alpha", "beta"))
    assert backend.wait_idle(60)
    # Then it fails on reading beta's object, AccessDenied, and writes nothing
    done = sm.describe_training_job(TrainingJobName="trainops-alpha-steals")
    assert done["TrainingJobStatus"] == "Failed"
    assert "AccessDenied" in done["FailureReason"]
    assert "Contents" not in isolated["s3"].list_objects_v2(Bucket=ARTIFACTS, Prefix="runs/alpha/")


def test_a_projects_job_reads_its_own_data_and_writes_its_own_outputs(isolated: dict[str, Any]) -> None:
    # Given alpha's job on alpha's data, with the same enforcement
    sm = isolated["sm"]
    # When it runs
    sm.create_training_job(**job("trainops-alpha-own", "alpha", "alpha"))
    assert backend.wait_idle(60)
    # Then it completes, its model under runs/alpha/
    done = sm.describe_training_job(TrainingJobName="trainops-alpha-own")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["ModelArtifacts"]["S3ModelArtifacts"].startswith(f"s3://{ARTIFACTS}/runs/alpha/r1/")


def test_a_projects_role_cannot_write_another_projects_outputs(isolated: dict[str, Any]) -> None:
    # Given alpha's role's credentials, as the local SageMaker gives alpha's jobs
    s3 = iam_enforcement.job_s3_factory(REGION)({"RoleArn": project_role_arn(SETTINGS, "alpha")})
    # Then it writes under runs/alpha/, not under runs/beta/ or code/beta/, and reads none of beta's data
    s3.put_object(Bucket=ARTIFACTS, Key="runs/alpha/r1/x", Body=b"ok")
    for call in (
        lambda: s3.put_object(Bucket=ARTIFACTS, Key="runs/beta/r1/model.tar.gz", Body=b"overwritten"),
        lambda: s3.put_object(Bucket=ARTIFACTS, Key="code/beta/abc/sourcedir.tar.gz", Body=b"x"),
        lambda: s3.get_object(Bucket=DATA, Key="data/beta/ds/train/t.csv"),
        lambda: s3.get_object(Bucket=DATA, Key="config/beta.yaml"),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_requests_without_role_credentials_are_not_enforced(isolated: dict[str, Any]) -> None:
    # The handlers and the tests use the account's default credentials: moto's unchanged (off) check applies
    s3 = isolated["s3"]
    assert s3.get_object(Bucket=DATA, Key="data/beta/ds/train/t.csv")["ContentLength"] > 0


def test_sync_schedule_role_creation_is_idempotent_and_updates_the_policy(isolated: dict[str, Any]) -> None:
    # Given alpha's role created on its first upload
    iam = isolated["iam"]
    role = iam.get_role(RoleName="trainops-alpha-jobs")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == SETTINGS.jobs_permissions_boundary_arn
    assert {"Key": "trainops:project", "Value": "alpha"} in role["Tags"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    # When a later upload re-syncs it, after someone widened its policy
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="trainops-alpha-jobs", PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wide))
    outcome = ensure_project_role("alpha", settings=SETTINGS, iam=iam)
    # Then the role is updated, not duplicated, and its policy is the project's again
    assert outcome == {"role": "trainops-alpha-jobs", "role_action": "updated"}
    policy = iam.get_role_policy(RoleName="trainops-alpha-jobs", PolicyName=POLICY_NAME)["PolicyDocument"]
    resources = json.dumps(policy)
    assert "data/alpha/*" in resources and "beta" not in resources and '"s3:*"' not in resources
    attached = iam.list_attached_role_policies(RoleName="trainops-alpha-jobs")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [SETTINGS.jobs_policy_arns]
