"""The local SageMaker hyperparameter tuner: real tuning jobs with optuna, inside moto.

``install()`` patches moto 5.2.5 so that, inside ``mock_aws()``, CreateHyperParameterTuningJob starts a
:class:`LocalTuningJob` on its own thread; DescribeHyperParameterTuningJob / ListHyperParameterTuningJobs read
its live state; StopHyperParameterTuningJob and ListTrainingJobsForHyperParameterTuningJob (both missing in
moto) are added. Child training jobs go through the local training backend
(:func:`trainops_local.sagemaker.backend.start_local_training_job`), the same path as ordinary jobs.

Strategies: Bayesian = TPE, Random = RandomSampler, Grid = GridSampler (categorical and integer values;
continuous ranges are refused, as AWS does), Hyperband = TPE with optuna's HyperbandPruner
(``HyperbandStrategyConfig.MinResource/MaxResource`` in epochs). ``TrainingJobEarlyStoppingType: Auto`` is
SageMaker's median stopping rule: after epoch *e* a job whose objective is worse than the median of the
running averages up to *e* of the jobs that have already ended is stopped (status ``Stopped``). A stopped
job's last objective is its final objective, counted as ``Succeeded`` in ``ObjectiveStatusCounters`` and,
as that counter says, used by the search (told to optuna as an observation). Warm start seeds the study with
the parents' finished training jobs as observations; it does not re-run the parents' best configuration,
which SageMaker does not document doing (the registry's champion comparison is what protects a project from a
worse model).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.utils import arn_formatter
from trainops.tuning import ALGORITHM_SPEC_MEMBERS, DEFINITION_MEMBERS

from trainops_local.sagemaker import backend as training_backend
from trainops_local.sagemaker import stopping
from trainops_local.sagemaker.events import TUNING_DETAIL_TYPE
from trainops_local.sagemaker.patching import MotoPatches
from trainops_local.sagemaker.types import MetricPoint, TrainingOutcome, utcnow

log = logging.getLogger(__name__)

TERMINAL_TUNING = frozenset({"Completed", "Failed", "Stopped"})
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
POLL_SECONDS = 0.02
CHILD_TIMEOUT_SECONDS = 24 * 3600
EVENT_SEND_TIMEOUT_SECONDS = 60.0  # a tuning state change waits this long for its event to be sent
# The tuning job gives up when its first jobs all fail: the same error would repeat (bad data, bad image).
FAIL_FAST_JOBS = 3
MEDIAN_RULE_MIN_JOBS = 3  # ended jobs with data at an epoch before the median rule may stop a job

optuna.logging.set_verbosity(optuna.logging.WARNING)


# --- search space -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One tunable hyperparameter and how it maps to an optuna distribution."""

    name: str
    kind: str  # integer | continuous | categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    @property
    def reverse_log(self) -> bool:
        return self.kind == "continuous" and self.scaling == "ReverseLogarithmic"

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The optuna distribution; ReverseLogarithmic samples ``1 - x`` on a log scale."""
        log_scale = self.scaling == "Logarithmic"
        if self.kind == "categorical":
            return optuna.distributions.CategoricalDistribution(self.values)
        if self.kind == "integer":
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=log_scale)
        if self.reverse_log:
            return optuna.distributions.FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=log_scale)

    def to_hyperparameter(self, internal: Any) -> str:
        """optuna's value -> the string the training job receives."""
        if self.kind == "categorical":
            return str(internal)
        if self.kind == "integer":
            return str(int(internal))
        value = 1.0 - float(internal) if self.reverse_log else float(internal)
        return repr(min(max(value, self.low), self.high))

    def to_internal(self, hyperparameter: str) -> Any | None:
        """A parent job's hyperparameter string -> optuna's value, or None when outside this range."""
        try:
            if self.kind == "categorical":
                return hyperparameter if hyperparameter in self.values else None
            number = float(hyperparameter)
        except ValueError:
            return None
        if not self.low <= number <= self.high:
            return None
        if self.kind == "integer":
            return int(number)
        internal = 1.0 - number if self.reverse_log else number
        return internal if self.distribution()._contains(internal) else None


