"""The local SageMaker training engine: runs one CreateTrainingJob request on this machine.

No moto here: it takes a boto3 S3 client (moto's or AWS's) and reports through callbacks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trainops_local.frameworks import FrameworkEnv
from trainops_local.sagemaker import hosts as multihost
from trainops_local.sagemaker import linear_learner, s3io, script_mode, xgboost_algo
from trainops_local.sagemaker.channels import Channel, PipeFeeder, download_channel
from trainops_local.sagemaker.images import training_kind
from trainops_local.sagemaker.layout import CURRENT_HOST, TrainingLayout, host_names, write_input_config
from trainops_local.sagemaker.script_mode import JobHooks, LocalCommand, MetricScraper, traceback_excerpt
from trainops_local.sagemaker.types import (
    HostLogCallback,
    JobFailed,
    JobStopped,
    LogCallback,
    MetricCallback,
    MetricPoint,
    SpotInterruption,
    StatusCallback,
    StatusChange,
    StatusTransition,
    StopCheck,
    TrainingOutcome,
    utcnow,
)

log = logging.getLogger(__name__)

MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job exceeded MaxRuntimeInSeconds provided",
    "Interrupted": "The job was interrupted due to spot capacity: waiting for capacity to resume",
    "MaxWaitTimeExceeded": "Training job exceeded MaxWaitTimeInSeconds provided",
}
# Local only, never a config field: inject spot interruptions into managed spot training jobs. Each of the first N
# training attempts of a spot job is interrupted once it has written a new checkpoint (or after
# TRAINOPS_LOCAL_SPOT_INTERRUPT_AFTER_SECONDS of training), then waits TRAINOPS_LOCAL_SPOT_CAPACITY_WAIT_SECONDS
# for capacity (counted in TrainingTimeInSeconds, not in BillableTimeInSeconds) and restarts from its checkpoints.
SPOT_INTERRUPTIONS_ENV = "TRAINOPS_LOCAL_SPOT_INTERRUPTIONS"
SPOT_INTERRUPT_AFTER_ENV = "TRAINOPS_LOCAL_SPOT_INTERRUPT_AFTER_SECONDS"
SPOT_CAPACITY_WAIT_ENV = "TRAINOPS_LOCAL_SPOT_CAPACITY_WAIT_SECONDS"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# built-in algorithms the engine runs itself (they read gzip files in File mode, as their containers do)
BUILT_IN = ("xgboost", "linear-learner")


def _never() -> bool:
    return False


class _TrainingRun:
    """State of one run: layout, transitions, metrics, stop/deadline checks."""

    def __init__(
        self,
        request: dict[str, Any],
        s3: Any,
        workdir: Path,
        on_status: StatusCallback | None,
        on_metric: MetricCallback | None,
        should_stop: StopCheck | None,
        on_log: LogCallback | None,
        local_commands: Mapping[str, LocalCommand],
        region: str,
        on_host_log: HostLogCallback | None = None,
    ) -> None:
        self.request = request
        self.on_host_log = on_host_log
        self.local_commands = local_commands
        self.region = region
        self.env: FrameworkEnv | None = None
        self.job_log: list[str] = []  # the entry point's own output (script mode and containers)
        self.s3 = s3
        self.workdir = Path(workdir)
        # one /opt/ml per instance: the workdir itself for one, <workdir>/algo-<i> for several
        self.hosts = host_names(request)
        if len(self.hosts) == 1:
            self.layouts = {CURRENT_HOST: TrainingLayout(self.workdir)}
        else:
            self.layouts = {host: TrainingLayout(self.workdir / host) for host in self.hosts}
        self.layout = self.layouts[CURRENT_HOST]  # algo-1: its model is the job's
        self.host_lines: dict[str, list[str]] = {host: [] for host in self.hosts}
        self.failed_host: str | None = None
        self.on_status = on_status
        self.on_metric = on_metric
        self.should_stop: StopCheck = should_stop or _never
        self.on_log = on_log
        self.transitions: list[StatusTransition] = []
        self.history: list[MetricPoint] = []
        self.final: dict[str, MetricPoint] = {}
        self.start_time = utcnow()
        self._t0 = time.monotonic()
        stopping = request.get("StoppingCondition") or {}
        max_runtime = stopping.get("MaxRuntimeInSeconds")
        self.max_runtime: float | None = float(max_runtime) if max_runtime else None
        # managed spot training: MaxWaitTimeInSeconds bounds the whole job, waits for capacity included
        self.spot = bool(request.get("EnableManagedSpotTraining"))
        max_wait = stopping.get("MaxWaitTimeInSeconds")
        self.max_wait: float | None = float(max_wait) if self.spot and max_wait else None
        self.interruptions_left = int(_env_number(SPOT_INTERRUPTIONS_ENV, 0)) if self.spot else 0
        self.interruptions = 0
        self.waited = 0.0  # seconds waiting for spot capacity: training time, not billable
        self._segment_start = time.monotonic()
        self._segment_checkpoints: set[tuple[str, int]] = set()
        self._pending: SpotInterruption | None = None  # an interruption stays due until the job restarts

    # -- callbacks -------------------------------------------------------------------------------
    def enter(self, status: str) -> None:
        """Start a secondary status; closes the previous one."""
        now = utcnow()
        if self.transitions and self.transitions[-1].end_time is None:
            self.transitions[-1].end_time = now
        self.transitions.append(StatusTransition(status=status, start_time=now, message=MESSAGES[status]))
        self.log(f"SecondaryStatus: {status}")
        if self.on_status:
            _safe(self.on_status, StatusChange(status, MESSAGES[status], tuple(self.transitions)))

    def status_message(self, message: str) -> None:
        """A new StatusMessage for the current secondary status (SageMaker updates it within a status)."""
        current = self.transitions[-1]
        current.message = message
        self.log(f"SecondaryStatus: {current.status} - {message}")
        if self.on_status:
            _safe(self.on_status, StatusChange(current.status, message, tuple(self.transitions)))

    def log(self, line: str) -> None:
        """A container log line."""
        if self.on_log:
            _safe(self.on_log, line)

    def report_metric(self, name: str, epoch: int, value: float) -> None:
        """A metric value seen at ``epoch``."""
        point = MetricPoint(name=name, epoch=epoch, value=value, timestamp=utcnow())
        self.history.append(point)
        self.final[name] = point
        if self.on_metric:
            _safe(self.on_metric, point)

    def stop_reason(self) -> JobStopped | None:
        """A JobStopped if a stop was requested, MaxRuntimeInSeconds (or, spot, MaxWaitTimeInSeconds) has passed,
        or an injected spot interruption is due, else None."""
        now = time.monotonic()
        if self.max_wait is not None and now - self._t0 > self.max_wait:
            return JobStopped(
                reason=f"MaxWaitTimeExceeded: Training job exceeded MaxWaitTimeInSeconds ({self.max_wait:g} s)",
                secondary="MaxWaitTimeExceeded",
            )
        if self.max_runtime is not None and now - self._t0 - self.waited > self.max_runtime:
            return JobStopped(
                max_runtime=True,
                reason=f"MaxRuntimeExceeded: Training job exceeded MaxRuntimeInSeconds ({self.max_runtime:g} s)",
            )
        if _safe(self.should_stop) is True:
            return JobStopped()
        if self._pending is None and self._interruption_due(now):
            self._pending = SpotInterruption(reason="the spot capacity was reclaimed (injected locally)")
        return self._pending

    def _checkpoint_files(self) -> set[tuple[str, int]]:
        directory = self.layout.checkpoints_dir
        if not directory.is_dir():
            return set()
        return {(str(p.relative_to(directory)), p.stat().st_mtime_ns) for p in directory.rglob("*") if p.is_file()}

    def _interruption_due(self, now: float) -> bool:
        """An injected interruption: during Training, once the attempt wrote a new checkpoint (or ran long enough)."""
        if self.interruptions_left <= 0 or not self.transitions or self.transitions[-1].status != "Training":
            return False
        after = _env_number(SPOT_INTERRUPT_AFTER_ENV, 10.0)
        if now - self._segment_start < after and self._checkpoint_files() <= self._segment_checkpoints:
            return False
        self.interruptions_left -= 1
        return True

    def restart_after_interruption(self, interruption: SpotInterruption) -> None:
        """What SageMaker does when spot capacity is reclaimed: the checkpoints are already in S3 (uploaded now),
        the job waits for capacity, then starts again with /opt/ml/checkpoints restored from S3."""
        self.sync_checkpoints_up()
        self.interruptions += 1
        self.enter("Interrupted")
        self.log(f"Spot interruption {self.interruptions}: {interruption.reason}")
        started = time.monotonic()
        deadline = started + _env_number(SPOT_CAPACITY_WAIT_ENV, 1.0)
        self._pending = None
        while time.monotonic() < deadline:
            stop = self.stop_reason()  # not Training: no new interruption is due while waiting
            if stop is not None:
                self.waited += time.monotonic() - started
                raise stop
            time.sleep(0.05)
        self.waited += time.monotonic() - started
        self.enter("Starting")
        self.status_message("Restarting the training job from its checkpoints after the spot interruption")
        self.enter("Downloading")
        if uri := self.checkpoint_uri():
            shutil.rmtree(self.layout.checkpoints_dir, ignore_errors=True)
            self.layout.checkpoints_dir.mkdir(parents=True, exist_ok=True)
            s3io.download_prefix(self.s3, uri.rstrip("/") + "/", self.layout.checkpoints_dir)

    def check_stop(self) -> None:
        """Raise the JobStopped if the job must stop now."""
        if (stop := self.stop_reason()) is not None:
            raise stop

    # -- steps -----------------------------------------------------------------------------------
    def channels(self) -> dict[str, Channel]:
        job_mode = self.request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
        return {c["ChannelName"]: Channel.from_request(c, job_mode) for c in self.request.get("InputDataConfig") or []}

    def checkpoint_uri(self) -> str | None:
        return (self.request.get("CheckpointConfig") or {}).get("S3Uri")

    def host_channels(self, host: str, channels: dict[str, Channel]) -> dict[str, Channel]:
        """The channels as ``host`` sees them (its share of each ShardedByS3Key channel)."""
        index = self.hosts.index(host)
        return {name: c.for_host(index, len(self.hosts)) for name, c in channels.items()}

    def download(self, kind: str, channels: dict[str, Channel]) -> dict[str, Any]:
        self.enter("Downloading")
        input_config: dict[str, Any] = {}
        # built-in algorithms run as one process here: only algo-1's /opt/ml is filled for them
        hosts = self.hosts if kind not in BUILT_IN else [CURRENT_HOST]
        for host in hosts:
            layout = self.layouts[host]
            config = write_input_config(layout, self.request, host)
            input_config = input_config or config
            if uri := self.checkpoint_uri():
                s3io.download_prefix(self.s3, uri.rstrip("/") + "/", layout.checkpoints_dir)
            for channel in self.host_channels(host, channels).values():
                self.check_stop()
                if channel.mode != "Pipe":
                    download_channel(self.s3, channel, layout, gunzip=channel.gzip and kind in BUILT_IN)
            if kind == "script":
                script_mode.fetch_code(self.s3, self.request, layout)
        if kind == "container":
            self.local_command()
        if kind == "script":
            self.status_message("Downloading the training image")
            # The image pull of SageMaker: the framework environment, built once. Like an image download it
            # does not count against MaxRuntimeInSeconds (a first build takes tens of seconds here).
            started = time.monotonic()
            self.env = script_mode.prepare_environment(self.request, self.layout, self.hooks(self.log))
            self._t0 += time.monotonic() - started
        return input_config

    def train(self, kind: str, channels: dict[str, Channel]) -> None:
        if len(self.hosts) > 1 and kind not in BUILT_IN:
            self.train_hosts(kind, channels)
            return
        if len(self.hosts) > 1:
            self.log(
                f"local cloud: built-in {kind} trains as one process (algo-1, with algo-1's share of sharded "
                f"channels) for the job's {len(self.hosts)} instances"
            )
            channels = self.host_channels(CURRENT_HOST, channels)
        self._segment_start = time.monotonic()
        self._segment_checkpoints = self._checkpoint_files()
        self._pending = None
        self.enter("Training")
        if kind == "xgboost" and any(c.mode == "Pipe" for c in channels.values()):
            for name, channel in channels.items():
                ct = (channel.content_type or "text/libsvm").split(";")[0].strip().lower()
                if channel.mode == "Pipe" and ct in ("text/libsvm", "libsvm"):
                    raise JobFailed(f"ClientError: Pipe mode not supported for LibSVM (channel '{name}')")
        feeders = [PipeFeeder(self.s3, c, self.layout).start() for c in channels.values() if c.mode == "Pipe"]
        try:
            if kind in BUILT_IN:
                context = xgboost_algo.XGBoostContext(
                    request=self.request,
                    layout=self.layout,
                    channels=channels,
                    s3=self.s3,
                    report_metric=self.report_metric,
                    log=self.log,
                    stop_reason=self.stop_reason,
                    checkpoint_uri=self.checkpoint_uri(),
                )
                (xgboost_algo.train if kind == "xgboost" else linear_learner.train)(context)
            elif kind == "script":
                assert self.env is not None
                self.job_log = script_mode.run_script(
                    self.request, self.layout, self.env, region=self.region, hooks=self.hooks(self._job_line)
                )
            else:
                self.job_log = script_mode.run_container(
                    self.request,
                    self.layout,
                    self.local_command(),
                    region=self.region,
                    hooks=self.hooks(self._job_line),
                )
        finally:
            for feeder in feeders:
                feeder.stop()
        for feeder in feeders:
            if feeder.error is not None:
                raise JobFailed(
                    f"ClientError: channel '{feeder.channel.name}': Pipe mode stream failed: {feeder.error}"
                )

    def train_hosts(self, kind: str, channels: dict[str, Channel]) -> None:
        """Every instance at once, each a process with its own /opt/ml; the job fails if one fails."""
        self._segment_start = time.monotonic()
        self._segment_checkpoints = self._checkpoint_files()
        self._pending = None
        self.enter("Training")
        wrap = multihost.resolver(self.hosts, self.workdir)
        scraper = MetricScraper.from_request(self.request, self.report_metric)  # algo-1's log: the job's metrics
        runs: list[multihost.HostRun] = []
        feeders: list[PipeFeeder] = []
        for host in self.hosts:
            layout = self.layouts[host]
            if kind == "script":
                if self.env is None:
                    raise JobFailed("InternalServerError: the framework environment was not prepared")
                command = script_mode.script_command(self.request, layout, self.env, region=self.region)
            else:
                command = script_mode.container_command(self.request, layout, self.local_command(), region=self.region)
            feeders += [
                PipeFeeder(self.s3, c, layout).start()
                for c in self.host_channels(host, channels).values()
                if c.mode == "Pipe"
            ]
            runs.append(
                multihost.HostRun(
                    name=host,
                    layout=layout,
                    command=command,
                    hooks=self.hooks(self.log),
                    on_line=self._host_line(host, scraper if host == CURRENT_HOST else None),
                )
            )
        self.log(f"local cloud: {len(runs)} instances {', '.join(self.hosts)}, each a process with its own /opt/ml")
        try:
            multihost.run_hosts(
                runs,
                wrap,
                lambda layout, code: script_mode.failure_reason(layout, code, toolkit=kind == "script"),
                self.log,
            )
        except JobFailed as exc:
            self.failed_host = exc.host
            raise
        finally:
            for feeder in feeders:
                feeder.stop()
        for feeder in feeders:
            if feeder.error is not None:
                raise JobFailed(
                    f"ClientError: channel '{feeder.channel.name}': Pipe mode stream failed: {feeder.error}"
                )

    def _host_line(self, host: str, scraper: MetricScraper | None) -> Callable[[str], None]:
        lines = self.host_lines[host]

        def on_line(line: str) -> None:
            lines.append(line)
            if host == CURRENT_HOST:
                self._job_line(line)
            elif self.on_host_log is not None:
                _safe(self.on_host_log, host, line)
            else:
                self.log(f"[{host}] {line}")
            if scraper is not None:
                scraper.feed(line)

        return on_line

    def hooks(self, log: Callable[[str], None]) -> JobHooks:
        return JobHooks(log=log, report_metric=self.report_metric, stop_reason=self.stop_reason)

    def _job_line(self, line: str) -> None:
        self.job_log.append(line)
        self.log(line)

    def local_command(self) -> LocalCommand:
        image = self.request["AlgorithmSpecification"]["TrainingImage"]
        command = self.local_commands.get(image)
        if command is None:
            raise JobFailed(
                f"ClientError: the local cloud cannot run the image {image}: it has no local stand-in command "
                f"(set algorithm.local_command in the project config, e.g. [Rscript, train.R])"
            )
        command.check()
        return command

    def output_uri(self) -> str:
        base = self.request["OutputDataConfig"]["S3OutputPath"]
        return s3io.join_uri(base, self.request["TrainingJobName"], "output")

    def upload(self) -> tuple[str | None, str | None]:
        """Tar model/ to model.tar.gz (always, as SageMaker does) and output/data/ to output.tar.gz if non-empty."""
        self.enter("Uploading")
        out = self.output_uri()
        model_tar = s3io.tar_dir(self.layout.model_dir, self.layout.root / "model.tar.gz")
        model_uri = s3io.upload_file(self.s3, model_tar, s3io.join_uri(out, "model.tar.gz"))
        output_uri = None
        if any(self.layout.output_data_dir.iterdir()):
            data_tar = s3io.tar_dir(self.layout.output_data_dir, self.layout.root / "output.tar.gz")
            output_uri = s3io.upload_file(self.s3, data_tar, s3io.join_uri(out, "output.tar.gz"))
        return model_uri, output_uri

    def sync_checkpoints_up(self) -> None:
        """Every instance's /opt/ml/checkpoints to CheckpointConfig.S3Uri (the same prefix for all)."""
        if not (uri := self.checkpoint_uri()):
            return
        for layout in self.layouts.values():
            if layout.checkpoints_dir.is_dir():
                with contextlib.suppress(Exception):
                    s3io.upload_dir(self.s3, layout.checkpoints_dir, uri)

    def outcome(
        self, status: str, secondary: str, reason: str | None, model: str | None, output: str | None
    ) -> TrainingOutcome:
        self.enter(secondary)
        self.transitions[-1].end_time = self.transitions[-1].start_time
        end = utcnow()
        training = max(1, round(time.monotonic() - self._t0))
        return TrainingOutcome(
            status=status,
            secondary_status=secondary,
            failure_reason=reason,
            transitions=list(self.transitions),
            final_metrics=dict(self.final),
            metric_history=list(self.history),
            model_artifact=model,
            output_data=output,
            start_time=self.start_time,
            end_time=end,
            training_time_seconds=training,
            local_notes=self.local_notes(status),
            billable_time_seconds=max(1, round(training - self.waited)) if self.spot else None,
        )

    def local_notes(self, status: str) -> dict[str, Any]:
        """What only the local cloud knows: the framework environment used, the traceback of a failed script."""
        notes: dict[str, Any] = {}
        if self.interruptions:
            notes["spot_interruptions"] = self.interruptions
        if self.env is not None:
            notes["framework_environment"] = self.env.describe()
        if len(self.hosts) > 1:
            notes["instances"] = len(self.hosts)
            if self.failed_host:
                notes["failed_instance"] = self.failed_host
        lines = self.host_lines[self.failed_host] if self.failed_host else self.job_log
        if status == "Failed" and (excerpt := traceback_excerpt(lines)):
            notes["traceback"] = excerpt
        return notes

    def run(self) -> TrainingOutcome:
        self.enter("Starting")
        for layout in self.layouts.values():
            layout.create()
        model = output = None
        try:
            kind = training_kind(self.request)
            channels = self.channels()
            self.check_stop()
            self.download(kind, channels)
            while True:
                try:
                    self.check_stop()
                    self.train(kind, channels)
                    break
                except SpotInterruption as interruption:
                    self.restart_after_interruption(interruption)
            model, output = self.upload()
        except JobFailed as exc:
            self.log(exc.reason)
            self.sync_checkpoints_up()
            return self.outcome("Failed", "Failed", exc.reason, None, None)
        except JobStopped as stop:
            self.sync_checkpoints_up()
            with contextlib.suppress(Exception):
                if any(self.layout.model_dir.iterdir()):
                    model, output = self.upload()
            secondary = stop.secondary or ("MaxRuntimeExceeded" if stop.max_runtime else "Stopped")
            return self.outcome("Stopped", secondary, stop.reason, model, output)
        except Exception as exc:
            log.exception("local training job %s crashed", self.request.get("TrainingJobName"))
            reason = f"InternalServerError: the local engine failed: {type(exc).__name__}: {exc}"
            self.log(reason)
            return self.outcome("Failed", "Failed", reason, None, None)
        self.sync_checkpoints_up()
        return self.outcome("Completed", "Completed", None, model, output)


