"""events: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_list
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::Events::EventBus")
def event_bus(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    resp = call(engine.client("events"), "create_event_bus", Name=p["Name"], Tags=tags_list(p.get("Tags")) or None)
    return PhysicalResource(lid, "AWS::Events::EventBus", p["Name"], {"Arn": resp["EventBusArn"], "Name": p["Name"]})


@provisions("AWS::Events::Rule")
def rule(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    events = engine.client("events")
    name = p.get("Name") or engine.name(lid, 64)
    pattern = p.get("EventPattern")
    resp = call(
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
        call(events, "put_targets", Rule=name, EventBusName=p.get("EventBusName"), Targets=targets)
    bus = p.get("EventBusName")
    physical = f"{bus}|{name}" if bus and bus != "default" and not str(bus).startswith("arn:") else name
    return PhysicalResource(lid, "AWS::Events::Rule", physical, {"Arn": resp["RuleArn"]})
