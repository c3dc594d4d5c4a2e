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

This module runs tuning jobs (:class:`LocalTuningJob`, the registry :class:`LocalTuner`, install); the search
space, objective values and the median rule are in :mod:`trainops_local.sagemaker.tuning_space`, the moto
surface (request checks, Stop and ListTrainingJobsFor... calls) in :mod:`trainops_local.sagemaker.tuning_api`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from trainops.tuning import ALGORITHM_SPEC_MEMBERS, DEFINITION_MEMBERS

from trainops_local.sagemaker import backend as training_backend
from trainops_local.sagemaker import stopping, tuning_api
from trainops_local.sagemaker.events import TUNING_DETAIL_TYPE
from trainops_local.sagemaker.patching import MotoPatches
from trainops_local.sagemaker.tuning_api import TERMINAL_TUNING
from trainops_local.sagemaker.tuning_space import (
    AskTellGridSampler,
    final_value,
    median_rule_stops,
    outcome_value,
    search_space,
)
from trainops_local.sagemaker.types import MetricPoint, TrainingOutcome, utcnow

log = logging.getLogger(__name__)

OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
POLL_SECONDS = 0.02
CHILD_TIMEOUT_SECONDS = 24 * 3600
EVENT_SEND_TIMEOUT_SECONDS = 60.0  # a tuning state change waits this long for its event to be sent
# The tuning job gives up when its first jobs all fail: the same error would repeat (bad data, bad image).
FAIL_FAST_JOBS = 3

optuna.logging.set_verbosity(optuna.logging.WARNING)


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
            return AskTellGridSampler(space, seed=self.seed)
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
            value = final_value(job.final_metric_data_list, self.metric)
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
        value = outcome_value(outcome, self.metric)
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


# --- the registry and the moto patches --------------------------------------------------------------
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
        request = tuning_api.request_from_kwargs(kwargs)
        tuning_api.validate(backend, request)
        record = _PATCHES.originals["create_hyper_parameter_tuning_job"]  # moto's record (list, delete keep working)
        arn = record(backend, **kwargs)
        moto_record = backend.hyper_parameter_tuning_jobs[request["HyperParameterTuningJobName"]]
        tuning_api.reset_record(moto_record)
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
    _TUNER = LocalTuner()
    _PATCHES.apply(backend_cls, tuning_api.backend_patches(_TUNER))
    _PATCHES.apply(sm_responses.SageMakerResponse, tuning_api.RESPONSE_PATCHES, key_prefix="response.")
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
