"""stepfunctions: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, camel, tags_list
from trainops_local.cloud.deploy.model import DeployError, PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::StepFunctions::StateMachine")
def state_machine(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    sfn = engine.client("stepfunctions")
    if p.get("Definition") is not None:
        definition = json.dumps(p["Definition"], indent=2)
    elif p.get("DefinitionString") is not None:
        definition = p["DefinitionString"]
    elif p.get("DefinitionS3Location"):
        loc = p["DefinitionS3Location"]
        definition = engine.client("s3").get_object(Bucket=loc["Bucket"], Key=loc["Key"])["Body"].read().decode()
    else:
        raise DeployError(f"{lid}: state machine without a definition")
    for key, value in (p.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)))
    if leftover:
        raise DeployError(f"{lid}: DefinitionSubstitutions missing for {', '.join(leftover)}")
    name = p.get("StateMachineName") or engine.name(lid, 80)
    kwargs: dict[str, Any] = {
        "name": name,
        "definition": definition,
        "roleArn": p["RoleArn"],
        "type": p.get("StateMachineType", "STANDARD"),
    }
    if p.get("LoggingConfiguration"):
        kwargs["loggingConfiguration"] = camel(p["LoggingConfiguration"])
    if p.get("TracingConfiguration"):
        kwargs["tracingConfiguration"] = camel(p["TracingConfiguration"])
    if p.get("Tags"):
        kwargs["tags"] = tags_list(p["Tags"], "key", "value")
    resp = call(sfn, "create_state_machine", **kwargs)
    arn = resp["stateMachineArn"]
    return PhysicalResource(
        lid, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": arn}
    )
