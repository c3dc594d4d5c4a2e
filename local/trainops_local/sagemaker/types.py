"""Plain result types shared by the local training and processing engines and the moto adapter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    """Timezone-aware now, as botocore returns times."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class MetricPoint:
    """One reported value of a metric; ``epoch`` is 0-based (xgboost round, or n-th regex match)."""

    name: str
    epoch: int
    value: float
    timestamp: datetime


@dataclass
class StatusTransition:
    """One SecondaryStatusTransitions entry."""

    status: str
    start_time: datetime
    message: str
    end_time: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        """The DescribeTrainingJob shape of this transition."""
        out: dict[str, Any] = {"Status": self.status, "StartTime": self.start_time, "StatusMessage": self.message}
        if self.end_time is not None:
            out["EndTime"] = self.end_time
        return out


@dataclass(frozen=True)
class StatusChange:
    """What ``on_status`` receives: the secondary status just entered and all transitions so far."""

    secondary_status: str
    message: str
    transitions: tuple[StatusTransition, ...]


@dataclass
class TrainingOutcome:
    """The end of a local training job."""

    status: str  # Completed | Failed | Stopped
    secondary_status: str  # Completed | Failed | Stopped | MaxRuntimeExceeded
    failure_reason: str | None
    transitions: list[StatusTransition]
    final_metrics: dict[str, MetricPoint]
    metric_history: list[MetricPoint]
    model_artifact: str | None
    output_data: str | None
    start_time: datetime
    end_time: datetime
    training_time_seconds: int
    # what only the local cloud knows (the framework environment, a failed script's traceback): run output only
    local_notes: dict[str, Any] = field(default_factory=dict)
    # BillableTimeInSeconds: the training time less the waits for spot capacity (None: the training time)
    billable_time_seconds: int | None = None

    def final_metric_data_list(self) -> list[dict[str, Any]]:
        """FinalMetricDataList as DescribeTrainingJob returns it."""
        return [{"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp} for p in self.final_metrics.values()]


@dataclass
class ProcessingOutcome:
    """The end of a local processing job."""

    status: str  # Completed | Failed | Stopped
    failure_reason: str | None
    exit_message: str | None
    start_time: datetime
    end_time: datetime
    outputs: dict[str, str] = field(default_factory=dict)  # OutputName -> S3Uri


StatusCallback = Callable[[StatusChange], None]
MetricCallback = Callable[[MetricPoint], None]
LogCallback = Callable[[str], None]
HostLogCallback = Callable[[str, str], None]  # (host, line): a log line of another instance than algo-1
StopCheck = Callable[[], bool]


class JobFailed(Exception):
    """The job fails with this FailureReason (``host``: the instance that failed, when the job has several)."""

    def __init__(self, reason: str, host: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.host = host


class JobStopped(Exception):
    """The job was stopped: by a stop request, or because MaxRuntimeInSeconds was exceeded."""

    def __init__(self, max_runtime: bool = False, reason: str | None = None, secondary: str | None = None) -> None:
        super().__init__(reason or ("max runtime exceeded" if max_runtime else "stopped"))
        self.max_runtime = max_runtime
        self.reason = reason
        self.secondary = secondary  # the SecondaryStatus it ends in, when not Stopped / MaxRuntimeExceeded


class SpotInterruption(JobStopped):
    """Local only: an injected reclaim of the job's spot capacity (``TRAINOPS_LOCAL_SPOT_INTERRUPTIONS``). The
    engine uploads the checkpoints, waits for capacity and restarts the job from them, as SageMaker does."""
