"""Managed spot training: the CreateTrainingJob and tuning requests, and the configs refused (naming the field)."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from trainops.errors import AlgorithmNotSupported, ConfigInvalid
from trainops.lint import lint_config, raise_on_errors
from trainops.processing import split_outputs
from trainops.training import build_training_request
from trainops.tuning import build_tuning_request
from trainops_local.cloud.validation import validate_request

from tests.helpers import ARTIFACTS_BUCKET, ROLE_ARN, config, plan, run_request

MODEL = botocore.session.get_session().get_service_model("sagemaker")
RUN = "20261126T120000-1a2b3c4d"
PREFIX = f"s3://{ARTIFACTS_BUCKET}/runs/demo/{RUN}"


def build(cfg: Any, pl: Any = None) -> dict[str, Any]:
    request = run_request(cfg)
    return build_training_request(
        request,
        cfg,
        pl or plan(),
        channels=split_outputs(request, ARTIFACTS_BUCKET),
        role_arn=ROLE_ARN,
        artifacts_bucket=ARTIFACTS_BUCKET,
    )


def test_spot_sets_managed_spot_max_wait_and_checkpoints() -> None:
    # Given spot with the default wait
    body = build(config(resources={"spot": True, "max_runtime_seconds": 1800}))
    # Then the request asks for spot capacity, waits at most twice the runtime, and checkpoints under the run
    assert body["EnableManagedSpotTraining"] is True
    assert body["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600}
    assert body["CheckpointConfig"] == {"S3Uri": f"{PREFIX}/checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
    validate_request(MODEL.operation_model("CreateTrainingJob"), body)  # lengths, patterns and enums too
    # and without spot nothing of it
    plain = build(config())
    assert "EnableManagedSpotTraining" not in plain and "CheckpointConfig" not in plain
    assert plain["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_script_mode_spot_checkpoints_too() -> None:
    cfg = config(
        algorithm={
            "name": "script",
            "entry_point": "train.py",
            "source_dir": "s3://b/code/sourcedir.tar.gz",
            "framework": "sklearn",
        },
        resources={"spot": True, "max_wait_seconds": 7200},
    )
    pl = plan(
        algorithm="script",
        image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        input_mode="File",
        needs_split=False,
        hyperparameters={},
    )
    body = build(cfg, pl)
    assert body["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200
    assert body["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    # and a warning says the script must resume from them itself
    warnings = [f for f in lint_config(cfg) if f.id == "CONF-W001"]
    assert [w.field for w in warnings] == ["resources.spot"]


def test_the_tuning_definition_carries_spot() -> None:
    cfg = config(
        resources={"spot": True},
        tuning={
            "ranges": {"eta": {"type": "continuous", "min": 0.01, "max": 0.5, "scaling": "Logarithmic"}},
            "max_jobs": 4,
            "max_parallel_jobs": 2,
        },
    )
    body = build(cfg)
    request = build_tuning_request(body, cfg, tuning_job_name="demo-0123abcd")
    definition = request["TrainingJobDefinition"]
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200
    assert definition["CheckpointConfig"]["S3Uri"] == f"{PREFIX}/checkpoints/"
    validate_request(MODEL.operation_model("CreateHyperParameterTuningJob"), request)


@pytest.mark.parametrize(
    ("overrides", "field", "kind", "words"),
    [
        (
            {"algorithm": {"name": "linear-learner"}, "resources": {"spot": True}},
            "resources.spot",
            AlgorithmNotSupported,
            "linear-learner cannot resume from checkpoints",
        ),
        (
            {"resources": {"spot": True, "max_runtime_seconds": 3600, "max_wait_seconds": 600}},
            "resources.max_wait_seconds",
            ConfigInvalid,
            "MaxWaitTimeInSeconds >= MaxRuntimeInSeconds",
        ),
        ({"resources": {"max_wait_seconds": 600}}, "resources.max_wait_seconds", ConfigInvalid, "only with"),
    ],
)
def test_bad_spot_configs_are_refused_naming_the_field(
    overrides: dict[str, Any], field: str, kind: type[Exception], words: str
) -> None:
    cfg = config(**overrides)
    # config validate
    errors = [f for f in lint_config(cfg) if f.severity == "error"]
    assert [(f.id, f.field) for f in errors] == [("CONF-E009", field)]
    assert words in errors[0].message
    # the pipeline's gate (NormalizeRequest) and, behind it, the request builder
    with pytest.raises(ConfigInvalid) as gate:
        raise_on_errors(cfg)
    assert gate.value.field == field
    if cfg.resources.spot:
        with pytest.raises(kind) as built:
            build(cfg, plan(algorithm=cfg.algorithm.name.value))
        assert getattr(built.value, "field", None) == field


def test_auto_with_spot_lints_clean() -> None:
    # auto chooses XGBoost when spot is on (Linear Learner cannot resume): nothing to refuse
    assert [
        f for f in lint_config(config(algorithm={"name": "auto"}, resources={"spot": True})) if f.severity == "error"
    ] == []
