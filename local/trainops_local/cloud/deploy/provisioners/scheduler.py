"""scheduler: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_list
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::Scheduler::ScheduleGroup")
def schedule_group(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    name = p.get("Name") or engine.name(lid, 64)
    resp = call(engine.client("scheduler"), "create_schedule_group", Name=name, Tags=tags_list(p.get("Tags")) or None)
    return PhysicalResource(lid, "AWS::Scheduler::ScheduleGroup", name, {"Arn": resp["ScheduleGroupArn"]})


@provisions("AWS::Scheduler::Schedule")
def schedule(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    name = p.get("Name") or engine.name(lid, 64)
    resp = call(
        engine.client("scheduler"),
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
