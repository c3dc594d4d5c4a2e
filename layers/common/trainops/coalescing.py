"""What happens to new data of a project while one of its runs is in progress (``concurrency`` in the config).

- ``coalesce`` (default): newer data does not start another training. When the run ends, ONE follow-up run
  trains on the newest data that arrived meanwhile; every upload it supersedes is recorded as covered by it.
- ``queue``: every upload trains, one at a time, oldest first.
- ``parallel``: every upload starts its own run at once (each run still registers under the project lock).

The protocol (items in the runs table, see :mod:`trainops.ledger`):

1. NormalizeRequest records the upload as pending (``REQUESTS#<project>``; a second delivery is a duplicate), adds
   it to the pending set (``PENDING#<project>``), and only then tries to take the project's run slot
   (``SLOT#<project>``). Taken: the upload leaves the pending set and the run starts. Held by a live run: the
   upload stays pending, nothing more is written (three writes in all).
2. When a run ends (FinishRun, on the success and on the failure path) it reads the pending set. Empty: it
   frees the slot and reads again (an upload that tried the slot just before was written before it tried, so
   it is seen now), taking the slot back for a follow-up when something arrived. Not empty: it hands the slot
   to the follow-up in one conditional write, starts the follow-up execution, then marks the covered uploads
   (and drops them from the pending set, 25 a BatchWriteItem). A retried FinishRun that finds the hand-over made
   starts the follow-up (once) and redoes the marking; ReconcileJobs starts a handed-over follow-up that never
   started, and marks its uploads covered. No upload is left covered by a run that was not started.
3. A slot whose holder's execution ended without FinishRun (stopped, timed out) is taken over by the next
   upload; the taker's own end then covers what was pending. An execution that failed at NormalizeRequest after
   taking the slot frees it at its own end (FinishFailedRun: :func:`finish_for_execution`); ReconcileJobs
   finishes any slot left otherwise (:func:`sweep`).

Every upload thus ends with ``covered_by`` = the run that trained on it or on newer data of the project.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.errors import InvalidProjectName
from trainops.ledger import Ledger
from trainops.naming import check_project_name, digest
from trainops.settings import SettingsError

Policy = Literal["coalesce", "queue", "parallel"]
FOLLOW_UP = "follow-up"
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# a follow-up's execution is started right after the hand-over: give it this long to appear before its slot
# counts as abandoned
START_GRACE = timedelta(minutes=5)


# what a pending upload keeps: enough to start the run that covers it
UPLOAD_FIELDS = ("trigger", "dataset_uri", "version_id", "key", "received_ns")


def _order(upload: dict[str, Any]) -> tuple[str, int]:
    """Oldest first: by the data's own time (the run id's time part: the object's LastModified, 1 s), then by
    arrival. S3 gives no order between different keys written in the same second."""
    return str(upload["run_id"]).split("-", 1)[0], int(upload.get("received_ns") or 0)


def follow_up_run_id(holder: str, newest: str) -> str:
    """The follow-up of ``holder``: sorts with the newest data it trains on, the same on every retry."""
    stamp = newest.split("-", 1)[0]
    return f"{stamp}-{digest(FOLLOW_UP, holder)}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    head, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{head}:execution:{machine}:{name}"


def holder_ended(slot: dict[str, Any], *, state_machine_arn: str | None, sfn: Any) -> bool:
    """True when the slot's holder can no longer free it: its execution ended (or never started in time)."""
    if not state_machine_arn or sfn is None:
        return False
    try:
        status = sfn.describe_execution(executionArn=execution_arn(state_machine_arn, str(slot.get("execution"))))[
            "status"
        ]
    except ClientError as exc:
        if error_code(exc) != "ExecutionDoesNotExist":
            raise translate(exc, "DescribeExecution of the project's running run") from exc
        since = datetime.fromisoformat(str(slot.get("since")))
        return datetime.now(UTC) - since > START_GRACE
    return status in ENDED


