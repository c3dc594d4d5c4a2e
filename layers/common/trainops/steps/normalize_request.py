"""The NormalizeRequest step."""

from __future__ import annotations

from typing import Any

from trainops import telemetry
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
    if result.trigger.kind == "schedule":
        done = _already_trained(ledger.project_runs(result.project), result.dataset.uri, result.dataset.fingerprint)
        if done is not None:
            telemetry.record(result.project, {"RunsSkipped": 1}, reason="no new data")
            return Skip(
                reason=f"scheduled retraining of {result.project}: no new data since run {done} "
                f"({result.dataset.uri} unchanged)"
            ).model_dump(mode="json")
    fields = {
        "trigger": result.trigger.kind,
        "dataset_uri": result.dataset.uri,
        "dataset_fingerprint": result.dataset.fingerprint,
        "config_source": result.config_source,
        "config_hash": result.config_hash,
    }
    if not ledger.start_run(result.run_id, result.project, execution, fields):
        existing = ledger.get_run(result.run_id) or {}
        telemetry.record(result.project, {"RunsSkipped": 1}, reason="duplicate delivery", run_id=result.run_id)
        return Skip(
            reason=f"duplicate delivery: run {result.run_id} is already handled by {existing.get('execution')}"
        ).model_dump(mode="json")
    telemetry.record(result.project, {"RunsStarted": 1}, trigger=result.trigger.kind, run_id=result.run_id)
    return {"action": "run", "request": result.model_dump(mode="json")}


def _already_trained(runs: list[dict[str, Any]], uri: str, fingerprint: str | None) -> str | None:
    """The run that already trained on exactly this data (same object version), if any."""
    for run in runs:
        if (
            run.get("status") == "SUCCEEDED"
            and run.get("dataset_uri") == uri
            and fingerprint is not None
            and run.get("dataset_fingerprint") == fingerprint
        ):
            return str(run["run_id"])
    return None
