import time

import boto3
import pytest
from moto import mock_aws
from trainops.errors import InvalidProjectName
from trainops.naming import check_project_name, job_name, model_package_group_name, run_id_for
from trainops.registry import Champion, current_champion, decide_approval
from trainops.types import TRAINING_JOB_NAME_RE


@pytest.mark.parametrize(
    "bad", ["../etc", "a/b", "it's", 'a"b', "$x", "{x}", "Demo", "with space", "é", "", "-a", "a" * 33, None, 7]
)
def test_unsafe_project_names_are_refused(bad):
    with pytest.raises(InvalidProjectName) as info:
        check_project_name(bad)
    assert info.value.fix


def test_job_names_are_deterministic_valid_and_within_63():
    from datetime import UTC, datetime

    rid = run_id_for(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "bucket", "key", "v1")
    assert rid == run_id_for(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "bucket", "key", "v1")
    assert rid != run_id_for(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "bucket", "key", "v2")
    for project in ["a", "demo", "x" * 32, "a-b-c"]:
        for suffix in ("train", "split"):
            name = job_name(project, rid, suffix)
            assert len(name) <= 63
            assert TRAINING_JOB_NAME_RE.match(name)
            # the prefix the template's IAM statements match (training-job/trainops-*, processing-job/trainops-*)
            assert name.startswith("trainops-") and name.endswith(f"-{suffix}")
            assert name == job_name(project, rid, suffix)  # a retried create computes the same name
    assert job_name("demo", rid, "train") == f"trainops-demo-{rid.replace('T', '')}-train"
    long_a = job_name("x" * 32, rid, "train")
    long_b = job_name("x" * 31 + "y", rid, "train")
    assert long_a != long_b


def test_model_package_groups_carry_the_prefix():
    assert model_package_group_name("churn") == "trainops-churn"


def _champion(value, metric="validation:auc"):
    return Champion(
        arn="arn:champ",
        objective_metric=metric,
        objective_value=value,
        model_data_url="s3://x/y",
        image="img",
        num_round=10,
    )


@pytest.mark.parametrize(
    ("direction", "new", "old", "margin", "expected"),
    [
        ("Maximize", 0.95, 0.90, 0.0, "Approved"),
        ("Maximize", 0.90, 0.90, 0.0, "PendingManualApproval"),
        ("Maximize", 0.905, 0.90, 0.01, "PendingManualApproval"),
        ("Maximize", 0.92, 0.90, 0.01, "Approved"),
        ("Minimize", 0.20, 0.25, 0.0, "Approved"),
        ("Minimize", 0.30, 0.25, 0.0, "PendingManualApproval"),
    ],
)
def test_approval_against_the_champion(direction, new, old, margin, expected):
    status, reason = decide_approval(
        metric="validation:auc",
        direction=direction,
        value=new,
        champion=_champion(old),
        auto_approve_first=True,
        min_improvement=margin,
    )
    assert status == expected
    assert f"{old:.6g}" in reason


def test_first_model_follows_auto_approval_setting():
    assert (
        decide_approval(
            metric="m", direction="Maximize", value=1, champion=None, auto_approve_first=True, min_improvement=0
        )[0]
        == "Approved"
    )
    status, reason = decide_approval(
        metric="m", direction="Maximize", value=1, champion=None, auto_approve_first=False, min_improvement=0
    )
    assert status == "PendingManualApproval"
    assert "auto_approve_first" in reason


def test_champion_judged_on_another_metric_needs_a_human():
    status, reason = decide_approval(
        metric="validation:auc",
        direction="Maximize",
        value=0.99,
        champion=_champion(0.5, metric="validation:logloss"),
        auto_approve_first=True,
        min_improvement=0,
    )
    assert status == "PendingManualApproval"
    assert "validation:logloss" in reason


@mock_aws
def test_a_retried_registration_judges_against_the_champion_before_its_own_package():
    sm = boto3.client("sagemaker", region_name="us-east-1")
    sm.create_model_package_group(ModelPackageGroupName="trainops-champ")

    def package(run_id: str, value: float) -> str:
        return sm.create_model_package(
            ModelPackageGroupName="trainops-champ",
            InferenceSpecification={
                "Containers": [{"Image": "img", "ModelDataUrl": f"s3://b/{run_id}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={
                "trainops:run-id": run_id,
                "trainops:objective-metric": "validation:auc",
                "trainops:objective-value": repr(value),
            },
        )["ModelPackageArn"]

    older = package("run-a", 0.90)
    time.sleep(0.01)  # CreationTime orders them
    newer = package("run-b", 0.95)
    assert current_champion("champ", sm).arn == newer
    # run-b's RegisterModel, retried after its package was created, must not be compared with itself
    champion = current_champion("champ", sm, excluding_run="run-b")
    assert champion.arn == older and champion.objective_value == 0.90
    assert current_champion("champ", sm, excluding_run="run-a").arn == newer
