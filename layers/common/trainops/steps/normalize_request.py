"""The NormalizeRequest step."""

from __future__ import annotations

from typing import Any

from trainops import coalescing, logs, telemetry
from trainops.coalescing import FOLLOW_UP, Policy
from trainops.errors import require
from trainops.ledger import Ledger
from trainops.models import RunRequest, Skip
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.runs import lint_errors
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
        logs.decision("skipped", f"no run: {result.reason}")
        return result.model_dump(mode="json")
    logs.bind(run_id=result.run_id, project=result.project)
    config = require(config, "the config of a run request")
    lint_errors(config, settings)
    ledger = ledger_for(settings, clients)
    if result.trigger.kind == "schedule":
        done = _already_trained(ledger.project_runs(result.project), result.dataset.uri, result.dataset.fingerprint)
        if done is not None:
            telemetry.record(result.project, {"RunsSkipped": 1}, reason="no new data")
            logs.decision("no_new_data", f"scheduled retraining skipped: run {done} trained on this data", run=done)
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
    waiting = _admit(result, config.concurrency, execution, ledger, settings, clients)
    if waiting is not None:
        return waiting
    if result.trigger.kind == FOLLOW_UP:
        fields.update(follows=result.trigger.detail["follows"], covers=result.trigger.detail["covers"])
    if not ledger.start_run(result.run_id, result.project, execution, fields):
        existing = ledger.get_run(result.run_id) or {}
        telemetry.record(result.project, {"RunsSkipped": 1}, reason="duplicate delivery", run_id=result.run_id)
        logs.decision("duplicate_skipped", "duplicate delivery skipped", handled_by=existing.get("execution"))
        return Skip(
            reason=f"duplicate delivery: run {result.run_id} is already handled by {existing.get('execution')}"
        ).model_dump(mode="json")
    telemetry.record(result.project, {"RunsStarted": 1}, trigger=result.trigger.kind, run_id=result.run_id)
    logs.decision("run_started", f"run started ({result.trigger.kind})", trigger=result.trigger.kind)
    return {"action": "run", "request": result.model_dump(mode="json")}


def _admit(
    result: RunRequest, policy: Policy, execution: str, ledger: Ledger, settings: Settings, clients: Clients
) -> dict[str, Any] | None:
    """The project's concurrency policy (trainops.coalescing): None when this run starts now, else the Skip."""
    project, run_id = result.project, result.run_id
    if result.trigger.kind == FOLLOW_UP:
        covers = list(result.trigger.detail["covers"])
        if coalescing.admit_follow_up(ledger, project=project, run_id=run_id, execution=execution, covers=covers):
            return None
        reason = f"follow-up {run_id}: another run of {project} holds the project; that run covers its uploads"
        logs.decision("follow_up_deferred", reason)
        return Skip(reason=reason).model_dump(mode="json")
    upload = {
        "trigger": result.trigger.kind,
        "dataset_uri": result.dataset.uri,
        "version_id": result.dataset.version_id,
        "key": result.trigger.detail.get("key"),
    }
    outcome, other = coalescing.admit(
        ledger,
        project=project,
        run_id=run_id,
        execution=execution,
        upload=upload,
        policy=policy,
        state_machine_arn=settings.state_machine_arn,
        sfn=clients.sfn,
    )
    if outcome == "run":
        return None
    other = other or {}
    if outcome == "covered":
        reason = f"upload {run_id} was covered by run {other.get('covered_by')} while this execution was retried"
        logs.decision("already_covered", reason, covered_by=other.get("covered_by"))
        return Skip(reason=reason).model_dump(mode="json")
    if outcome == "duplicate":
        telemetry.record(project, {"RunsSkipped": 1}, reason="duplicate delivery", run_id=run_id)
        logs.decision("duplicate_skipped", "duplicate delivery skipped", handled_by=other.get("execution"))
        covered = f", covered by run {other['covered_by']}" if other.get("covered_by") else ""
        return Skip(
            reason=f"duplicate delivery: {run_id} was received by execution {other.get('execution')}{covered}"
        ).model_dump(mode="json")
    telemetry.record(project, {"RunsCoalesced": 1}, policy=policy, run_id=run_id)
    logs.decision("slot_busy", f"the project's run slot is busy: {policy}", holder=other.get("holder"), policy=policy)
    then = (
        "when it ends, one follow-up run trains on the newest data"
        if policy == "coalesce"
        else "queued: it trains when the runs before it have ended"
    )
    return Skip(reason=f"run {other.get('holder')} of {project} is in progress; {then} ({run_id})").model_dump(
        mode="json"
    )


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
