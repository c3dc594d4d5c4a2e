"""A run's report data, gathered from a ``ReportSource``: plain values, no drawing (the charts plot these)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trainops.registry import meta_value

from trainops_local.report.source import ReportSource
from trainops_local.sagemaker.script_mode import MetricScraper

META = "trainops:"
# Built-in XGBoost's log line for a round, as its container prints it (CloudWatch shows the tab as #011):
# "[3]#011train-auc:0.99379#011validation-auc:0.94349". SageMaker's own definitions for the built-in
# algorithm are one regex per metric over the same lines; a job that carries them is read with those instead.
_XGB_ROUND = re.compile(r"^\[(\d+)\]")
_XGB_PAIR = re.compile(r"(?:#011|\t)([A-Za-z0-9_]+)-([^:#\s]+):([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)")


class RunNotFound(Exception):
    """The runs table has no such run."""


Curves = dict[str, list[tuple[int, float]]]  # metric -> [(epoch, value)], epochs 0-based


@dataclass
class JobData:
    """One training job: its status, objective, hyperparameters and per-epoch metrics."""

    name: str
    index: int  # 1-based, in creation order
    status: str
    objective: float | None
    hyperparameters: dict[str, str]
    created: datetime | None = None
    early_stopped: bool = False
    failure_reason: str | None = None
    curves: Curves = field(default_factory=dict)
    curves_from: str = "none"  # "log" | "cloudwatch" | "none"


@dataclass
class VersionData:
    """One registered model package of the project."""

    arn: str
    version: int
    created: datetime | None
    approval: str
    metric: str | None
    objective: float | None
    run_id: str | None
    champion: bool = False
    this_run: bool = False


@dataclass
class Importance:
    """How strongly one tuned hyperparameter goes with the objective across the jobs that reported it."""

    name: str
    kind: str  # "numeric" (Spearman's rank correlation) | "categorical" (correlation ratio)
    score: float  # |rho| or eta, in [0, 1]
    signed: float | None  # rho itself for numeric hyperparameters
    scaling: str | None  # the range's ScalingType


@dataclass
class RunData:
    """Everything a run's report shows."""

    run_id: str
    project: str
    status: str
    kind: str  # "tuning" | "training" | "none" (the run ended before any job)
    objective_metric: str | None
    direction: str | None  # Maximize | Minimize
    record: dict[str, Any]
    tuning_job: str | None = None
    early_stopping: bool = False
    best_job: str | None = None
    jobs: list[JobData] = field(default_factory=list)
    ranges: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {"type", "scaling"}
    importance: list[Importance] = field(default_factory=list)
    importance_from: str = "completed"  # "completed" | "reported": which jobs the importance was measured over
    importance_jobs: int = 0
    versions: list[VersionData] = field(default_factory=list)

    @property
    def maximize(self) -> bool:
        return self.direction != "Minimize"


# -- per-epoch metrics ------------------------------------------------------------------------------------
def parse_curves(lines: list[str], metric_definitions: list[dict[str, str]]) -> Curves:
    """Per-epoch values from a job's log: through its MetricDefinitions (the n-th match of a metric is epoch
    n, as SageMaker counts), or, for built-in XGBoost (no definitions in the request), from its round lines."""
    curves: Curves = {}

    def report(name: str, epoch: int, value: float) -> None:
        if math.isfinite(value):
            curves.setdefault(name, []).append((epoch, value))

    if metric_definitions:
        scraper = MetricScraper([(d["Name"], re.compile(d["Regex"])) for d in metric_definitions], report)
        for line in lines:
            scraper.feed(line)
        return curves
    for line in lines:
        match = _XGB_ROUND.match(line)
        if match is None:
            continue
        epoch = int(match.group(1))
        for data, metric, value in _XGB_PAIR.findall(line):
            report(f"{data}:{metric}", epoch, float(value))
    return curves