def _safe(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a user callback; its exceptions never break the job."""
    try:
        return fn(*args)
    except Exception:
        log.exception("callback %r failed", fn)
        return None


def run_training_job(
    request: dict[str, Any],
    *,
    s3: Any,
    workdir: Path,
    on_status: StatusCallback | None = None,
    on_metric: MetricCallback | None = None,
    should_stop: StopCheck | None = None,
    on_log: LogCallback | None = None,
    local_commands: Mapping[str, LocalCommand] | None = None,
    region: str = "us-east-1",
    on_host_log: HostLogCallback | None = None,
) -> TrainingOutcome:
    """Run a CreateTrainingJob request locally and return how it ended.

    ``request`` is the CreateTrainingJob request dict as boto3 sends it; ``workdir`` plays /opt/ml.
    ``on_status`` gets every SecondaryStatus change, ``on_metric`` every metric value, ``on_log`` every
    container log line; ``should_stop`` is polled between rounds (about every 0.2 s for scripts).
    ``local_commands`` maps container image URIs to their local stand-in commands; ``region`` is the job's.
    With ResourceConfig.InstanceCount N > 1, script mode and containers run N processes, hosts algo-1..algo-N
    (``trainops_local.sagemaker.hosts``), each with its own /opt/ml under ``workdir/algo-<i>``: algo-1's lines go
    to ``on_log``, the others' to ``on_host_log(host, line)`` (or to ``on_log``, prefixed ``[algo-<i>]``).
    Never raises for job errors: they become a Failed outcome with a FailureReason.
    """
    return _TrainingRun(
        request, s3, workdir, on_status, on_metric, should_stop, on_log, local_commands or {}, region, on_host_log
    ).run()
