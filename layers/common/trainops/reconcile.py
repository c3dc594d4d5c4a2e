"""Answer waiting runs whose SageMaker state-change event never arrived.

SageMaker's events are at-least-once, but an event can still be lost on the way (a callback that failed past
its retries lands in the on-failure queue). Every 15 minutes this looks at the task tokens still WAITING (the
runs table's sparse ``to-reconcile`` index: no Scan, see trainops.ledger),
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
from trainops.ledger import RECONCILE_SLOTS, RECONCILE_TOKENS, Ledger

ORPHAN_AFTER = timedelta(hours=1)


def waiting_tokens(ledger: Ledger) -> list[dict[str, Any]]:
    """Task tokens still WAITING, from the sparse ``to-reconcile`` index (no Scan of the table)."""
    try:
        tokens = ledger.to_reconcile(RECONCILE_TOKENS)
    except ClientError as exc:
        raise translate(exc, "querying waiting tokens") from exc
    # the index lags its table a little: a token answered just now may still be listed
    return [t for t in tokens if t.get("status") == "WAITING"]


def held_slots(ledger: Ledger) -> list[dict[str, Any]]:
    """The projects' run slots (each exists only while a run holds it), from the same index."""
    try:
        return ledger.to_reconcile(RECONCILE_SLOTS)
    except ClientError as exc:
        raise translate(exc, "querying run slots") from exc


def reconcile(
    *, ledger: Ledger, sfn: Any, sagemaker: Any, now: datetime | None = None, state_machine_arn: str | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    answered, orphaned, running = [], [], 0
    slots = held_slots(ledger)
    for token in waiting_tokens(ledger):
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
