"""What a local deploy creates and returns, and its one error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOOP_TYPES: dict[str, str] = {
    "AWS::CloudWatch::Dashboard": "dashboards have no local effect",
    "AWS::Lambda::Url": "function URLs are not served locally",
    "AWS::CloudFormation::WaitConditionHandle": "no-op in CloudFormation too",
    "AWS::SQS::QueuePolicy": "resource policies are recorded, not enforced (moto does not enforce them)",
    "AWS::SNS::TopicPolicy": "resource policies are recorded, not enforced (moto does not enforce them)",
}


class DeployError(RuntimeError):
    """The template cannot be deployed locally (unsupported type, bad reference, failed create)."""


@dataclass
class PhysicalResource:
    """A created resource: its type, the value ``Ref`` returns and its ``Fn::GetAtt`` attributes."""

    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackOutputs:
    """The result of :func:`deploy`: resolved ``Outputs`` plus what was created."""

    stack_name: str
    region: str
    account_id: str
    outputs: dict[str, Any]
    resources: dict[str, PhysicalResource]
    parameters: dict[str, Any]
    functions: dict[str, Path]  # function name -> local code directory
    layers: dict[str, list[str]]  # function name -> layer version ARNs
    noops: dict[str, str]  # logical id -> reason
    cloudformation: dict[str, Any] = field(repr=False, default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.outputs[key]

    def physical_id(self, logical_id: str) -> str:
        """The physical id (``Ref`` value) of a logical resource."""
        return self.resources[logical_id].physical_id
