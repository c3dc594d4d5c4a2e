"""sns: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_list
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::SNS::Topic")
def topic(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    sns = engine.client("sns")
    name = p.get("TopicName") or engine.name(lid, 256)
    attributes = {"KmsMasterKeyId": p["KmsMasterKeyId"]} if p.get("KmsMasterKeyId") else None
    arn = call(sns, "create_topic", Name=name, Attributes=attributes, Tags=tags_list(p.get("Tags")) or None)["TopicArn"]
    for sub in p.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return PhysicalResource(lid, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


@provisions("AWS::SNS::Subscription")
def subscription(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    arn = call(
        engine.client("sns"),
        "subscribe",
        TopicArn=p["TopicArn"],
        Protocol=p["Protocol"],
        Endpoint=p.get("Endpoint"),
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return PhysicalResource(lid, "AWS::SNS::Subscription", arn, {"Arn": arn})
