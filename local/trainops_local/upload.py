"""Put a project config where the pipeline reads it, packing a local ``source_dir`` first.

The same path for AWS (``trainops config upload``) and the local cloud (``trainops local run``): the code
folder becomes ``s3://<artifacts>/code/<project>/<hash>/sourcedir.tar.gz``, the config names that URI and
lands at ``s3://<data bucket>/config/<project>.yaml``, where its upload event re-syncs the project's schedule.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from trainops.lint import lint_config

from trainops_local.configfile import ConfigFile, code_key, pack_source_dir, read_config_file

REPO = Path(__file__).resolve().parents[2]


class UploadError(Exception):
    """The upload cannot go ahead; the message says what is missing."""


@dataclass(frozen=True)
class Uploaded:
    project: str
    config_uri: str
    code_uri: str | None

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "config_uri": self.config_uri, "code_uri": self.code_uri}


def upload(found: ConfigFile, *, s3: Any, data_bucket: str, artifacts_bucket: str) -> Uploaded:
    """Pack and upload a local source_dir (if any), then the config naming it."""
    project = found.config.project
    code_uri = None
    if found.source_dir is not None:
        archive = pack_source_dir(found.source_dir, found.dependencies)
        key = code_key(project, archive)
        s3.put_object(Bucket=artifacts_bucket, Key=key, Body=archive)
        code_uri = f"s3://{artifacts_bucket}/{key}"
    key = f"config/{project}.yaml"
    s3.put_object(Bucket=data_bucket, Key=key, Body=found.text_with_source(code_uri))
    return Uploaded(project=project, config_uri=f"s3://{data_bucket}/{key}", code_uri=code_uri)


def default_stack_name(samconfig: Path = REPO / "samconfig.toml") -> str:
    """``stack_name`` of samconfig.toml's default deploy parameters, else ``trainops``."""
    try:
        doc = tomllib.loads(samconfig.read_text())
        return str(doc["default"]["deploy"]["parameters"]["stack_name"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "trainops"


def stack_buckets(cloudformation: Any, stack: str) -> tuple[str, str]:
    """(data bucket, artifacts bucket) from the deployed stack's outputs."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except NoCredentialsError as exc:
        raise UploadError("no AWS credentials: configure a profile (aws configure) or pass --profile") from exc
    except ClientError as exc:
        raise UploadError(f"stack {stack!r} not found in this account and region: {exc}") from exc
    except BotoCoreError as exc:
        raise UploadError(f"cannot reach CloudFormation: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    try:
        return outputs["DataBucketName"], outputs["ArtifactsBucketName"]
    except KeyError as exc:
        raise UploadError(f"stack {stack!r} has no output {exc.args[0]}: is it a trainops stack?") from exc


def upload_to_stack(path: Path, *, stack: str | None, region: str | None, profile: str | None) -> Uploaded:
    """``trainops config upload``: validate, pack, upload to a deployed stack."""
    import boto3

    found = read_config_file(path)
    errors = [f for f in lint_config(found.config) if f.severity == "error"]
    if errors:  # what the pipeline would refuse at its first state is refused before anything is uploaded
        raise UploadError(" ".join(f"[{f.field}] {f.message} ({f.id}). Fix: {f.fix}." for f in errors))
    session = boto3.session.Session(profile_name=profile, region_name=region)
    data, artifacts = stack_buckets(session.client("cloudformation"), stack or default_stack_name())
    try:
        return upload(found, s3=session.client("s3"), data_bucket=data, artifacts_bucket=artifacts)
    except (ClientError, BotoCoreError) as exc:
        raise UploadError(f"upload failed: {exc}") from exc
