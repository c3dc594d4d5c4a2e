"""The deployer's provisioner registry: every resource type a template yields has a creator, unknown ones fail loudly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from trainops_local.cloud.deploy import NOOP_TYPES, PROVISIONERS, DeployError, PhysicalResource, provisions
from trainops_local.cloud.deploy.engine import Engine
from trainops_local.cloud.deploy.packaging import _Packager
from trainops_local.cloud.deploy.template import load_template

REPO = Path(__file__).resolve().parents[2]
MINI = Path(__file__).parent / "fixtures" / "mini" / "template.yaml"


def _transformed_types(template_path: Path) -> dict[str, str]:
    """Every declared resource (conditional ones included) after packaging and the offline SAM transform."""
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    packaged = _Packager(template_path.parent, "registry", "us-east-1", "123456789012").package(
        load_template(template_path)
    )
    params = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::StackName": "registry"}
    cfn = transform(packaged, params, ManagedPolicyLoader(boto3.client("iam", region_name="us-east-1")))
    return {lid: res["Type"] for lid, res in cfn["Resources"].items()}


@pytest.mark.parametrize("template_path", [REPO / "template.yaml", MINI], ids=["template.yaml", "mini"])
def test_every_resource_type_of_the_templates_has_a_provisioner(aws: None, template_path: Path) -> None:
    # Given the template as CloudFormation (SAM transformed, conditional resources included)
    types = _transformed_types(template_path)
    # When each type is looked up in the registry, Then every one has a provisioner or a recorded no-op
    unhandled = {lid: t for lid, t in types.items() if t not in PROVISIONERS and t not in NOOP_TYPES}
    assert types
    assert unhandled == {}


def test_an_unknown_type_gives_the_clear_error(aws: None) -> None:
    # Given an engine, When a type with no provisioner is created
    engine = Engine("s", "us-east-1", "123456789012", {})
    # Then the error names the logical id and the type
    with pytest.raises(
        DeployError, match=r"^Cluster: resource type AWS::EKS::Cluster is not supported by the local cloud$"
    ):
        engine.create("Cluster", "AWS::EKS::Cluster", {"Name": "x"})


def test_a_type_registered_twice_is_refused() -> None:
    # Given a type that already has a provisioner, When a second one registers for it, Then it is refused by name
    def another(_engine: Engine, lid: str, _props: dict[str, Any]) -> PhysicalResource:
        return PhysicalResource(lid, "AWS::SQS::Queue", lid)

    with pytest.raises(DeployError, match=r"AWS::SQS::Queue: provisioned twice"):
        provisions("AWS::SQS::Queue")(another)
    assert PROVISIONERS["AWS::SQS::Queue"] is not another


def test_the_registry_holds_cloudformation_types_only() -> None:
    # Given the registry, Then each key is a CloudFormation type, none also a no-op, each from its service's module
    for rtype, fn in PROVISIONERS.items():
        assert rtype.count("::") == 2 and rtype.startswith("AWS::"), rtype
        assert rtype not in NOOP_TYPES, rtype
        assert fn.__module__.startswith("trainops_local.cloud.deploy.provisioners."), (rtype, fn.__module__)
