"""The one shape every Lambda handler has: Powertools logging and metrics, settings read late, clients built
lazily and reused across warm invocations, one logic function from ``trainops.steps.<step>``. No business
logic here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from trainops import telemetry
from trainops.aws import client
from trainops.settings import Settings, get_settings
from trainops.steps.common import Clients

logger = Logger(service="trainops")

SERVICE_NAMES = {"sfn": "stepfunctions"}
Step = Callable[..., dict[str, Any]]


def make_handler(step: Step, *services: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """``lambda_handler = make_handler(steps.start_training, "s3", "sagemaker", ...)``."""

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001
        settings: Settings = get_settings()
        clients = Clients(**{name: client(SERVICE_NAMES.get(name, name)) for name in services})
        logger.append_keys(step=step.__name__)
        try:
            return step(event, settings=settings, clients=clients)
        finally:
            telemetry.flush()

    return lambda_handler
