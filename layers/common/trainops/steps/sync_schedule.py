"""The SyncSchedule step."""

from __future__ import annotations

from typing import Any

from trainops.schedules import sync_from_config_event
from trainops.settings import Settings
from trainops.steps.common import Clients


def sync_schedule(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    return sync_from_config_event(event, settings=settings, s3=clients.s3, scheduler=clients.scheduler)
