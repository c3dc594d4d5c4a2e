"""The SplitDataset step."""

from __future__ import annotations

from typing import Any

from trainops import logs, processing
from trainops.models import RunRequest, TrainingPlan
from trainops.project_roles import project_role_arn
from trainops.security import StackSecurity
from trainops.settings import Settings
from trainops.steps.common import Clients, ledger_for
from trainops.steps.launch import answer_if_done
from trainops.steps.runs import config_of


def split_dataset(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    request = RunRequest.model_validate(event["request"])
    plan = TrainingPlan.model_validate(event["plan"])
    config = config_of(request)
    code_uri = processing.upload_split_script(clients.s3, settings.artifacts_bucket)
    body = processing.build_split_request(
        request,
        config,
        plan,
        code_uri=code_uri,
        role_arn=project_role_arn(settings, request.project),
        artifacts_bucket=settings.artifacts_bucket,
        region=settings.region,
        stack=StackSecurity.from_settings(settings),
    )
    ledger = ledger_for(settings, clients)
    ledger.store_token(body["ProcessingJobName"], "processing", event["task_token"], request.run_id)
    created = processing.create_processing_job(body, clients.sagemaker)
    logs.job_started("processing", body["ProcessingJobName"], adopted=bool(created["adopted"]))
    answer_if_done(created, "processing", body["ProcessingJobName"], "ProcessingJobStatus", ledger, clients)
    return {"job_name": body["ProcessingJobName"], "adopted": created["adopted"]}
