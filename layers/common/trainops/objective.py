"""The run's objective: which metric, maximised or minimised. One home for the decision, used by planning (the
objective a model is registered and compared with), tuning (the objective the search optimises) and the linter.

Precedence, everywhere: ``tuning.objective`` (a tuned run optimises it) > ``problem.objective_*`` > a default
(the algorithm's for the problem type; for scripts and containers the first validation metric definition).
Direction: the configured one, else the algorithm's own metric table, else the metric's name (the words of
losses first: ``validation:mape``, ``poisson-nloglik`` and ``val_deviance`` are minimised), else unknown, and
the user is asked to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from trainops.config import ProjectConfig
from trainops.errors import ConfigInvalid

Direction = Literal["Maximize", "Minimize"]

# Words in a metric's name (after its channel prefix) that tell its direction. Losses are checked first:
# "error", "loss" and "deviance" win over "accuracy"-like words in names such as "accuracy_loss".
MINIMIZE_WORDS = ("rmse", "mse", "mae", "mape", "logloss", "error", "loss", "nloglik", "deviance", "tweedie")
MAXIMIZE_WORDS = ("auc", "accuracy", "f1", "f_beta", "precision", "recall", "ndcg", "map", "r2", "pre@", "score")


def direction_of(metric: str, known: Mapping[str, str] | None = None) -> Direction | None:
    """Maximize/Minimize for a metric: from ``known`` (an algorithm's metric table), else from its name."""
    if known and metric in known:
        return "Maximize" if known[metric] == "Maximize" else "Minimize"
    name = metric.rsplit(":", 1)[-1].lower()
    if any(word in name for word in MINIMIZE_WORDS):
        return "Minimize"
    if any(word in name for word in MAXIMIZE_WORDS):
        return "Maximize"
    return None


def configured(config: ProjectConfig) -> tuple[str | None, Direction | None]:
    """The metric and direction the config sets, ``tuning.objective`` first, then ``problem``."""
    tuning = config.tuning.objective if config.tuning else None
    metric = (tuning.metric if tuning else None) or config.problem.objective_metric
    direction = (tuning.direction if tuning else None) or config.problem.objective_direction
    return metric, direction


@dataclass(frozen=True)
class Resolved:
    """An objective and how it was arrived at: ``notes`` are (field, value, reason) of what was inferred."""

    metric: str | None
    direction: Direction | None
    notes: list[tuple[str, str, str]] = field(default_factory=list)


def for_own_code(config: ProjectConfig) -> Resolved:
    """A script's or container's objective: configured, else the first validation metric definition (else the
    first); None when there are no metric definitions (the model is then registered for review). Raises
    ConfigInvalid for an objective without a metric definition, or one whose direction cannot be told."""
    metric, direction = configured(config)
    definitions = config.algorithm.metric_definitions
    notes: list[tuple[str, str, str]] = []
    if metric is None and definitions:
        metric = next((m for m in definitions if "valid" in m.name), definitions[0]).name
        notes.append(
            ("problem.objective_metric", metric, "the first validation metric among algorithm.metric_definitions")
        )
    if metric is None:
        reason = (
            "no algorithm.metric_definitions: the model is registered for manual approval, with no objective to compare"
        )
        return Resolved(None, None, [("problem.objective_metric", "none", reason)])
    if metric not in {m.name for m in definitions}:
        raise ConfigInvalid(
            f"objective metric {metric!r} is not among algorithm.metric_definitions",
            field="problem.objective_metric",
            fix="add a metric definition with that name and a regex that captures its value",
        )
    if direction is None:
        direction = direction_of(metric)
        if direction is None:
            raise ConfigInvalid(
                f"cannot tell whether {metric!r} is better higher or lower",
                field="problem.objective_direction",
                fix="set problem.objective_direction: Maximize or Minimize",
            )
        notes.append(("problem.objective_direction", direction, f"{metric} is a {direction} metric"))
    return Resolved(metric, direction, notes)
