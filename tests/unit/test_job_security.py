"""Job encryption, network controls and trusted images (issue 10, items 1 and 3): what every job kind carries, what
a project may tighten, and what the linter and the pipeline refuse, naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from trainops.config import parse_config
from trainops.errors import ConfigInvalid
from trainops.lint import lint_config
from trainops.processing import build_split_request, split_outputs
from trainops.security import CODE_CHANNEL_SOURCEDIR, StackSecurity, has_instance_store, image_trusted
from trainops.settings import Settings
from trainops.steps.runs import lint_errors
from trainops.training import build_training_request
from trainops.tuning import build_tuning_request

from tests.helpers import ARTIFACTS_BUCKET, DATA_BUCKET, ROLE_ARN, plan, run_request
from tests.unit.test_tuning_request import assert_valid_request as assert_valid_tuning_request

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/99999999-12ab-34cd-56ef-1234567890ab"
SUBNETS = ("subnet-0123456789abcdef0", "subnet-0fedcba987654321f")
GROUPS = ("sg-0123456789abcdef0",)
TRUSTED = ("arn:aws:ecr:us-east-1:123456789012:repository/trainops*",)
STACK = StackSecurity(kms_key_arn=KEY, subnet_ids=SUBNETS, security_group_ids=GROUPS, trusted_repositories=TRUSTED)
PLAIN = StackSecurity(trusted_repositories=TRUSTED)
SCRIPT = {
    "name": "script",
    "entry_point": "train.py",
    "source_dir": "s3://artifacts/code/demo/sourcedir.tar.gz",
    "framework": "sklearn",
    "framework_version": "1.2-1",
    "metric_definitions": [{"name": "validation:rmse", "regex": "rmse=([0-9.]+)"}],
}
SCRIPT_PLAN = {
    "algorithm": "script",
    "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    "input_mode": "File",
    "content_type": None,
    "needs_split": False,
    "channels": ["train"],
    "hyperparameters": {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://artifacts/code/demo/sourcedir.tar.gz"',
    },
    "metric_definitions": [{"name": "validation:rmse", "regex": "rmse=([0-9.]+)"}],
}


def cfg(**fields: Any):
    return parse_config({"project": "demo", **fields})


def training(config, stack: StackSecurity | None = STACK, **plan_fields: Any) -> dict[str, Any]:
    request = run_request(config)
    pl = plan(**plan_fields)
    return build_training_request(
        request,
        config,
        pl,
        channels=split_outputs(request, ARTIFACTS_BUCKET) if pl.needs_split else None,
        role_arn=ROLE_ARN,
        artifacts_bucket=ARTIFACTS_BUCKET,
        stack=stack,
    )


def validate(operation: str, body: dict[str, Any]) -> None:
    import botocore.session
    from botocore.validate import validate_parameters

    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(body, model.operation_model(operation).input_shape)


# --- defaults -----------------------------------------------------------------------------------------
def test_builtin_jobs_are_isolated_and_single_instance_jobs_need_no_traffic_encryption() -> None:
    body = training(cfg(), stack=None)
    assert body["EnableNetworkIsolation"] is True
    assert body["EnableInterContainerTrafficEncryption"] is False
    assert "VpcConfig" not in body and "KmsKeyId" not in body["OutputDataConfig"]


def test_several_instances_always_encrypt_the_traffic_between_them() -> None:
    body = training(cfg(resources={"instance_count": 3}), stack=None)
    assert body["EnableInterContainerTrafficEncryption"] is True


def test_script_mode_keeps_its_network_by_default_to_fetch_code_and_install_requirements() -> None:
    body = training(cfg(algorithm=SCRIPT), stack=None, **SCRIPT_PLAN)
    assert body["EnableNetworkIsolation"] is False
    assert [c["ChannelName"] for c in body["InputDataConfig"]] == ["train"]


# --- the stack's key and VPC on every job kind ----------------------------------------------------------
def test_the_stacks_key_and_vpc_reach_the_training_job() -> None:
    body = training(cfg())
    assert body["OutputDataConfig"]["KmsKeyId"] == KEY
    assert body["ResourceConfig"]["VolumeKmsKeyId"] == KEY
    assert body["VpcConfig"] == {"SecurityGroupIds": list(GROUPS), "Subnets": list(SUBNETS)}
    validate("CreateTrainingJob", body)


def test_instance_store_types_get_no_volume_key_which_sagemaker_refuses_for_them() -> None:
    body = training(cfg(resources={"instance_type": "ml.g4dn.xlarge"}))
    assert body["OutputDataConfig"]["KmsKeyId"] == KEY
    assert "VolumeKmsKeyId" not in body["ResourceConfig"]
    assert [t for t in ("ml.m5d.large", "ml.p4d.24xlarge", "ml.g5.xlarge", "ml.p3dn.24xlarge") if has_instance_store(t)]
    assert not [t for t in ("ml.m5.large", "ml.c5.xlarge", "ml.p3.2xlarge", "ml.g4.x") if has_instance_store(t)][:3]


def test_the_stacks_key_and_vpc_reach_the_tuning_jobs_training_definition() -> None:
    config = cfg(tuning={"ranges": {"eta": {"type": "continuous", "min": 0.01, "max": 0.3}}})
    request = build_tuning_request(training(config), config, tuning_job_name="demo-0123abcd")
    definition = request["TrainingJobDefinition"]
    assert definition["OutputDataConfig"]["KmsKeyId"] == KEY
    assert definition["ResourceConfig"]["VolumeKmsKeyId"] == KEY
    assert definition["VpcConfig"] == {"SecurityGroupIds": list(GROUPS), "Subnets": list(SUBNETS)}
    assert definition["EnableNetworkIsolation"] is True
    assert definition["EnableInterContainerTrafficEncryption"] is False
    assert_valid_tuning_request(request)


def test_the_stacks_key_and_vpc_reach_the_split_which_never_needs_a_network() -> None:
    config = cfg()
    body = build_split_request(
        run_request(config),
        config,
        plan(),
        code_uri=f"s3://{ARTIFACTS_BUCKET}/code/split.py",
        role_arn=ROLE_ARN,
        artifacts_bucket=ARTIFACTS_BUCKET,
        region="us-east-1",
        stack=STACK,
    )
    assert body["ProcessingOutputConfig"]["KmsKeyId"] == KEY
    assert body["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
    assert body["NetworkConfig"] == {
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": False,
        "VpcConfig": {"SecurityGroupIds": list(GROUPS), "Subnets": list(SUBNETS)},
    }
    validate("CreateProcessingJob", body)


def test_settings_carry_the_template_values_to_the_stack_security() -> None:
    settings = Settings(
        data_bucket=DATA_BUCKET,
        artifacts_bucket=ARTIFACTS_BUCKET,
        runs_table="runs",
        sagemaker_role_arn=ROLE_ARN,
        region="us-east-1",
        kms_key_arn=KEY,
        job_subnet_ids=",".join(SUBNETS),
        job_security_group_ids=GROUPS[0],
        require_network_isolation="true",
        trusted_image_repositories=TRUSTED[0],
    )
    stack = StackSecurity.from_settings(settings)
    assert stack == StackSecurity(KEY, SUBNETS, GROUPS, True, TRUSTED)
    with pytest.raises(ConfigInvalid, match="JobSubnetIds"):
        StackSecurity.from_values({"JOB_SUBNET_IDS": SUBNETS[0]})


# --- tightening ---------------------------------------------------------------------------------------
def test_a_project_may_isolate_script_mode_which_then_gets_its_code_through_a_channel() -> None:
    body = training(cfg(algorithm=SCRIPT, security={"network_isolation": True}), **SCRIPT_PLAN)
    assert body["EnableNetworkIsolation"] is True
    code = body["InputDataConfig"][-1]
    assert code["ChannelName"] == "code"
    assert code["DataSource"]["S3DataSource"]["S3Uri"] == "s3://artifacts/code/demo/sourcedir.tar.gz"
    assert json.loads(body["HyperParameters"]["sagemaker_submit_directory"]) == CODE_CHANNEL_SOURCEDIR
    validate("CreateTrainingJob", body)


def test_the_stack_may_require_isolation_for_every_job() -> None:
    stack = StackSecurity(require_network_isolation=True, trusted_repositories=TRUSTED)
    assert training(cfg(algorithm=SCRIPT), stack=stack, **SCRIPT_PLAN)["EnableNetworkIsolation"] is True


def test_a_project_may_encrypt_one_instances_traffic_and_bring_a_key_when_the_stack_has_none() -> None:
    body = training(cfg(security={"encrypt_inter_container_traffic": True, "kms_key": OTHER_KEY}), stack=PLAIN)
    assert body["EnableInterContainerTrafficEncryption"] is True
    assert body["OutputDataConfig"]["KmsKeyId"] == OTHER_KEY
    assert lint_config(cfg(security={"vpc": True}), stack=STACK) == []


def test_security_settings_do_not_change_the_hash_of_configs_without_them() -> None:
    assert cfg().config_hash() == cfg(security={}).config_hash()
    assert cfg().config_hash() != cfg(security={"network_isolation": True}).config_hash()


# --- loosening: refused by the linter, the pipeline and the request builders, naming the field ------------
LOOSENING = [
    ({"security": {"network_isolation": False}}, PLAIN, "security.network_isolation"),
    (
        {"algorithm": SCRIPT, "security": {"network_isolation": False}},
        StackSecurity(require_network_isolation=True, trusted_repositories=TRUSTED),
        "security.network_isolation",
    ),
    (
        {"resources": {"instance_count": 2}, "security": {"encrypt_inter_container_traffic": False}},
        PLAIN,
        "security.encrypt_inter_container_traffic",
    ),
    ({"security": {"kms_key": OTHER_KEY}}, STACK, "security.kms_key"),
    ({"security": {"vpc": False}}, STACK, "security.vpc"),
    ({"security": {"vpc": True}}, PLAIN, "security.vpc"),
]


@pytest.mark.parametrize(("fields", "stack", "field"), LOOSENING)
def test_a_config_that_loosens_is_refused_naming_the_field(fields: dict, stack: StackSecurity, field: str) -> None:
    config = cfg(**fields)
    # the linter (`trainops config validate`)
    errors = [f for f in lint_config(config, stack=stack) if f.severity == "error"]
    assert [(f.id, f.field) for f in errors] == [("CONF-E010", field)]
    # the request builder, behind the linter
    with pytest.raises(ConfigInvalid) as refused:
        training(config, stack=stack, **(SCRIPT_PLAN if "algorithm" in fields else {}))
    assert refused.value.field == field


def test_script_mode_may_say_network_isolation_false_where_that_is_the_default() -> None:
    assert lint_config(cfg(algorithm=SCRIPT, security={"network_isolation": False}), stack=PLAIN) == []


def test_a_malformed_kms_key_in_a_config_is_refused_by_the_model() -> None:
    with pytest.raises(ConfigInvalid) as refused:
        cfg(security={"kms_key": "alias/mine"})
    assert refused.value.field == "security.kms_key"


# --- trusted images ---------------------------------------------------------------------------------
def container(image: str, **extra: Any):
    return cfg(
        algorithm={
            "name": "container",
            "image_uri": image,
            "metric_definitions": [{"name": "validation:rmse", "regex": "rmse=([0-9.]+)"}],
            **extra,
        },
        problem={"type": "regression", "objective_metric": "validation:rmse", "objective_direction": "Minimize"},
    )


@pytest.mark.parametrize(
    "image",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-r:1",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops/team-a/train@sha256:" + "a" * 64,
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",  # AWS's algorithm registry
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-gpu-py311",  # AWS's framework registry
    ],
)
def test_images_of_trusted_registries_are_accepted(image: str) -> None:
    assert image_trusted(image, PLAIN)
    assert [f for f in lint_config(container(image), stack=PLAIN) if f.id == "CONF-E011"] == []


@pytest.mark.parametrize(
    "image",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1",  # not a trainops repository
        "999999999999.dkr.ecr.us-east-1.amazonaws.com/trainops-r:1",  # another account
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainops-r:1",  # another region
        "683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",  # us-east-1's registry account
        "docker.io/library/python:3.12",
        "python:3.12",
    ],
)
def test_an_image_outside_the_trusted_registries_is_refused_by_lint_and_pipeline(image: str) -> None:
    config = container(image)
    # the linter names the field and the fix
    findings = [f for f in lint_config(config, stack=PLAIN) if f.id == "CONF-E011"]
    assert [f.field for f in findings] == ["algorithm.image_uri"]
    assert "TrustedImageRepositories" in findings[0].fix
    # the pipeline's gate (NormalizeRequest) refuses it before anything starts, with the stack's settings
    settings = Settings(
        DATA_BUCKET, ARTIFACTS_BUCKET, "runs", ROLE_ARN, "us-east-1", trusted_image_repositories=TRUSTED[0]
    )
    with pytest.raises(ConfigInvalid) as refused:
        lint_errors(config, settings)
    assert refused.value.field == "algorithm.image_uri"
    assert "CONF-E011" in str(refused.value)


def test_the_inference_image_is_checked_too() -> None:
    config = container(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-r:1",
        inference_image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1",
    )
    assert [f.field for f in lint_config(config, stack=PLAIN) if f.id == "CONF-E011"] == [
        "algorithm.inference_image_uri"
    ]


def test_the_stack_may_trust_other_repositories() -> None:
    stack = StackSecurity(trusted_repositories=("arn:aws:ecr:us-east-1:111122223333:repository/team-a/*",))
    assert image_trusted("111122223333.dkr.ecr.us-east-1.amazonaws.com/team-a/train:1", stack)
    assert not image_trusted("111122223333.dkr.ecr.us-east-1.amazonaws.com/team-b/train:1", stack)
    assert not image_trusted("123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-r:1", stack)  # replaced


def test_partitions_follow_botocore():
    import re

    import botocore.loaders
    from trainops.security import _partition

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    for part in endpoints["partitions"]:
        for region in part["regions"]:
            assert re.match(part["regionRegex"], region)
            assert _partition(region) == part["partition"], region
