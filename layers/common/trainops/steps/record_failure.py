"""The RecordFailure step."""

from __future__ import annotations

from typing import Any

from trainops import callbacks, coalescing, logs, telemetry
from trainops.models import RunFailure
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for


def record_failure(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    """``event`` = ``{"state": <the state data with .error from the Catch>, "execution": <name>}``."""
    state = _mapping(event.get("state"))
    error = _mapping(state.get("error"))
    name = str(error.get("Error") or "UnknownError")
    cause = callbacks.parse_cause(error.get("Cause"))
    request = _mapping(state.get("request"))
    execution = str(event.get("execution") or "unknown")
    run_id = str(request.get("run_id") or execution)
    # failed at the first state: the project its input names, so the failure shows in the project's history
    project = request.get("project") or coalescing.project_of_input(state.get("input"))
    ledger = ledger_for(settings, clients)
    existing = ledger.get_run(run_id) if request.get("run_id") else None
    if existing and existing.get("job_failure") and (not cause or name.endswith("JobFailed")):
        cause = str(existing["job_failure"])  # SendTaskFailure's cause, kept by the callback
    status = "NO_MODEL" if name in ("NoModelProduced", "TuningJobFailed") else "FAILED"
    failure = RunFailure(run_id=run_id, project=project, status=status, error=name, cause=cause or name)
    fields = {"status": status, "error": name, "cause": failure.cause, "execution": execution}
    if existing is None:
        fields["run_id"] = run_id
    ledger.update_run(run_id, {k: v for k, v in fields.items() if v is not None}, project=project)
    logs.bind(run_id=run_id, project=project)
    logs.decision("run_failed", f"run {run_id} ended {status}: {name}: {failure.cause}", error=name, status=status)
    metric = "RunsWithoutModel" if status == "NO_MODEL" else "RunsFailed"
    telemetry.record(str(project) if project else None, {metric: 1}, error=name, run_id=run_id)
    return failure.model_dump(mode="json")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
