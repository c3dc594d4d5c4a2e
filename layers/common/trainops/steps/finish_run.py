"""The FinishRun step: the end of every run that started (success and failure path).

Frees the project's run slot, or hands it to one follow-up run for the data that arrived meanwhile
(trainops.coalescing). Its own failure never changes the run's outcome: the state machine catches it.
"""

from __future__ import annotations

from typing import Any

from trainops import coalescing, telemetry
from trainops.models import RunRequest
from trainops.settings import Settings
from trainops.steps.common import Clients, config_of, ledger_for


def finish_run(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    """``event`` = ``{"state": <the state data>}``; a run that never got a request holds no slot."""
    state = event.get("state")
    request_data = state.get("request") if isinstance(state, dict) else None
    if not isinstance(request_data, dict):
        return {"action": "none", "reason": "the run ended before it had a request"}
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
    if outcome.get("action") == "follow-up" and not outcome.get("retried"):
        telemetry.record(request.project, {"FollowUpRuns": 1}, run_id=request.run_id, follow_up=outcome["run_id"])
    return outcome