def admit(
    ledger: Ledger,
    *,
    project: str,
    run_id: str,
    execution: str,
    upload: dict[str, Any],
    policy: Policy,
    state_machine_arn: str | None,
    sfn: Any,
) -> tuple[str, dict[str, Any] | None]:
    """Decide whether this upload starts its run now.

    Returns ``("run", None)``, ``("duplicate", <existing record>)``, ``("waiting", <slot>)`` or, for a retry of
    this execution whose upload another run covered meanwhile, ``("covered", <existing record>)``.
    """
    upload = {**upload, "received_ns": time.time_ns()}
    # recorded with the status it has if nothing else happens: a parallel run starts, anything else waits
    status = {"status": "started", "covered_by": run_id} if policy == "parallel" else {"status": "pending"}
    existing = ledger.record_request(project, run_id, execution, {**upload, **status})
    if existing is not None and existing.get("execution") == execution:
        # this execution's retry (NormalizeRequest retried after a failure): the record stands as it is now
        if existing.get("covered_by") not in (None, run_id):
            return "covered", existing  # another run's end covered it meanwhile: nothing left to start
    elif existing is not None:
        return "duplicate", existing
    if policy == "parallel":
        return "run", None
    ledger.put_pending(project, run_id, upload)
    # a failed claim returns the slot that stopped it (no second read); without it, read the slot
    claimed, slot = ledger.try_claim_slot(project, run_id, execution, policy=policy)
    if not claimed and slot is None:
        slot = ledger.get_slot(project)
    if not claimed and slot is None:  # freed in between: try once more
        claimed, slot = ledger.try_claim_slot(project, run_id, execution, policy=policy)
        if not claimed and slot is None:
            slot = ledger.get_slot(project)
    if not claimed and slot is not None and holder_ended(slot, state_machine_arn=state_machine_arn, sfn=sfn):
        claimed = ledger.claim_slot(project, run_id, execution, replacing=str(slot["holder"]), policy=policy)
    if claimed:
        ledger.drop_pending(project, run_id)
        ledger.update_request(project, run_id, {"status": "started", "covered_by": run_id})
        return "run", None
    # recorded as pending already; the holder's end (FinishRun) marks it covered
    return "waiting", slot or ledger.get_slot(project) or {}


def admit_follow_up(ledger: Ledger, *, project: str, run_id: str, execution: str, covers: list[str]) -> bool:
    """A follow-up run takes the slot handed to it. False when another run holds it (its uploads go back to
    pending, so that run's end covers them)."""
    if ledger.claim_slot(project, run_id, execution):
        return True
    for covered in covers:
        record = ledger.get_request(project, covered) or {}
        ledger.put_pending(project, covered, {k: record.get(k) for k in UPLOAD_FIELDS})
        ledger.update_request(project, covered, {"status": "pending", "covered_by": None})
    return False


def finish(  # noqa: PLR0911  (one return per admission outcome, each documented)
    ledger: Ledger,
    *,
    project: str,
    run_id: str,
    policy: Policy,
    state_machine_arn: str | None,
    sfn: Any,
) -> dict[str, Any]:
    """The end of a run: free the slot, or hand it to one follow-up run and start it."""
    slot = ledger.get_slot(project)
    if slot is None or slot.get("holder") != run_id:
        if slot is not None and slot.get("follows") == run_id and slot.get("follow_up"):
            # a retried FinishRun: the hand-over happened; start the follow-up and finish the bookkeeping (each
            # step is idempotent: a second start of the same name is refused, SET and delete again change nothing)
            successor, payload = str(slot["holder"]), str(slot["follow_up"])
            _start(sfn, state_machine_arn, successor, payload)
            _mark_covered(ledger, project, successor, list(json.loads(payload).get("covers") or []))
            return {"action": "follow-up", "run_id": successor, "retried": True}
        return {"action": "none", "reason": "this run does not hold the project's slot"}
    execution = str(slot.get("execution") or "")
    for _ in range(10):
        pending = sorted(ledger.pending(project), key=_order)
        if not pending:
            if not ledger.release_slot(project, run_id):
                return {"action": "none", "reason": "the slot was taken over"}
            pending = sorted(ledger.pending(project), key=_order)
            if not pending:
                return {"action": "released"}
            # an upload tried the slot while we still held it: its follow-up is ours to start
            if not ledger.claim_slot(project, run_id, execution, policy=policy):
                return {"action": "released", "reason": "another run took the slot and covers the rest"}
        chosen = pending[-1] if policy == "coalesce" else pending[0]
        covers = [str(p["run_id"]) for p in pending] if policy == "coalesce" else [str(chosen["run_id"])]
        successor = follow_up_run_id(run_id, str(chosen["run_id"])) if policy == "coalesce" else covers[0]
        payload = json.dumps(
            {
                "trigger": FOLLOW_UP,
                "project": project,
                "run_id": successor,
                "data": chosen["dataset_uri"],
                "version_id": chosen.get("version_id"),
                "follows": run_id,
                "covers": covers,
            },
            separators=(",", ":"),
        )
        if not ledger.hand_over_slot(
            project, run_id, successor, successor, payload, policy=policy, follows_execution=execution
        ):
            continue
        # started first: a failure after this point is finished by the retry (above), never left with uploads
        # covered by a run that was not started
        _start(sfn, state_machine_arn, successor, payload)
        _mark_covered(ledger, project, successor, covers)
        return {"action": "follow-up", "run_id": successor, "covers": covers}
    return {"action": "none", "reason": "the slot kept changing; the next upload or the reconciler finishes it"}