def job_curves(source: ReportSource, describe: dict[str, Any]) -> tuple[Curves, str]:
    """The job's per-epoch metrics, and where they came from."""
    name = describe["TrainingJobName"]
    definitions = (describe.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    curves = parse_curves(source.log_lines(name), definitions)
    if curves:
        return curves, "log"
    start = describe.get("TrainingStartTime") or describe.get("CreationTime")
    end = describe.get("TrainingEndTime") or describe.get("LastModifiedTime") or start
    if start is None or end is None:
        return {}, "none"
    for final in describe.get("FinalMetricDataList") or []:
        values = source.metric_history(name, final["MetricName"], start, end)
        if values:
            curves[final["MetricName"]] = list(enumerate(values))
    return curves, ("cloudwatch" if curves else "none")


# -- importance -------------------------------------------------------------------------------------------
def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ties share their mean rank
        i = j + 1
    return ranks


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (ties ranked by their mean rank); None when either side is constant."""
    if len(xs) < 2:
        return None
    return _pearson(_ranks(xs), _ranks(ys))


def correlation_ratio(categories: list[str], ys: list[float]) -> float | None:
    """eta: the share of the objective's spread explained by the category (its square root), in [0, 1]."""
    if len(ys) < 2:
        return None
    mean = sum(ys) / len(ys)
    total = sum((y - mean) ** 2 for y in ys)
    if total == 0:
        return None
    groups: dict[str, list[float]] = {}
    for c, y in zip(categories, ys, strict=True):
        groups.setdefault(c, []).append(y)
    between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
    return math.sqrt(between / total)


def importance_jobs(jobs: list[JobData]) -> tuple[list[JobData], str]:
    """The jobs importance is measured over: the completed ones when there are three, since an early-stopped
    job's objective comes from its first epochs and would dominate; else every job that reported an objective."""
    completed = [j for j in jobs if j.objective is not None and j.status == "Completed"]
    if len(completed) >= 3:
        return completed, "completed"
    return [j for j in jobs if j.objective is not None], "reported"


def importance(scored: list[JobData], ranges: dict[str, dict[str, str]]) -> list[Importance]:
    """Each tuned hyperparameter scored against the objective over ``scored``, most important first: |Spearman
    rho| for numeric ranges, the correlation ratio eta for categorical ones. Needs three jobs."""
    if len(scored) < 3:
        return []
    out: list[Importance] = []
    for name, spec in ranges.items():
        rows = [(j.hyperparameters[name], j.objective) for j in scored if name in j.hyperparameters]
        ys = [float(y) for _, y in rows if y is not None]
        if spec["type"] == "Categorical":
            eta = correlation_ratio([v for v, _ in rows], ys)
            out.append(Importance(name, "categorical", eta or 0.0, None, None))
            continue
        try:
            xs = [float(v) for v, _ in rows]
        except ValueError:
            continue
        rho = spearman(xs, ys)
        out.append(Importance(name, "numeric", abs(rho) if rho is not None else 0.0, rho, spec.get("scaling")))
    return sorted(out, key=lambda i: (-i.score, i.name))


# -- gathering ----------------------------------------------------------------------------------------------
def _objective_of(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """``"validation:auc (Maximize)"`` (SelectAlgorithm's record) -> ("validation:auc", "Maximize")."""
    text = str(record.get("objective") or "")
    match = re.match(r"^(\S+)\s+\((Maximize|Minimize)\)$", text)
    if match:
        return match.group(1), match.group(2)
    registration = record.get("registration") or {}
    return registration.get("objective_metric"), None


def _ranges(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    ranges = config.get("ParameterRanges") or {}
    out: dict[str, dict[str, str]] = {}
    for key, kind in (
        ("ContinuousParameterRanges", "Continuous"),
        ("IntegerParameterRanges", "Integer"),
        ("CategoricalParameterRanges", "Categorical"),
    ):
        for r in ranges.get(key) or []:
            out[r["Name"]] = {"type": kind, "scaling": r.get("ScalingType", "Auto")}
    return out


def collect(source: ReportSource, run_id: str) -> RunData:
    """Read a run and its project from ``source`` (RunNotFound when the runs table has no such run)."""
    record = source.run_record(run_id)
    if record is None:
        raise RunNotFound(run_id)
    project = str(record.get("project") or "")
    metric, direction = _objective_of(record)
    data = RunData(
        run_id=run_id,
        project=project,
        status=str(record.get("status") or "UNKNOWN"),
        kind="none",
        objective_metric=None if metric == "none" else metric,
        direction=direction,
        record=record,
    )
    if record.get("tuning_job"):
        _collect_tuning(source, data, str(record["tuning_job"]))
    elif record.get("training_job"):
        _collect_training(source, data, str(record["training_job"]))
    data.versions = _versions(source, project, record)
    return data


def _collect_tuning(source: ReportSource, data: RunData, name: str) -> None:
    tuning = source.describe_tuning_job(name)
    config = tuning.get("HyperParameterTuningJobConfig") or {}
    objective = config.get("HyperParameterTuningJobObjective") or {}
    data.kind, data.tuning_job = "tuning", name
    data.objective_metric = objective.get("MetricName") or data.objective_metric
    data.direction = objective.get("Type") or data.direction
    data.early_stopping = config.get("TrainingJobEarlyStoppingType") == "Auto"
    data.best_job = (tuning.get("BestTrainingJob") or {}).get("TrainingJobName")
    data.ranges = _ranges(config)
    for index, summary in enumerate(source.tuning_job_summaries(name), start=1):
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        describe = source.describe_training_job(summary["TrainingJobName"])
        curves, where = job_curves(source, describe)
        status = summary.get("TrainingJobStatus", "?")
        data.jobs.append(
            JobData(
                name=summary["TrainingJobName"],
                index=index,
                status=status,
                objective=final.get("Value"),
                hyperparameters={k: str(v) for k, v in (summary.get("TunedHyperParameters") or {}).items()},
                created=summary.get("CreationTime"),
                # a tuning job with early stopping stops the jobs it judges unpromising: they end Stopped
                early_stopped=data.early_stopping and status == "Stopped",
                failure_reason=summary.get("FailureReason"),
                curves=curves,
                curves_from=where,
            )
        )
    scored, data.importance_from = importance_jobs(data.jobs)
    data.importance_jobs = len(scored)
    data.importance = importance(scored, data.ranges)


def _collect_training(source: ReportSource, data: RunData, name: str) -> None:
    describe = source.describe_training_job(name)
    curves, where = job_curves(source, describe)
    finals = {m["MetricName"]: m["Value"] for m in describe.get("FinalMetricDataList") or []}
    data.kind = "training"
    data.jobs.append(
        JobData(
            name=name,
            index=1,
            status=describe.get("TrainingJobStatus", "?"),
            objective=finals.get(data.objective_metric) if data.objective_metric else None,
            hyperparameters={k: str(v) for k, v in (describe.get("HyperParameters") or {}).items()},
            created=describe.get("CreationTime"),
            failure_reason=describe.get("FailureReason"),
            curves=curves,
            curves_from=where,
        )
    )


def _versions(source: ReportSource, project: str, record: dict[str, Any]) -> list[VersionData]:
    if not project:
        return []
    versions: list[VersionData] = []
    for package in source.model_packages(project):
        meta = package.get("CustomerMetadataProperties") or {}
        value = meta.get(f"{META}objective-value")
        try:
            objective = float(value) if value is not None else None
        except ValueError:
            objective = None
        versions.append(
            VersionData(
                arn=package["ModelPackageArn"],
                version=int(package.get("ModelPackageVersion") or len(versions) + 1),
                created=package.get("CreationTime"),
                approval=package.get("ModelApprovalStatus", "?"),
                metric=meta.get(f"{META}objective-metric"),
                objective=objective,
                run_id=meta.get(f"{META}run-id"),
                this_run=package["ModelPackageArn"] == record.get("model_package_arn")
                or (bool(meta.get(f"{META}run-id")) and meta.get(f"{META}run-id") == meta_value(record.get("run_id"))),
            )
        )
    # the champion, as the registry judges against it: the newest Approved package
    approved = [v for v in versions if v.approval == "Approved"]
    if approved:
        approved[-1].champion = True
    return versions
