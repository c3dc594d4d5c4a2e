"""Every tuning linter rule, with a config that trips it and one that does not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from trainops.config import parse_config
from trainops.lint import Finding, lint_config
from trainops_local.config_cli import validate_command

CLEAN: dict[str, Any] = {
    "project": "churn",
    "algorithm": {"name": "xgboost", "hyperparameters": {"num_round": 100}},
    "problem": {"type": "binary", "objective_metric": "validation:auc", "objective_direction": "Maximize"},
    "tuning": {
        "ranges": {
            "eta": {"type": "continuous", "min": 0.05, "max": 0.3, "scaling": "Logarithmic"},
            "max_depth": {"type": "integer", "min": 3, "max": 8, "scaling": "Linear"},
        },
        "max_jobs": 20,
        "max_parallel_jobs": 2,
    },
}


def with_(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``base`` (default CLEAN) with the dotted ``path`` set to ``value``."""
    data = copy.deepcopy(base or CLEAN)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return data


def rng(low: Any, high: Any, kind: str = "continuous", scaling: str = "Linear") -> dict[str, Any]:
    return {"type": kind, "min": low, "max": high, "scaling": scaling}


def ids(data: dict[str, Any], **kw: Any) -> set[str]:
    return {f.id for f in lint_config(parse_config(data), **kw)}


def findings(data: dict[str, Any], rule: str) -> list[Finding]:
    return [f for f in lint_config(parse_config(data)) if f.id == rule]


MANY = {f"hp{i}": rng(1, 2) for i in range(31)}
SCRIPT = {"name": "script", "entry_point": "train.py", "source_dir": "s3://bkt/src.tar.gz", "framework": "sklearn"}
EARLIER = {
    "HyperParameterTuningJobName": "churn-0a0b0c0d",
    "HyperParameterTuningJobStatus": "Completed",
    "HyperParameterTuningJobConfig": {
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"}
    },
    "TrainingJobDefinition": {
        "StaticHyperParameters": {"num_round": "100", "objective": "binary:logistic"},
        "HyperParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.05", "MaxValue": "0.3"}],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "8"}],
        },
    },
    "TrainingJobStatusCounters": {"Completed": 10},
}

