"""cloudwatch: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::CloudWatch::Alarm")
def alarm(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    name = p.get("AlarmName") or engine.name(lid, 255)
    params = {k: v for k, v in p.items() if k != "AlarmName"}
    call(engine.client("cloudwatch"), "put_metric_alarm", AlarmName=name, **params)
    return PhysicalResource(lid, "AWS::CloudWatch::Alarm", name, {"Arn": engine.arn("cloudwatch", f"alarm:{name}")})
