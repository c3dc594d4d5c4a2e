"""What every step shares: the clients it is given, the ledger, the config of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainops import callbacks
from trainops.config import ProjectConfig, parse_config
from trainops.errors import ConfigInvalid
from trainops.ledger import Ledger
from trainops.models import RunRequest
from trainops.settings import Settings


@dataclass
class Clients:
    """The AWS clients a step uses; handlers build them lazily, tests pass their own."""

    s3: Any = None
    sagemaker: Any = None
    dynamodb: Any = None
    sfn: Any = None
    scheduler: Any = None


def ledger_for(settings: Settings, clients: Clients) -> Ledger:
    return Ledger(settings.runs_table, clients.dynamodb)


def config_of(request: RunRequest) -> ProjectConfig:
    return parse_config(request.config, expected_project=request.project)


def lint_errors(config: ProjectConfig) -> None:
    """Run the tuning linter before anything is launched; errors stop the run with every finding listed."""
    if config.tuning is None:
        return
    from trainops.lint import lint_config

    findings = [f for f in lint_config(config) if f.severity == "error"]
    if findings:
        first = findings[0]
        listed = "; ".join(f"{f.id} {f.field}: {f.message} (fix: {f.fix})" for f in findings)
        raise ConfigInvalid(f"tuning config has {len(findings)} error(s): {listed}", field=first.field, fix=first.fix)


def answer_if_done(
    created: dict[str, Any], kind: str, name: str, status_field: str, ledger: Ledger, clients: Clients
) -> None:
    """An adopted job that already ended will send no further event: answer the new token now."""
    if created.get("adopted") and created.get(status_field) in callbacks.TERMINAL:
        token = ledger.get_token(name)
        assert token is not None
        callbacks.answer(kind, name, token, ledger=ledger, sfn=clients.sfn, sagemaker=clients.sagemaker)
