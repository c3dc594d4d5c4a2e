"""Instance types and counts (issue 12, items 5 and 6): GPU or CPU images, what each algorithm or framework can run
on, GPU-only settings on CPU instances, and distributed training as the SageMaker Python SDK encodes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from trainops.config import parse_config
from trainops.errors import AlgorithmNotSupported
from trainops.lint import lint_config
from trainops.planning import plan_training
from trainops_local.config_cli import validate_command

from tests.helpers import run_request

SCRIPT = {"name": "script", "entry_point": "train.py", "source_dir": "s3://bkt/code/demo/src.tar.gz"}


def errors(data: dict[str, Any], rule: str = "CONF-E013") -> list[tuple[str, str]]:
    config = parse_config({"project": "demo", **data})
    return [(f.field, f.message) for f in lint_config(config) if f.id == rule]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        # a GPU-only option on a CPU instance
        ({"algorithm": {"name": "xgboost", "hyperparameters": {"tree_method": "gpu_hist"}}},
         "algorithm.hyperparameters.tree_method", "tree_method=gpu_hist needs a GPU"),
        ({"algorithm": {"name": "xgboost", "version": "3.0-5", "hyperparameters": {"device": "cuda:1"}}},
         "algorithm.hyperparameters.device", "device=cuda:1 needs a GPU"),
        ({"algorithm": {"name": "xgboost", "hyperparameters": {"use_dask_gpu_training": True}}},
         "algorithm.hyperparameters.use_dask_gpu_training", "needs a GPU"),
        ({"algorithm": {"name": "xgboost"}, "problem": {"type": "binary", "objective_metric": "validation:auc"},
          "tuning": {"ranges": {"tree_method": {"type": "categorical", "values": ["hist", "gpu_hist"]}}}},
         "tuning.ranges.tree_method", "gpu_hist"),
        # no image for the instance family
        ({"algorithm": {**SCRIPT, "framework": "sklearn"}, "resources": {"instance_type": "ml.g5.xlarge"}},
         "resources.instance_type", "no gpu image"),
        ({"algorithm": {"name": "xgboost", "version": "1.0-1"}, "resources": {"instance_type": "ml.p3.2xlarge"}},
         "resources.instance_type", "no gpu image"),
        ({"algorithm": {**SCRIPT, "framework": "pytorch", "framework_version": "2.5.1"},
          "resources": {"instance_type": "ml.p2.xlarge"}}, "resources.instance_type", "p2 instances"),
        # an algorithm that cannot distribute
        ({"algorithm": {**SCRIPT, "framework": "sklearn"}, "resources": {"instance_count": 2}},
         "resources.instance_count", "scikit-learn trains on one instance"),
    ],
)  # fmt: skip
def test_what_an_instance_cannot_run_is_refused_naming_the_field(data: dict[str, Any], field: str, words: str) -> None:
    # Given a config asking for something the instance cannot run; When it is linted; Then the error names the field
    found = errors(data)
    assert [f for f, _ in found] == [field], found
    assert words in found[0][1]


@pytest.mark.parametrize(
    "data",
    [
        {"algorithm": {"name": "xgboost", "hyperparameters": {"tree_method": "gpu_hist"}},
         "resources": {"instance_type": "ml.g5.xlarge"}},
        {"algorithm": {"name": "xgboost", "hyperparameters": {"tree_method": "hist", "device": "cpu"}}},
        {"algorithm": {"name": "xgboost"}, "resources": {"instance_type": "ml.m5.xlarge", "instance_count": 4},
         "data": {"channels": {"train": {"distribution": "ShardedByS3Key"}}}},
        {"algorithm": {"name": "linear-learner"}, "resources": {"instance_type": "ml.p3.2xlarge", "instance_count": 2}},
        {"algorithm": {"name": "linear-learner"}, "resources": {"instance_type": "ml.c5.xlarge", "instance_count": 2}},
        {"algorithm": {**SCRIPT, "framework": "pytorch", "framework_version": "2.5.1"},
         "resources": {"instance_type": "ml.g5.xlarge", "instance_count": 2}},
        {"algorithm": {**SCRIPT, "framework": "xgboost", "framework_version": "1.7-1"},
         "resources": {"instance_type": "ml.m5.xlarge", "instance_count": 2}},
    ],
)  # fmt: skip
def test_what_the_algorithm_supports_passes(data: dict[str, Any]) -> None:
    assert errors(data) == []


def test_the_pipeline_refuses_the_same_with_the_same_words() -> None:
    # Given a GPU-only option on a CPU instance
    config = parse_config(
        {"project": "demo", "algorithm": {"name": "xgboost", "hyperparameters": {"tree_method": "gpu_hist"}}}
    )
    [(field, message)] = [(f.field, f.message) for f in lint_config(config) if f.id == "CONF-E013"]
    # When SelectAlgorithm plans the run; Then it raises the linter's refusal
    with pytest.raises(AlgorithmNotSupported) as refused:
        plan_training(run_request(config), config, region="us-east-1", s3=None)
    assert refused.value.field == field and message in str(refused.value)


def test_several_instances_for_an_algorithm_that_cannot_distribute_are_refused_by_validate_and_the_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given scikit-learn (its container trains on one instance) asked to train on two
    data = {"project": "demo", "algorithm": {**SCRIPT, "framework": "sklearn"}, "resources": {"instance_count": 2}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    # When `trainops config validate` checks it; Then it is an error naming resources.instance_count, with the fix
    assert validate_command(str(path), strict=False, as_json=True) == 2
    [finding] = json.loads(capsys.readouterr().out)
    assert (finding["id"], finding["field"]) == ("CONF-E013", "resources.instance_count")
    assert "set instance_count: 1" in finding["fix"]
    # and the pipeline (SelectAlgorithm) refuses the run with the same field
    config = parse_config(data)
    with pytest.raises(AlgorithmNotSupported) as refused:
        plan_training(run_request(config), config, region="us-east-1", s3=None)
    assert refused.value.field == "resources.instance_count"
    assert "scikit-learn trains on one instance" in str(refused.value)


@pytest.mark.parametrize(
    ("framework", "version", "instance", "gpu"),
    [
        ("pytorch", "2.5.1", "ml.p4d.24xlarge", True),
        ("pytorch", "2.5.1", "ml.g6.xlarge", True),
        ("pytorch", "2.5.1", "ml.c5.xlarge", False),
        ("tensorflow", "2.16.2", "ml.p5.48xlarge", True),
        ("tensorflow", "2.16.2", "ml.m5.large", False),
    ],
)
def test_script_mode_takes_the_gpu_image_on_gpu_instance_families(
    framework: str, version: str, instance: str, gpu: bool
) -> None:
    config = parse_config(
        {
            "project": "demo",
            "algorithm": {**SCRIPT, "framework": framework, "framework_version": version},
            "resources": {"instance_type": instance},
        }
    )
    plan = plan_training(run_request(config), config, region="us-east-1", s3=None)
    assert plan.image is not None
    assert ("-gpu-" in plan.image) is gpu and ("-cpu-" in plan.image) is not gpu


PYTORCH = {**SCRIPT, "framework": "pytorch", "framework_version": "2.5.1"}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"distribution": "torch_distributed", "instance_type": "ml.g5.12xlarge", "instance_count": 2},
         {"sagemaker_torch_distributed_enabled": "true", "sagemaker_instance_type": '"ml.g5.12xlarge"'}),
        ({"distribution": "model_parallel", "instance_type": "ml.p4d.24xlarge", "instance_count": 2,
          "model_parallel": {"hybrid_shard_degree": 16, "tensor_parallel_degree": 2}},
         {"mp_parameters": '{"hybrid_shard_degree": 16, "tensor_parallel_degree": 2}',
          "sagemaker_distributed_dataparallel_enabled": "false", "sagemaker_instance_type": '"ml.p4d.24xlarge"',
          "sagemaker_torch_distributed_enabled": "true"}),
    ],
)  # fmt: skip
def test_distribution_is_encoded_as_the_sdk_encodes_it(resources: dict[str, Any], expected: dict[str, str]) -> None:
    # Given a PyTorch script with a distribution the SDK supports
    config = parse_config({"project": "demo", "algorithm": PYTORCH, "resources": resources})
    assert [f for f in lint_config(config) if f.severity == "error" and f.field.startswith("resources")] == []
    # When SelectAlgorithm plans it; Then the hyperparameters are the SDK's, from the project's settings
    plan = plan_training(run_request(config), config, region="us-east-1", s3=None)
    assert {k: v for k, v in plan.hyperparameters.items() if k in expected} == expected
    assert "sagemaker_mpi_enabled" not in plan.hyperparameters


@pytest.mark.parametrize(
    ("algorithm", "resources", "field"),
    [
        (PYTORCH, {"distribution": "torch_distributed", "instance_type": "ml.c5.xlarge"}, "resources.instance_type"),
        ({**PYTORCH, "framework_version": "2.2.0"}, {"distribution": "data_parallel", "instance_type": "ml.g5.xlarge"},
         "resources.instance_type"),
        (PYTORCH, {"distribution": "data_parallel", "instance_type": "ml.p4d.24xlarge"}, "algorithm.framework_version"),
        (PYTORCH, {"distribution": "model_parallel", "instance_type": "ml.g5.48xlarge"}, "resources.instance_type"),
        (PYTORCH, {"distribution": "model_parallel", "instance_type": "ml.p5.48xlarge",
                   "model_parallel": {"hybrid_shard_degree": 16}}, "resources.model_parallel.hybrid_shard_degree"),
        (PYTORCH, {"model_parallel": {"tensor_parallel_degree": 2}}, "resources.model_parallel"),
        ({**SCRIPT, "framework": "sklearn"}, {"distribution": "torch_distributed"}, "algorithm.framework"),
    ],
)  # fmt: skip
def test_distribution_only_where_supported(algorithm: dict[str, Any], resources: dict[str, Any], field: str) -> None:
    assert field in [f for f, _ in errors({"algorithm": algorithm, "resources": resources}, "CONF-E009")]
