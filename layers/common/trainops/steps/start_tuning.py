"""The StartTuning step."""

from __future__ import annotations

import json
from typing import Any

from trainops import logs, tuning
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.launch import answer_if_done, training_request
from trainops.steps.runs import parse_run


def start_tuning(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request, plan, config = parse_run(event)
    body = training_request(request, config, plan, settings)
    ledger = ledger_for(settings, clients)
    name = tuning.tuning_job_name(request.project, request.run_id)
    ledger.store_token(name, "tuning", event["task_token"], request.run_id)
    objective = None
    if plan.objective_metric and plan.objective_direction:  # the objective the registry compares with
        objective = tuning.ResolvedObjective(metric=plan.objective_metric, direction=plan.objective_direction)
    started = tuning.start_tuning(
        body,
        config,
        run_id=request.run_id,
        project=request.project,
        sagemaker_client=clients.sagemaker,
        objective=objective,
    )
    warm = started.get("warm_start") or {}
    logs.decision(
        "warm_start",
        f"warm start of {name}: {warm.get('type') or 'none'} from {len(warm.get('parents') or [])} parent(s)"
        f" ({warm.get('reason')})",
        job=name,
        parents=warm.get("parents") or [],
        warm_start_type=warm.get("type"),
        reason=warm.get("reason"),
    )
    logs.job_started("tuning", name, adopted=bool(started.get("adopted")))
    ledger.update_run(request.run_id, {"tuning_job": name, "warm_start": json.dumps(started.get("warm_start"))})
    if started.get("adopted"):
        status = clients.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        answer_if_done({"adopted": True, **status}, "tuning", name, "HyperParameterTuningJobStatus", ledger, clients)
    return json.loads(json.dumps(started, default=str))
