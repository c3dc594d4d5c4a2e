"""dynamodb: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_list
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::DynamoDB::Table")
def table(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    ddb = engine.client("dynamodb")
    name = p.get("TableName") or engine.name(lid, 255)
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
        kwargs["Tags"] = tags_list(p["Tags"])
    desc = call(ddb, "create_table", **kwargs)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled") in (True, "true"):
        call(ddb, "update_time_to_live", TableName=name, TimeToLiveSpecification=ttl)
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr:
        call(ddb, "update_continuous_backups", TableName=name, PointInTimeRecoverySpecification=pitr)
    attrs = {"Arn": desc["TableArn"]}
    if desc.get("LatestStreamArn"):
        attrs["StreamArn"] = desc["LatestStreamArn"]
    return PhysicalResource(lid, "AWS::DynamoDB::Table", name, attrs)
