"""The StartTuning step."""

from __future__ import annotations

import json
from typing import Any

from trainops import processing, training, tuning
from trainops.models import RunRequest, TrainingPlan
from trainops.settings import Settings
from trainops.steps.common import Clients, config_of, ledger_for


def start_tuning(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    plan = TrainingPlan.model_validate(event["plan"])
    config = config_of(request)
    channels = processing.split_outputs(request, settings.artifacts_bucket) if plan.needs_split else None
    body = training.build_training_request(
        request,
        config,
        plan,
        channels=channels,
        role_arn=settings.sagemaker_role_arn,
        artifacts_bucket=settings.artifacts_bucket,
    )
    ledger = ledger_for(settings, clients)
    name = tuning.tuning_job_name(request.project, request.run_id)
    ledger.store_token(name, "tuning", event["task_token"], request.run_id)
    started = tuning.start_tuning(
        body, config, run_id=request.run_id, project=request.project, sagemaker_client=clients.sagemaker
    )
    ledger.update_run(request.run_id, {"tuning_job": name, "warm_start": json.dumps(started.get("warm_start"))})
    return json.loads(json.dumps(started, default=str))