# rule id -> (a config that trips it, a config that does not)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "TUNE-E001": (with_("tuning.ranges", MANY), with_("tuning.ranges", dict(list(MANY.items())[:30]))),
    "TUNE-E002": (
        with_("tuning.ranges.booster", {"type": "categorical", "values": [str(i) for i in range(31)]}),
        with_("tuning.ranges.booster", {"type": "categorical", "values": [str(i) for i in range(30)]}),
    ),
    "TUNE-E003": (
        with_("algorithm.hyperparameters", {f"s{i}": 1 for i in range(98)}),
        with_("algorithm.hyperparameters", {f"s{i}": 1 for i in range(97)}),
    ),
    "TUNE-E004": (
        with_("algorithm", {**SCRIPT, "metric_definitions": [{"name": f"m{i}", "regex": "x"} for i in range(21)]}),
        with_("algorithm", {**SCRIPT, "metric_definitions": [{"name": f"m{i}", "regex": "x"} for i in range(20)]}),
    ),
    "TUNE-E005": (with_("tuning.ranges.gamma", rng(2, 2)), with_("tuning.ranges.gamma", rng(1, 2))),
    "TUNE-E006": (with_("tuning.ranges.gamma", rng("low", 2)), with_("tuning.ranges.gamma", rng("0.5", 2))),
    "TUNE-E007": (
        with_("tuning.ranges.max_depth", rng(3.5, 8, "integer")),
        with_("tuning.ranges.max_depth", rng("3", 8, "integer")),
    ),
    "TUNE-E008": (
        with_("tuning.ranges.eta", rng(0, 0.3, scaling="Logarithmic")),
        with_("tuning.ranges.eta", rng(0.01, 0.3, scaling="Logarithmic")),
    ),
    "TUNE-E009": (
        with_("tuning.ranges.subsample", rng(0.5, 1.0, scaling="ReverseLogarithmic")),
        with_("tuning.ranges.subsample", rng(0.5, 0.99, scaling="ReverseLogarithmic")),
    ),
    "TUNE-E010": (
        with_("tuning.strategy", "Hyperband", with_("tuning.early_stopping", "Auto")),
        with_("tuning.strategy", "Hyperband"),
    ),
    "TUNE-E011": (
        with_("tuning.warm_start", {"parents": [f"churn-0000000{i}" for i in range(6)]}),
        with_("tuning.warm_start", {"parents": [f"churn-0000000{i}" for i in range(5)]}),
    ),
    "TUNE-E012": (
        with_("tuning.warm_start", {"parents": ["a" * 33]}),
        with_("tuning.warm_start", {"parents": ["a" * 32]}),
    ),
    "TUNE-E013": (
        with_("tuning.strategy", "Grid", with_("tuning.ranges", {"eta": rng(0.1, 0.3)})),
        with_(
            "tuning.strategy", "Grid", with_("tuning.ranges", {"eta": {"type": "categorical", "values": [0.1, 0.3]}})
        ),
    ),
    "TUNE-E014": (
        with_("tuning.strategy", "Grid", with_("tuning.ranges", {"max_depth": rng(1, 40, "integer")})),
        with_("tuning.strategy", "Grid", with_("tuning.ranges", {"max_depth": rng(1, 30, "integer")})),
    ),
    "TUNE-E015": (with_("tuning.max_parallel_jobs", 21), with_("tuning.max_parallel_jobs", 2)),
    "TUNE-E016": (
        with_("tuning.completion_criteria", {"max_jobs_not_improving": 2}),
        with_("tuning.completion_criteria", {"max_jobs_not_improving": 3}),
    ),
    "TUNE-E017": (
        with_("algorithm", {**SCRIPT, "metric_definitions": [{"name": "validation:f1", "regex": "f1=(\\S+)"}]}),
        with_("algorithm", {**SCRIPT, "metric_definitions": [{"name": "validation:auc", "regex": "auc=(\\S+)"}]}),
    ),
    "TUNE-E018": (
        with_("tuning.hyperband", {"min_resource": 50, "max_resource": 10}, with_("tuning.strategy", "Hyperband")),
        with_("tuning.hyperband", {"min_resource": 5, "max_resource": 10}, with_("tuning.strategy", "Hyperband")),
    ),
    "TUNE-E019": (with_("tuning.ranges", {}), CLEAN),
    "TUNE-E020": (
        with_("problem", {"objective_metric": "validation:widgets"}),
        with_("problem", {"objective_metric": "validation:widgets", "objective_direction": "Maximize"}),
    ),
    "TUNE-W001": (
        with_("tuning.ranges", {n: rng(0.1, 0.2) for n in ("gamma", "subsample", "colsample_bytree", "x", "y", "z")}),
        with_("tuning.ranges", {n: rng(0.1, 0.2) for n in ("gamma", "subsample", "x", "y", "z")}),
    ),
    "TUNE-W002": (
        with_("tuning.ranges.max_depth", rng(2, 50, "integer")),
        with_("tuning.ranges.max_depth", rng(2, 10, "integer")),
    ),
    "TUNE-W003": (
        with_("tuning.ranges.min_child_weight", rng(0.1, 100)),
        with_("tuning.ranges.min_child_weight", rng(0.1, 100, scaling="Logarithmic")),
    ),
    "TUNE-W004": (
        with_("tuning.ranges.eta", rng(0.05, 0.3, scaling="Auto")),
        with_("tuning.ranges.eta", rng(0.05, 0.3, scaling="Logarithmic")),
    ),
    "TUNE-W005": (with_("tuning.max_parallel_jobs", 3), with_("tuning.max_parallel_jobs", 2)),
    "TUNE-W006": (with_("resources", {"instance_count": 2}), with_("resources", {"instance_count": 1})),
    "TUNE-W007": (with_("tuning.early_stopping", "Off"), with_("tuning.early_stopping", "Auto")),
    "TUNE-W009": (
        with_("problem.objective_direction", "Minimize"),
        with_("problem.objective_direction", "Maximize"),
    ),
    "TUNE-W010": (
        with_("algorithm.hyperparameters", {"num_round": 100, "eta": 0.1}),
        with_("algorithm.hyperparameters", {"num_round": 100, "gamma": 0.1}),
    ),
    "TUNE-W011": (
        with_("tuning.hyperband", {"min_resource": 1}),
        with_("tuning.hyperband", {"min_resource": 1}, with_("tuning.strategy", "Hyperband")),
    ),
}


