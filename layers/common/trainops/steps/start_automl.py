"""The StartAutoML step: CreateAutoMLJobV2 for the run (adopting the job on a retry)."""

from __future__ import annotations

from typing import Any

from trainops import autopilot, logs, training
from trainops.project_roles import project_role_arn
from trainops.security import StackSecurity
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.runs import parse_run


def start_automl(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request, plan, config = parse_run(event)
    body = autopilot.build_request(
        request,
        config,
        plan,
        role_arn=project_role_arn(settings, request.project),  # the project's own job role
        artifacts_bucket=settings.artifacts_bucket,
        tags=training.tags_for(request, config),
        stack=StackSecurity.from_settings(settings),
    )
    started = autopilot.start_automl_job(body, clients.sagemaker)
    logs.job_started("automl", started["job_name"], adopted=bool(started["adopted"]))
    ledger_for(settings, clients).update_run(request.run_id, {"automl_job": started["job_name"]})
    criteria = body["AutoMLProblemTypeConfig"]["TabularJobConfig"]["CompletionCriteria"]
    # the describe loop's state: the first wait, and the runtime that bounds it
    return {
        **started,
        "wait_seconds": autopilot.FIRST_POLL_SECONDS,
        "waited": 0,
        "max_runtime": criteria["MaxAutoMLJobRuntimeInSeconds"],
    }
