"""The tuning linter: AWS limits (errors) and the whitepaper's tuning best practices (warnings).

``lint_config`` is a pure function of the project config (and, optionally, Describe responses of the
project's earlier tuning jobs). Every finding has a stable id, the dotted field, a message and a fix.
``trainops config validate`` prints them; the pipeline refuses to launch on any error.

Rule ids
--------
Errors (AWS would reject the tuning job):
  TUNE-E001 more than 30 ranges            TUNE-E011 more than 5 warm-start parents
  TUNE-E002 more than 30 categorical values TUNE-E012 a name or value over its length limit / pattern
  TUNE-E003 more than 100 hyperparameters   TUNE-E013 Grid with a continuous range
  TUNE-E004 more than 20 metric definitions TUNE-E014 Grid integer range over 30 values / grid too large
  TUNE-E005 min >= max                      TUNE-E015 job counts over AWS limits / parallel > total
  TUNE-E006 non-numeric bound               TUNE-E016 max_jobs_not_improving < 3
  TUNE-E007 float bound on an integer range TUNE-E017 objective metric without a metric definition
  TUNE-E008 Logarithmic with min <= 0       TUNE-E018 hyperband min_resource > max_resource
  TUNE-E009 ReverseLogarithmic outside [0,1) TUNE-E019 no range to tune
  TUNE-E010 Hyperband with early stopping Auto TUNE-E020 objective direction unknown
Warnings (best practice, docs "Model Tuning"):
  TUNE-W001 too many tunable hyperparameters (> 5)
  TUNE-W002 range wider than the algorithm's sensible range
  TUNE-W003 range spanning >= 2 orders of magnitude on Linear/Auto scaling
  TUNE-W004 a hyperparameter known to be log-scaled left on Auto
  TUNE-W005 Bayesian with fewer than 10 sequential rounds (max_jobs / max_parallel_jobs < 10)
  TUNE-W006 multi-instance training: the objective is the last value reported by any instance
  TUNE-W007 early stopping Off
  TUNE-W008 earlier tuning jobs could warm-start this one
  TUNE-W009 objective direction looks inverted for the metric
  TUNE-W010 a tuned hyperparameter also set statically (the static value is ignored)
  TUNE-W011 hyperband settings with another strategy (ignored)
The rest of the config (every config, tuned or not; the pipeline refuses the same at SelectAlgorithm):
  CONF-E002 an image version (algorithm.version / framework_version) that SageMaker does not have
  CONF-E003 script mode without an s3://.../sourcedir.tar.gz (the CLI packs a local folder first)
  CONF-E004 what a built-in algorithm cannot read (a header row, a content type)
  CONF-E005 a script's or container's objective that is not among its metric definitions, or of unknown direction
  CONF-E006 more than 100 hyperparameters in the training job (the user's and those trainops adds; with tuning
            this is TUNE-E003, which also counts the tuned ones)
  CONF-E007 a built-in XGBoost hyperparameter outside the range its container accepts (static or tuned)
  CONF-E008 a built-in XGBoost num_round that no job could finish within resources.max_runtime_seconds
  CONF-E009 a combination the pipeline cannot run (Autopilot, distribution with a built-in algorithm or another
            framework than PyTorch/TensorFlow, incremental training where it cannot resume, a setting of one
            algorithm with algorithm.name auto): trainops.support
  CONF-E010 a ``security:`` setting that would loosen the stack's job security or trainops' defaults (network
            isolation off for a built-in algorithm or where the stack requires it, inter-container encryption off
            on several instances, a KMS key replacing the stack's, a VPC the stack does not have): trainops.security
  CONF-E011 an image (algorithm.image_uri / inference_image_uri) outside the trusted registries: the stack's
            TrustedImageRepositories and AWS's algorithm and framework registries (trainops.security)
  CONF-E012 another project's resources: algorithm.source_dir outside code/<project>/, a warm-start parent that
            is not one of the project's tuning jobs (trainops.project_roles: its jobs' role would deny them)
  CONF-E013 an instance type or count the algorithm or framework cannot use (no image for the instance family:
            scikit-learn or XGBoost before 1.2-1 on GPUs, ...; scikit-learn on several instances), a GPU-only
            XGBoost setting (tree_method gpu_hist, device cuda, ...) on a CPU instance: trainops.support
Warnings about the rest of the config:
  CONF-W001 managed spot training (resources.spot) with script mode or a container: it resumes after an
            interruption only if the code reads what it wrote to /opt/ml/checkpoints
A config that does not load at all (over 32 KiB, not UTF-8, invalid YAML, a key given twice, a field the model
refuses, such as a schedule EventBridge Scheduler would refuse) is CONF-E001 in ``trainops config validate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainops.catalog import spec_for
from trainops.config import AlgorithmName, ProblemType, ProjectConfig
from trainops.errors import ConfigInvalid
from trainops.objective import configured as configured_objective
from trainops.objective import direction_of, for_own_code
from trainops.project_roles import cross_project_refusals
from trainops.security import StackSecurity, image_refusals, security_refusals
from trainops.support import distribution_hyperparameters, incremental_refusal, unsupported
from trainops.tuning import (
    MAX_CATEGORICAL_VALUES,
    MAX_HYPERPARAMETER_VALUE,
    MAX_HYPERPARAMETERS,
    MAX_METRIC_DEFINITIONS,
    MAX_PARALLEL_JOBS,
    MAX_RANGES,
    MAX_TRAINING_JOBS,
    MAX_TRAINING_JOBS_RANDOM,
    MAX_TUNING_JOB_NAME,
    MAX_WARM_START_PARENTS,
    TERMINAL_TUNING_STATUSES,
    grid_size,
    job_hyperparameter_names,
    resolve_objective,
)
from trainops.tuning_config import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    Scaling,
    Strategy,
    TuningConfig,
    WarmStartConfig,
)
from trainops.types import TUNING_JOB_NAME_RE

Severity = Literal["error", "warning"]

MAX_ADVISED_RANGES = 5
MIN_SEQUENTIAL_ROUNDS = 10
ORDERS_OF_MAGNITUDE_RATIO = 100.0
MAX_NAME_LENGTH = 256  # ParameterRange Name, categorical values, range bounds
MAX_METRIC_NAME = 255

# Hyperparameters whose effect is multiplicative: search them on a log scale.
LOG_SCALED_NAMES = frozenset(
    {"eta", "learning_rate", "lr", "alpha", "lambda", "l1", "l2", "wd", "weight_decay", "reg_alpha", "reg_lambda"}
)

# Per algorithm: hyperparameters from most to least influential, and sensible ranges. XGBoost after the
# AWS guide "Tune an XGBoost model" (eta, max_depth, min_child_weight, subsample, alpha, num_round matter
# most); Linear Learner after "Tune a linear learner model".
IMPORTANCE: dict[str, tuple[str, ...]] = {
    "xgboost": (
        "eta",
        "max_depth",
        "min_child_weight",
        "subsample",
        "alpha",
        "num_round",
        "colsample_bytree",
        "gamma",
        "lambda",
        "colsample_bylevel",
        "colsample_bynode",
        "max_delta_step",
    ),
    "linear-learner": ("learning_rate", "wd", "l1", "mini_batch_size", "positive_example_weight_mult", "use_bias"),
}
SENSIBLE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "xgboost": {
        "eta": (0.01, 0.5),
        "max_depth": (1, 12),
        "min_child_weight": (0, 120),
        "subsample": (0.5, 1.0),
        "colsample_bytree": (0.5, 1.0),
        "colsample_bylevel": (0.1, 1.0),
        "colsample_bynode": (0.1, 1.0),
        "gamma": (0, 5),
        "alpha": (0, 1000),
        "lambda": (0, 1000),
        "max_delta_step": (0, 10),
        "num_round": (1, 4000),
    },
    "linear-learner": {
        "learning_rate": (1e-4, 1.0),
        "wd": (1e-7, 1.0),
        "l1": (1e-7, 1.0),
        "mini_batch_size": (100, 5000),
        "positive_example_weight_mult": (1e-5, 1e5),
        "momentum": (0.0, 1.0),
    },
}


class Finding(BaseModel):
    """One linter finding."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]+-[EW]\d{3}$")
    severity: Severity
    field: str
    message: str
    fix: str


