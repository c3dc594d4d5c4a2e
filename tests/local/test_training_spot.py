"""Managed spot training locally: an injected interruption, the restart from checkpoints, billable vs training time."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer
from trainops_local.sagemaker.engine import (
    SPOT_CAPACITY_WAIT_ENV,
    SPOT_INTERRUPT_AFTER_ENV,
    SPOT_INTERRUPTIONS_ENV,
    run_training_job,
)
from trainops_local.sagemaker.script_mode import LocalCommand

from tests.local.test_training_xgboost import BUCKET, load_model, xgb_request

CHECKPOINTS = f"s3://{BUCKET}/runs/p/r1/checkpoints/"
SPOT = {
    "EnableManagedSpotTraining": True,
    "CheckpointConfig": {"S3Uri": CHECKPOINTS, "LocalPath": "/opt/ml/checkpoints"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60, "MaxWaitTimeInSeconds": 120},
}


@pytest.fixture
def dataset(s3: Any, make_csv: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    s3.put_object(Bucket=BUCKET, Key="data/train/part-0.csv", Body=make_csv(x[:450], y[:450]))
    s3.put_object(Bucket=BUCKET, Key="data/validation/v.csv", Body=make_csv(x[450:], y[450:]))


@pytest.fixture
def interruptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """One injected interruption per spot job, a 1.5 s wait for capacity."""
    monkeypatch.setenv(SPOT_INTERRUPTIONS_ENV, "1")
    monkeypatch.setenv(SPOT_INTERRUPT_AFTER_ENV, "30")
    monkeypatch.setenv(SPOT_CAPACITY_WAIT_ENV, "1.5")


@pytest.mark.usefixtures("dataset", "interruptions")
def test_xgboost_resumes_from_its_checkpoint_after_an_interruption(s3: Any, tmp_path: Path) -> None:
    # Given a spot XGBoost job of 12 rounds and one injected interruption
    logs: list[str] = []
    # When it runs
    outcome = run_training_job(xgb_request("xgb-spot", **SPOT), s3=s3, workdir=tmp_path, on_log=logs.append)
    # Then it was interrupted after its first checkpoint, waited, and resumed from it
    assert outcome.status == "Completed", outcome.failure_reason
    statuses = [t.status for t in outcome.transitions]
    assert statuses[:5] == ["Starting", "Downloading", "Training", "Interrupted", "Starting"]
    assert statuses[-3:] == ["Training", "Uploading", "Completed"]
    assert any(line.startswith("Resuming from checkpoint xgboost-checkpoint.0: 11 more round(s)") for line in logs)
    assert outcome.local_notes["spot_interruptions"] == 1
    # and the model has all 12 rounds; the checkpoints are in S3
    assert outcome.model_artifact is not None
    assert load_model(s3, outcome.model_artifact).num_boosted_rounds() == 12
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/p/r1/checkpoints/")["Contents"]]
    assert "runs/p/r1/checkpoints/xgboost-checkpoint.11" in keys
    # and the wait for capacity is training time, not billable time
    assert outcome.billable_time_seconds is not None
    assert outcome.training_time_seconds - outcome.billable_time_seconds >= 1


@pytest.mark.usefixtures("dataset", "interruptions")
def test_a_containers_checkpoints_are_synced_to_s3_and_back(s3: Any, tmp_path: Path) -> None:
    # Given a container (a local stand-in) that counts its restarts in /opt/ml/checkpoints
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(
        "import os, pathlib, time\n"
        "base = pathlib.Path(os.environ.get('SAGEMAKER_BASE_DIR', '/opt/ml'))\n"
        "state = base / 'checkpoints' / 'starts'\n"
        "starts = int(state.read_text()) + 1 if state.exists() else 1\n"
        "state.write_text(str(starts))\n"
        "print(f'start {starts}', flush=True)\n"
        "time.sleep(0.6)\n"
        "(base / 'model' / 'model.txt').write_text(f'trained after {starts} start(s)')\n"
    )
    image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/my-trainer:1"
    request = xgb_request("container-spot", **SPOT)
    request["AlgorithmSpecification"] = {"TrainingImage": image, "TrainingInputMode": "File"}
    request["HyperParameters"] = {}
    logs: list[str] = []
    # When it runs with one interruption
    outcome = run_training_job(
        request,
        s3=s3,
        workdir=tmp_path / "job",
        on_log=logs.append,
        local_commands={image: LocalCommand((sys.executable, "train.py"), code)},
    )
    # Then the second start found what the first wrote: /opt/ml/checkpoints went to S3 and came back
    assert outcome.status == "Completed", outcome.failure_reason
    assert "start 1" in logs and "start 2" in logs
    body = s3.get_object(Bucket=BUCKET, Key="runs/p/r1/checkpoints/starts")["Body"].read()
    assert body == b"2"


@pytest.mark.usefixtures("dataset")
def test_max_wait_ends_a_spot_job(s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a spot job whose capacity wait outlasts MaxWaitTimeInSeconds
    monkeypatch.setenv(SPOT_INTERRUPTIONS_ENV, "1")
    monkeypatch.setenv(SPOT_INTERRUPT_AFTER_ENV, "0")
    monkeypatch.setenv(SPOT_CAPACITY_WAIT_ENV, "30")
    request = xgb_request(
        "xgb-wait", **{**SPOT, "StoppingCondition": {"MaxRuntimeInSeconds": 2, "MaxWaitTimeInSeconds": 2}}
    )
    # When it runs
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    # Then SageMaker's MaxWaitTimeExceeded ends it
    assert (outcome.status, outcome.secondary_status) == ("Stopped", "MaxWaitTimeExceeded")
    assert (outcome.failure_reason or "").startswith("MaxWaitTimeExceeded")
