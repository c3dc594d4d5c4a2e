"""Deploy a SAM template into the embedded moto: package, transform offline, create every resource.

The same ``template.yaml`` that ``sam deploy`` ships is the only definition of every resource:

1. **Package** -- each local ``CodeUri``/``ContentUri`` directory is zipped into a moto bucket and the URI
   rewritten (the SAM translator needs S3 locations); the function's logical id -> local directory is kept
   for the in-process Lambda runner. A local ``DefinitionUri`` (ASL file) is read and inlined as
   ``Definition``.
2. **Transform** -- ``samtranslator.translator.transform.transform`` turns SAM into CloudFormation offline.
3. **Create** -- a small CloudFormation engine walks the resources in dependency order (``Ref``,
   ``Fn::GetAtt``, ``Fn::Sub`` references and ``DependsOn``), resolves the intrinsics (``Ref``,
   ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If``, ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``,
   ``Fn::Base64``, ``Fn::GetAZs``, ``Fn::Equals/And/Or/Not`` in ``Conditions``; ``Fn::ImportValue`` is not
   supported) and creates each resource through boto3 against moto -- so every call is strictly validated,
   and the state machine lands in moto's *executing* Step Functions backend with its
   ``DefinitionSubstitutions`` applied. This avoids moto ``create_stack``'s gaps (state machines in the
   non-executing backend without substitutions, bucket EventBridge setting ignored, Lambda ``Layers``
   dropped, ``AWS::SageMaker::ModelPackageGroup`` silently skipped).

Resource types without a creator fail loudly with the type name, except the ones listed in
:data:`NOOP_TYPES` (recorded, with the reason, in :attr:`StackOutputs.noops`). IAM is created but, as in
moto by default, not enforced.
"""

from __future__ import annotations

import base64
import contextlib
import graphlib
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.model import ListShape, MapShape, Shape, StructureShape

__all__ = [
    "NOOP_TYPES",
    "DeployError",
    "PhysicalResource",
    "StackOutputs",
    "deploy",
    "load_template",
]

ARTIFACT_BUCKET_PREFIX = "trainops-local-artifacts"

NOOP_TYPES: dict[str, str] = {
    "AWS::CloudWatch::Dashboard": "dashboards have no local effect",
    "AWS::Lambda::Url": "function URLs are not served locally",
    "AWS::CloudFormation::WaitConditionHandle": "no-op in CloudFormation too",
    "AWS::SQS::QueuePolicy": "resource policies are recorded, not enforced (moto does not enforce them)",
    "AWS::SNS::TopicPolicy": "resource policies are recorded, not enforced (moto does not enforce them)",
}


class DeployError(RuntimeError):
    """The template cannot be deployed locally (unsupported type, bad reference, failed create)."""


