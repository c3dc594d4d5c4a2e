"""Lambda: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_dict
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::Lambda::LayerVersion")
def layer_version(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    resp = call(
        engine.client("lambda"),
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


@provisions("AWS::Lambda::Function")
def function(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    lam = engine.client("lambda")
    name = p.get("FunctionName") or engine.name(lid, 64)
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
        "Tags": tags_dict(p.get("Tags")) or None,
    }
    if "ZipFile" in kwargs["Code"]:
        kwargs["Code"] = {"ZipFile": _inline_zip(kwargs["Code"]["ZipFile"], str(p.get("Handler", "index.handler")))}
    fn = call(lam, "create_function", **kwargs)
    if p.get("ReservedConcurrentExecutions") is not None:
        call(
            lam,
            "put_function_concurrency",
            FunctionName=name,
            ReservedConcurrentExecutions=p["ReservedConcurrentExecutions"],
        )
    if lid in engine.code_dirs:
        engine.functions[name] = engine.code_dirs[lid]
    engine.layers[name] = list(p.get("Layers") or [])
    return PhysicalResource(lid, "AWS::Lambda::Function", name, {"Arn": fn["FunctionArn"]})


@provisions("AWS::Lambda::Permission")
def permission(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    call(
        engine.client("lambda"),
        "add_permission",
        FunctionName=p["FunctionName"],
        StatementId=lid,
        Action=p["Action"],
        Principal=p["Principal"],
        SourceArn=p.get("SourceArn"),
        SourceAccount=p.get("SourceAccount"),
    )
    return PhysicalResource(lid, "AWS::Lambda::Permission", lid, {})


@provisions("AWS::Lambda::Version")
def version(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    resp = call(
        engine.client("lambda"), "publish_version", FunctionName=p["FunctionName"], Description=p.get("Description")
    )
    return PhysicalResource(lid, "AWS::Lambda::Version", resp["FunctionArn"], {"Version": resp["Version"]})


@provisions("AWS::Lambda::Alias")
def alias(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    resp = call(
        engine.client("lambda"),
        "create_alias",
        FunctionName=p["FunctionName"],
        Name=p["Name"],
        FunctionVersion=p["FunctionVersion"],
        Description=p.get("Description"),
    )
    return PhysicalResource(lid, "AWS::Lambda::Alias", resp["AliasArn"], {})


@provisions("AWS::Lambda::EventInvokeConfig")
def event_invoke_config(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    call(
        engine.client("lambda"),
        "put_function_event_invoke_config",
        FunctionName=p["FunctionName"],
        Qualifier=p.get("Qualifier"),
        MaximumRetryAttempts=p.get("MaximumRetryAttempts"),
        MaximumEventAgeInSeconds=p.get("MaximumEventAgeInSeconds"),
        DestinationConfig=p.get("DestinationConfig"),
    )
    return PhysicalResource(lid, "AWS::Lambda::EventInvokeConfig", lid, {})


def _inline_zip(source: str, handler: str) -> bytes:
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{module}.py", source)
    return buf.getvalue()
