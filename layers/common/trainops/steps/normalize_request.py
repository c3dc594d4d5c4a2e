"""The NormalizeRequest step."""

from __future__ import annotations

from typing import Any

from trainops.models import Skip
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for, lint_errors
from trainops.triggers import normalize


def normalize_request(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    execution = str(event.get("execution") or "")
    result, config = normalize(
        event.get("input"),
        execution=execution,
        start_time=event.get("start_time"),
        data_bucket=settings.data_bucket,
        s3=clients.s3,
    )
    if isinstance(result, Skip):
        return result.model_dump(mode="json")
    assert config is not None
    lint_errors(config)
    ledger = ledger_for(settings, clients)
    fields = {
        "trigger": result.trigger.kind,
        "dataset_uri": result.dataset.uri,
        "config_source": result.config_source,
        "config_hash": result.config_hash,
    }
    if not ledger.start_run(result.run_id, result.project, execution, fields):
        existing = ledger.get_run(result.run_id) or {}
        return Skip(
            reason=f"duplicate delivery: run {result.run_id} is already handled by {existing.get('execution')}"
        ).model_dump(mode="json")
    return {"action": "run", "request": result.model_dump(mode="json")}