@dataclass
class PhysicalResource:
    """A created resource: its type, the value ``Ref`` returns and its ``Fn::GetAtt`` attributes."""

    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackOutputs:
    """The result of :func:`deploy`: resolved ``Outputs`` plus what was created."""

    stack_name: str
    region: str
    account_id: str
    outputs: dict[str, Any]
    resources: dict[str, PhysicalResource]
    parameters: dict[str, Any]
    functions: dict[str, Path]  # function name -> local code directory
    layers: dict[str, list[str]]  # function name -> layer version ARNs
    noops: dict[str, str]  # logical id -> reason
    cloudformation: dict[str, Any] = field(repr=False, default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.outputs[key]

    def physical_id(self, logical_id: str) -> str:
        """The physical id (``Ref`` value) of a logical resource."""
        return self.resources[logical_id].physical_id


# ----------------------------------------------------------------------------------------- template I/O


def load_template(path: Path) -> dict[str, Any]:
    """Read a (SAM) template in YAML or JSON, short-form tags (``!Ref``, ``!Sub`` ...) included."""
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches or template is None:
        raise DeployError(f"cannot parse {path}: {'; '.join(str(m) for m in matches or [])}")
    return json.loads(json.dumps(template, default=str))


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


# ----------------------------------------------------------------------------------------- intrinsics

_NO_VALUE = object()
_SUB_RE = re.compile(r"\$\{([^}]*)\}")


def _refs(node: Any, out: set[str]) -> None:
    """Collect the logical ids (and parameters) a node references."""
    if isinstance(node, dict):
        if len(node) == 1:
            (key, val), *_ = node.items()
            if key == "Ref" and isinstance(val, str):
                out.add(val)
            elif key == "Fn::GetAtt":
                target = val[0] if isinstance(val, list) else str(val).split(".", 1)[0]
                out.add(target)
            elif key == "Fn::Sub":
                text = val[0] if isinstance(val, list) else val
                local = set(val[1]) if isinstance(val, list) and len(val) > 1 else set()
                for m in _SUB_RE.finditer(text if isinstance(text, str) else ""):
                    name = m.group(1)
                    if not name.startswith("!") and name.split(".", 1)[0] not in local:
                        out.add(name.split(".", 1)[0])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


class _Resolver:
    def __init__(
        self,
        params: dict[str, Any],
        pseudo: dict[str, Any],
        mappings: dict[str, Any],
        conditions: dict[str, bool],
        resources: dict[str, PhysicalResource],
        region: str,
    ) -> None:
        self.params = params
        self.pseudo = pseudo
        self.mappings = mappings
        self.conditions = conditions
        self.resources = resources
        self.region = region

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return self.resources[name].physical_id
        raise DeployError(f"unresolved Ref {name!r}")

    def getatt(self, logical_id: str, attr: str) -> Any:
        res = self.resources.get(logical_id)
        if res is None:
            raise DeployError(f"Fn::GetAtt on unknown or not-yet-created resource {logical_id!r}")
        if attr not in res.attributes:
            raise DeployError(f"Fn::GetAtt {logical_id}.{attr}: attribute not available for {res.type} locally")
        return res.attributes[attr]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(v) for v in node]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, val), *_ = node.items()
            fn = _INTRINSICS.get(key)
            if fn is not None:
                return fn(self, val)
        out = {}
        for k, v in node.items():
            r = self.resolve(v)
            if r is not _NO_VALUE:
                out[k] = r
        return out

    def sub(self, val: Any) -> str:
        if isinstance(val, list):
            text, variables = val[0], {k: self.resolve(v) for k, v in (val[1] if len(val) > 1 else {}).items()}
        else:
            text, variables = val, {}

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                logical, attr = name.split(".", 1)
                return str(self.getatt(logical, attr))
            return str(self.ref(name))

        return _SUB_RE.sub(repl, text)

    def condition(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (key, val), *_ = node.items()
            if key == "Fn::Equals":
                a, b = (self.resolve(v) for v in val)
                return str(a) == str(b)
            if key == "Fn::And":
                return all(self.condition(v) for v in val)
            if key == "Fn::Or":
                return any(self.condition(v) for v in val)
            if key == "Fn::Not":
                return not self.condition(val[0])
            if key == "Condition":
                return self.conditions[val]
        if isinstance(node, bool):
            return node
        raise DeployError(f"unsupported condition expression {node!r}")


def _fn_getatt(r: _Resolver, val: Any) -> Any:
    if isinstance(val, str):
        val = val.split(".", 1)
    return r.getatt(val[0], r.resolve(val[1]))


def _fn_if(r: _Resolver, val: Any) -> Any:
    name, yes, no = val
    return r.resolve(yes if r.conditions[name] else no)


def _fn_select(r: _Resolver, val: Any) -> Any:
    index, items = r.resolve(val[0]), r.resolve(val[1])
    return items[int(index)]


def _fn_split(r: _Resolver, val: Any) -> Any:
    sep, text = val[0], r.resolve(val[1])
    return str(text).split(sep)


def _fn_join(r: _Resolver, val: Any) -> Any:
    sep, items = val[0], r.resolve(val[1])
    return sep.join(str(v) for v in items)


def _fn_find_in_map(r: _Resolver, val: Any) -> Any:
    m, k1, k2 = (r.resolve(v) for v in val[:3])
    return r.mappings[m][k1][k2]


def _fn_import(_r: _Resolver, val: Any) -> Any:
    raise DeployError(f"Fn::ImportValue ({val!r}) is not supported locally: deploy one self-contained stack")


def _fn_tojson(r: _Resolver, val: Any) -> Any:
    return json.dumps(r.resolve(val), separators=(",", ":"))


_INTRINSICS: dict[str, Callable[[_Resolver, Any], Any]] = {
    "Ref": lambda r, v: r.ref(v),
    "Fn::GetAtt": _fn_getatt,
    "Fn::Sub": lambda r, v: r.sub(v),
    "Fn::Join": _fn_join,
    "Fn::If": _fn_if,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Base64": lambda r, v: base64.b64encode(str(r.resolve(v)).encode()).decode(),
    "Fn::GetAZs": lambda r, _v: [f"{r.region}{s}" for s in "abc"],
    "Fn::ImportValue": _fn_import,
    "Fn::ToJsonString": _fn_tojson,
    "Condition": lambda r, v: r.conditions[v],
}


# ----------------------------------------------------------------------------------------- boto helpers


def _coerce(shape: Shape | None, value: Any) -> Any:  # noqa: PLR0911  (one branch per template construct (intrinsics, resource kinds), as the spec lists them)
    """Coerce CloudFormation's stringly-typed values (``"10"``, ``"true"``) to the API shape's types."""
    if shape is None or value is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {k: _coerce(shape.members.get(k), v) for k, v in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_coerce(shape.member, v) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _coerce(shape.value, v) for k, v in value.items()}
    t = shape.type_name
    if t in ("integer", "long") and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if t in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if t == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if t == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _call(client: Any, operation: str, **params: Any) -> Any:
    """Call ``client.<operation>`` with params coerced to the operation's input shape (None dropped)."""
    params = {k: v for k, v in params.items() if v is not None}
    op_name = client.meta.method_to_api_mapping[operation]
    shape = client.meta.service_model.operation_model(op_name).input_shape
    return getattr(client, operation)(**_coerce(shape, params))


def _tags_list(tags: Any, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    if not tags:
        return []
    if isinstance(tags, dict):
        return [{key: k, value: str(v)} for k, v in tags.items()]
    return [{key: t["Key"], value: str(t["Value"])} for t in tags]


def _tags_dict(tags: Any) -> dict[str, str]:
    if not tags:
        return {}
    if isinstance(tags, dict):
        return {k: str(v) for k, v in tags.items()}
    return {t["Key"]: str(t["Value"]) for t in tags}


def _camel(node: Any) -> Any:
    """CloudFormation PascalCase keys -> Step Functions API camelCase keys."""
    if isinstance(node, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_camel(v) for v in node]
    return node


# ----------------------------------------------------------------------------------------- the engine


class _Engine:
    def __init__(self, stack_name: str, region: str, account_id: str, code_dirs: dict[str, Path]) -> None:
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.code_dirs = code_dirs
        self.functions: dict[str, Path] = {}
        self.layers: dict[str, list[str]] = {}
        self.noops: dict[str, str] = {}
        self.managed_policies: dict[str, list[str]] = {}  # role name -> AWS managed policy ARNs (recorded)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def name(self, logical_id: str, max_len: int = 64, lower: bool = False) -> str:
        """CloudFormation-style generated name: ``<stack>-<logical>-<SUFFIX>``, deterministic locally."""
        suffix = hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
        head = f"{self.stack_name}-{logical_id}"
        head = head[: max_len - len(suffix) - 1]
        name = f"{head}-{suffix}"
        return name.lower() if lower else name

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account_id}:{resource}"

    # -- creators: (logical_id, props) -> PhysicalResource ------------------------------------------
    def create(self, logical_id: str, rtype: str, props: dict[str, Any]) -> PhysicalResource:
        if rtype in NOOP_TYPES:
            self.noops[logical_id] = f"{rtype}: {NOOP_TYPES[rtype]}"
            return PhysicalResource(logical_id, rtype, f"{self.stack_name}-{logical_id}", {})
        creator = getattr(self, "_" + rtype.replace("::", "_"), None)
        if creator is None:
            raise DeployError(f"{logical_id}: resource type {rtype} is not supported by the local cloud")
        try:
            return creator(logical_id, props)
        except DeployError:
            raise
        except Exception as exc:
            raise DeployError(f"{logical_id} ({rtype}): {type(exc).__name__}: {exc}") from exc

    def _AWS_S3_Bucket(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        s3 = self.client("s3")
        name = p.get("BucketName") or self.name(lid, 63, lower=True)
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**kwargs)
        if p.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=p["VersioningConfiguration"])
        if p.get("Tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags_list(p["Tags"])})
        if p.get("BucketEncryption"):
            rules = [
                {
                    ("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                    for k, v in r.items()
                }
                for r in p["BucketEncryption"].get("ServerSideEncryptionConfiguration", [])
            ]
            _call(s3, "put_bucket_encryption", Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if p.get("PublicAccessBlockConfiguration"):
            _call(
                s3,
                "put_public_access_block",
                Bucket=name,
                PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"],
            )
        if p.get("LifecycleConfiguration"):
            self._bucket_lifecycle(name, p["LifecycleConfiguration"])
        notif = p.get("NotificationConfiguration") or {}
        if notif:
            conf: dict[str, Any] = {}
            if (notif.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled") in (True, "true", "True"):
                conf["EventBridgeConfiguration"] = {}
            for cfn_key, api_key, arn_cfn, arn_api in (
                ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
                ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
                ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
            ):
                items = []
                for item in notif.get(cfn_key) or []:
                    entry: dict[str, Any] = {arn_api: item[arn_cfn], "Events": [item["Event"]]}
                    if item.get("Filter"):
                        rules = item["Filter"].get("S3Key", {}).get("Rules", [])
                        entry["Filter"] = {"Key": {"FilterRules": rules}}
                    items.append(entry)
                if items:
                    conf[api_key] = items
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=conf)
        attrs = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{self.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{self.region}.amazonaws.com",
        }
        return PhysicalResource(lid, "AWS::S3::Bucket", name, attrs)

    def _bucket_lifecycle(self, bucket: str, conf: dict[str, Any]) -> None:
        rules = []
        for rule in conf.get("Rules", []):
            api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
            api["Filter"] = {"Prefix": rule.get("Prefix", "")}
            if "ExpirationInDays" in rule:
                api["Expiration"] = {"Days": rule["ExpirationInDays"]}
            if "NoncurrentVersionExpirationInDays" in rule:
                api["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
            if "NoncurrentVersionExpiration" in rule:
                api["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
            if "AbortIncompleteMultipartUpload" in rule:
                api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
            rules.append(api)
        _call(
            self.client("s3"),
            "put_bucket_lifecycle_configuration",
            Bucket=bucket,
            LifecycleConfiguration={"Rules": rules},
        )

    def _AWS_S3_BucketPolicy(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        policy = p["PolicyDocument"]
        self.client("s3").put_bucket_policy(
            Bucket=p["Bucket"], Policy=policy if isinstance(policy, str) else json.dumps(policy)
        )
        return PhysicalResource(lid, "AWS::S3::BucketPolicy", p["Bucket"], {})

    def _AWS_DynamoDB_Table(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        ddb = self.client("dynamodb")
        name = p.get("TableName") or self.name(lid, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": p["KeySchema"],
            "AttributeDefinitions": p["AttributeDefinitions"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        for key in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
            if p.get(key):
                kwargs[key] = p[key]
        if p.get("DeletionProtectionEnabled") is not None:
            kwargs["DeletionProtectionEnabled"] = p["DeletionProtectionEnabled"]
        if p.get("SSESpecification"):
            sse = dict(p["SSESpecification"])
            sse["Enabled"] = sse.pop("SSEEnabled", True)
            kwargs["SSESpecification"] = sse
        if p.get("Tags"):
            kwargs["Tags"] = _tags_list(p["Tags"])
        desc = _call(ddb, "create_table", **kwargs)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled") in (True, "true"):
            _call(ddb, "update_time_to_live", TableName=name, TimeToLiveSpecification=ttl)
        pitr = p.get("PointInTimeRecoverySpecification")
        if pitr:
            _call(ddb, "update_continuous_backups", TableName=name, PointInTimeRecoverySpecification=pitr)
        attrs = {"Arn": desc["TableArn"]}
        if desc.get("LatestStreamArn"):
            attrs["StreamArn"] = desc["LatestStreamArn"]
        return PhysicalResource(lid, "AWS::DynamoDB::Table", name, attrs)

    def _AWS_IAM_Role(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        iam = self.client("iam")
        name = p.get("RoleName") or self.name(lid, 64)
        doc = p["AssumeRolePolicyDocument"]
        role = _call(
            iam,
            "create_role",
            RoleName=name,
            Path=p.get("Path"),
            AssumeRolePolicyDocument=doc if isinstance(doc, str) else json.dumps(doc),
            Description=p.get("Description"),
            MaxSessionDuration=p.get("MaxSessionDuration"),
            PermissionsBoundary=p.get("PermissionsBoundary"),
            Tags=_tags_list(p.get("Tags")) or None,
        )["Role"]
        for arn in p.get("ManagedPolicyArns") or []:
            if str(arn).startswith("arn:aws:iam::aws:policy/"):
                # moto loads AWS managed policies only on request (~1.3 s): recorded, not attached, so IAM enforcement
                # (iam_enforcement) does not see them (docs/security.md: logs are captured, not written via the API)
                self.managed_policies.setdefault(name, []).append(arn)
                continue
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        for pol in p.get("Policies") or []:
            iam.put_role_policy(
                RoleName=name, PolicyName=pol["PolicyName"], PolicyDocument=_policy(pol["PolicyDocument"])
            )
        return PhysicalResource(lid, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _AWS_IAM_Policy(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        iam = self.client("iam")
        doc = _policy(p["PolicyDocument"])
        for role in p.get("Roles") or []:
            iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=doc)
        return PhysicalResource(lid, "AWS::IAM::Policy", self.name(lid), {})

    def _AWS_IAM_ManagedPolicy(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        iam = self.client("iam")
        name = p.get("ManagedPolicyName") or self.name(lid, 128)
        arn = _call(
            iam,
            "create_policy",
            PolicyName=name,
            Path=p.get("Path"),
            Description=p.get("Description"),
            PolicyDocument=_policy(p["PolicyDocument"]),
        )["Policy"]["Arn"]
        for role in p.get("Roles") or []:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        return PhysicalResource(lid, "AWS::IAM::ManagedPolicy", arn, {"PolicyArn": arn})

    def _AWS_Lambda_LayerVersion(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        resp = _call(
            self.client("lambda"),
            "publish_layer_version",
            LayerName=p.get("LayerName") or lid,
            Description=p.get("Description"),
            Content=p["Content"],
            CompatibleRuntimes=p.get("CompatibleRuntimes"),
            CompatibleArchitectures=p.get("CompatibleArchitectures"),
            LicenseInfo=p.get("LicenseInfo"),
        )
        arn = resp["LayerVersionArn"]
        return PhysicalResource(lid, "AWS::Lambda::LayerVersion", arn, {"LayerVersionArn": arn})

    def _AWS_Lambda_Function(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        lam = self.client("lambda")
        name = p.get("FunctionName") or self.name(lid, 64)
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Role": p["Role"],
            "Code": p["Code"],
            "Runtime": p.get("Runtime"),
            "Handler": p.get("Handler"),
            "Timeout": p.get("Timeout"),
            "MemorySize": p.get("MemorySize"),
            "Description": p.get("Description"),
            "Environment": p.get("Environment"),
            "Layers": p.get("Layers") or None,
            "Architectures": p.get("Architectures"),
            "TracingConfig": p.get("TracingConfig"),
            "EphemeralStorage": p.get("EphemeralStorage"),
            "DeadLetterConfig": p.get("DeadLetterConfig"),
            "LoggingConfig": p.get("LoggingConfig"),
            "PackageType": p.get("PackageType"),
            "KMSKeyArn": p.get("KmsKeyArn"),
            "Tags": _tags_dict(p.get("Tags")) or None,
        }
        if "ZipFile" in kwargs["Code"]:
            kwargs["Code"] = {"ZipFile": _inline_zip(kwargs["Code"]["ZipFile"], str(p.get("Handler", "index.handler")))}
        fn = _call(lam, "create_function", **kwargs)
        if p.get("ReservedConcurrentExecutions") is not None:
            _call(
                lam,
                "put_function_concurrency",
                FunctionName=name,
                ReservedConcurrentExecutions=p["ReservedConcurrentExecutions"],
            )
        if lid in self.code_dirs:
            self.functions[name] = self.code_dirs[lid]
        self.layers[name] = list(p.get("Layers") or [])
        return PhysicalResource(lid, "AWS::Lambda::Function", name, {"Arn": fn["FunctionArn"]})

    def _AWS_Lambda_Permission(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        _call(
            self.client("lambda"),
            "add_permission",
            FunctionName=p["FunctionName"],
            StatementId=lid,
            Action=p["Action"],
            Principal=p["Principal"],
            SourceArn=p.get("SourceArn"),
            SourceAccount=p.get("SourceAccount"),
        )
        return PhysicalResource(lid, "AWS::Lambda::Permission", lid, {})

    def _AWS_Lambda_Version(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        resp = _call(
            self.client("lambda"), "publish_version", FunctionName=p["FunctionName"], Description=p.get("Description")
        )
        return PhysicalResource(lid, "AWS::Lambda::Version", resp["FunctionArn"], {"Version": resp["Version"]})

    def _AWS_Lambda_Alias(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        resp = _call(
            self.client("lambda"),
            "create_alias",
            FunctionName=p["FunctionName"],
            Name=p["Name"],
            FunctionVersion=p["FunctionVersion"],
            Description=p.get("Description"),
        )
        return PhysicalResource(lid, "AWS::Lambda::Alias", resp["AliasArn"], {})

    def _AWS_Lambda_EventInvokeConfig(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        _call(
            self.client("lambda"),
            "put_function_event_invoke_config",
            FunctionName=p["FunctionName"],
            Qualifier=p.get("Qualifier"),
            MaximumRetryAttempts=p.get("MaximumRetryAttempts"),
            MaximumEventAgeInSeconds=p.get("MaximumEventAgeInSeconds"),
            DestinationConfig=p.get("DestinationConfig"),
        )
        return PhysicalResource(lid, "AWS::Lambda::EventInvokeConfig", lid, {})

    def _AWS_Events_EventBus(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        resp = _call(self.client("events"), "create_event_bus", Name=p["Name"], Tags=_tags_list(p.get("Tags")) or None)
        return PhysicalResource(
            lid, "AWS::Events::EventBus", p["Name"], {"Arn": resp["EventBusArn"], "Name": p["Name"]}
        )

    def _AWS_Events_Rule(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        events = self.client("events")
        name = p.get("Name") or self.name(lid, 64)
        pattern = p.get("EventPattern")
        resp = _call(
            events,
            "put_rule",
            Name=name,
            EventPattern=json.dumps(pattern) if isinstance(pattern, dict | list) else pattern,
            ScheduleExpression=p.get("ScheduleExpression"),
            State=p.get("State", "ENABLED"),
            Description=p.get("Description"),
            RoleArn=p.get("RoleArn"),
            EventBusName=p.get("EventBusName"),
        )
        targets = p.get("Targets") or []
        if targets:
            _call(events, "put_targets", Rule=name, EventBusName=p.get("EventBusName"), Targets=targets)
        bus = p.get("EventBusName")
        physical = f"{bus}|{name}" if bus and bus != "default" and not str(bus).startswith("arn:") else name
        return PhysicalResource(lid, "AWS::Events::Rule", physical, {"Arn": resp["RuleArn"]})

    def _AWS_StepFunctions_StateMachine(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        sfn = self.client("stepfunctions")
        if p.get("Definition") is not None:
            definition = json.dumps(p["Definition"], indent=2)
        elif p.get("DefinitionString") is not None:
            definition = p["DefinitionString"]
        elif p.get("DefinitionS3Location"):
            loc = p["DefinitionS3Location"]
            definition = self.client("s3").get_object(Bucket=loc["Bucket"], Key=loc["Key"])["Body"].read().decode()
        else:
            raise DeployError(f"{lid}: state machine without a definition")
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)))
        if leftover:
            raise DeployError(f"{lid}: DefinitionSubstitutions missing for {', '.join(leftover)}")
        name = p.get("StateMachineName") or self.name(lid, 80)
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": p["RoleArn"],
            "type": p.get("StateMachineType", "STANDARD"),
        }
        if p.get("LoggingConfiguration"):
            kwargs["loggingConfiguration"] = _camel(p["LoggingConfiguration"])
        if p.get("TracingConfiguration"):
            kwargs["tracingConfiguration"] = _camel(p["TracingConfiguration"])
        if p.get("Tags"):
            kwargs["tags"] = _tags_list(p["Tags"], "key", "value")
        resp = _call(sfn, "create_state_machine", **kwargs)
        arn = resp["stateMachineArn"]
        return PhysicalResource(
            lid, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": arn}
        )

    def _AWS_Scheduler_ScheduleGroup(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        name = p.get("Name") or self.name(lid, 64)
        resp = _call(
            self.client("scheduler"), "create_schedule_group", Name=name, Tags=_tags_list(p.get("Tags")) or None
        )
        return PhysicalResource(lid, "AWS::Scheduler::ScheduleGroup", name, {"Arn": resp["ScheduleGroupArn"]})

    def _AWS_Scheduler_Schedule(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        name = p.get("Name") or self.name(lid, 64)
        resp = _call(
            self.client("scheduler"),
            "create_schedule",
            Name=name,
            GroupName=p.get("GroupName"),
            ScheduleExpression=p["ScheduleExpression"],
            ScheduleExpressionTimezone=p.get("ScheduleExpressionTimezone"),
            FlexibleTimeWindow=p["FlexibleTimeWindow"],
            Target=p["Target"],
            State=p.get("State"),
            Description=p.get("Description"),
            StartDate=p.get("StartDate"),
            EndDate=p.get("EndDate"),
            KmsKeyArn=p.get("KmsKeyArn"),
        )
        return PhysicalResource(lid, "AWS::Scheduler::Schedule", name, {"Arn": resp["ScheduleArn"]})

    def _AWS_Logs_LogGroup(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        logs = self.client("logs")
        name = p.get("LogGroupName") or self.name(lid, 512)
        _call(
            logs,
            "create_log_group",
            logGroupName=name,
            kmsKeyId=p.get("KmsKeyId"),
            tags=_tags_dict(p.get("Tags")) or None,
        )
        if p.get("RetentionInDays"):
            _call(logs, "put_retention_policy", logGroupName=name, retentionInDays=p["RetentionInDays"])
        return PhysicalResource(lid, "AWS::Logs::LogGroup", name, {"Arn": self.arn("logs", f"log-group:{name}:*")})

    def _AWS_SQS_Queue(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        sqs = self.client("sqs")
        fifo = str(p.get("FifoQueue", "")).lower() == "true"
        name = p.get("QueueName") or (self.name(lid, 75) + (".fifo" if fifo else ""))
        attrs = {}
        for key, value in p.items():
            if key in ("QueueName", "Tags"):
                continue
            attrs[key] = (
                json.dumps(value)
                if isinstance(value, dict)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
        url = _call(
            sqs, "create_queue", QueueName=name, Attributes=attrs or None, tags=_tags_dict(p.get("Tags")) or None
        )["QueueUrl"]
        arn = self.arn("sqs", name)
        return PhysicalResource(lid, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _AWS_SNS_Topic(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        sns = self.client("sns")
        name = p.get("TopicName") or self.name(lid, 256)
        attributes = {"KmsMasterKeyId": p["KmsMasterKeyId"]} if p.get("KmsMasterKeyId") else None
        arn = _call(sns, "create_topic", Name=name, Attributes=attributes, Tags=_tags_list(p.get("Tags")) or None)[
            "TopicArn"
        ]
        for sub in p.get("Subscription") or []:
            sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
        return PhysicalResource(lid, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})

    def _AWS_SNS_Subscription(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        arn = _call(
            self.client("sns"),
            "subscribe",
            TopicArn=p["TopicArn"],
            Protocol=p["Protocol"],
            Endpoint=p.get("Endpoint"),
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return PhysicalResource(lid, "AWS::SNS::Subscription", arn, {"Arn": arn})

    def _AWS_SageMaker_ModelPackageGroup(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        name = p["ModelPackageGroupName"]
        resp = _call(
            self.client("sagemaker"),
            "create_model_package_group",
            ModelPackageGroupName=name,
            ModelPackageGroupDescription=p.get("ModelPackageGroupDescription"),
            Tags=_tags_list(p.get("Tags")) or None,
        )
        arn = resp["ModelPackageGroupArn"]
        return PhysicalResource(
            lid,
            "AWS::SageMaker::ModelPackageGroup",
            arn,
            {"ModelPackageGroupArn": arn, "ModelPackageGroupName": name, "ModelPackageGroupStatus": "Completed"},
        )

    def _AWS_KMS_Key(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        policy = p.get("KeyPolicy")
        meta = _call(
            self.client("kms"),
            "create_key",
            Description=p.get("Description"),
            KeyUsage=p.get("KeyUsage"),
            KeySpec=p.get("KeySpec"),
            Policy=json.dumps(policy) if isinstance(policy, dict) else policy,
        )["KeyMetadata"]
        return PhysicalResource(lid, "AWS::KMS::Key", meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})

    def _AWS_SSM_Parameter(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        name = p.get("Name") or self.name(lid, 128)
        _call(self.client("ssm"), "put_parameter", Name=name, Value=p["Value"], Type=p.get("Type", "String"))
        return PhysicalResource(
            lid, "AWS::SSM::Parameter", name, {"Type": p.get("Type", "String"), "Value": p["Value"]}
        )

    def _AWS_CloudWatch_Alarm(self, lid: str, p: dict[str, Any]) -> PhysicalResource:
        name = p.get("AlarmName") or self.name(lid, 255)
        params = {k: v for k, v in p.items() if k != "AlarmName"}
        _call(self.client("cloudwatch"), "put_metric_alarm", AlarmName=name, **params)
        return PhysicalResource(lid, "AWS::CloudWatch::Alarm", name, {"Arn": self.arn("cloudwatch", f"alarm:{name}")})


def _policy(doc: Any) -> str:
    """A policy document as JSON; SAM policy templates omit ``Version``, which IAM accepts and moto rejects."""
    if isinstance(doc, str):
        return doc
    if isinstance(doc, dict) and "Version" not in doc:
        doc = {"Version": "2012-10-17", **doc}
    return json.dumps(doc)


def _inline_zip(source: str, handler: str) -> bytes:
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{module}.py", source)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- deploy()


def _parameters(template: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    declared = template.get("Parameters") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise DeployError(f"unknown parameters: {', '.join(sorted(unknown))}")
    for name, spec in declared.items():
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise DeployError(f"parameter {name} has no value and no Default")
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in [str(a) for a in allowed]:
            raise DeployError(f"parameter {name}={value!r} is not one of {allowed}")
        if spec.get("AllowedPattern") and not re.fullmatch(spec["AllowedPattern"], str(value)):
            raise DeployError(f"parameter {name}={value!r} does not match {spec['AllowedPattern']}")
        if str(spec.get("Type", "String")).startswith("CommaDelimitedList") or str(spec.get("Type")).startswith(
            "List<"
        ):
            value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        else:
            value = str(value)
        out[name] = value
    return out


def deploy(  # noqa: PLR0912, PLR0915  (one branch per template construct (intrinsics, resource kinds), as the spec lists them)
    template_path: Path,
    stack_name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    region: str = "us-east-1",
    on_function: Callable[[str, Path, list[str]], None] | None = None,
) -> StackOutputs:
    """Package, transform and create ``template_path`` as ``stack_name`` in the running moto.

    ``on_function(function_name, code_dir, layers)`` is called for every function with local code (the
    in-process Lambda runner registers it), before any other resource that could invoke it exists.
    Returns the resolved ``Outputs`` and the created resources. Requires an active ``mock_aws``.
    """
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    template_path = Path(template_path).resolve()
    account_id = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    raw = load_template(template_path)
    packager = _Packager(template_path.parent, stack_name, region, account_id)
    packaged = packager.package(raw)
    given = {k: str(v) if not isinstance(v, list) else v for k, v in (parameters or {}).items()}
    if "Transform" in packaged:
        sam_params = dict(given)
        sam_params.setdefault("AWS::Region", region)
        sam_params.setdefault("AWS::AccountId", account_id)
        sam_params.setdefault("AWS::StackName", stack_name)
        cfn = transform(packaged, sam_params, ManagedPolicyLoader(boto3.client("iam", region_name=region)))
    else:
        cfn = packaged
    params = _parameters(cfn, given)
    pseudo = {
        "AWS::AccountId": account_id,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/"
        + hashlib.sha256(stack_name.encode()).hexdigest()[:32],
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }
    resources: dict[str, PhysicalResource] = {}
    conditions: dict[str, bool] = {}
    resolver = _Resolver(params, pseudo, cfn.get("Mappings") or {}, conditions, resources, region)
    pending = dict((cfn.get("Conditions") or {}).items())
    while pending:  # conditions may reference each other
        progressed = False
        for name, expr in list(pending.items()):
            deps: set[str] = set()
            _collect_condition_refs(expr, deps)
            if deps <= set(conditions):
                conditions[name] = resolver.condition(expr)
                pending.pop(name)
                progressed = True
        if not progressed:
            raise DeployError(f"circular Conditions: {', '.join(pending)}")

    engine = _Engine(stack_name, region, account_id, packager.code_dirs)
    declared = cfn.get("Resources") or {}
    active = {lid: res for lid, res in declared.items() if conditions.get(res.get("Condition", ""), True)}
    graph: dict[str, set[str]] = {}
    for lid, res in active.items():
        deps = set()
        _refs(res.get("Properties") or {}, deps)
        depends_on = res.get("DependsOn") or []
        deps |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        missing = {d for d in deps if d not in declared and d not in params and d not in pseudo and d != "AWS::NoValue"}
        if missing:
            raise DeployError(f"{lid} references unknown {', '.join(sorted(missing))}")
        graph[lid] = {d for d in deps if d in active}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise DeployError(f"circular dependency between resources: {exc.args[1]}") from exc
    # Functions first among equals is not needed: dependency order guarantees a function exists (and is
    # registered with the runner) before any rule, permission or state machine that references it.
    for lid in order:
        res = active[lid]
        props = resolver.resolve(res.get("Properties") or {})
        resources[lid] = engine.create(lid, res["Type"], props)
        if res["Type"] == "AWS::Lambda::Function" and on_function is not None:
            name = resources[lid].physical_id
            if name in engine.functions:
                on_function(name, engine.functions[name], engine.layers.get(name, []))
    outputs = {}
    for key, out in (cfn.get("Outputs") or {}).items():
        if not conditions.get(out.get("Condition", ""), True):
            continue
        outputs[key] = resolver.resolve(out["Value"])
    return StackOutputs(
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        outputs=outputs,
        resources=resources,
        parameters=params,
        functions=engine.functions,
        layers=engine.layers,
        noops=engine.noops,
        cloudformation=cfn,
    )


def _collect_condition_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Condition" and isinstance(v, str):
                out.add(v)
            else:
                _collect_condition_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _collect_condition_refs(v, out)
