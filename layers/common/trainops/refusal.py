"""A refusal: something the pipeline will not run (what, which field, what to do, the error it raises).

Its own module, importing nothing but the errors, so that every module that decides a refusal (support, security,
autopilot) can use it without importing the others: no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainops.errors import TrainopsError


@dataclass(frozen=True)
class Refusal:
    """Something the pipeline will not run: what, which field, what to do, and the error type it raises."""

    kind: type[TrainopsError]
    message: str
    field: str
    fix: str
    rule: str = "CONF-E009"  # the linter's finding id

    def error(self) -> TrainopsError:
        return self.kind(self.message, field=self.field, fix=self.fix)
