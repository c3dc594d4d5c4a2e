"""The StartTraining step."""

from __future__ import annotations

from typing import Any

from trainops import logs, training
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.launch import answer_if_done, training_request
from trainops.steps.runs import parse_run


def start_training(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request, plan, config = parse_run(event)
    base = None
    if config.incremental.enabled:
        from trainops import registry  # only incremental training reads the registry here

        champion = registry.current_champion(request.project, clients.sagemaker)
        if champion is not None:
            base = registry.base_model_from(champion)
    body = training_request(request, config, plan, settings, base)
    seeded = training.seed_checkpoint(body, base, clients.s3) if base is not None else None
    ledger = ledger_for(settings, clients)
    name = body["TrainingJobName"]
    ledger.store_token(name, "training", event["task_token"], request.run_id)
    created = training.create_training_job(body, clients.sagemaker)
    ledger.update_run(
        request.run_id,
        {
            "training_job": name,
            "incremental_from": base.package_arn if base else None,
            "checkpoint_seed": seeded,
        },
    )
    logs.job_started("training", name, adopted=bool(created["adopted"]))
    answer_if_done(created, "training", name, "TrainingJobStatus", ledger, clients)
    return {"job_name": name, "adopted": created["adopted"], "incremental_from": base.package_arn if base else None}
