"""sqs: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_dict
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::SQS::Queue")
def queue(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    sqs = engine.client("sqs")
    fifo = str(p.get("FifoQueue", "")).lower() == "true"
    name = p.get("QueueName") or (engine.name(lid, 75) + (".fifo" if fifo else ""))
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
    url = call(sqs, "create_queue", QueueName=name, Attributes=attrs or None, tags=tags_dict(p.get("Tags")) or None)[
        "QueueUrl"
    ]
    arn = engine.arn("sqs", name)
    return PhysicalResource(lid, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
