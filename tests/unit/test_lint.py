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
UNTUNED = {k: v for k, v in CLEAN.items() if k != "tuning"}
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
    "TUNE-E003": (  # 95 + 2 tuned + num_round, objective, eval_metric (trainops) + _tuning_objective_metric = 101
        with_("algorithm.hyperparameters", {f"s{i}": 1 for i in range(95)}),
        with_("algorithm.hyperparameters", {f"s{i}": 1 for i in range(94)}),
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
    # the rest of the config, tuned or not
    "CONF-E006": (  # 98 + num_round, objective, eval_metric that trainops sets = 101 > 100
        with_("algorithm.hyperparameters", {f"s{i}": 1 for i in range(98)}, UNTUNED),
        with_("algorithm.hyperparameters", {f"s{i}": 1 for i in range(97)}, UNTUNED),
    ),
    "CONF-E007": (
        with_("algorithm.hyperparameters.eta", "1e308", UNTUNED),
        with_("algorithm.hyperparameters.eta", 0.3, UNTUNED),
    ),
    "CONF-E008": (
        with_("algorithm.hyperparameters.num_round", 1_000_000_000, UNTUNED),
        with_("algorithm.hyperparameters.num_round", 1000, UNTUNED),
    ),
    "CONF-E009": (with_("algorithm", {"name": "autopilot"}, UNTUNED), UNTUNED),
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
        assert finding.severity == ("error" if rule.split("-")[1].startswith("E") else "warning")
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


# --- what the pipeline refuses, found by the linter first (issue 9, defect 5) ------------------------
def test_more_than_100_static_hyperparameters_without_tuning_is_an_error() -> None:
    # Given 101 static hyperparameters and no tuning (SageMaker's CreateTrainingJob takes at most 100)
    data = with_("algorithm.hyperparameters", {f"h{i}": 1 for i in range(101)}, UNTUNED)
    # When / Then: an error naming the field, the count with what trainops adds, and the fix
    [finding] = findings(data, "CONF-E006")
    assert finding.field == "algorithm.hyperparameters"
    assert "104 hyperparameters" in finding.message and "num_round" in finding.message
    assert "at most 97" in finding.fix


def test_more_than_100_hyperparameters_with_tuning_counts_what_trainops_adds() -> None:
    # Given 96 static + 2 tuned: 98 the user wrote, 102 in the tuning job once trainops adds its 4
    data = with_("algorithm.hyperparameters", {f"h{i}": 1 for i in range(96)})
    [finding] = findings(data, "TUNE-E003")
    assert "eval_metric, num_round, objective" in finding.message
    assert "CONF-E006" not in ids(data)  # one finding for one problem


def test_the_hyperparameters_trainops_adds_are_the_ones_the_plan_sets() -> None:
    from types import SimpleNamespace

    from trainops.config import ProblemType
    from trainops.lint import added_hyperparameters
    from trainops.planning import _hyperparameters

    sample: Any = SimpleNamespace(columns=5)  # planning reads only the column count
    script = {**SCRIPT, "entry_point": "t.py"}
    for data, problem in [
        ({"project": "p"}, "binary"),
        ({"project": "p", "problem": {"type": "multiclass", "num_classes": 3}}, "multiclass"),
        ({"project": "p", "algorithm": {"name": "linear-learner"}}, "regression"),
        ({"project": "p", "algorithm": script}, None),
        (
            {
                "project": "p",
                "algorithm": {**script, "framework": "pytorch"},
                "resources": {"distribution": "data_parallel"},
            },
            None,
        ),
        (
            {"project": "p", "algorithm": {"name": "container", "image_uri": "1.dkr.ecr.us-east-1.amazonaws.com/x:1"}},
            None,
        ),
    ]:
        config = parse_config(data)
        kind = ProblemType(problem) if problem else None
        objective = "validation:auc" if config.algorithm.name == "xgboost" else None
        planned = _hyperparameters(config, kind, 3 if problem == "multiclass" else None, objective, sample)
        assert added_hyperparameters(config) == set(planned), data


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("eta", "1e308", "outside [0, 1]"),  # YAML 1.1 reads 1e308 (no dot) as a string
        ("eta", 1.5, "outside [0, 1]"),
        ("eta", -0.1, "outside [0, 1]"),
        ("learning_rate", 2, "outside [0, 1]"),  # the container's alias of eta
        ("subsample", 0, "outside (0, 1]"),
        ("colsample_bytree", 1.5, "outside (0, 1]"),
        ("max_depth", -1, "outside [0, inf)"),
        ("max_depth", 6.5, "not a whole number"),
        ("num_round", 0, "outside [1, inf)"),
        ("gamma", "lots", "not a finite number"),
        ("min_child_weight", "1e400", "not a finite number"),
        ("tweedie_variance_power", 2, "outside (1, 2)"),
        ("num_class", 1, "outside [2, inf)"),
        ("booster", "forest", "not one of gbtree, gblinear, dart"),
    ],
)
def test_xgboost_hyperparameters_outside_what_the_container_accepts(name: str, value: Any, words: str) -> None:
    data = with_(f"algorithm.hyperparameters.{name}", value, UNTUNED)
    [finding] = findings(data, "CONF-E007")
    assert finding.field == f"algorithm.hyperparameters.{name}"
    assert words in finding.message
    assert finding.fix


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("eta", 0),
        ("eta", 1),
        ("eta", "0.3"),
        ("subsample", 1),
        ("max_depth", 0),
        ("max_depth", "6"),
        ("seed", -5),
        ("booster", "dart"),
        ("silent", "anything"),
        ("num_round", 4000),
    ],
)
def test_valid_xgboost_hyperparameters_pass(name: str, value: Any) -> None:
    assert "CONF-E007" not in ids(with_(f"algorithm.hyperparameters.{name}", value, UNTUNED))


