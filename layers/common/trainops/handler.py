"""The one shape every Lambda handler has: Powertools logging and metrics, settings read late, clients built
lazily and reused across warm invocations, one logic function from ``trainops.steps.<step>``. No business
logic here.

Tracing: the template turns on Lambda's active tracing (each invocation is a segment in X-Ray, at no import
cost); the Powertools Tracer is not used: it needs aws-xray-sdk, which the layer does not ship, and importing it
adds about 1x a bare ``import boto3`` to every cold start (docs/operations.md, "Reading the functions' logs").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainops import logs, telemetry
from trainops.aws import client
from trainops.logs import logger
from trainops.settings import Settings, get_settings
from trainops.steps.common import Clients

SERVICE_NAMES = {"sfn": "stepfunctions"}
Step = Callable[..., dict[str, Any]]


def make_handler(step: Step, *services: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """``lambda_handler = make_handler(steps.start_training, "s3", "sagemaker", ...)``."""

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001
        logs.start_invocation(step.__name__, event)
        try:
            settings: Settings = get_settings()
            clients = Clients(**{name: client(SERVICE_NAMES.get(name, name)) for name in services})
            return step(event, settings=settings, clients=clients)
        except Exception as exc:
            logs.log_error(exc)
            raise
        finally:
            telemetry.flush()

    return lambda_handler
