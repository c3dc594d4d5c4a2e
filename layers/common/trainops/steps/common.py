"""What every step shares: the clients it is given, the ledger, the config of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainops import callbacks, processing, training
from trainops.config import ProjectConfig, parse_config
from trainops.errors import require
from trainops.ledger import Ledger
from trainops.models import RunRequest, TrainingPlan
from trainops.project_roles import project_role_arn
from trainops.security import StackSecurity
from trainops.settings import Settings
from trainops.training import BaseModel


@dataclass
class Clients:
    """The AWS clients a step uses; handlers build them lazily, tests pass their own."""

    s3: Any = None
    sagemaker: Any = None
    dynamodb: Any = None
    sfn: Any = None
    scheduler: Any = None
    events: Any = None
    iam: Any = None


def ledger_for(settings: Settings, clients: Clients) -> Ledger:
    return Ledger(settings.runs_table, clients.dynamodb)


def config_of(request: RunRequest) -> ProjectConfig:
    return parse_config(request.config, expected_project=request.project)


def parse_run(event: dict[str, Any]) -> tuple[RunRequest, TrainingPlan, ProjectConfig]:
    """The request, plan and config a training or tuning step works from."""
    request = RunRequest.model_validate(event["request"])
    return request, TrainingPlan.model_validate(event["plan"]), config_of(request)


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


def lint_errors(config: ProjectConfig, settings: Settings | None = None) -> None:
    """The config linter, run on every config before anything is launched: the rules ``trainops config validate``
    runs (``trainops.lint.raise_on_errors``), with the stack's job security settings."""
    from trainops.lint import raise_on_errors  # imported on first use: not part of the handler's cold start

    raise_on_errors(config, stack=StackSecurity.from_settings(settings) if settings is not None else None)


def answer_if_done(
    created: dict[str, Any], kind: str, name: str, status_field: str, ledger: Ledger, clients: Clients
) -> None:
    """An adopted job that already ended will send no further event: answer the new token now."""
    if created.get("adopted") and created.get(status_field) in callbacks.TERMINAL:
        token = require(ledger.get_token(name), f"the task token stored for {name}")  # stored before the create
        callbacks.answer(kind, name, token, ledger=ledger, sfn=clients.sfn, sagemaker=clients.sagemaker)
