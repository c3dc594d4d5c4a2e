"""What every step shares: the clients it is given and the runs table. Nothing heavier: every handler imports this
module, so what it imports is every function's cold start (benchmarks/cold_start.py). What only the steps of a run
share lives in :mod:`trainops.steps.runs` (the request and its config) and :mod:`trainops.steps.launch` (the jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainops.ledger import Ledger
from trainops.settings import Settings


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
