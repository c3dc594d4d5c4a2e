"""Best-effort CloudWatch metrics and logs of one local SageMaker job, batched (as SageMaker writes them)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from trainops_local.sagemaker.types import MetricPoint

log = logging.getLogger(__name__)

ClientFactory = Callable[[str], Any]

METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


class JobTelemetry:
    """Best-effort CloudWatch metrics and logs of one job, batched."""

    def __init__(self, clients: ClientFactory, job: str, group: str, with_metrics: bool) -> None:
        self.clients = clients
        self.job = job
        self.group = group
        self.epoch = int(time.time())
        self.with_metrics = with_metrics
        self.lines: list[tuple[str, dict[str, Any]]] = []  # (host, event)
        self.streams: set[str] = set()  # created
        self.points: list[MetricPoint] = []
        self.lock = threading.Lock()
        self.ready = False
        self.last_flush = time.monotonic()

    def stream_of(self, host: str) -> str:
        """SageMaker's log stream of one instance of the job: ``<job>/algo-<i>-<epoch>``."""
        return f"{self.job}/{host}-{self.epoch}"

    def log(self, line: str) -> None:
        """A line of algo-1 (and of the job itself)."""
        self.host_log("algo-1", line)

    def host_log(self, host: str, line: str) -> None:
        """A line of instance ``host``: into its own log stream."""
        with self.lock:
            self.lines.append((host, {"timestamp": int(time.time() * 1000), "message": line or " "}))
        self._maybe_flush()

    def metric(self, point: MetricPoint) -> None:
        if self.with_metrics:
            with self.lock:
                self.points.append(point)
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self.lines) + len(self.points) >= 200 or time.monotonic() - self.last_flush > 1.0:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
            points, self.points = self.points, []
            self.last_flush = time.monotonic()
        try:
            if lines:
                self._put_logs(lines)
            for i in range(0, len(points), 500):
                self.clients("cloudwatch").put_metric_data(
                    Namespace=METRICS_NAMESPACE,
                    MetricData=[
                        {
                            "MetricName": p.name,
                            "Dimensions": [{"Name": "Host", "Value": f"{self.job}/algo-1"}],
                            "Timestamp": p.timestamp,
                            "Value": p.value,
                        }
                        for p in points[i : i + 500]
                    ],
                )
        except Exception as exc:  # best effort: telemetry never fails a job  # noqa: BLE001  (telemetry is best effort and never fails a job)
            log.debug("telemetry for %s not written: %s", self.job, exc)

    def _put_logs(self, lines: list[tuple[str, dict[str, Any]]]) -> None:
        logs = self.clients("logs")
        if not self.ready:
            with contextlib.suppress(ClientError):
                logs.create_log_group(logGroupName=self.group)
            self.ready = True
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for host, event in lines:
            by_stream.setdefault(self.stream_of(host), []).append(event)
        for stream, events in by_stream.items():
            if stream not in self.streams:
                with contextlib.suppress(ClientError):
                    logs.create_log_stream(logGroupName=self.group, logStreamName=stream)
                self.streams.add(stream)
            for i in range(0, len(events), 1000):
                logs.put_log_events(logGroupName=self.group, logStreamName=stream, logEvents=events[i : i + 1000])
