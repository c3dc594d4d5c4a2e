"""The SyncSchedule step: a config upload creates, updates or deletes the project's retraining schedule.

Its outcome goes on the project's history in the runs table: accepted (with the schedule), or rejected with the
error and its fix. A rejected config still fails the invocation, so that after Lambda's retries the event lands
in the alarmed RejectedConfigsQueue (the function's OnFailure destination).
"""

from __future__ import annotations

from typing import Any

from trainops import logs
from trainops.errors import TrainopsError
from trainops.project_roles import ensure_project_role
from trainops.schedules import sync_from_config_event
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.types import PROJECT_NAME_RE


def sync_schedule(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    obj = ((event.get("detail") or {}).get("object") or {}) if isinstance(event, dict) else {}
    key = str(obj.get("key") or "")
    upload = {
        "uploaded_at": str(event.get("time") or "") if isinstance(event, dict) else "",
        "sequencer": str(obj.get("sequencer") or obj.get("version-id") or obj.get("etag") or ""),
    }
    logs.bind(project=_project_of(key))
    try:
        outcome = sync_from_config_event(event, settings=settings, s3=clients.s3, scheduler=clients.scheduler)
    except TrainopsError as exc:
        project = _project_of(key)
        logs.decision("config_rejected", f"config {key} rejected: {type(exc).__name__}", key=key)
        if project is not None:
            ledger_for(settings, clients).record_config(
                project,
                key,
                {
                    "status": "CONFIG_REJECTED",
                    "error": type(exc).__name__,
                    "cause": str(exc),
                    "field": exc.field,
                    "version_id": obj.get("version-id"),
                },
                **upload,
            )
        raise
    if outcome.get("project"):
        # the project's job role follows its accepted config (isolation between projects, trainops.project_roles);
        # a failure here fails the invocation, so Lambda retries it and then the RejectedConfigsQueue holds it
        outcome.update(ensure_project_role(str(outcome["project"]), settings=settings, iam=clients.iam))
        fields = {k: outcome.get(k) for k in ("action", "schedule", "expression", "role") if outcome.get(k)}
        logs.decision("config_accepted", f"config {key} accepted: schedule {outcome.get('action')}", key=key, **fields)
        ledger_for(settings, clients).record_config(
            str(outcome["project"]),
            key,
            {"status": "CONFIG_ACCEPTED", "version_id": obj.get("version-id"), **fields},
            **upload,
        )
    return outcome


def _project_of(key: str) -> str | None:
    """config/<project>.yaml -> project, when the name is a valid project name."""
    stem = key.removeprefix("config/").rsplit(".", 1)[0]
    return stem if key.startswith("config/") and PROJECT_NAME_RE.match(stem) else None
