"""Answer waiting runs whose SageMaker state-change event never arrived.

SageMaker's events are at-least-once, but an event can still be lost on the way (a callback that failed past
its retries lands in the on-failure queue). Every 15 minutes this looks at the task tokens still WAITING,
describes their jobs, and answers the ones that have ended, exactly as the event would have. A token whose job
does not exist an hour after it was stored (its create failed, and the task failed with it) is closed. A
project's run slot whose holder's execution ended without FinishRun (stopped, timed out) is finished on its
behalf, so uploads waiting on it get their follow-up run (trainops.coalescing.sweep).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from trainops import callbacks, coalescing
from trainops.aws import error_code, translate
from trainops.jobs import JOB_KINDS, TERMINAL
from trainops.ledger import Ledger, deserialize_item

ORPHAN_AFTER = timedelta(hours=1)


def waiting_tokens(ledger: Ledger) -> list[dict[str, Any]]:
    return [i for i in _scan(ledger) if i["sk"] == "TOKEN"]


def _scan(ledger: Ledger) -> list[dict[str, Any]]:
    """Waiting task tokens and the projects' run slots, in one pass over the table."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": ledger.table_name,
        "FilterExpression": "(sk = :token AND #s = :waiting) OR sk = :slot",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":token": {"S": "TOKEN"}, ":waiting": {"S": "WAITING"}, ":slot": {"S": "SLOT"}},
    }
    while True:
        try:
            page = ledger.ddb.scan(**kwargs)
        except ClientError as exc:
            raise translate(exc, "scanning waiting tokens") from exc
        items += [deserialize_item(i) for i in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reconcile(
    *, ledger: Ledger, sfn: Any, sagemaker: Any, now: datetime | None = None, state_machine_arn: str | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    answered, orphaned, running = [], [], 0
    items = _scan(ledger)
    slots = [i for i in items if i["sk"] == "SLOT"]
    for token in (i for i in items if i["sk"] == "TOKEN"):
        name = token["pk"].removeprefix("JOB#")
        job = JOB_KINDS[token["kind"]]
        try:
            status = getattr(sagemaker, job.describe)(**{job.name_field: name})[job.status_field]
        except ClientError as exc:
            if error_code(exc) not in ("ValidationException", "ResourceNotFound"):
                raise translate(exc, f"describing {name}") from exc
            stored = datetime.fromisoformat(token.get("stored_at") or now.isoformat())
            if now - stored > ORPHAN_AFTER:
                ledger.claim_token(name, "NotFound")
                orphaned.append(name)
            else:  # its create may still be under way; one missing job must not stop the others being answered
                running += 1
            continue
        if status not in TERMINAL:
            running += 1
            continue
        callbacks.answer(token["kind"], name, token, ledger=ledger, sfn=sfn, sagemaker=sagemaker)
        answered.append(name)
    # runs that ended without freeing their project's slot: their waiting uploads get their follow-up now
    finished = coalescing.sweep(ledger, slots, state_machine_arn=state_machine_arn, sfn=sfn) if slots else []
    return {"answered": answered, "orphaned": orphaned, "still_running": running, "slots_finished": finished}