def test_xgboost_ranges_are_checked_for_tuning_too_and_other_algorithms_are_not() -> None:
    data = with_("tuning.ranges.eta", rng(0.1, 2.0, scaling="Logarithmic"))
    [finding] = findings(data, "CONF-E007")
    assert finding.field == "tuning.ranges.eta" and "reaches 2.0" in finding.message
    booster = with_("tuning.ranges.booster", {"type": "categorical", "values": ["gbtree", "forest"]})
    assert [f.field for f in findings(booster, "CONF-E007")] == ["tuning.ranges.booster"]
    script = {"project": "s", "algorithm": {**SCRIPT, "hyperparameters": {"eta": 5, "num_round": 10**12}}}
    assert not {"CONF-E007", "CONF-E008"} & ids(script)  # a script's arguments are its own business


def test_num_round_that_cannot_finish_within_max_runtime_is_an_error() -> None:
    # Given num_round 1e9 and the default max_runtime_seconds of 3600
    data = with_("algorithm.hyperparameters.num_round", 1_000_000_000, UNTUNED)
    [finding] = findings(data, "CONF-E008")
    # Then the finding says why (the bound on rounds per second) and both ways out
    assert finding.field == "algorithm.hyperparameters.num_round"
    assert "3600" in finding.message and "100,000 rounds a second" in finding.message
    assert "at most 360,000,000" in finding.fix and "max_runtime_seconds to at least 10000" in finding.fix
    # a longer max runtime makes the same num_round possible
    longer = with_("resources", {"max_runtime_seconds": 28 * 86400}, data)
    assert "CONF-E008" not in ids(longer)
    # the largest num_round a tuning range reaches counts too
    tuned = with_("tuning.ranges.num_round", rng(10, 1_000_000_000, "integer", "Logarithmic"))
    assert [f.field for f in findings(tuned, "CONF-E008")] == ["tuning.ranges.num_round"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {
                "algorithm": {"name": "autopilot"},
                "data": {"header": True},
                "resources": {"distribution": "data_parallel"},
            },
            "resources.distribution",
        ),
        ({"resources": {"distribution": "data_parallel", "instance_count": 2}}, "resources.distribution"),
        ({"algorithm": SCRIPT, "resources": {"distribution": "model_parallel"}}, "algorithm.framework"),
    ],
)
def test_combinations_planning_refuses_are_lint_errors_with_the_same_words(data: dict[str, Any], field: str) -> None:
    from trainops.errors import AlgorithmNotSupported
    from trainops.planning import plan_training

    from tests.helpers import run_request

    config = parse_config({"project": "demo", **data})
    [finding] = [f for f in lint_config(config) if f.id == "CONF-E009"]
    with pytest.raises(AlgorithmNotSupported) as refused:
        plan_training(run_request(config), config, region="us-east-1", s3=None)
    assert (finding.field, finding.fix) == (refused.value.field, refused.value.fix) == (field, finding.fix)
    assert finding.message in str(refused.value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"algorithm": {"version": "3.0-5"}}, "algorithm.version"),
        ({"algorithm": {"name": "linear-learner"}}, "incremental.enabled"),
    ],
)
def test_incremental_training_training_refuses_is_a_lint_error_with_the_same_words(
    data: dict[str, Any], field: str
) -> None:
    from trainops.errors import IncrementalTrainingNotSupported
    from trainops.processing import split_outputs
    from trainops.training import BaseModel, build_training_request

    from tests.helpers import ARTIFACTS_BUCKET, ROLE_ARN, XGB_IMAGE, plan, run_request

    config = parse_config({"project": "demo", "incremental": {"enabled": True}, **data})
    [finding] = [f for f in lint_config(config) if f.id == "CONF-E009"]
    version = config.algorithm.version or "1.7-1"
    base = BaseModel(package_arn="arn:pkg/1", model_data_url="s3://b/m/model.tar.gz", image=XGB_IMAGE, num_round=5)
    request = run_request(config)
    with pytest.raises(IncrementalTrainingNotSupported) as refused:
        build_training_request(
            request,
            config,
            plan(version=version, algorithm=config.algorithm.name.value, input_mode="File"),
            channels=split_outputs(request, ARTIFACTS_BUCKET),
            role_arn=ROLE_ARN,
            artifacts_bucket=ARTIFACTS_BUCKET,
            base_model=base,
        )
    assert (finding.field, finding.fix) == (refused.value.field, refused.value.fix)
    assert finding.field == field
    assert finding.message in str(refused.value)
    assert "CONF-E009" not in ids({"project": "demo", "incremental": {"enabled": True}})  # 1.7-1 resumes


def test_the_pipeline_refuses_an_untuned_config_with_lint_errors_before_anything_starts() -> None:
    # Given a config without tuning whose job SageMaker would refuse (101 hyperparameters)
    from trainops.errors import ConfigInvalid
    from trainops.steps.runs import lint_errors

    config = parse_config(with_("algorithm.hyperparameters", {f"h{i}": 1 for i in range(101)}, UNTUNED))
    # When NormalizeRequest runs its gate, Then the run stops with the linter's field and fix
    with pytest.raises(ConfigInvalid) as refused:
        lint_errors(config)
    assert refused.value.field == "algorithm.hyperparameters"
    assert "CONF-E006" in str(refused.value)
