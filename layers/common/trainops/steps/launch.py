"""What the steps that launch a SageMaker job share: the training request, and the answer to an adopted job that
already ended."""

from __future__ import annotations

from typing import Any

from trainops import callbacks, processing, training
from trainops.config import ProjectConfig
from trainops.errors import require
from trainops.ledger import Ledger
from trainops.models import RunRequest, TrainingPlan
from trainops.project_roles import project_role_arn
from trainops.security import StackSecurity
from trainops.settings import Settings
from trainops.steps.common import Clients
from trainops.training import BaseModel


def training_request(
    request: RunRequest,
    config: ProjectConfig,
    plan: TrainingPlan,
    settings: Settings,
    base_model: BaseModel | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request of the run (also the template of a tuning job's training jobs)."""
    channels = processing.split_outputs(request, settings.artifacts_bucket) if plan.needs_split else None
    return training.build_training_request(
        request,
        config,
        plan,
        channels=channels,
        role_arn=project_role_arn(settings, request.project),
        artifacts_bucket=settings.artifacts_bucket,
        base_model=base_model,
        stack=StackSecurity.from_settings(settings),
    )


def answer_if_done(
    created: dict[str, Any], kind: str, name: str, status_field: str, ledger: Ledger, clients: Clients
) -> None:
    """An adopted job that already ended will send no further event: answer the new token now."""
    if created.get("adopted") and created.get(status_field) in callbacks.TERMINAL:
        token = require(ledger.get_token(name), f"the task token stored for {name}")  # stored before the create
        callbacks.answer(kind, name, token, ledger=ledger, sfn=clients.sfn, sagemaker=clients.sagemaker)
