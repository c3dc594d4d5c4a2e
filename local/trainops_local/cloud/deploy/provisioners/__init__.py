"""Provisioners, one module per service, each registered by CloudFormation resource type in :data:`PROVISIONERS`.

Importing this package imports every service module, so the registry is complete once it is imported.
"""

from __future__ import annotations

from . import (  # noqa: F401  (imported for their @provisions registrations)
    cloudwatch,
    dynamodb,
    events,
    iam,
    kms,
    lambda_,
    logs,
    s3,
    sagemaker,
    scheduler,
    sns,
    sqs,
    ssm,
    stepfunctions,
)
from ._registry import PROVISIONERS, Provisioner, provisions

__all__ = ["PROVISIONERS", "Provisioner", "provisions"]
