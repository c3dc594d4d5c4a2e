"""kms: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::KMS::Key")
def key(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    policy = p.get("KeyPolicy")
    meta = call(
        engine.client("kms"),
        "create_key",
        Description=p.get("Description"),
        KeyUsage=p.get("KeyUsage"),
        KeySpec=p.get("KeySpec"),
        Policy=json.dumps(policy) if isinstance(policy, dict) else policy,
    )["KeyMetadata"]
    return PhysicalResource(lid, "AWS::KMS::Key", meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})
