"""`trainops config upload`: a local source_dir is packed into the artifacts bucket and the config names it."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from trainops.config import load_config_text
from trainops_local.configfile import pack_source_dir
from trainops_local.upload import UploadError, upload_to_stack

STACK = {
    "Resources": {"Data": {"Type": "AWS::S3::Bucket"}, "Artifacts": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {
        "DataBucketName": {"Value": {"Ref": "Data"}},
        "ArtifactsBucketName": {"Value": {"Ref": "Artifacts"}},
    },
}


@pytest.fixture
def stack(aws: None) -> dict[str, str]:
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="trainops", TemplateBody=json.dumps(STACK))
    outputs = cfn.describe_stacks(StackName="trainops")["Stacks"][0]["Outputs"]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir(parents=True)
    (tmp_path / "src" / "train.py").write_text("import helpers\n")
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("X = 1\n")
    config = tmp_path / "churn.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "project": "churn",
                "algorithm": {
                    "name": "script",
                    "framework": "sklearn",
                    "entry_point": "train.py",
                    "source_dir": "src",
                    "dependencies": ["helpers"],
                },
            }
        )
    )
    return config


def test_upload_packs_the_code_and_points_the_config_at_it(tmp_path: Path, stack: dict[str, str]) -> None:
    s3: Any = boto3.client("s3", region_name="us-east-1")
    # When a config with a local source_dir is uploaded to the stack
    done = upload_to_stack(project(tmp_path), stack="trainops", region="us-east-1", profile=None)
    # Then the code is at code/<project>/<hash>/sourcedir.tar.gz: files at the root, dependencies beside them
    assert done.code_uri is not None
    assert done.code_uri.startswith(f"s3://{stack['ArtifactsBucketName']}/code/churn/")
    key = done.code_uri.split("/", 3)[3]
    body = s3.get_object(Bucket=stack["ArtifactsBucketName"], Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert sorted(tar.getnames()) == ["helpers/__init__.py", "train.py"]
    # and the uploaded config names it, so the pipeline accepts it
    text = s3.get_object(Bucket=stack["DataBucketName"], Key="config/churn.yaml")["Body"].read()
    assert load_config_text(text).algorithm.source_dir == done.code_uri
    # and the same code uploads to the same key
    again = upload_to_stack(project(tmp_path / "again"), stack="trainops", region="us-east-1", profile=None)
    assert again.code_uri == done.code_uri


def test_packing_is_deterministic(tmp_path: Path) -> None:
    project(tmp_path)
    assert pack_source_dir(tmp_path / "src") == pack_source_dir(tmp_path / "src")


def test_a_missing_stack_is_named(tmp_path: Path, aws: None) -> None:
    with pytest.raises(UploadError, match="stack 'nope' not found"):
        upload_to_stack(project(tmp_path), stack="nope", region="us-east-1", profile=None)


def test_a_config_the_pipeline_would_refuse_is_not_uploaded(tmp_path: Path, stack: dict[str, str]) -> None:
    config = tmp_path / "churn.yaml"
    config.write_text(yaml.safe_dump({"project": "churn", "algorithm": {"hyperparameters": {"eta": 5}}}))
    with pytest.raises(UploadError, match=r"\[algorithm.hyperparameters.eta\]"):
        upload_to_stack(config, stack="trainops", region="us-east-1", profile=None)
    s3: Any = boto3.client("s3", region_name="us-east-1")
    assert "Contents" not in s3.list_objects_v2(Bucket=stack["DataBucketName"])
