"""Lambda's asynchronous invocation as an EventBridge rule (or a Scheduler schedule) makes it: retries up to the
function's ``EventInvokeConfig.MaximumRetryAttempts`` (default 2; AWS waits about 1 and 2 minutes between
attempts, locally they follow at once), then the invocation record in its ``OnFailure`` destination (SQS) as
Lambda writes it. Used by :mod:`trainops_local.cloud.events`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from typing import Any

import boto3

from trainops_local.cloud.event_payloads import maybe_json

__all__ = [
    "ASYNC_RETRIES_DEFAULT",
    "FunctionErrorAfterDelivery",
    "UnsupportedTarget",
    "clear_clients",
    "invoke_async",
    "thread_client",
]

LOG = logging.getLogger(__name__)

# boto3 clients of the delivery threads, per (thread, service, region): creating one costs about 10 ms (an SSL
# context), which a burst of events would pay per event; EventBridge itself pays nothing of the kind.
_clients: dict[tuple[int, str, str], Any] = {}


def clear_clients() -> None:
    """Forget the cached clients (their credentials and endpoints belong to the cloud that is stopping)."""
    _clients.clear()


def thread_client(service: str, region: str) -> Any:
    key = (threading.get_ident(), service, region)
    found = _clients.get(key)
    if found is None:
        found = _clients[key] = boto3.client(service, region_name=region)
    return found


class UnsupportedTarget(RuntimeError):
    """A rule target of a kind the local cloud does not deliver to (recorded on the delivery, never silent)."""


ASYNC_RETRIES_DEFAULT = 2  # Lambda's default MaximumRetryAttempts for asynchronous invocations


def invoke_async(function_arn: str, payload: Any, region: str) -> str:
    """An asynchronous invocation as Lambda runs it: retries, then the OnFailure destination.

    Returns ``"invoked"``; raises FunctionErrorAfterDelivery when every attempt failed (after writing the
    destination record, if the function has an OnFailure destination).
    """
    lam = thread_client("lambda", region)
    data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    config = _event_invoke_config(lam, function_arn)
    attempts = 1 + int(config.get("MaximumRetryAttempts", ASYNC_RETRIES_DEFAULT))
    for attempt in range(1, attempts + 1):
        resp = lam.invoke(FunctionName=function_arn, InvocationType="Event", Payload=data)
        if not resp.get("FunctionError"):
            return "invoked"
        body = resp["Payload"].read().decode("utf-8", "replace")
        LOG.warning("async invocation %d/%d of %s failed: %s", attempt, attempts, function_arn, body[:300])
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if destination:
        try:
            # moto marks every function error "Handled"; a Python handler can only fail by raising, which
            # Lambda reports as "Unhandled"
            _send_failure_record(destination, function_arn, payload, "Unhandled", body, attempts, region)
        except Exception:  # a function error is never an EventBridge delivery failure (no rule DLQ)
            LOG.exception("could not send the OnFailure record of %s to %s", function_arn, destination)
    raise FunctionErrorAfterDelivery(f"{resp['FunctionError']} function error after {attempts} attempt(s): {body}")


def _event_invoke_config(lam: Any, function_arn: str) -> dict[str, Any]:
    try:
        return dict(lam.get_function_event_invoke_config(FunctionName=function_arn))
    except lam.exceptions.ResourceNotFoundException:
        return {}


def _send_failure_record(
    destination: str, function_arn: str, payload: Any, function_error: str, body: str, attempts: int, region: str
) -> None:
    """The record Lambda sends to an OnFailure destination (the SQS message body)."""
    if destination.split(":")[2] != "sqs":
        raise UnsupportedTarget(f"OnFailure destination {destination}: only SQS is delivered locally")
    record = {
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": maybe_json(payload) if isinstance(payload, str) else payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": function_error},
        "responsePayload": maybe_json(body),
    }
    _, _, _, queue_region, account, name = destination.split(":", 5)
    sqs = thread_client("sqs", queue_region or region)
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))


class FunctionErrorAfterDelivery(RuntimeError):
    """The event reached the Lambda function, whose handler then failed (not a delivery failure)."""