def _error(id_: str, field: str, message: str, fix: str) -> Finding:
    return Finding(id=f"TUNE-E{id_}", severity="error", field=field, message=message, fix=fix)


def _warning(id_: str, field: str, message: str, fix: str) -> Finding:
    return Finding(id=f"TUNE-W{id_}", severity="warning", field=field, message=message, fix=fix)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _is_integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return False
    text = str(value).strip()
    return text.lstrip("+-").isdigit()


# --- errors -----------------------------------------------------------------------------------------
def _count_limits(config: ProjectConfig, tuning: TuningConfig) -> list[Finding]:
    out: list[Finding] = []
    if not tuning.ranges:
        out.append(
            _error("019", "tuning.ranges", "no hyperparameter range to tune", "add at least one entry to tuning.ranges")
        )
    if len(tuning.ranges) > MAX_RANGES:
        out.append(
            _error(
                "001",
                "tuning.ranges",
                f"{len(tuning.ranges)} ranges; AWS allows {MAX_RANGES} in total (continuous + integer + categorical)",
                f"tune at most {MAX_RANGES} hyperparameters; move the rest to algorithm.hyperparameters",
            )
        )
    added = added_hyperparameters(config)
    names = set(config.algorithm.hyperparameters) | added | set(tuning.ranges)
    if len(names) + 1 > MAX_HYPERPARAMETERS:
        out.append(
            _error(
                "003",
                "algorithm.hyperparameters",
                f"{len(names)} hyperparameters (static + tunable, with {len(added)} trainops sets itself: "
                f"{', '.join(sorted(added)) or 'none'}) plus _tuning_objective_metric, which the tuning job adds, "
                f"exceed the AWS limit of {MAX_HYPERPARAMETERS}",
                f"keep static + tunable hyperparameters at or under {MAX_HYPERPARAMETERS - 1}, counting those "
                "trainops sets",
            )
        )
    if len(config.algorithm.metric_definitions) > MAX_METRIC_DEFINITIONS:
        out.append(
            _error(
                "004",
                "algorithm.metric_definitions",
                f"{len(config.algorithm.metric_definitions)} metric definitions; a tuning job allows "
                f"{MAX_METRIC_DEFINITIONS}",
                f"keep at most {MAX_METRIC_DEFINITIONS} metric definitions (the objective among them)",
            )
        )
    return out