def search_space(ranges: dict[str, Any], *, grid: bool) -> list[Param]:
    """ParameterRanges -> params; raises ValidationError as SageMaker does for invalid ranges."""
    params: list[Param] = []
    for rng in ranges.get("CategoricalParameterRanges") or []:
        params.append(Param(rng["Name"], "categorical", values=tuple(str(v) for v in rng["Values"])))
    for kind, key in (("integer", "IntegerParameterRanges"), ("continuous", "ContinuousParameterRanges")):
        for rng in ranges.get(key) or []:
            param = _numeric_param(kind, rng)
            if grid and kind == "continuous":
                raise ValidationError(message=f"Grid search does not support continuous parameter {param.name}")
            if grid:  # integer ranges are enumerated as categorical values
                values = tuple(str(v) for v in range(int(param.low), int(param.high) + 1))
                param = Param(param.name, "categorical", values=values)
            params.append(param)
    if not params:
        raise ValidationError(message="ParameterRanges must contain at least one hyperparameter range")
    return params


def _numeric_param(kind: str, rng: dict[str, Any]) -> Param:
    name, scaling = rng["Name"], rng.get("ScalingType", "Auto")
    try:
        low, high = float(rng["MinValue"]), float(rng["MaxValue"])
    except (KeyError, ValueError):
        raise ValidationError(message=f"Hyperparameter {name}: MinValue and MaxValue must be numbers") from None
    if kind == "integer" and not (low.is_integer() and high.is_integer()):
        raise ValidationError(message=f"Hyperparameter {name}: integer ranges need integer MinValue and MaxValue")
    if low >= high:
        raise ValidationError(message=f"Hyperparameter {name}: MinValue must be less than MaxValue")
    if scaling == "Logarithmic" and low <= 0:
        raise ValidationError(message=f"Hyperparameter {name}: Logarithmic scaling requires MinValue > 0")
    if scaling == "ReverseLogarithmic" and (kind == "integer" or low < 0 or high >= 1):
        raise ValidationError(
            message=f"Hyperparameter {name}: ReverseLogarithmic needs a continuous range, 0 <= MinValue < MaxValue < 1"
        )
    return Param(name, kind, low, high, scaling)


# --- early stopping ---------------------------------------------------------------------------------
def median_rule_stops(value: float, epoch: int, earlier: list[list[float]], *, maximize: bool) -> bool:
    """SageMaker's median stopping rule for one job at one epoch.

    ``earlier`` holds the per-epoch objective histories of the jobs that have already ended (Completed or
    early-stopped; AWS: "previously completed training jobs"). The job is stopped when its objective at
    ``epoch`` is worse than the median of those jobs' running averages up to ``epoch`` (only jobs that reached
    ``epoch`` count, and at least MEDIAN_RULE_MIN_JOBS of them).
    """
    averages = [statistics.fmean(h[: epoch + 1]) for h in earlier if len(h) > epoch]
    if len(averages) < MEDIAN_RULE_MIN_JOBS:
        return False
    median = statistics.median(averages)
    return value < median if maximize else value > median


# --- one tuning job ---------------------------------------------------------------------------------
@dataclass
class ChildJob:
    """One training job launched by a tuning job."""

    index: int
    name: str
    tuned: dict[str, str]
    trial: optuna.trial.Trial
    handle: Any = None  # backend JobHandle
    history: list[float] = field(default_factory=list)  # objective per epoch
    early_stopped: bool = False
    status: str = "InProgress"
    objective: float | None = None
    failure_reason: str | None = None
    creation_time: Any = None

    @property
    def epochs(self) -> int:
        """Epochs (rounds) that reported the objective."""
        return len(self.history)


