"""The moto adapter: makes moto 5.2.5's SageMaker training and processing jobs real.

``install(root)`` patches moto's SageMaker backend (and adds the missing StopTrainingJob action) so that,
inside ``mock_aws()``, CreateTrainingJob / CreateProcessingJob run the local engines in background threads,
Describe* report real statuses, metrics and artifacts, and EventBridge receives the SageMaker state-change
events. Every moto behaviour relied on here is pinned by ``tests/local/test_training_moto_pins.py``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.utils import arn_formatter

from trainops_local.sagemaker import automl, stopping
from trainops_local.sagemaker.engine import run_training_job
from trainops_local.sagemaker.events import (  # noqa: F401 - the detail types and to_event_json stay importable here
    PROCESSING_DETAIL_TYPE,
    TRAINING_DETAIL_TYPE,
    JobKind,
    StateChangeEmitter,
    to_event_json,
)
from trainops_local.sagemaker.patching import MotoPatches
from trainops_local.sagemaker.processing import run_processing_job
from trainops_local.sagemaker.records import (
    PROCESSING_KWARGS,
    TRAINING_KWARGS,
    JobHandle,
    apply_training_outcome,
    kwargs_from_request,
    request_from_kwargs,
    reset_training_record,
)
from trainops_local.sagemaker.script_mode import LocalCommand
from trainops_local.sagemaker.telemetry import (  # noqa: F401 - the log groups and namespace stay importable here
    LOG_GROUP,
    METRICS_NAMESPACE,
    PROCESSING_LOG_GROUP,
    ClientFactory,
    JobTelemetry,
)
from trainops_local.sagemaker.types import (
    MetricCallback,
    MetricPoint,
    ProcessingOutcome,
    StatusChange,
    StopCheck,
    TrainingOutcome,
    utcnow,
)

log = logging.getLogger(__name__)

Backend = sm_models.SageMakerModelBackend
_TRAINING_KWARGS = TRAINING_KWARGS  # the request member -> moto keyword maps, pinned by test_training_moto_pins
_PROCESSING_KWARGS = PROCESSING_KWARGS

# CreateAutoMLJob (V1) is refused: trainops creates V2 jobs, which automl.py emulates
AUTOPILOT_MESSAGE = "the local cloud emulates CreateAutoMLJobV2 only (trainops_local.sagemaker.automl); use V2"
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


class LocalSageMaker:
    """The installed local SageMaker: job registry, worker pool, event emitter."""

    def __init__(
        self, root: Path, *, max_workers: int, region: str | None, client_factory: ClientFactory | None
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.region = region or boto3.session.Session().region_name or "us-east-1"
        self.account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
        self._client_factory = client_factory
        self._clients: dict[tuple[int, str], Any] = {}
        # request -> the S3 client a job reads and writes with; None: the workers' own. The local cloud sets it to
        # one with the credentials of the job's RoleArn (trainops_local.cloud.iam_enforcement).
        self.job_s3_factory: Callable[[dict[str, Any]], Any] | None = None
        self._workers = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="local-sagemaker")
        self.events = StateChangeEmitter(lambda: self.client("events"))
        self._lock = threading.Lock()
        self.handles: dict[tuple[str, str, str, str], JobHandle] = {}
        # container image URI -> the command that stands in for it on this machine (``docker run <image> train``)
        self.local_commands: dict[str, LocalCommand] = {}

    # -- clients and events ------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for this thread (clients are not shared across threads)."""
        key = (threading.get_ident(), service)
        if key not in self._clients:
            factory = self._client_factory or (lambda s: boto3.client(s, region_name=self.region))
            self._clients[key] = factory(service)
        return self._clients[key]

    def job_s3(self, request: dict[str, Any]) -> Any:
        """The S3 client of one job: its execution role's when a factory is installed."""
        return self.job_s3_factory(request) if self.job_s3_factory is not None else self.client("s3")

    def _emit(self, kind: JobKind, describe: dict[str, Any], arn: str) -> None:
        """Queue a state-change event (snapshot taken now; delivered in order by one thread)."""
        self.events.emit(kind, describe, arn)

    # -- training ----------------------------------------------------------------------------------
    def backend(self) -> Backend:
        """moto's SageMaker backend for the default account and the install region."""
        return sm_models.sagemaker_backends[self.account][self.region]

    def submit_training(
        self,
        backend: Backend,
        request: dict[str, Any],
        *,
        tuning_job_arn: str | None = None,
        on_metric: MetricCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> JobHandle:
        """Create moto's record of a training job (InProgress) and run it in the background."""
        request = copy.deepcopy(request)
        name = request["TrainingJobName"]
        if name in backend.training_jobs:
            arn = backend.training_jobs[name].arn
            raise ResourceInUseException(
                f"Training job names must be unique within an AWS account and region, "
                f"and a training job with this name already exists ({arn})"
            )
        record = _PATCHES.originals["create_training_job"](backend, **kwargs_from_request(TRAINING_KWARGS, request))
        reset_training_record(record, request, tuning_job_arn)
        request["TrainingJobArn"] = record.arn
        handle = JobHandle(name=name, arn=record.arn, kind="training", record=record)
        with self._lock:
            self.handles[(backend.account_id, backend.region_name, "training", name)] = handle
        self._emit("training", backend.describe_training_job(name), record.arn)
        handle.future = self._workers.submit(self._run_training, backend, handle, request, on_metric, should_stop)
        return handle

    def _run_training(
        self,
        backend: Backend,
        handle: JobHandle,
        request: dict[str, Any],
        on_metric: MetricCallback | None,
        should_stop: StopCheck | None,
    ) -> None:
        record = handle.record
        telemetry = JobTelemetry(self.client, handle.name, LOG_GROUP, with_metrics=True)
        workdir = self.root / "training" / f"{handle.name}-{uuid.uuid4().hex[:8]}"

        def status(change: StatusChange) -> None:
            if change.secondary_status in TERMINAL | {"MaxRuntimeExceeded", "MaxWaitTimeExceeded"}:
                return  # applied with the outcome
            if record.training_job_status == "InProgress":
                record.secondary_status = change.secondary_status
            record.secondary_status_transitions = [t.to_api() for t in change.transitions]
            if change.secondary_status == "Downloading" and record.training_start_time is None:
                record.training_start_time = change.transitions[-1].start_time
            record.last_modified_time = utcnow()

        final: dict[str, MetricPoint] = {}

        def metric(point: MetricPoint) -> None:
            final[point.name] = point
            record.final_metric_data_list = [
                {"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp} for p in final.values()
            ]
            telemetry.metric(point)
            if on_metric is not None:
                on_metric(point)

        def stop() -> bool:
            return handle.stop_event.is_set() or bool(should_stop and should_stop())

        try:
            outcome = run_training_job(
                request,
                s3=self.job_s3(request),
                workdir=workdir,
                on_status=status,
                on_metric=metric,
                should_stop=stop,
                on_log=telemetry.log,
                on_host_log=telemetry.host_log,
                local_commands=self.local_commands,
                region=self.region,
            )
        except Exception as exc:  # the engine does not raise; belt and braces
            log.exception("local training job %s crashed", handle.name)
            now = utcnow()
            outcome = TrainingOutcome(
                "Failed", "Failed", f"InternalServerError: {exc}", [], {}, [], None, None, now, now, 0
            )
        finally:
            telemetry.flush()
        apply_training_outcome(record, outcome)
        handle.outcome = outcome
        self._emit("training", backend.describe_training_job(handle.name), handle.arn)
        handle.done.set()

    def stop_training(self, backend: Backend, name: str) -> None:
        """StopTrainingJob: Stopping now, Stopped once the engine has stopped."""
        self._stop(backend, "training", name)

    # -- processing --------------------------------------------------------------------------------
    def submit_processing(self, backend: Backend, request: dict[str, Any]) -> JobHandle:
        """Create moto's record of a processing job (InProgress) and run it in the background."""
        request = copy.deepcopy(request)
        name = request["ProcessingJobName"]
        if name in backend.processing_jobs:
            raise ResourceInUseException(f"Processing job {name} already exists")
        record = _PATCHES.originals["create_processing_job"](backend, **kwargs_from_request(PROCESSING_KWARGS, request))
        record.processing_job_status = "InProgress"
        record.processing_end_time = None
        record.processing_start_time = None
        record.failure_reason = None
        record.exit_message = None
        record.environment = request.get("Environment")
        handle = JobHandle(name=name, arn=record.arn, kind="processing", record=record)
        with self._lock:
            self.handles[(backend.account_id, backend.region_name, "processing", name)] = handle
        self._emit("processing", backend.describe_processing_job(name), record.arn)
        handle.future = self._workers.submit(self._run_processing, backend, handle, request)
        return handle

    def _run_processing(self, backend: Backend, handle: JobHandle, request: dict[str, Any]) -> None:
        record = handle.record
        telemetry = JobTelemetry(self.client, handle.name, PROCESSING_LOG_GROUP, with_metrics=False)

        def status(change: StatusChange) -> None:
            if change.secondary_status == "Starting":
                record.processing_start_time = change.transitions[-1].start_time
            record.last_modified_time = utcnow()

        try:
            outcome = run_processing_job(
                request,
                s3=self.job_s3(request),
                workdir=self.root / "processing" / f"{handle.name}-{uuid.uuid4().hex[:8]}",
                on_status=status,
                should_stop=handle.stop_event.is_set,
                on_log=telemetry.log,
            )
        except Exception as exc:
            log.exception("local processing job %s crashed", handle.name)
            now = utcnow()
            outcome = ProcessingOutcome("Failed", f"InternalServerError: {exc}", None, now, now)
        finally:
            telemetry.flush()
        record.processing_job_status = outcome.status
        record.failure_reason = outcome.failure_reason
        record.exit_message = outcome.exit_message
        record.processing_start_time = record.processing_start_time or outcome.start_time
        record.processing_end_time = outcome.end_time
        record.last_modified_time = outcome.end_time
        handle.outcome = outcome
        self._emit("processing", backend.describe_processing_job(handle.name), handle.arn)
        handle.done.set()

    def stop_processing(self, backend: Backend, name: str) -> None:
        """StopProcessingJob: Stopping now, Stopped once the engine has stopped."""
        self._stop(backend, "processing", name)

    def _stop(self, backend: Backend, kind: Literal["training", "processing"], name: str) -> None:
        """The Stop* action of a training or processing job (``stopping.stop_job``)."""
        record: Any
        describe: Callable[[str], dict[str, Any]]
        if kind == "training":
            record, describe = backend.training_jobs.get(name), backend.describe_training_job
            arn = sm_models.FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
        else:
            record, describe = backend.processing_jobs.get(name), backend.describe_processing_job
            arn = sm_models.FakeProcessingJob.arn_formatter(name, backend.account_id, backend.region_name)
        handle = self.handles.get((backend.account_id, backend.region_name, kind, name))
        stopping.stop_job(
            kind,
            name,
            record,
            arn=arn,
            emit=lambda: self._emit(kind, describe(name), record.arn),
            signal=handle.stop if handle is not None else lambda: None,
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def wait_idle(self, timeout: float) -> bool:
        """Wait until every job has ended and every event was sent; False on timeout."""
        deadline = time.monotonic() + timeout
        for handle in list(self.handles.values()):
            if not handle.done.wait(max(0.0, deadline - time.monotonic())):
                return False
        marker = self.events.flushed()
        try:
            marker.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return False
        return True

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop every running or queued job and wait for them (up to ``timeout``); False on timeout."""
        for handle in list(self.handles.values()):
            handle.stop()
        return self.wait_idle(timeout)

    def close(self, timeout: float = 30.0) -> bool:
        """``shutdown()``, then end the worker and event threads."""
        idle = self.shutdown(timeout)
        self._workers.shutdown(wait=idle, cancel_futures=True)
        self.events.shutdown(wait=idle)
        return idle


# -- the patches ---------------------------------------------------------------------------------------
_PATCHES = MotoPatches()
_STATE: LocalSageMaker | None = None


def _state() -> LocalSageMaker:
    if _STATE is None:
        raise RuntimeError("the local SageMaker is not installed: call trainops_local.sagemaker.backend.install()")
    return _STATE


def _patched_backend_create_training_job(self: Backend, **kwargs: Any) -> Any:
    return _state().submit_training(self, request_from_kwargs(TRAINING_KWARGS, kwargs)).record


def _patched_backend_create_processing_job(self: Backend, **kwargs: Any) -> Any:
    return _state().submit_processing(self, request_from_kwargs(PROCESSING_KWARGS, kwargs)).record


def _patched_backend_stop_training_job(self: Backend, training_job_name: str) -> None:
    _state().stop_training(self, training_job_name)


def _patched_backend_stop_processing_job(self: Backend, processing_job_name: str) -> None:
    _state().stop_processing(self, processing_job_name)


def _patched_backend_create_auto_ml_job_v2(self: Backend, **kwargs: Any) -> str:
    # the local Autopilot emulation (automl.py) trains its candidates with this backend
    engine = automl.TrainingEngine(client=_state().client, start_training=start_local_training_job)
    return automl.create(self, kwargs, engine)


def _patched_backend_describe_auto_ml_job_v2(self: Backend, auto_ml_job_name: str) -> dict[str, Any]:
    return automl.describe(self, auto_ml_job_name)


def _patched_backend_stop_auto_ml_job(self: Backend, auto_ml_job_name: str) -> None:
    automl.stop(self, auto_ml_job_name)


def _response_params(response: Any) -> dict[str, Any]:
    return copy.deepcopy(dict(response._get_params()))


def _patched_response_create_training_job(self: Any) -> ActionResult:
    handle = _state().submit_training(self.sagemaker_backend, _response_params(self))
    return ActionResult({"TrainingJobArn": handle.arn})


def _patched_response_create_processing_job(self: Any) -> ActionResult:
    handle = _state().submit_processing(self.sagemaker_backend, _response_params(self))
    return ActionResult({"ProcessingJobArn": handle.arn})


def _patched_response_stop_training_job(self: Any) -> EmptyResult:
    self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
    return EmptyResult()


def _patched_response_create_auto_ml_job(self: Any) -> ActionResult:  # noqa: ARG001 - moto's signature
    raise ValidationError(message=AUTOPILOT_MESSAGE)


_BACKEND_PATCHES: dict[str, Callable[..., Any]] = {
    "create_training_job": _patched_backend_create_training_job,
    "stop_training_job": _patched_backend_stop_training_job,
    "create_processing_job": _patched_backend_create_processing_job,
    "stop_processing_job": _patched_backend_stop_processing_job,
    "create_auto_ml_job_v2": _patched_backend_create_auto_ml_job_v2,
    "describe_auto_ml_job_v2": _patched_backend_describe_auto_ml_job_v2,
    "stop_auto_ml_job": _patched_backend_stop_auto_ml_job,
}
_RESPONSE_PATCHES: dict[str, Callable[..., Any]] = {
    "create_training_job": _patched_response_create_training_job,
    "create_processing_job": _patched_response_create_processing_job,
    "stop_training_job": _patched_response_stop_training_job,
    "create_auto_ml_job": _patched_response_create_auto_ml_job,
    "list_candidates_for_auto_ml_job": automl.response_list_candidates,
}


def install(
    root: Path,
    *,
    max_workers: int = 2,
    region: str | None = None,
    client_factory: ClientFactory | None = None,
) -> LocalSageMaker:
    """Patch moto's SageMaker so training/processing jobs really run; idempotent.

    ``root`` holds one work directory per job. ``region`` is where ``start_local_training_job`` records
    jobs (default: boto3's default region, else us-east-1). ``client_factory(service)`` builds the boto3
    clients the workers use (S3, EventBridge, CloudWatch, Logs); the default targets the in-process moto.
    Call ``uninstall()`` (or use ``installed()``) before leaving ``mock_aws()``.
    """
    global _STATE  # noqa: PLW0603 - one installation per process, like moto's own patching
    if _STATE is not None:
        return _STATE
    _PATCHES.apply(Backend, _BACKEND_PATCHES)
    _PATCHES.apply(sm_responses.SageMakerResponse, _RESPONSE_PATCHES, key_prefix="response.")
    _STATE = LocalSageMaker(root, max_workers=max_workers, region=region, client_factory=client_factory)
    return _STATE


def uninstall(timeout: float = 30.0) -> bool:
    """Stop running jobs, end the worker threads and restore moto; False if jobs did not end in time."""
    global _STATE  # noqa: PLW0603
    if _STATE is None:
        return True
    automl.close(timeout)
    idle = _STATE.close(timeout)
    _PATCHES.undo()
    _STATE = None
    return idle


@contextlib.contextmanager
def installed(root: Path, **kwargs: Any) -> Iterator[LocalSageMaker]:
    """``install()`` for the duration of a ``with`` block (use it inside ``mock_aws()``)."""
    state = install(root, **kwargs)
    try:
        yield state
    finally:
        uninstall()


def start_local_training_job(
    request: dict[str, Any],
    *,
    tuning_job_name: str | None = None,
    on_metric: MetricCallback | None = None,
    should_stop: StopCheck | None = None,
) -> JobHandle:
    """Create and run a training job as CreateTrainingJob would (Describe/List/events included).

    With ``tuning_job_name`` the job's ``TuningJobArn`` points at that tuning job. ``on_metric`` sees every
    metric value as it is reported; ``should_stop`` is polled like a StopTrainingJob request.
    Raises botocore's ClientError (ResourceInUse) for a duplicate name.
    """
    state = _state()
    backend = state.backend()
    tuning_arn = None
    if tuning_job_name is not None:
        tuning = backend.hyper_parameter_tuning_jobs.get(tuning_job_name)
        tuning_arn = (
            tuning.arn
            if tuning is not None
            else arn_formatter(
                "hyper-parameter-tuning-job", tuning_job_name.lower(), backend.account_id, backend.region_name
            )
        )
    try:
        return state.submit_training(
            backend, request, tuning_job_arn=tuning_arn, on_metric=on_metric, should_stop=should_stop
        )
    except ResourceInUseException as exc:
        error = {"Error": {"Code": "ResourceInUse", "Message": exc.message}}
        raise ClientError(error, "CreateTrainingJob") from None


def register_local_command(image_uri: str, argv: list[str], cwd: Path) -> None:
    """Run training jobs of the container image ``image_uri`` with ``argv`` in ``cwd`` (its local stand-in)."""
    _state().local_commands[image_uri] = LocalCommand(tuple(argv), Path(cwd))


def local_notes(name: str) -> dict[str, Any]:
    """What only the local cloud knows about training job ``name`` (see ``TrainingOutcome.local_notes``)."""
    state = _STATE
    if state is None:
        return {}
    for (_, _, kind, job), handle in list(state.handles.items()):
        if kind == "training" and job == name and isinstance(handle.outcome, TrainingOutcome):
            return dict(handle.outcome.local_notes)
    return {}


def wait_idle(timeout: float) -> bool:
    """Wait until every local job has ended and its events were sent; False on timeout."""
    return _state().wait_idle(timeout)


def shutdown(timeout: float = 30.0) -> bool:
    """Stop every running local job and wait for them (the patches stay installed)."""
    return _state().shutdown(timeout)


def current() -> LocalSageMaker | None:
    """The installed local SageMaker, if any."""
    return _STATE