def _numeric_range(name: str, rng: ContinuousRange | IntegerRange, strategy: Strategy) -> list[Finding]:
    field = f"tuning.ranges.{name}"
    out: list[Finding] = []
    bounds = {"min": rng.min, "max": rng.max}
    values: dict[str, float] = {}
    for key, raw in bounds.items():
        number = _as_number(raw)
        if number is None:
            out.append(
                _error("006", f"{field}.{key}", f"bound {raw!r} is not a number", f"set {key} to a finite number")
            )
            continue
        if isinstance(rng, IntegerRange) and not _is_integral(raw):
            out.append(
                _error(
                    "007",
                    f"{field}.{key}",
                    f"integer range with non-integer bound {raw!r}",
                    f"write {key} as an integer (e.g. {math.floor(number) if key == 'min' else math.ceil(number)}) "
                    "or make the range continuous",
                )
            )
        values[key] = number
    if len(values) < 2:
        return out
    low, high = values["min"], values["max"]
    if low >= high:
        out.append(
            _error(
                "005",
                field,
                f"min {rng.min} is not below max {rng.max}",
                "make min < max, or move the hyperparameter to algorithm.hyperparameters if it has one value",
            )
        )
    if rng.scaling == Scaling.LOGARITHMIC and low <= 0:
        out.append(
            _error(
                "008",
                f"{field}.scaling",
                f"Logarithmic scaling needs min > 0 (min is {rng.min})",
                "raise min to a small positive value (e.g. 1e-6) or use Linear scaling",
            )
        )
    if rng.scaling == Scaling.REVERSE_LOGARITHMIC and not (low >= 0 and high < 1):
        out.append(
            _error(
                "009",
                f"{field}.scaling",
                f"ReverseLogarithmic scaling needs 0 <= min and max < 1 (range is [{rng.min}, {rng.max}])",
                "keep the range inside [0, 1) or use another scaling",
            )
        )
    if isinstance(rng, ContinuousRange) and strategy == Strategy.GRID:
        out.append(
            _error(
                "013",
                f"{field}.type",
                "Grid search cannot search a continuous range",
                "use a categorical range with the values to try, or another strategy",
            )
        )
    if isinstance(rng, IntegerRange) and strategy == Strategy.GRID and high - low + 1 > MAX_CATEGORICAL_VALUES:
        out.append(
            _error(
                "014",
                field,
                f"Grid searches an integer range as {int(high - low + 1)} categorical values; AWS allows "
                f"{MAX_CATEGORICAL_VALUES}",
                f"narrow the range to at most {MAX_CATEGORICAL_VALUES} values or use Bayesian",
            )
        )
    return out


def _categorical_range(name: str, rng: CategoricalRange) -> list[Finding]:
    field = f"tuning.ranges.{name}.values"
    out: list[Finding] = []
    if len(rng.values) > MAX_CATEGORICAL_VALUES:
        out.append(
            _error(
                "002",
                field,
                f"{len(rng.values)} categorical values; AWS allows {MAX_CATEGORICAL_VALUES}",
                f"keep at most {MAX_CATEGORICAL_VALUES} values",
            )
        )
    too_long = [v for v in rng.values if len(str(v)) > MAX_NAME_LENGTH]
    if too_long:
        out.append(
            _error(
                "012",
                field,
                f"{len(too_long)} value(s) longer than {MAX_NAME_LENGTH} characters",
                "shorten the values",
            )
        )
    return out


def _ranges(tuning: TuningConfig) -> list[Finding]:
    out: list[Finding] = []
    for name, rng in tuning.ranges.items():
        if not name or len(name) > MAX_NAME_LENGTH:
            out.append(
                _error(
                    "012",
                    f"tuning.ranges.{name[:40]}",
                    f"hyperparameter name of {len(name)} characters (1-{MAX_NAME_LENGTH})",
                    "use the algorithm's hyperparameter name",
                )
            )
        if isinstance(rng, CategoricalRange):
            out.extend(_categorical_range(name, rng))
        else:
            out.extend(_numeric_range(name, rng, tuning.strategy))
    return out


def _strategy_rules(tuning: TuningConfig) -> list[Finding]:
    out: list[Finding] = []
    if tuning.strategy == Strategy.HYPERBAND and tuning.early_stopping == "Auto":
        out.append(
            _error(
                "010",
                "tuning.early_stopping",
                "Hyperband stops jobs itself: AWS requires TrainingJobEarlyStoppingType Off with it",
                "remove tuning.early_stopping (it defaults to Off with Hyperband) or set it to Off",
            )
        )
    hb = tuning.hyperband
    if (
        hb is not None
        and hb.min_resource is not None
        and hb.max_resource is not None
        and (hb.min_resource > hb.max_resource)
    ):
        out.append(
            _error(
                "018",
                "tuning.hyperband",
                f"min_resource {hb.min_resource} exceeds max_resource {hb.max_resource}",
                "make min_resource <= max_resource (both in epochs)",
            )
        )
    resources = {"min_resource": hb.min_resource, "max_resource": hb.max_resource} if hb else {}
    for key, value in resources.items():
        if value is not None and value < 1:
            out.append(_error("018", f"tuning.hyperband.{key}", f"{key} {value} is below 1", f"set {key} >= 1"))
    if hb is not None and tuning.strategy != Strategy.HYPERBAND:
        out.append(
            _warning(
                "011",
                "tuning.hyperband",
                f"hyperband settings are ignored with strategy {tuning.strategy}",
                "remove tuning.hyperband or set strategy: Hyperband",
            )
        )
    if tuning.strategy == Strategy.GRID:
        size = grid_size(tuning)
        if size > MAX_TRAINING_JOBS:
            out.append(
                _error(
                    "014",
                    "tuning.ranges",
                    f"the grid has {size} combinations; a tuning job runs at most {MAX_TRAINING_JOBS} training jobs",
                    "drop values or hyperparameters from the grid",
                )
            )
    return out


