"""The HandleJobEvent step."""

from __future__ import annotations

from typing import Any

from trainops import callbacks
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for


def handle_job_event(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    return callbacks.handle_job_event(
        event, ledger=ledger_for(settings, clients), sfn=clients.sfn, sagemaker=clients.sagemaker
    )
