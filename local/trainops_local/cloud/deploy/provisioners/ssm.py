"""ssm: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::SSM::Parameter")
def parameter(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    name = p.get("Name") or engine.name(lid, 128)
    call(engine.client("ssm"), "put_parameter", Name=name, Value=p["Value"], Type=p.get("Type", "String"))
    return PhysicalResource(lid, "AWS::SSM::Parameter", name, {"Type": p.get("Type", "String"), "Value": p["Value"]})
