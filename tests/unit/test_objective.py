"""One objective resolver: planning (what the registry compares) and tuning (what the search optimises) agree
on the metric, its direction and which part of the config wins."""

from __future__ import annotations

from typing import Any

import pytest
from trainops.config import parse_config
from trainops.errors import ConfigInvalid
from trainops.objective import direction_of, for_own_code
from trainops.tuning import ResolvedObjective, build_tuning_request, resolve_objective

from tests.unit.test_bring_your_own import SOURCE
from tests.unit.test_tuning_request import plan_request

RANGES = {"alpha": {"type": "continuous", "min": 0.1, "max": 1.0}}


def script_config(metric: str, **extra: Any) -> Any:
    return parse_config(
        {
            "project": "churn",
            "algorithm": {
                "name": "script",
                "framework": "sklearn",
                "entry_point": "train.py",
                "source_dir": SOURCE,
                "metric_definitions": [{"name": metric, "regex": "x=([0-9.]+)"}],
            },
            "tuning": {"ranges": RANGES, "max_jobs": 20, "max_parallel_jobs": 2},
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("validation:mape", "Minimize"),
        ("validation:poisson-nloglik", "Minimize"),
        ("val_deviance", "Minimize"),
        ("validation:accuracy_loss", "Minimize"),
        ("validation:auc", "Maximize"),
        ("test:score", "Maximize"),
    ],
)
def test_planning_and_tuning_infer_the_same_direction(metric: str, direction: str) -> None:
    cfg = script_config(metric)
    planned = for_own_code(cfg)
    tuned = resolve_objective(cfg)
    assert (planned.metric, planned.direction) == (metric, direction)
    assert (tuned.metric, tuned.direction) == (metric, direction)
    assert direction_of(metric) == direction


def test_tuning_objective_wins_over_problem_in_planning_and_tuning_alike() -> None:
    cfg = parse_config(
        {
            "project": "churn",
            "algorithm": {
                "name": "script",
                "framework": "sklearn",
                "entry_point": "train.py",
                "source_dir": SOURCE,
                "metric_definitions": [
                    {"name": "validation:auc", "regex": "auc=([0-9.]+)"},
                    {"name": "validation:logloss", "regex": "ll=([0-9.]+)"},
                ],
            },
            "problem": {"objective_metric": "validation:auc"},
            "tuning": {"objective": {"metric": "validation:logloss"}, "ranges": RANGES, "max_jobs": 20},
        }
    )
    assert for_own_code(cfg).metric == resolve_objective(cfg).metric == "validation:logloss"


def test_a_metric_of_unknown_direction_is_a_question_for_the_user_not_a_guess() -> None:
    cfg = script_config("validation:widgets")
    with pytest.raises(ConfigInvalid) as info:
        for_own_code(cfg)
    assert info.value.field == "problem.objective_direction"


def test_the_tuning_request_optimises_the_plans_objective() -> None:
    # Given a plan whose objective (what the registry will compare) differs from what the config alone implies
    cfg = parse_config(
        {"project": "churn", "tuning": {"ranges": {"eta": {"type": "continuous", "min": 0.1, "max": 0.3}}}}
    )
    # When the tuning request is built with the plan's objective
    request = build_tuning_request(
        plan_request(),
        cfg,
        tuning_job_name="churn-12345678",
        objective=ResolvedObjective(metric="validation:aucpr", direction="Maximize"),
    )
    # Then the search optimises exactly that
    sent = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    assert sent == {"MetricName": "validation:aucpr", "Type": "Maximize"}
