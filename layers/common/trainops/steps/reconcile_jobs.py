"""The ReconcileJobs step (every 15 minutes): answer runs whose job ended but whose event never arrived."""

from __future__ import annotations

from typing import Any

from trainops import logs
from trainops.events import ScheduledEvent, parse
from trainops.reconcile import reconcile
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for


def reconcile_jobs(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    # the rule's Scheduled Event carries nothing the sweep needs, but anything else is not the rule's
    parse(ScheduledEvent, event, what="ReconcileJobs event", fix="ReconcileJobs runs on its 15-minute schedule rule")
    outcome = reconcile(
        ledger=ledger_for(settings, clients),
        sfn=clients.sfn,
        sagemaker=clients.sagemaker,
        state_machine_arn=settings.state_machine_arn,
    )
    logs.decision("reconciled", "reconciled the waiting runs and held slots", **outcome)
    return outcome
