"""logs: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_dict
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::Logs::LogGroup")
def log_group(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    logs = engine.client("logs")
    name = p.get("LogGroupName") or engine.name(lid, 512)
    call(
        logs,
        "create_log_group",
        logGroupName=name,
        kmsKeyId=p.get("KmsKeyId"),
        tags=tags_dict(p.get("Tags")) or None,
    )
    if p.get("RetentionInDays"):
        call(logs, "put_retention_policy", logGroupName=name, retentionInDays=p["RetentionInDays"])
    return PhysicalResource(lid, "AWS::Logs::LogGroup", name, {"Arn": engine.arn("logs", f"log-group:{name}:*")})
