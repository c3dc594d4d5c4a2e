"""The SelectAlgorithm step."""

from __future__ import annotations

from typing import Any

from trainops.models import RunRequest
from trainops.planning import plan_training
from trainops.project_roles import ensure_project_role
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.runs import config_of


def select_algorithm(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    config = config_of(request)
    plan = plan_training(request, config, region=settings.region, s3=clients.s3)
    if not request.config_uploaded:
        # SyncSchedule makes the project's job role when its config is uploaded; a project trained on defaults
        # never had one, so its first job would have no role to run as (AccessDenied on iam:PassRole)
        ensure_project_role(request.project, settings=settings, iam=clients.iam)
    ledger_for(settings, clients).update_run(
        request.run_id,
        {
            "algorithm": plan.algorithm,
            "image": plan.image,
            "objective": f"{plan.objective_metric} ({plan.objective_direction})" if plan.objective_metric else "none",
            "inferred": [i.model_dump() for i in plan.inferred],
            "input_mode": plan.input_mode,
        },
    )
    return plan.model_dump(mode="json")
