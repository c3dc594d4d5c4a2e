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
