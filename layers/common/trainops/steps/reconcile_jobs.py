"""The ReconcileJobs step (every 15 minutes): answer runs whose job ended but whose event never arrived."""

from __future__ import annotations

from typing import Any

from trainops import logs
from trainops.reconcile import reconcile
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for


def reconcile_jobs(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    del event  # the schedule's event carries nothing the step needs
    outcome = reconcile(
        ledger=ledger_for(settings, clients),
        sfn=clients.sfn,
        sagemaker=clients.sagemaker,
        state_machine_arn=settings.state_machine_arn,
    )
    logs.decision("reconciled", "reconciled the waiting runs and held slots", **outcome)
    return outcome