def _mark_covered(ledger: Ledger, project: str, successor: str, covers: list[str]) -> None:
    for covered in covers:
        ledger.update_request(project, covered, {"status": "covered", "covered_by": successor})
    ledger.drop_pending_many(project, covers)


def _start(sfn: Any, state_machine_arn: str | None, name: str, payload: str) -> bool:
    """Start the follow-up execution; False when an execution of that name exists already (started before)."""
    if not state_machine_arn:
        raise SettingsError(
            "STATE_MACHINE_ARN is not set: the follow-up run cannot start",
            field="Environment",
            fix="deploy template.yaml",
        )
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise translate(exc, "StartExecution of the follow-up run") from exc
        return False
    return True


def project_of_input(raw: Any) -> str | None:
    """The project an execution's raw input names, without any AWS call (None when it names none): the
    ``data/<project>/`` part of an S3 upload's key, else the ``project`` of a manual, scheduled or follow-up start.
    Only used to find a slot this very execution holds (:func:`finish_for_execution`): a wrong guess finds none."""
    if not isinstance(raw, dict):
        return None
    detail = raw.get("detail")
    name: Any = raw.get("project")
    if isinstance(detail, dict) and isinstance(detail.get("object"), dict):
        parts = str(detail["object"].get("key") or "").split("/")
        name = parts[1] if len(parts) >= 3 and parts[0] == "data" else None
    try:
        return check_project_name(name)
    except InvalidProjectName:
        return None


def finish_for_execution(
    ledger: Ledger, *, project: str, execution: str, state_machine_arn: str | None, sfn: Any
) -> dict[str, Any]:
    """The end of an execution that failed before its request reached the state data (NormalizeRequest took the
    project's slot, then failed or timed out): when the slot is held by this very execution, finish the run that
    holds it, as ReconcileJobs would 15 minutes later, so the uploads waiting on it are not held back."""
    slot = ledger.get_slot(project) if execution else None
    if slot is not None and slot.get("follows_execution") == execution and slot.get("follows"):
        holder = str(slot["follows"])  # a retry after this execution's run handed the slot over
    elif slot is not None and slot.get("execution") == execution:
        holder = str(slot["holder"])
    else:
        return {"action": "none", "reason": "the run ended before it had a request"}
    policy: Policy = "queue" if slot.get("policy") == "queue" else "coalesce"
    outcome = finish(
        ledger, project=project, run_id=holder, policy=policy, state_machine_arn=state_machine_arn, sfn=sfn
    )
    return {**outcome, "holder": holder}


def sweep(ledger: Ledger, slots: list[dict[str, Any]], *, state_machine_arn: str | None, sfn: Any) -> list[str]:
    """ReconcileJobs' part: a slot whose holder's execution ended without FinishRun (stopped, timed out) is
    finished on its behalf, so the uploads waiting on it get their follow-up without another upload."""
    finished = []
    for slot in slots:
        if not holder_ended(slot, state_machine_arn=state_machine_arn, sfn=sfn):
            continue
        successor, payload = str(slot["holder"]), str(slot.get("follow_up") or "")
        if payload and _start(sfn, state_machine_arn, successor, payload):
            # handed over, never started (FinishRun failed): started now, and its uploads marked as FinishRun would
            _mark_covered(ledger, str(slot["project"]), successor, list(json.loads(payload).get("covers") or []))
            finished.append(str(slot["project"]))
            continue
        policy: Policy = "queue" if slot.get("policy") == "queue" else "coalesce"
        outcome = finish(
            ledger,
            project=str(slot["project"]),
            run_id=str(slot["holder"]),
            policy=policy,
            state_machine_arn=state_machine_arn,
            sfn=sfn,
        )
        if outcome.get("action") in ("follow-up", "released"):
            finished.append(str(slot["project"]))
    return finished
