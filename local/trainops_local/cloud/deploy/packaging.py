"""Packaging: local ``CodeUri``/``ContentUri`` directories zipped into a moto bucket, local ASL files inlined."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3

from .model import DeployError

ARTIFACT_BUCKET_PREFIX = "trainops-local-artifacts"


def _zip_dir(directory: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(directory.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                info = zipfile.ZipInfo(str(file.relative_to(directory)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, file.read_bytes())
    return buf.getvalue()


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


class _Packager:
    def __init__(self, base_dir: Path, stack_name: str, region: str, account_id: str) -> None:
        self.base_dir = base_dir
        self.stack_name = stack_name
        self.bucket = f"{ARTIFACT_BUCKET_PREFIX}-{account_id}-{region}"
        self.s3 = boto3.client("s3", region_name=region)
        self.region = region
        self.code_dirs: dict[str, Path] = {}
        self._bucket_ready = False

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        with contextlib.suppress(self.s3.exceptions.BucketAlreadyOwnedByYou):
            self.s3.create_bucket(**kwargs)
        self._bucket_ready = True

    def upload_dir(self, logical_id: str, uri: str) -> str:
        directory = (self.base_dir / uri).resolve()
        if not directory.is_dir():
            raise DeployError(f"{logical_id}: code location {uri!r} ({directory}) is not a directory")
        data = _zip_dir(directory)
        key = f"{self.stack_name}/{logical_id}/{hashlib.sha256(data).hexdigest()[:20]}.zip"
        self._ensure_bucket()
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def package(self, template: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0912  (one branch per template construct (intrinsics, resource kinds), as the spec lists them)
        globals_fn = (template.get("Globals") or {}).get("Function") or {}
        for logical_id, res in (template.get("Resources") or {}).items():
            rtype = res.get("Type")
            props = res.setdefault("Properties", {})
            if rtype == "AWS::Serverless::Function":
                if props.get("InlineCode") is not None or props.get("PackageType") == "Image":
                    continue
                uri = props.get("CodeUri", globals_fn.get("CodeUri"))
                if uri is None:
                    raise DeployError(f"{logical_id}: no CodeUri")
                if _is_local(uri):
                    self.code_dirs[logical_id] = (self.base_dir / uri).resolve()
                    props["CodeUri"] = self.upload_dir(logical_id, uri)
            elif rtype == "AWS::Serverless::LayerVersion":
                uri = props.get("ContentUri")
                if _is_local(uri):
                    props["ContentUri"] = self.upload_dir(logical_id, uri)
            elif rtype == "AWS::Lambda::Function":
                code = props.get("Code")
                if _is_local(code):
                    self.code_dirs[logical_id] = (self.base_dir / code).resolve()
                    bucket, key = self.upload_dir(logical_id, code)[5:].split("/", 1)
                    props["Code"] = {"S3Bucket": bucket, "S3Key": key}
            elif rtype == "AWS::Lambda::LayerVersion":
                content = props.get("Content")
                if _is_local(content):
                    bucket, key = self.upload_dir(logical_id, content)[5:].split("/", 1)
                    props["Content"] = {"S3Bucket": bucket, "S3Key": key}
            elif rtype == "AWS::Serverless::StateMachine":
                uri = props.get("DefinitionUri")
                if _is_local(uri):
                    props.pop("DefinitionUri")
                    props["Definition"] = _read_definition(self.base_dir / uri)
            elif rtype == "AWS::StepFunctions::StateMachine":
                uri = props.get("DefinitionS3Location")
                if _is_local(uri):
                    props.pop("DefinitionS3Location")
                    props["Definition"] = _read_definition(self.base_dir / uri)
        return template


def _read_definition(path: Path) -> Any:
    if not path.is_file():
        raise DeployError(f"state machine definition {path} not found")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)