def test_the_clean_config_has_no_finding() -> None:
    assert lint_config(parse_config(CLEAN)) == []


def test_no_tuning_section_no_finding() -> None:
    assert lint_config(parse_config({"project": "churn"})) == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_the_bad_config_only(rule: str) -> None:
    bad, good = CASES[rule]
    assert rule in ids(bad)
    assert rule not in ids(good)
    for finding in findings(bad, rule):
        assert finding.severity == ("error" if rule.startswith("TUNE-E") else "warning")
        assert finding.field and finding.message and finding.fix


def test_warm_start_advice_only_with_earlier_jobs_and_without_auto() -> None:
    off = with_("tuning.warm_start", "off")
    assert "TUNE-W008" in ids(off, earlier_tuning_jobs=[EARLIER])
    assert "TUNE-W008" not in ids(off)  # no earlier jobs given
    assert "TUNE-W008" not in ids(CLEAN, earlier_tuning_jobs=[EARLIER])  # auto picks them up anyway
    other_objective = copy.deepcopy(EARLIER)
    other_objective["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = (
        "validation:error"
    )
    assert "TUNE-W008" not in ids(off, earlier_tuning_jobs=[other_objective])
    [finding] = findings_with(off, [EARLIER])
    assert "churn-0a0b0c0d" in finding.message


def findings_with(data: dict[str, Any], earlier: list[dict[str, Any]]) -> list[Finding]:
    return [f for f in lint_config(parse_config(data), earlier_tuning_jobs=earlier) if f.id == "TUNE-W008"]


def test_too_many_ranges_names_the_least_important_xgboost_hyperparameters() -> None:
    names = ("eta", "max_depth", "min_child_weight", "subsample", "gamma", "colsample_bylevel", "max_delta_step")
    data = with_("tuning.ranges", {n: rng(0.1, 0.5) for n in names})
    [finding] = findings(data, "TUNE-W001")
    assert "eta, max_depth, min_child_weight, subsample matter most" in finding.fix
    assert "colsample_bylevel, max_delta_step" in finding.fix


def test_orders_of_magnitude_on_a_log_name_reports_once() -> None:
    data = with_("tuning.ranges.eta", rng(0.001, 0.5, scaling="Auto"))
    found = ids(data)
    assert "TUNE-W003" in found
    assert "TUNE-W004" not in found


def test_errors_sort_before_warnings() -> None:
    data = with_("tuning.early_stopping", "Off", with_("tuning.ranges.gamma", rng(3, 1)))
    severities = [f.severity for f in lint_config(parse_config(data))]
    assert severities == sorted(severities, key=lambda s: s != "error")


# --- the CLI ----------------------------------------------------------------------------------------
def _write(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "churn.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_command(_write(tmp_path, CLEAN), strict=True, as_json=False) == 0
    warn = with_("tuning.early_stopping", "Off")
    assert validate_command(_write(tmp_path, warn), strict=False, as_json=False) == 0
    assert validate_command(_write(tmp_path, warn), strict=True, as_json=False) == 1
    err = with_("tuning.ranges.gamma", rng(3, 1))
    assert validate_command(_write(tmp_path, err), strict=False, as_json=False) == 2
    out = capsys.readouterr().out
    assert "TUNE-E005" in out and "fix:" in out


def test_validate_json_and_unparseable_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = validate_command(_write(tmp_path, with_("tuning.early_stopping", "Off")), strict=False, as_json=True)
    assert code == 0
    [finding] = json.loads(capsys.readouterr().out)
    assert finding == {
        "id": "TUNE-W007",
        "severity": "warning",
        "field": "tuning.early_stopping",
        "message": finding["message"],
        "fix": finding["fix"],
    }
    broken = with_("tuning.max_jobs", 0)
    assert validate_command(_write(tmp_path, broken), strict=False, as_json=True) == 2
    [parse_error] = json.loads(capsys.readouterr().out)
    assert parse_error["id"] == "CONF-E001"
    assert parse_error["field"] == "tuning.max_jobs"
