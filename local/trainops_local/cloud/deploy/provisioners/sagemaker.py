"""sagemaker: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_list
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::SageMaker::ModelPackageGroup")
def model_package_group(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    name = p["ModelPackageGroupName"]
    resp = call(
        engine.client("sagemaker"),
        "create_model_package_group",
        ModelPackageGroupName=name,
        ModelPackageGroupDescription=p.get("ModelPackageGroupDescription"),
        Tags=tags_list(p.get("Tags")) or None,
    )
    arn = resp["ModelPackageGroupArn"]
    return PhysicalResource(
        lid,
        "AWS::SageMaker::ModelPackageGroup",
        arn,
        {"ModelPackageGroupArn": arn, "ModelPackageGroupName": name, "ModelPackageGroupStatus": "Completed"},
    )
