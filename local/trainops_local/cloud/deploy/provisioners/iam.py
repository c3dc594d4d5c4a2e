"""iam: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_list
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::IAM::Role")
def role(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    iam = engine.client("iam")
    name = p.get("RoleName") or engine.name(lid, 64)
    doc = p["AssumeRolePolicyDocument"]
    role = call(
        iam,
        "create_role",
        RoleName=name,
        Path=p.get("Path"),
        AssumeRolePolicyDocument=doc if isinstance(doc, str) else json.dumps(doc),
        Description=p.get("Description"),
        MaxSessionDuration=p.get("MaxSessionDuration"),
        PermissionsBoundary=p.get("PermissionsBoundary"),
        Tags=tags_list(p.get("Tags")) or None,
    )["Role"]
    for arn in p.get("ManagedPolicyArns") or []:
        if str(arn).startswith("arn:aws:iam::aws:policy/"):
            # moto loads AWS managed policies only on request (~1.3 s): recorded, not attached, so IAM enforcement
            # (iam_enforcement) does not see them (docs/security.md: logs are captured, not written via the API)
            engine.managed_policies.setdefault(name, []).append(arn)
            continue
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    for pol in p.get("Policies") or []:
        iam.put_role_policy(RoleName=name, PolicyName=pol["PolicyName"], PolicyDocument=_policy(pol["PolicyDocument"]))
    return PhysicalResource(lid, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


@provisions("AWS::IAM::Policy")
def policy(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    iam = engine.client("iam")
    doc = _policy(p["PolicyDocument"])
    for role in p.get("Roles") or []:
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=doc)
    return PhysicalResource(lid, "AWS::IAM::Policy", engine.name(lid), {})


@provisions("AWS::IAM::ManagedPolicy")
def managed_policy(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    iam = engine.client("iam")
    name = p.get("ManagedPolicyName") or engine.name(lid, 128)
    arn = call(
        iam,
        "create_policy",
        PolicyName=name,
        Path=p.get("Path"),
        Description=p.get("Description"),
        PolicyDocument=_policy(p["PolicyDocument"]),
    )["Policy"]["Arn"]
    for role in p.get("Roles") or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return PhysicalResource(lid, "AWS::IAM::ManagedPolicy", arn, {"PolicyArn": arn})


def _policy(doc: Any) -> str:
    """A policy document as JSON; SAM policy templates omit ``Version``, which IAM accepts and moto rejects."""
    if isinstance(doc, str):
        return doc
    if isinstance(doc, dict) and "Version" not in doc:
        doc = {"Version": "2012-10-17", **doc}
    return json.dumps(doc)