class LocalTuningJob:
    """Runs one CreateHyperParameterTuningJob request against the local training backend."""

    def __init__(self, record: Any, request: dict[str, Any], backend: Any, *, emit: Callable[[Any], None]) -> None:
        self.record = record
        self.request = copy.deepcopy(request)
        self.backend = backend
        self.emit = emit
        config = request["HyperParameterTuningJobConfig"]
        self.strategy = config["Strategy"]
        objective = config.get("HyperParameterTuningJobObjective") or {}
        self.metric = objective.get("MetricName", "")
        self.maximize = objective.get("Type", "Maximize") == "Maximize"
        self.params = search_space(config.get("ParameterRanges") or {}, grid=self.strategy == "Grid")
        self.distributions = {p.name: p.distribution() for p in self.params}
        limits = config.get("ResourceLimits") or {}
        self.max_parallel = int(limits.get("MaxParallelTrainingJobs", 1))
        self.max_runtime = limits.get("MaxRuntimeInSeconds")
        self.max_jobs = self._max_jobs(limits)
        self.early_stopping = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
        self.criteria = config.get("TuningJobCompletionCriteria") or {}
        self.seed = config.get("RandomSeed")
        self.definition = request["TrainingJobDefinition"]
        self.children: list[ChildJob] = []
        self.lock = threading.RLock()
        self.stop_requested = threading.Event()
        self.thread = threading.Thread(target=self._run_safely, name=f"tuning-{record.hyper_parameter_tuning_job_name}")
        self.started = time.monotonic()
        self.not_improving = 0
        self.warm_started = 0
        self.study: optuna.Study | None = None  # what the search has been told, for inspection

    @property
    def name(self) -> str:
        return str(self.record.hyper_parameter_tuning_job_name)

    def _max_jobs(self, limits: dict[str, Any]) -> int:
        if self.strategy == "Grid":
            size = math.prod(len(p.values) for p in self.params)
            return min(size, int(limits.get("MaxNumberOfTrainingJobs", size)))
        return int(limits.get("MaxNumberOfTrainingJobs", 1))

    # -- study -------------------------------------------------------------------------------------
    def _sampler(self) -> optuna.samplers.BaseSampler:
        if self.strategy == "Random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        if self.strategy == "Grid":
            space = {p.name: list(p.values) for p in self.params}
            return _AskTellGridSampler(space, seed=self.seed)
        return optuna.samplers.TPESampler(seed=self.seed, multivariate=True)

    def _pruner(self) -> optuna.pruners.BasePruner:
        if self.strategy != "Hyperband":
            return optuna.pruners.NopPruner()  # the median rule is applied here, as SageMaker defines it
        hb = (self.request["HyperParameterTuningJobConfig"].get("StrategyConfig") or {}).get(
            "HyperbandStrategyConfig"
        ) or {}
        return optuna.pruners.HyperbandPruner(
            min_resource=int(hb.get("MinResource", 1)), max_resource=int(hb.get("MaxResource", 0)) or "auto"
        )

    def _study(self) -> optuna.Study:
        direction = optuna.study.StudyDirection.MAXIMIZE if self.maximize else optuna.study.StudyDirection.MINIMIZE
        study = optuna.create_study(direction=direction, sampler=self._sampler(), pruner=self._pruner())
        self._warm_start(study)
        return study

    def _warm_start(self, study: optuna.Study) -> None:
        warm = self.request.get("WarmStartConfig") or {}
        parents = [p["HyperParameterTuningJobName"] for p in warm.get("ParentHyperParameterTuningJobs") or []]
        for parent in parents:
            for params, value in self._parent_results(parent):
                study.add_trial(optuna.trial.create_trial(params=params, distributions=self.distributions, value=value))
                self.warm_started += 1

    def _parent_results(self, parent: str) -> list[tuple[dict[str, Any], float]]:
        record = self.backend.hyper_parameter_tuning_jobs.get(parent)
        if record is None:
            return []
        results = []
        for job in list(self.backend.training_jobs.values()):
            if getattr(job, "tuning_job_arn", None) != record.arn or job.training_job_status not in (
                "Completed",
                "Stopped",
            ):
                continue
            value = _final_value(job.final_metric_data_list, self.metric)
            hps = job.hyper_parameters or {}
            params = {p.name: p.to_internal(str(hps[p.name])) for p in self.params if p.name in hps}
            if value is not None and len(params) == len(self.params) and None not in params.values():
                results.append((params, value))
        return results

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._set_status("InProgress")
        self.thread.start()

    def stop(self) -> None:
        """StopHyperParameterTuningJob: Stopping now; running jobs are stopped; Stopped at the end."""
        if self.record.hyper_parameter_tuning_job_status in TERMINAL_TUNING:
            return
        stopping.begin_stop("tuning", self.record, emit=lambda: self.emit(self), signal=self.stop_requested.set)

    def _run_safely(self) -> None:
        try:
            self._run()
        except Exception as exc:  # never leave a tuning job InProgress
            log.exception("local tuning job %s crashed", self.name)
            self._finish("Failed", f"InternalServerError: the local tuner failed: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        study = self.study = self._study()
        running: list[ChildJob] = []
        while not self._should_end_launching():
            self._reap(study, running)
            if len(running) >= self.max_parallel:
                time.sleep(POLL_SECONDS)
                continue
            running.append(self._launch(study))
        for child in running:
            if self.stop_requested.is_set() or self._out_of_time():
                child.handle.stop()
        while running:
            self._reap(study, running)
            time.sleep(POLL_SECONDS)
        self._finish(*self._final_status())

    def _should_end_launching(self) -> bool:
        if self.stop_requested.is_set() or self._out_of_time():
            return True
        with self.lock:
            launched = len(self.children)
            done = [c for c in self.children if c.status != "InProgress"]
        if launched >= self.max_jobs:
            return True
        if self._criteria_met():
            return True
        failed_first = [c for c in done[:FAIL_FAST_JOBS] if c.status == "Failed"]
        return len(failed_first) == FAIL_FAST_JOBS and not any(c.status == "Completed" for c in done)

    def _out_of_time(self) -> bool:
        return self.max_runtime is not None and time.monotonic() - self.started > float(self.max_runtime)

    def _criteria_met(self) -> bool:
        best = self._best()
        target = self.criteria.get("TargetObjectiveMetricValue")
        if best is not None and target is not None:
            value = best.objective
            assert value is not None
            if (value >= target) if self.maximize else (value <= target):
                return True
        patience = (self.criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
        return patience is not None and self.not_improving >= int(patience)

    def _launch(self, study: optuna.Study) -> ChildJob:
        trial = study.ask(self.distributions)
        index = len(self.children) + 1
        tuned = {p.name: p.to_hyperparameter(trial.params[p.name]) for p in self.params}
        digest = hashlib.sha256(f"{self.name}/{index}".encode()).hexdigest()[:8]
        child = ChildJob(index=index, name=f"{self.name}-{index:03d}-{digest}", tuned=tuned, trial=trial)
        with self.lock:
            self.children.append(child)
        child.creation_time = utcnow()
        child.handle = training_backend.start_local_training_job(
            self._child_request(child),
            tuning_job_name=self.name,
            on_metric=lambda point: self._on_metric(child, point),
            should_stop=lambda: child.early_stopped or self.stop_requested.is_set(),
        )
        self._touch()
        return child

    def _child_request(self, child: ChildJob) -> dict[str, Any]:
        definition = self.definition
        spec = definition.get("AlgorithmSpecification") or {}
        request: dict[str, Any] = {
            "TrainingJobName": child.name,
            "AlgorithmSpecification": {k: copy.deepcopy(spec[k]) for k in ALGORITHM_SPEC_MEMBERS if spec.get(k)},
            "HyperParameters": {
                **(definition.get("StaticHyperParameters") or {}),
                **child.tuned,
                OBJECTIVE_HYPERPARAMETER: self.metric,
            },
        }
        for key in DEFINITION_MEMBERS:
            if key != "CheckpointConfig" and definition.get(key) is not None:
                request[key] = copy.deepcopy(definition[key])
        checkpoint = definition.get("CheckpointConfig")
        if checkpoint:  # one checkpoint location per training job
            request["CheckpointConfig"] = {**checkpoint, "S3Uri": f"{checkpoint['S3Uri'].rstrip('/')}/{child.name}/"}
        return request

    def _on_metric(self, child: ChildJob, point: MetricPoint) -> None:
        if point.name != self.metric or child.early_stopped:
            return
        with self.lock:
            child.history.append(point.value)
            epoch = len(child.history) - 1
            earlier = [list(c.history) for c in self.children if c.status in ("Completed", "Stopped")]
        child.trial.report(point.value, epoch)
        if self.strategy == "Hyperband":
            stop = child.trial.should_prune()
        else:
            stop = self.early_stopping and median_rule_stops(point.value, epoch, earlier, maximize=self.maximize)
        if stop:
            child.early_stopped = True

    def _reap(self, study: optuna.Study, running: list[ChildJob]) -> None:
        for child in [c for c in running if c.handle.done.is_set()]:
            running.remove(child)
            self._record_outcome(study, child, child.handle.outcome)
            self._touch()

    def _record_outcome(self, study: optuna.Study, child: ChildJob, outcome: TrainingOutcome) -> None:
        value = _outcome_value(outcome, self.metric)
        before = self._best()
        with self.lock:
            child.status = outcome.status
            child.failure_reason = outcome.failure_reason
            child.objective = value
        if outcome.status in ("Completed", "Stopped") and value is not None:
            # An early-stopped job's last objective is its final one, and SageMaker uses it in the search
            # (ObjectiveStatus Succeeded), so the optimizer learns where jobs get stopped.
            study.tell(child.trial, value)
        elif outcome.status == "Completed":  # finished without reporting the objective
            study.tell(child.trial, state=optuna.trial.TrialState.FAIL)
            with self.lock:
                child.failure_reason = f"the objective metric {self.metric} was never reported"
        else:
            study.tell(child.trial, state=optuna.trial.TrialState.FAIL)
        after = self._best()
        improved = after is not None and (before is None or after.index != before.index)
        if outcome.status == "Completed":
            self.not_improving = 0 if improved else self.not_improving + 1

    # -- state as SageMaker reports it ---------------------------------------------------------------
    def _best(self) -> ChildJob | None:
        with self.lock:
            done = [c for c in self.children if c.status == "Completed" and c.objective is not None]
        if not done:
            return None
        key: Callable[[ChildJob], float] = lambda c: c.objective if c.objective is not None else 0.0  # noqa: E731
        return max(done, key=key) if self.maximize else min(done, key=key)

    def summary(self, child: ChildJob) -> dict[str, Any]:
        """HyperParameterTrainingJobSummary of one child."""
        record = self.backend.training_jobs.get(child.name)
        out: dict[str, Any] = {
            "TrainingJobName": child.name,
            "TrainingJobArn": record.arn if record is not None else "",
            "TuningJobName": self.name,
            "CreationTime": child.creation_time,
            "TrainingJobStatus": child.status if record is None else record.training_job_status,
            "TunedHyperParameters": dict(child.tuned),
            "ObjectiveStatus": self._objective_status(child),
        }
        if record is not None and record.training_start_time is not None:
            out["TrainingStartTime"] = record.training_start_time
        if record is not None and record.training_end_time is not None:
            out["TrainingEndTime"] = record.training_end_time
        if child.failure_reason:
            out["FailureReason"] = child.failure_reason
        if child.objective is not None:
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": "Maximize" if self.maximize else "Minimize",
                "MetricName": self.metric,
                "Value": child.objective,
            }
        return out

    @staticmethod
    def _objective_status(child: ChildJob) -> str:
        if child.status == "InProgress":
            return "Pending"
        return "Succeeded" if child.objective is not None else "Failed"

    def _touch(self) -> None:
        """Refresh counters and BestTrainingJob on moto's record."""
        with self.lock:
            children = list(self.children)
        counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
        objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        for child in children:
            counters["NonRetryableError" if child.status == "Failed" else child.status] += 1
            objective[self._objective_status(child)] += 1
        record = self.record
        record.training_job_status_counters = counters
        record.objective_status_counters = objective
        best = self._best()
        record.best_training_job = self.summary(best) if best is not None else None
        record.last_modified_time = utcnow()
        record.consumed_resources = {"RuntimeInSeconds": int(time.monotonic() - self.started)}

    def _final_status(self) -> tuple[str, str | None]:
        if self.stop_requested.is_set():
            return "Stopped", None
        with self.lock:
            children = list(self.children)
        if children and all(c.status == "Failed" for c in children):
            first = next((c.failure_reason for c in children if c.failure_reason), "unknown")
            return "Failed", f"All {len(children)} training jobs failed. First failure: {first}"
        return "Completed", None

    def _finish(self, status: str, reason: str | None) -> None:
        self._touch()
        record = self.record
        record.failure_reason = reason
        record.hyper_parameter_tuning_end_time = utcnow()
        details: dict[str, Any] = {"NumberOfTrainingJobsObjectiveNotImproving": self.not_improving}
        record.tuning_job_completion_details = details
        self._set_status(status)

    def _set_status(self, status: str) -> None:
        self.record.hyper_parameter_tuning_job_status = status
        self.record.last_modified_time = utcnow()
        self.emit(self)

    def event_detail(self) -> dict[str, Any]:
        """The state-change event's detail: the Describe response without BestTrainingJob."""
        describe = self.record.describe()
        describe.pop("BestTrainingJob", None)
        describe.pop("OverallBestTrainingJob", None)
        describe["Tags"] = self.record.tags or []
        return {k: v for k, v in describe.items() if v is not None}


def _final_value(metrics: list[dict[str, Any]] | None, name: str) -> float | None:
    for metric in metrics or []:
        if metric.get("MetricName") == name and metric.get("Value") is not None:
            value = float(metric["Value"])
            return value if math.isfinite(value) else None
    return None


def _outcome_value(outcome: TrainingOutcome, name: str) -> float | None:
    point = outcome.final_metrics.get(name)
    if point is None or not math.isfinite(point.value):
        return None
    return float(point.value)


# --- the registry and the moto patches --------------------------------------------------------------
class _AskTellGridSampler(optuna.samplers.GridSampler):
    """optuna's grid, driven by ask/tell: its ``after_trial`` calls ``study.stop()`` once the grid is covered,
    which only works inside ``study.optimize``. The tuner runs exactly the grid's size of jobs, as SageMaker's
    Grid strategy does, so nothing needs stopping."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        del study, trial, state, values


class LocalTuner:
    """All local tuning jobs of this process."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str, str], LocalTuningJob] = {}
        self._lock = threading.Lock()

    def get(self, name: str, backend: Any | None = None) -> LocalTuningJob | None:
        """The running or finished local tuning job ``name``."""
        for (_, _, job_name), job in self.jobs.items():
            if job_name == name and (backend is None or job.backend is backend):
                return job
        return None

    def create(self, backend: Any, kwargs: dict[str, Any]) -> Any:
        request = _request_from_kwargs(kwargs)
        _validate(backend, request)
        record = _PATCHES.originals["create_hyper_parameter_tuning_job"]  # moto's record (list, delete keep working)
        arn = record(backend, **kwargs)
        moto_record = backend.hyper_parameter_tuning_jobs[request["HyperParameterTuningJobName"]]
        _reset_record(moto_record)
        job = LocalTuningJob(moto_record, request, backend, emit=_emit_event)
        with self._lock:
            self.jobs[(backend.account_id, backend.region_name, job.name)] = job
        job.start()
        return arn

    def wait(self, name: str, timeout: float) -> LocalTuningJob:
        """Block until the tuning job ``name`` has ended."""
        job = self.get(name)
        if job is None:
            raise KeyError(name)
        job.thread.join(timeout)
        if job.thread.is_alive():
            raise TimeoutError(f"tuning job {name} still running after {timeout} s")
        return job

    def close(self, timeout: float) -> bool:
        for job in list(self.jobs.values()):
            job.stop()
        deadline = time.monotonic() + timeout
        for job in list(self.jobs.values()):
            job.thread.join(max(0.0, deadline - time.monotonic()))
        return not any(job.thread.is_alive() for job in self.jobs.values())


def _request_from_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    mapping = {
        "hyper_parameter_tuning_job_name": "HyperParameterTuningJobName",
        "hyper_parameter_tuning_job_config": "HyperParameterTuningJobConfig",
        "training_job_definition": "TrainingJobDefinition",
        "training_job_definitions": "TrainingJobDefinitions",
        "warm_start_config": "WarmStartConfig",
        "tags": "Tags",
        "autotune": "Autotune",
    }
    return {member: copy.deepcopy(kwargs[k]) for k, member in mapping.items() if kwargs.get(k) is not None}


def _validate(backend: Any, request: dict[str, Any]) -> None:
    """What SageMaker refuses at CreateHyperParameterTuningJob and the local tuner can check."""
    config = request.get("HyperParameterTuningJobConfig") or {}
    if "TrainingJobDefinition" not in request:
        raise ValidationError(message="TrainingJobDefinitions (multi-algorithm tuning) is not available locally")
    strategy = config.get("Strategy")
    if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType") == "Auto":
        raise ValidationError(message="TrainingJobEarlyStoppingType must be Off with the Hyperband strategy")
    search_space(config.get("ParameterRanges") or {}, grid=strategy == "Grid")
    limits = config.get("ResourceLimits") or {}
    if strategy != "Grid" and "MaxNumberOfTrainingJobs" not in limits:
        raise ValidationError(message="ResourceLimits.MaxNumberOfTrainingJobs is required")
    warm = request.get("WarmStartConfig") or {}
    for parent in warm.get("ParentHyperParameterTuningJobs") or []:
        name = parent["HyperParameterTuningJobName"]
        record = backend.hyper_parameter_tuning_jobs.get(name)
        if record is None:
            raise ValidationError(message=f"Parent hyperparameter tuning job {name} does not exist")
        if record.hyper_parameter_tuning_job_status not in TERMINAL_TUNING:
            raise ValidationError(message=f"Parent hyperparameter tuning job {name} is not in a terminal state")


def _reset_record(record: Any) -> None:
    """Undo moto's instant completion and fake best job."""
    now = utcnow()
    record.hyper_parameter_tuning_job_status = "InProgress"
    record.hyper_parameter_tuning_end_time = None
    record.training_job_status_counters = {
        "Completed": 0,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    record.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    record.best_training_job = None
    record.OverallBestTrainingJob = None
    record.failure_reason = None
    record.tuning_job_completion_details = None
    record.consumed_resources = None
    record.creation_time = record.last_modified_time = now


def _emit_event(job: LocalTuningJob) -> None:
    """Send the tuning job's state-change event through the local SageMaker's one emitter, and wait until it
    was sent (so the event is on the bus when the status change returns, in order with the training jobs')."""
    state = training_backend.current()
    if state is None:
        return
    try:
        sent = state.events.emit("tuning", job.event_detail(), job.record.arn)
    except RuntimeError:  # the emitter was shut down (the backend uninstalled before the tuner)
        log.warning("%s for %s not sent: the local SageMaker is closed", TUNING_DETAIL_TYPE, job.name)
        return
    try:
        sent.result(timeout=EVENT_SEND_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("%s for %s still queued after %s s", TUNING_DETAIL_TYPE, job.name, EVENT_SEND_TIMEOUT_SECONDS)


_PATCHES = MotoPatches()
_TUNER: LocalTuner | None = None
_OWNS_BACKEND = False


def _tuner() -> LocalTuner:
    if _TUNER is None:
        raise RuntimeError("the local tuner is not installed: call trainops_local.sagemaker.tuning.install()")
    return _TUNER


def _backend_create(self: Any, **kwargs: Any) -> str:
    return str(_tuner().create(self, kwargs))


def _backend_stop(self: Any, hyper_parameter_tuning_job_name: str) -> None:
    job = _tuner().get(hyper_parameter_tuning_job_name, self)
    record = job.record if job is not None else None
    arn = arn_formatter(
        "hyper-parameter-tuning-job", hyper_parameter_tuning_job_name.lower(), self.account_id, self.region_name
    )
    stopping.check_stoppable("tuning", hyper_parameter_tuning_job_name, record, arn)
    assert job is not None
    job.stop()  # stopping.begin_stop


_SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Name": lambda s: s["TrainingJobName"],
    "CreationTime": lambda s: s["CreationTime"],
    "Status": lambda s: s["TrainingJobStatus"],
}


def _backend_list_children(self: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("HyperParameterTuningJobName", "")
    job = _tuner().get(name, self)
    if job is not None:
        with job.lock:
            summaries = [job.summary(c) for c in job.children]
    elif name in self.hyper_parameter_tuning_jobs:  # ran in an earlier process (a persisted workdir)
        summaries = _summaries_from_records(self, self.hyper_parameter_tuning_jobs[name])
    else:
        raise ValidationError(message=f"Could not find hyper parameter tuning job '{name}'.")
    if params.get("StatusEquals"):
        summaries = [s for s in summaries if s["TrainingJobStatus"] == params["StatusEquals"]]
    sort_by = params.get("SortBy") or "CreationTime"
    descending = (params.get("SortOrder") or "Descending") == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        # jobs without an objective value sort last either way
        scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        unscored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" not in s]
        scored.sort(key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=descending)
        summaries = scored + unscored
    else:
        summaries.sort(key=_SORT_KEYS[sort_by], reverse=descending)
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 10)
    page = summaries[start : start + size]
    out: dict[str, Any] = {"TrainingJobSummaries": page}
    if start + size < len(summaries):
        out["NextToken"] = str(start + size)
    return out


def _summaries_from_records(backend: Any, record: Any) -> list[dict[str, Any]]:
    """HyperParameterTrainingJobSummary of each child of a tuning job this process did not run, from moto's
    training job records (what an earlier command persisted)."""
    config = record.hyper_parameter_tuning_job_config or {}
    objective = config.get("HyperParameterTuningJobObjective") or {}
    metric, kind = objective.get("MetricName", ""), objective.get("Type", "Maximize")
    tuned = {r["Name"] for ranges in (config.get("ParameterRanges") or {}).values() for r in ranges}
    summaries = []
    for child in list(backend.training_jobs.values()):
        if getattr(child, "tuning_job_arn", None) != record.arn:
            continue
        value = _final_value(child.final_metric_data_list, metric)
        summary: dict[str, Any] = {
            "TrainingJobName": child.training_job_name,
            "TrainingJobArn": child.arn,
            "TuningJobName": record.hyper_parameter_tuning_job_name,
            "CreationTime": child.creation_time,
            "TrainingJobStatus": child.training_job_status,
            "TunedHyperParameters": {k: v for k, v in (child.hyper_parameters or {}).items() if k in tuned},
            "ObjectiveStatus": "Succeeded" if value is not None else "Failed",
        }
        for key, attr in (("TrainingStartTime", "training_start_time"), ("TrainingEndTime", "training_end_time")):
            if getattr(child, attr, None) is not None:
                summary[key] = getattr(child, attr)
        if child.failure_reason:
            summary["FailureReason"] = child.failure_reason
        if value is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": kind,
                "MetricName": metric,
                "Value": value,
            }
        summaries.append(summary)
    return summaries


def _response_stop(self: Any) -> EmptyResult:
    self.sagemaker_backend.stop_hyper_parameter_tuning_job(self._get_param("HyperParameterTuningJobName"))
    return EmptyResult()


def _response_list_children(self: Any) -> ActionResult:
    return ActionResult(self.sagemaker_backend.list_training_jobs_for_hyper_parameter_tuning_job(self._get_params()))


_BACKEND_PATCHES: dict[str, Callable[..., Any]] = {
    "create_hyper_parameter_tuning_job": _backend_create,
    "stop_hyper_parameter_tuning_job": _backend_stop,
    "list_training_jobs_for_hyper_parameter_tuning_job": _backend_list_children,
}
_RESPONSE_PATCHES: dict[str, Callable[..., Any]] = {
    "stop_hyper_parameter_tuning_job": _response_stop,
    "list_training_jobs_for_hyper_parameter_tuning_job": _response_list_children,
}


def install(root: Path | None = None, **backend_kwargs: Any) -> LocalTuner:
    """Patch moto so tuning jobs really run; idempotent. Use inside ``mock_aws()``.

    The local training backend must be installed (``backend.install(root)``); when it is not, pass
    ``root`` (and any ``backend.install`` keyword) and it is installed here and removed by ``uninstall``.
    """
    global _TUNER, _OWNS_BACKEND  # noqa: PLW0603 - one installation per process, like moto's own patching
    if _TUNER is not None:
        return _TUNER
    if training_backend.current() is None:
        if root is None:
            raise RuntimeError("install the local training backend first, or pass root=")
        training_backend.install(root, **backend_kwargs)
        _OWNS_BACKEND = True
    backend_cls = sm_models.SageMakerModelBackend
    _PATCHES.apply(backend_cls, _BACKEND_PATCHES)
    _PATCHES.apply(sm_responses.SageMakerResponse, _RESPONSE_PATCHES, key_prefix="response.")
    _TUNER = LocalTuner()
    return _TUNER


def uninstall(timeout: float = 30.0) -> bool:
    """Stop running tuning jobs and restore moto; False if they did not end within ``timeout``."""
    global _TUNER, _OWNS_BACKEND  # noqa: PLW0603
    if _TUNER is None:
        return True
    idle = _TUNER.close(timeout)
    _PATCHES.undo()
    _TUNER = None
    if _OWNS_BACKEND:
        idle = training_backend.uninstall(timeout) and idle
        _OWNS_BACKEND = False
    return idle


@contextlib.contextmanager
def installed(root: Path | None = None, **backend_kwargs: Any) -> Any:
    """``install()`` for the duration of a ``with`` block (inside ``mock_aws()``)."""
    tuner = install(root, **backend_kwargs)
    try:
        yield tuner
    finally:
        uninstall()


def current() -> LocalTuner | None:
    """The installed local tuner, if any."""
    return _TUNER
