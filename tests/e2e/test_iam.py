"""IAM enforced end to end (issue 10, item 5): the pipeline runs with each function's, the state machine's and each
job's role, so a permission missing from template.yaml fails the run locally as it would on AWS."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from trainops_local.runner import LocalTrainops

from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.e2e

PASS_ROLE = """            - Sid: PassProjectJobRoles  # one role per project, trainops-<project>-jobs (trainops.project_roles)
              Effect: Allow
              Action: iam:PassRole
"""


def test_a_function_without_passrole_fails_the_run_with_awss_access_denied(tmp_path: Path) -> None:
    # Given the template with StartTraining's iam:PassRole statement removed (the other functions keep theirs)
    text = (ROOT / "template.yaml").read_text()
    start = text.index("  StartTrainingFunction:\n")
    end = text.index("\n  StartTuningLogs:", start)
    section = text[start:end]
    assert PASS_ROLE in section
    broken = text[:start] + section.replace(PASS_ROLE, PASS_ROLE.replace("iam:PassRole", "iam:GetRole")) + text[end:]
    template = ROOT / f".iam-e2e-{uuid.uuid4().hex[:8]}.yaml"  # CodeUri paths are relative to the template
    template.write_text(broken)
    try:
        with LocalTrainops(tmp_path / "wd", template=template, persist=False) as app:
            assert app.cloud.iam  # the suite's conftest turns enforcement on
            config = tmp_path / "p.yaml"
            config.write_text("project: nopass\nalgorithm: {name: xgboost, hyperparameters: {num_round: 5}}\n")
            summary = app.run("nopass", EXAMPLES / "data" / "breast_cancer.csv", config, timeout=300)
    finally:
        template.unlink()
    # Then the run fails at StartTraining, naming the role, the action and the role it tried to pass
    assert summary.status == "FAILED"
    assert summary.failed_state == "StartTraining"
    assert "iam:PassRole on resource: arn:aws:iam::123456789012:role/trainops-nopass-jobs" in (summary.cause or "")
    assert "assumed-role/trainops-StartTrainingFunctionRole-" in (summary.cause or "")
    assert summary.training_jobs == []


def test_a_run_without_a_config_gets_a_job_role(tmp_path: Path) -> None:
    with LocalTrainops(tmp_path / "wd", persist=False) as app:
        assert app.cloud.iam
        summary = app.run("noconfig", EXAMPLES / "data" / "breast_cancer.csv", None, timeout=300)
    assert summary.status == "SUCCEEDED", (summary.failed_state, summary.cause)


def test_uploads_coalesced_under_a_run_get_their_follow_up_with_the_functions_own_roles(tmp_path: Path) -> None:
    import shutil
    import time

    from trainops.ledger import Ledger

    with LocalTrainops(tmp_path / "wd", persist=False) as app:
        assert app.cloud.iam
        config = tmp_path / "coal.yaml"
        config.write_text("project: coal\nalgorithm: {name: xgboost, hyperparameters: {num_round: 5}}\n")
        app.upload_config("coal", config)
        app.cloud.wait_idle(30)
        ledger = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))
        # Given a run of the project held at RegisterModel (the project lock taken by the test)
        assert ledger.acquire_lock("coal", "held-by-the-test", lease_seconds=600)
        files = []
        for name in ("a.csv", "b.csv", "c.csv"):
            shutil.copy(EXAMPLES / "data" / "breast_cancer.csv", tmp_path / name)
            files.append(tmp_path / name)
        known = app._executions()
        first = app.find_execution(app.upload_data("coal", files[0]), known)
        while ledger.get_slot("coal") is None:
            time.sleep(0.05)
        # When two more files land while it runs, then it ends
        for path in files[1:]:
            app.upload_data("coal", path)
        app.cloud.wait_idle(60)
        ledger.release_lock("coal", "held-by-the-test")
        assert app.follow(first, "coal", timeout=300).status == "SUCCEEDED"
        # Then FinishRun, as its own role (BatchWriteItem on the pending uploads), hands over to one follow-up
        requests = {r["key"].rsplit("/", 1)[1]: r for r in ledger.project_requests("coal")}
        follow_up = requests["c.csv"]["covered_by"]
        assert requests["b.csv"]["covered_by"] == follow_up
        assert ledger.pending("coal") == []
        from trainops.coalescing import execution_arn

        summary = app.follow(execution_arn(app.state_machine_arn, follow_up), "coal", timeout=300)
        assert summary.status == "SUCCEEDED", (summary.failed_state, summary.cause)
        assert ledger.get_slot("coal") is None
