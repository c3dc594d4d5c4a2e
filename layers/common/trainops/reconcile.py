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

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from trainops import callbacks, coalescing
from trainops.aws import error_code, translate
from trainops.errors import TrainopsError
from trainops.jobs import JOB_KINDS, TERMINAL
from trainops.ledger import RECONCILE_SLOTS, RECONCILE_TOKENS, Ledger

ORPHAN_AFTER = timedelta(hours=1)
log = logging.getLogger(__name__)


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
    failures: list[Exception] = []
    slots = held_slots(ledger)
    for token in waiting_tokens(ledger):
        name = token["pk"].removeprefix("JOB#")
        job = JOB_KINDS[token["kind"]]
        try:
            status = getattr(sagemaker, job.describe)(**{job.name_field: name})[job.status_field]
        except ClientError as exc:
            if error_code(exc) not in ("ValidationException", "ResourceNotFound"):
                failures.append(_kept(exc, f"describing {name}"))
                continue
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
        try:
            callbacks.answer(token["kind"], name, token, ledger=ledger, sfn=sfn, sagemaker=sagemaker)
        except (TrainopsError, ClientError) as exc:
            failures.append(_kept(exc, f"answering the run waiting for {name}"))
            continue
        answered.append(name)
    # runs that ended without freeing their project's slot: their waiting uploads get their follow-up now
    finished = coalescing.sweep(ledger, slots, state_machine_arn=state_machine_arn, sfn=sfn) if slots else []
    if failures:
        raise failures[0]
    return {"answered": answered, "orphaned": orphaned, "still_running": running, "slots_finished": finished}


def _kept(exc: Exception, action: str) -> Exception:
    """One job the sweep could not describe or answer (throttled, denied) must not keep the others unanswered:
    its error, typed and logged, is kept, and the sweep raises the first at its end (seen, alarmed, retried)."""
    error = translate(exc, action) if isinstance(exc, ClientError) else exc
    if error is not exc:
        error.__cause__ = exc
    log.warning("reconcile: %s failed, the other waiting runs are still answered: %s", action, error)
    return error
