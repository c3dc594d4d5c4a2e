"""`trainops runs/models/start` against a deployed stack: what is missing is named, never a botocore traceback."""

from __future__ import annotations

import json

import boto3
import pytest
from trainops_local.ops import OpsError, aws_stack


def test_no_credentials_is_named(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(OpsError, match="no AWS credentials"):
        aws_stack("trainops", region="us-east-1", profile=None)


def test_an_unknown_profile_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(OpsError, match="profile"):
        aws_stack("trainops", region="us-east-1", profile="nope")


def test_a_missing_or_foreign_stack_is_named(aws):
    with pytest.raises(OpsError, match="stack 'trainops' not found in us-east-1"):
        aws_stack("trainops", region="us-east-1", profile=None)
    template = {"Resources": {"B": {"Type": "AWS::S3::Bucket"}}, "Outputs": {"X": {"Value": {"Ref": "B"}}}}
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="other", TemplateBody=json.dumps(template)
    )
    with pytest.raises(OpsError, match="is it a trainops stack"):
        aws_stack("other", region="us-east-1", profile=None)
