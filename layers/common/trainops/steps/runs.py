"""What the steps of a run share: its request, plan and config (the config model and its YAML parser are imported
only by the functions that read a config)."""

from __future__ import annotations

from typing import Any

from trainops.config import ProjectConfig, parse_config
from trainops.models import RunRequest, TrainingPlan
from trainops.security import StackSecurity
from trainops.settings import Settings


def config_of(request: RunRequest) -> ProjectConfig:
    return parse_config(request.config, expected_project=request.project)


def parse_run(event: dict[str, Any]) -> tuple[RunRequest, TrainingPlan, ProjectConfig]:
    """The request, plan and config a training or tuning step works from."""
    request = RunRequest.model_validate(event["request"])
    return request, TrainingPlan.model_validate(event["plan"]), config_of(request)


def lint_errors(config: ProjectConfig, settings: Settings | None = None) -> None:
    """The config linter, run on every config before anything is launched: the rules ``trainops config validate``
    runs (``trainops.lint.raise_on_errors``), with the stack's job security settings."""
    from trainops.lint import raise_on_errors  # imported on first use: not part of the handler's cold start

    raise_on_errors(config, stack=StackSecurity.from_settings(settings) if settings is not None else None)
