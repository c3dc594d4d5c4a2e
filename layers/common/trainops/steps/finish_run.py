"""The FinishRun step: the end of every run that started (success and failure path).

Announces the run's end on the default bus (``Run Succeeded`` / ``Run Failed``, trainops.notifications), then
frees the project's run slot, or hands it to one follow-up run for the data that arrived meanwhile
(trainops.coalescing). Its own failure never changes the run's outcome: the state machine catches it.
"""

from __future__ import annotations

import logging
from typing import Any

from trainops import coalescing, logs, notifications, telemetry
from trainops.models import Registration, RunRequest
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.runs import config_of

log = logging.getLogger(__name__)


def finish_run(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    """``event`` = ``{"state": <the state data>, "execution": <name>}``; a run that failed before it had a request
    frees the slot only if this execution holds it."""
    state = event.get("state")
    if isinstance(state, dict):
        try:
            _announce(state, settings, clients)
        except Exception:  # an event that cannot be built must never keep the project's slot held
            log.exception("the run's end could not be announced; freeing the project's slot anyway")
            telemetry.record(None, {"EventsNotPublished": 1})
    request_data = state.get("request") if isinstance(state, dict) else None
    if isinstance(request_data, dict):
        request = RunRequest.model_validate(request_data)
        policy = config_of(request).concurrency
        if policy == "parallel":
            return {"action": "none", "reason": "concurrency: parallel"}
        outcome = coalescing.finish(
            ledger_for(settings, clients),
            project=request.project,
            run_id=request.run_id,
            policy=policy,
            state_machine_arn=settings.state_machine_arn,
            sfn=clients.sfn,
        )
        project, run_id = request.project, request.run_id
    else:  # failed at the first state: it may have taken the slot before failing
        named = coalescing.project_of_input(state.get("input")) if isinstance(state, dict) else None
        if named is None:
            return {"action": "none", "reason": "the run ended before it had a request"}
        project = named
        outcome = coalescing.finish_for_execution(
            ledger_for(settings, clients),
            project=project,
            execution=str(event.get("execution") or ""),
            state_machine_arn=settings.state_machine_arn,
            sfn=clients.sfn,
        )
        run_id = str(outcome.get("holder") or "")
    logs.decision(
        {"follow-up": "follow_up_started", "released": "slot_released"}.get(str(outcome.get("action")), "slot_kept"),
        f"the project's run slot: {outcome.get('action')}"
        + (f" ({outcome['reason']})" if outcome.get("reason") else ""),
        follow_up=outcome.get("run_id") if outcome.get("action") == "follow-up" else None,
        covers=outcome.get("covers"),
    )
    if outcome.get("action") == "follow-up" and not outcome.get("retried"):
        telemetry.record(project, {"FollowUpRuns": 1}, run_id=run_id, follow_up=outcome["run_id"])
    return outcome


def _announce(state: dict[str, Any], settings: Settings, clients: Clients) -> None:
    """``Run Failed`` on the failure path (RecordFailure's ``failure``), ``Run Succeeded`` after a registration.
    Emitted first, so a failure freeing the slot never loses it; a failed PutEvents is logged, never raised."""
    detail: notifications.EventDetail | None
    if isinstance(state.get("failure"), dict):
        detail = notifications.run_failed(state, state_machine_arn=settings.state_machine_arn)
    elif isinstance(state.get("registration"), dict) and isinstance(state.get("request"), dict):
        detail = notifications.run_succeeded(
            RunRequest.model_validate(state["request"]),
            Registration.model_validate(state["registration"]),
            state_machine_arn=settings.state_machine_arn,
            studio_domain_id=settings.studio_domain_id,
        )
    else:
        detail = None
    if detail is not None:
        notifications.emit([detail], clients.events)