def _budget_rules(tuning: TuningConfig) -> list[Finding]:
    out: list[Finding] = []
    limit = MAX_TRAINING_JOBS_RANDOM if tuning.strategy == Strategy.RANDOM else MAX_TRAINING_JOBS
    if tuning.max_jobs > limit:
        out.append(
            _error(
                "015",
                "tuning.max_jobs",
                f"{tuning.max_jobs} training jobs; {tuning.strategy} allows {limit}",
                f"set max_jobs <= {limit}",
            )
        )
    if tuning.max_parallel_jobs > MAX_PARALLEL_JOBS:
        out.append(
            _error(
                "015",
                "tuning.max_parallel_jobs",
                f"{tuning.max_parallel_jobs} parallel jobs; AWS allows at most {MAX_PARALLEL_JOBS} (default quota 10)",
                "set max_parallel_jobs <= 10 unless the quota was raised",
            )
        )
    if tuning.strategy != Strategy.GRID and tuning.max_parallel_jobs > tuning.max_jobs:
        out.append(
            _error(
                "015",
                "tuning.max_parallel_jobs",
                f"max_parallel_jobs {tuning.max_parallel_jobs} exceeds max_jobs {tuning.max_jobs}",
                "set max_parallel_jobs <= max_jobs",
            )
        )
    cc = tuning.completion_criteria
    if cc is not None and cc.max_jobs_not_improving is not None and cc.max_jobs_not_improving < 3:
        out.append(
            _error(
                "016",
                "tuning.completion_criteria.max_jobs_not_improving",
                f"{cc.max_jobs_not_improving} is below the AWS minimum of 3",
                "set max_jobs_not_improving >= 3",
            )
        )
    return out


def _warm_start_rules(tuning: TuningConfig) -> list[Finding]:
    if not isinstance(tuning.warm_start, WarmStartConfig):
        return []
    out: list[Finding] = []
    parents = tuning.warm_start.parents
    if len(parents) > MAX_WARM_START_PARENTS:
        out.append(
            _error(
                "011",
                "tuning.warm_start.parents",
                f"{len(parents)} warm-start parents; AWS allows {MAX_WARM_START_PARENTS}",
                f"keep the {MAX_WARM_START_PARENTS} most relevant parents, or use warm_start: auto",
            )
        )
    for i, name in enumerate(parents):
        if len(name) > MAX_TUNING_JOB_NAME or not TUNING_JOB_NAME_RE.match(name):
            out.append(
                _error(
                    "012",
                    f"tuning.warm_start.parents.{i}",
                    f"{name!r} is not a tuning job name (<= {MAX_TUNING_JOB_NAME} letters, digits, hyphens)",
                    "name an existing tuning job",
                )
            )
    return out


def _objective_rules(config: ProjectConfig) -> list[Finding]:
    out: list[Finding] = []
    metric, direction = configured_objective(config)
    if metric is not None and len(metric) > MAX_METRIC_NAME:
        out.append(
            _error(
                "012", "tuning.objective.metric", f"metric name over {MAX_METRIC_NAME} characters", "shorten the name"
            )
        )
    if metric is not None:
        try:
            resolve_objective(config)
        except ConfigInvalid as exc:
            out.append(_error("020", exc.field or "tuning.objective", str(exc), exc.fix or ""))
    custom = config.algorithm.name in (AlgorithmName.SCRIPT, AlgorithmName.CONTAINER)
    if custom and metric is not None and metric not in {m.name for m in config.algorithm.metric_definitions}:
        out.append(
            _error(
                "017",
                "algorithm.metric_definitions",
                f"objective metric {metric!r} has no metric definition: a {config.algorithm.name} job's metrics "
                "come only from regexes over its logs",
                f"add {{name: {metric}, regex: ...}} to algorithm.metric_definitions, matching a line your "
                "script prints every epoch",
            )
        )
    inferred = direction_of(metric, spec_for(config.algorithm.name).metrics) if metric else None
    if direction is not None and inferred is not None and direction != inferred:
        out.append(
            _warning(
                "009",
                "tuning.objective.direction",
                f"{direction} {metric}? metrics like it are usually to be {inferred.lower()}d",
                f"check the direction; most likely {inferred}",
            )
        )
    return out


def _static_value_rules(config: ProjectConfig, tuning: TuningConfig) -> list[Finding]:
    out: list[Finding] = []
    for name, value in config.algorithm.hyperparameters.items():
        if len(name) > MAX_NAME_LENGTH or len(str(value)) > MAX_HYPERPARAMETER_VALUE:
            out.append(
                _error(
                    "012",
                    f"algorithm.hyperparameters.{name[:40]}",
                    f"names are at most {MAX_NAME_LENGTH} characters and values at most {MAX_HYPERPARAMETER_VALUE}",
                    "shorten the name or value (pass large inputs as a data channel)",
                )
            )
        if name in tuning.ranges:
            out.append(
                _warning(
                    "010",
                    f"algorithm.hyperparameters.{name}",
                    f"{name} is tuned: its static value {value!r} is ignored",
                    f"remove {name} from algorithm.hyperparameters or from tuning.ranges",
                )
            )
    return out


# --- advice -----------------------------------------------------------------------------------------
def _too_many_ranges(config: ProjectConfig, tuning: TuningConfig) -> list[Finding]:
    if len(tuning.ranges) <= MAX_ADVISED_RANGES:
        return []
    algorithm = str(config.algorithm.name)
    ranking = IMPORTANCE.get(algorithm)
    if ranking:
        rank = {n: i for i, n in enumerate(ranking)}
        ordered = sorted(tuning.ranges, key=lambda n: rank.get(n, len(ranking)))
        least = ordered[MAX_ADVISED_RANGES:]
        advice = (
            f"for {algorithm}, {', '.join(ranking[:4])} matter most; consider fixing "
            f"{', '.join(least)} in algorithm.hyperparameters"
        )
    else:
        advice = "fix the hyperparameters you know least effect of in algorithm.hyperparameters"
    return [
        _warning(
            "001",
            "tuning.ranges",
            f"{len(tuning.ranges)} tunable hyperparameters; a search over few (<= {MAX_ADVISED_RANGES}) converges "
            "faster and is easier to understand",
            advice,
        )
    ]


