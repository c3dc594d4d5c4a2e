"""The local SageMaker's one state-change event emitter.

Every SageMaker state-change event of the local cloud (training, processing and tuning jobs) goes through
``StateChangeEmitter.emit``: one entry shape (source ``aws.sagemaker``, the job's detail type, the Describe*
response as the detail with datetimes as epoch milliseconds, the job's ARN as the resource), delivered in
order by one thread to the local EventBridge.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal

log = logging.getLogger(__name__)

TRAINING_DETAIL_TYPE = "SageMaker Training Job State Change"
PROCESSING_DETAIL_TYPE = "SageMaker Processing Job State Change"
TUNING_DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"

JobKind = Literal["training", "processing", "tuning"]
DETAIL_TYPES: dict[str, str] = {
    "training": TRAINING_DETAIL_TYPE,
    "processing": PROCESSING_DETAIL_TYPE,
    "tuning": TUNING_DETAIL_TYPE,
}


def to_event_json(value: Any) -> Any:
    """A Describe* response as EventBridge carries it: datetimes become epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: to_event_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_event_json(v) for v in value]
    return value


def state_change_entry(kind: JobKind, describe: dict[str, Any], arn: str) -> dict[str, Any]:
    """The PutEvents entry of one state change of a ``kind`` job (``describe``: its Describe* response)."""
    return {
        "Source": "aws.sagemaker",
        "DetailType": DETAIL_TYPES[kind],
        "Detail": json.dumps(to_event_json(describe), default=str),
        "Resources": [arn],
    }


class StateChangeEmitter:
    """Sends the state-change events, in the order emitted, from one thread; a failed send is logged."""

    def __init__(self, events_client: Callable[[], Any]) -> None:
        self._client = events_client  # the EventBridge client of the calling (sending) thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-sagemaker-events")

    def emit(self, kind: JobKind, describe: dict[str, Any], arn: str) -> Future[None]:
        """Queue the event (its detail is the snapshot ``describe`` taken now); done once sent or logged."""
        entry = state_change_entry(kind, describe, arn)

        def send() -> None:
            try:
                self._client().put_events(Entries=[entry])
            except Exception:
                log.exception("could not emit %s for %s", entry["DetailType"], arn)

        return self._pool.submit(send)

    def flushed(self) -> Future[None]:
        """A future done once every event emitted so far was sent (or its failure logged)."""
        return self._pool.submit(lambda: None)

    def shutdown(self, *, wait: bool) -> None:
        """End the sending thread; without ``wait`` the events not yet sent are dropped."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
