"""The local cloud: moto 5.2.5 adapted, in one bounded package (never shipped to Lambda).

* :mod:`.validation` -- strict botocore-model validation (enums, patterns, max lengths, numeric ranges)
* :mod:`.lambdas` -- Lambda handlers run in-process (env overlay, context, timeout, error payloads)
* :mod:`.events` -- EventBridge delivery to Lambda and Step Functions targets, schedules fired on demand
* :mod:`.sfn` -- SendTaskFailure keeps ``cause``; StartExecution without a name gets a UUID; a definition's
  program and the interpreter's JSONPaths built once, not per execution
* :mod:`.dispatch` -- moto's per-request backend lookup without its O(services) membership test
* :mod:`.deploy` -- the SAM template packaged, transformed offline and created resource by resource
* :class:`LocalCloud` -- all of the above around ``moto.mock_aws``
"""

from .deploy import DeployError, PhysicalResource, StackOutputs, deploy
from .events import DeliveryRecord, EventDelivery
from .lambdas import LambdaContext, LambdaRunner
from .local_cloud import TERMINAL_EXECUTION_STATUSES, LocalCloud
from .validation import StrictParamValidationError

__all__ = [
    "TERMINAL_EXECUTION_STATUSES",
    "DeliveryRecord",
    "DeployError",
    "EventDelivery",
    "LambdaContext",
    "LambdaRunner",
    "LocalCloud",
    "PhysicalResource",
    "StackOutputs",
    "StrictParamValidationError",
    "deploy",
]