def _range_advice(config: ProjectConfig, tuning: TuningConfig) -> list[Finding]:
    out: list[Finding] = []
    sensible = SENSIBLE_RANGES.get(str(config.algorithm.name), {})
    for name, rng in tuning.ranges.items():
        if isinstance(rng, CategoricalRange):
            continue
        low, high = _as_number(rng.min), _as_number(rng.max)
        if low is None or high is None or low >= high:
            continue
        field = f"tuning.ranges.{name}"
        if name in sensible:
            s_low, s_high = sensible[name]
            if low < s_low or high > s_high:
                out.append(
                    _warning(
                        "002",
                        field,
                        f"[{rng.min}, {rng.max}] is wider than the sensible range [{s_low:g}, {s_high:g}] for "
                        f"{config.algorithm.name} {name}",
                        f"narrow it to within [{s_low:g}, {s_high:g}], or to the subrange known to do best",
                    )
                )
        spans = low > 0 and high / low >= ORDERS_OF_MAGNITUDE_RATIO
        if spans and rng.scaling in (Scaling.LINEAR, Scaling.AUTO):
            out.append(
                _warning(
                    "003",
                    f"{field}.scaling",
                    f"[{rng.min}, {rng.max}] spans {math.log10(high / low):.0f} orders of magnitude on "
                    f"{rng.scaling} scaling: a linear search puts nearly every job in the top decade",
                    "set scaling: Logarithmic",
                )
            )
        elif name.lower() in LOG_SCALED_NAMES and rng.scaling == Scaling.AUTO and isinstance(rng, ContinuousRange):
            fix = (
                "set scaling: Logarithmic"
                if low > 0
                else "raise min to a small positive value (e.g. 1e-3) and set scaling: Logarithmic"
            )
            out.append(
                _warning(
                    "004",
                    f"{field}.scaling",
                    f"{name} is usually log-scaled; on Auto, SageMaker first assumes linear and takes jobs to learn",
                    fix,
                )
            )
    return out


def _parallel_advice(tuning: TuningConfig) -> list[Finding]:
    if tuning.strategy != Strategy.BAYESIAN or tuning.max_parallel_jobs <= 1:
        return []
    rounds = tuning.max_jobs / tuning.max_parallel_jobs
    if rounds >= MIN_SEQUENTIAL_ROUNDS:
        return []
    suggested = max(1, tuning.max_jobs // MIN_SEQUENTIAL_ROUNDS)
    return [
        _warning(
            "005",
            "tuning.max_parallel_jobs",
            f"Bayesian search learns from finished jobs; {tuning.max_parallel_jobs} in parallel out of "
            f"{tuning.max_jobs} leaves {rounds:.1f} rounds (fewer than {MIN_SEQUENTIAL_ROUNDS})",
            f"set max_parallel_jobs to {suggested} (one job at a time gives the best result for the compute)",
        )
    ]


def _distributed_advice(config: ProjectConfig) -> list[Finding]:
    if config.resources.instance_count <= 1:
        return []
    return [
        _warning(
            "006",
            "resources.instance_count",
            f"training runs on {config.resources.instance_count} instances: tuning takes the objective as the "
            "last value reported by any instance",
            "make every instance report the objective over the whole validation set (or only one instance "
            "report it), or tune on one instance",
        )
    ]


def _early_stopping_advice(tuning: TuningConfig) -> list[Finding]:
    if tuning.early_stopping != "Off" or tuning.strategy == Strategy.HYPERBAND:
        return []
    return [
        _warning(
            "007",
            "tuning.early_stopping",
            "early stopping is Off: jobs that are clearly worse than earlier ones run to the end",
            "remove tuning.early_stopping (Auto by default); the algorithm must report the objective every epoch",
        )
    ]


def _warm_start_advice(
    config: ProjectConfig, tuning: TuningConfig, earlier_tuning_jobs: list[dict[str, Any]] | None
) -> list[Finding]:
    if not earlier_tuning_jobs or tuning.warm_start == "auto":
        return []
    if tuning.strategy in (Strategy.GRID, Strategy.HYPERBAND):
        return []
    try:
        objective = resolve_objective(config)
    except ConfigInvalid:
        return []
    named = set(tuning.explicit_parents())
    if len(named) >= MAX_WARM_START_PARENTS:
        return []
    ours = set(config.algorithm.hyperparameters) | set(tuning.ranges)
    candidates = []
    for job in earlier_tuning_jobs:
        name = job.get("HyperParameterTuningJobName", "")
        cfg = job.get("HyperParameterTuningJobConfig") or {}
        same_objective = (cfg.get("HyperParameterTuningJobObjective") or {}).get("MetricName") == objective.metric
        completed = int((job.get("TrainingJobStatusCounters") or {}).get("Completed", 0)) > 0
        terminal = job.get("HyperParameterTuningJobStatus") in TERMINAL_TUNING_STATUSES
        if name not in named and same_objective and completed and terminal and ours <= job_hyperparameter_names(job):
            candidates.append(name)
    if not candidates:
        return []
    shown = candidates[: MAX_WARM_START_PARENTS - len(named)]
    return [
        _warning(
            "008",
            "tuning.warm_start",
            f"{len(candidates)} earlier tuning job(s) with the same objective could warm-start this one: "
            f"{', '.join(shown)}",
            "set warm_start: auto (or list them as parents) so the search starts from what they learned",
        )
    ]


# --- the training job: what SageMaker or the algorithm's container would refuse ------------------------
def added_hyperparameters(config: ProjectConfig) -> set[str]:
    """The hyperparameters trainops sets on every training job of this config, whatever the data.

    Mirrors ``planning._hyperparameters`` (a test pins the two together): XGBoost's num_round, objective and
    eval_metric (every objective of a built-in algorithm is a train:/validation: metric), num_class when the
    problem is configured multiclass; Linear Learner's predictor_type, epochs, mini_batch_size and feature_dim;
    script mode's sagemaker_* entries.
    """
    algo = config.algorithm
    multiclass = config.problem.type == ProblemType.MULTICLASS
    if algo.name == AlgorithmName.XGBOOST:
        return {"num_round", "objective", "eval_metric"} | ({"num_class"} if multiclass else set())
    if algo.name == AlgorithmName.LINEAR_LEARNER:
        base = {"predictor_type", "epochs", "mini_batch_size", "feature_dim"}
        return base | ({"num_classes"} if multiclass else set())
    if algo.name == AlgorithmName.SCRIPT:
        names = {"sagemaker_program", "sagemaker_submit_directory", "sagemaker_container_log_level"}
        return names | set(distribution_hyperparameters(config))
    return set()


def _hyperparameter_count(config: ProjectConfig) -> list[Finding]:
    """CreateTrainingJob's HyperParameters hold at most 100 entries (a tuning job: TUNE-E003)."""
    if config.tuning is not None:
        return []
    added = added_hyperparameters(config)
    names = set(config.algorithm.hyperparameters) | added
    if len(names) <= MAX_HYPERPARAMETERS:
        return []
    return [
        _conf_error(
            "006",
            "algorithm.hyperparameters",
            f"the training job would have {len(names)} hyperparameters ({len(config.algorithm.hyperparameters)} "
            f"configured, and {', '.join(sorted(added - set(config.algorithm.hyperparameters))) or 'none'} set by "
            f"trainops); SageMaker allows {MAX_HYPERPARAMETERS}",
            f"keep at most {MAX_HYPERPARAMETERS - len(added)} entries besides those trainops sets (pass large "
            "settings to your code as a file in a data channel)",
        )
    ]


@dataclass(frozen=True)
class _Valid:
    """An XGBoost hyperparameter's valid values: an interval, open or closed at each end, maybe integers only."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def text(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f"{left}{low}, {high}{right}"


# What the SageMaker XGBoost container accepts (aws/sagemaker-xgboost-container, algorithm_mode/
# hyperparameter_validation.py; the AWS page "XGBoost hyperparameters" gives the same ranges, except that it
# writes colsample_bytree and colsample_bylevel as [0,1] where the container refuses 0). A value outside fails
# the training job when it starts, after the validation split has run.
XGBOOST_VALID: dict[str, _Valid] = {
    "num_round": _Valid(low=1, integer=True),
    "csv_weights": _Valid(low=0, high=1, integer=True),
    "early_stopping_rounds": _Valid(low=1, integer=True),
    "verbosity": _Valid(low=0, high=3, integer=True),
    "nthread": _Valid(low=1, integer=True),
    "eta": _Valid(low=0, high=1),
    "gamma": _Valid(low=0),
    "max_depth": _Valid(low=0, integer=True),
    "min_child_weight": _Valid(low=0),
    "max_delta_step": _Valid(low=0),
    "subsample": _Valid(low=0, high=1, low_open=True),
    "colsample_bytree": _Valid(low=0, high=1, low_open=True),
    "colsample_bylevel": _Valid(low=0, high=1, low_open=True),
    "colsample_bynode": _Valid(low=0, high=1, low_open=True),
    "lambda": _Valid(low=0),
    "alpha": _Valid(low=0),
    "sketch_eps": _Valid(low=0, high=1, low_open=True, high_open=True),
    "scale_pos_weight": _Valid(low=0, low_open=True),
    "refresh_leaf": _Valid(low=0, high=1, integer=True),
    "max_leaves": _Valid(low=0, integer=True),
    "max_bin": _Valid(low=0, integer=True),
    "rate_drop": _Valid(low=0, high=1),
    "one_drop": _Valid(low=0, high=1, integer=True),
    "skip_drop": _Valid(low=0, high=1),
    "lambda_bias": _Valid(low=0, high=1),
    "tweedie_variance_power": _Valid(low=1, high=2, low_open=True, high_open=True),
    "num_class": _Valid(low=2, integer=True),
    "base_score": _Valid(low=0),
    "seed": _Valid(low=-(2**31), high=2**31 - 1, low_open=True, high_open=True, integer=True),
    "num_parallel_tree": _Valid(low=1, integer=True),
}
XGBOOST_ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
XGBOOST_CHOICES: dict[str, tuple[str, ...]] = {"booster": ("gbtree", "gblinear", "dart")}


def _xgboost_value_problem(name: str, value: Any) -> tuple[str, str] | None:
    """(what is wrong with ``value``, the fix) when it is not a valid ``name`` for the XGBoost container."""
    key = XGBOOST_ALIASES.get(name, name)
    if key in XGBOOST_CHOICES:
        choices = ", ".join(XGBOOST_CHOICES[key])
        return None if str(value) in XGBOOST_CHOICES[key] else (f"is not one of {choices}", f"use one of {choices}")
    valid = XGBOOST_VALID.get(key)
    if valid is None:
        return None
    kind = "an integer" if valid.integer else "a number"
    number = _as_number(value)
    if number is None:
        return f"is not a finite number; the XGBoost container accepts {valid.text()}", f"use {kind} in {valid.text()}"
    if valid.integer and not _is_integral(value):
        return "is not a whole number; the XGBoost container reads it as an integer", f"use {kind} in {valid.text()}"
    if not valid.contains(number):
        return (
            f"is outside {valid.text()}, the values the XGBoost container accepts: the training job would fail "
            "when it starts, after the validation split",
            f"use {kind} in {valid.text()}",
        )
    return None


def _xgboost_values(config: ProjectConfig) -> list[Finding]:
    if config.algorithm.name != AlgorithmName.XGBOOST:
        return []
    out: list[Finding] = []
    ranges = config.tuning.ranges if config.tuning else {}
    for name, value in config.algorithm.hyperparameters.items():
        if name in ranges:
            continue  # the tuned range replaces it (TUNE-W010)
        problem = _xgboost_value_problem(name, value)
        if problem is not None:
            reason, fix = problem
            out.append(_conf_error("007", f"algorithm.hyperparameters.{name}", f"{name} {value!r} {reason}", fix))
    for name, rng in ranges.items():
        values = rng.values if isinstance(rng, CategoricalRange) else [rng.min, rng.max]
        for value in values:
            problem = _xgboost_value_problem(name, value)
            if problem is not None:
                reason, fix = problem
                message = f"the range of {name} reaches {value!r}, which {reason}"
                part = "values" if isinstance(rng, CategoricalRange) else "min and max"
                fix = f"keep the range's {part} valid: {fix}"
                out.append(_conf_error("007", f"tuning.ranges.{name}", message, fix))
                break
    return out


# A bound on how fast any instance runs boosting rounds, so that "cannot finish" is certain, not a guess:
# xgboost 3.4 on this project's machine does about 22,000 rounds a second on a 2-row data set with nothing to
# evaluate (11,000 when it evaluates train and validation, as the SageMaker container does every round); the
# bound allows a machine several times faster. A job that reaches MaxRuntimeInSeconds is stopped and the run
# ends without a model, so beyond this bound the config can only fail.
MAX_ROUNDS_PER_SECOND = 100_000
MAX_RUNTIME_LIMIT = 28 * 86400  # SageMaker's MaxRuntimeInSeconds maximum


def _num_round_runtime(config: ProjectConfig) -> list[Finding]:
    if config.algorithm.name != AlgorithmName.XGBOOST:
        return []
    seconds = config.resources.max_runtime_seconds
    limit = seconds * MAX_ROUNDS_PER_SECOND
    rounds: list[tuple[str, float]] = []
    tuned = config.tuning.ranges.get("num_round") if config.tuning else None
    if isinstance(tuned, IntegerRange | ContinuousRange):
        high = _as_number(tuned.max)
        if high is not None:
            rounds.append(("tuning.ranges.num_round", high))
    elif isinstance(tuned, CategoricalRange):
        numbers = [n for n in (_as_number(v) for v in tuned.values) if n is not None]
        if numbers:
            rounds.append(("tuning.ranges.num_round", max(numbers)))
    elif "num_round" in config.algorithm.hyperparameters:
        number = _as_number(config.algorithm.hyperparameters["num_round"])
        if number is not None:
            rounds.append(("algorithm.hyperparameters.num_round", number))
    out = []
    for field, number in rounds:
        if number <= limit:
            continue
        longest = MAX_RUNTIME_LIMIT * MAX_ROUNDS_PER_SECOND
        raise_fix = (
            f", or raise resources.max_runtime_seconds to at least {math.ceil(number / MAX_ROUNDS_PER_SECOND)}"
            if number <= longest
            else ""
        )
        out.append(
            _conf_error(
                "008",
                field,
                f"num_round {number:,.0f} cannot finish within resources.max_runtime_seconds {seconds}: even at "
                f"{MAX_ROUNDS_PER_SECOND:,} rounds a second (several times faster than XGBoost boosts a 2-row data "
                f"set) it would need {number / MAX_ROUNDS_PER_SECOND:,.0f} s; SageMaker stops the job at {seconds} s "
                "and the run ends without a model",
                f"lower num_round to at most {limit:,} (hundreds to a few thousand is usual; early_stopping_rounds "
                f"ends a job sooner){raise_fix}",
            )
        )
    return out


def _combinations(config: ProjectConfig) -> list[Finding]:
    """What planning and training refuse later (trainops.support), with their message, field and fix."""
    from trainops.catalog import image_version

    refusals = unsupported(config)
    spec = spec_for(config.algorithm.name)
    version = image_version(spec.image_key, config.algorithm.version) if spec.image_key else None
    refusal = incremental_refusal(config, version)
    if refusal is not None:
        refusals.append(refusal)
    return [Finding(id=r.rule, severity="error", field=r.field, message=r.message, fix=r.fix) for r in refusals]


def _spot_advice(config: ProjectConfig) -> list[Finding]:
    """Spot with your own code: SageMaker restarts it after an interruption; whether it resumes is the code's."""
    if not (config.resources.spot and config.algorithm.brings_own_code):
        return []
    return [
        Finding(
            id="CONF-W001",
            severity="warning",
            field="resources.spot",
            message=f"a spot interruption restarts the {config.algorithm.name.value}'s code: it resumes only if it "
            "saves its state to /opt/ml/checkpoints (synced to the run's checkpoint prefix) and reads it at start; "
            "otherwise it starts over",
            fix="save checkpoints to /opt/ml/checkpoints (locally: $SAGEMAKER_BASE_DIR/checkpoints) and resume from "
            "the newest one at start, or set resources.spot: false",
        )
    ]


def _conf_error(id_: str, field: str, message: str, fix: str) -> Finding:
    return Finding(id=f"CONF-E{id_}", severity="error", field=field, message=message, fix=fix)


def _config_rules(config: ProjectConfig) -> list[Finding]:
    """What SelectAlgorithm would refuse, found before anything is uploaded."""
    from trainops.catalog import CATALOG, FRAMEWORK_IMAGE_KEY, FRAMEWORK_OF_KEY, image_version
    from trainops.image_uris import versions

    algo = config.algorithm
    findings: list[Finding] = []

    def error(id_: str, field: str, message: str, fix: str) -> None:
        findings.append(Finding(id=f"CONF-E{id_}", severity="error", field=field, message=message, fix=fix))

    if algo.brings_own_code:
        try:
            for_own_code(config)
        except ConfigInvalid as exc:
            error("005", exc.field or "problem.objective_metric", str(exc), exc.fix or "")
    if algo.name == AlgorithmName.SCRIPT and algo.framework is not None:
        key = FRAMEWORK_IMAGE_KEY[algo.framework]
        version = image_version(key, algo.framework_version)
        known = versions(FRAMEWORK_OF_KEY[key])
        if version not in known:
            error(
                "002",
                "algorithm.framework_version",
                f"{algo.framework} has no image {version!r}",
                f"use one of {', '.join(known)}",
            )
        source = algo.source_dir or ""
        if not (source.startswith("s3://") and source.endswith(".tar.gz")):
            error(
                "003",
                "algorithm.source_dir",
                f"{source!r} is neither a local folder nor an s3://.../sourcedir.tar.gz",
                "give the code folder (relative to the config file) or the S3 URI of a sourcedir.tar.gz",
            )
    spec = CATALOG[algo.name]
    builtin = not algo.brings_own_code and algo.name != AlgorithmName.AUTOPILOT
    if builtin and spec.image_key is not None:
        version = image_version(spec.image_key, algo.version)
        known = versions(FRAMEWORK_OF_KEY[spec.image_key])
        if version not in known:
            error(
                "002",
                "algorithm.version",
                f"{algo.name.value} has no image {version!r}",
                f"use one of {', '.join(known)}",
            )
    if builtin:  # auto included: it chooses a built-in algorithm
        if config.data.header:
            error(
                "004", "data.header", f"built-in {algo.name.value} reads CSV without a header row", "remove the header"
            )
        content_type = config.data.content_type or "text/csv"
        if content_type not in spec.content_types:
            error(
                "004",
                "data.content_type",
                f"built-in {algo.name.value} does not read {content_type}",
                f"use one of {', '.join(spec.content_types)}",
            )
    return findings


def _security(config: ProjectConfig, stack: StackSecurity) -> list[Finding]:
    """What the stack's job security settings refuse: a config that loosens them, an untrusted image."""
    return [
        *(_conf_error("010", r.field, r.message, r.fix) for r in security_refusals(config, stack)),
        *(_conf_error("011", r.field, r.message, r.fix) for r in image_refusals(config, stack)),
        *(_conf_error("012", r.field, r.message, r.fix) for r in cross_project_refusals(config)),
    ]


def lint_config(
    config: ProjectConfig,
    *,
    earlier_tuning_jobs: list[dict[str, Any]] | None = None,
    stack: StackSecurity | None = None,
) -> list[Finding]:
    """Every finding for the config, errors first: its ``tuning:`` section and what the pipeline would refuse.

    ``earlier_tuning_jobs`` are DescribeHyperParameterTuningJob responses of the project's earlier
    tuning jobs; with them the linter also says which could warm-start this one. ``stack`` is the deployed
    stack's job security (the pipeline passes it; the CLI reads the same variables from its environment); without
    it, the offline defaults: no key, no VPC, images from repositories named trainops* in any account.
    """
    config_findings = [
        *_config_rules(config),
        *_security(config, stack or StackSecurity()),
        *_hyperparameter_count(config),
        *_xgboost_values(config),
        *_num_round_runtime(config),
        *_combinations(config),
        *_spot_advice(config),
    ]
    tuning = config.tuning
    if tuning is None:
        return sorted(config_findings, key=lambda f: (f.severity != "error", f.id, f.field))
    findings = [
        *config_findings,
        *_count_limits(config, tuning),
        *_ranges(tuning),
        *_strategy_rules(tuning),
        *_budget_rules(tuning),
        *_warm_start_rules(tuning),
        *_objective_rules(config),
        *_static_value_rules(config, tuning),
        *_too_many_ranges(config, tuning),
        *_range_advice(config, tuning),
        *_parallel_advice(tuning),
        *_distributed_advice(config),
        *_early_stopping_advice(tuning),
        *_warm_start_advice(config, tuning, earlier_tuning_jobs),
    ]
    return sorted(findings, key=lambda f: (f.severity != "error", f.id, f.field))


def raise_on_errors(config: ProjectConfig, *, stack: StackSecurity | None = None) -> None:
    """The pipeline's gate (NormalizeRequest, before anything is launched): any error stops the run with
    ConfigInvalid, listing every error and giving the first one's field and fix."""
    errors = [f for f in lint_config(config, stack=stack) if f.severity == "error"]
    if errors:
        first = errors[0]
        summary = "; ".join(f"{f.id} {f.field}: {f.message} (fix: {f.fix})" for f in errors)
        raise ConfigInvalid(f"the config has {len(errors)} error(s): {summary}", field=first.field, fix=first.fix)
