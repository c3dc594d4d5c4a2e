"""Run outcomes as CloudWatch metrics: Powertools Metrics, in the embedded metric format (EMF).

Namespace ``trainops``, dimensions ``service`` and ``project``. Lambda's log pipeline turns the EMF lines the
handler prints into metrics; no API call, no extra permission. The handler flushes after every invocation
(steps only record), and an invocation that recorded nothing prints nothing.

| metric | unit | emitted by |
|---|---|---|
| ``RunsStarted``, ``RunsSkipped`` | Count | NormalizeRequest |
| ``ModelsRegistered``, ``ModelsApproved`` (0 or 1) | Count | RegisterModel |
| ``ObjectiveValue`` (the registered model's objective; its metric name is in the metadata) | None | RegisterModel |
| ``RunsFailed``, ``RunsWithoutModel`` | Count | RecordFailure |
"""

from __future__ import annotations

import logging
import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.exceptions import SchemaValidationError

NAMESPACE = "trainops"

metrics = Metrics(namespace=NAMESPACE, service="trainops")
log = logging.getLogger(__name__)
# Powertools keeps one metric set per process. On Lambda a process serves one invocation at a time; where several
# run at once in one process (the local cloud's in-process Lambda), a flush between another invocation's check
# and flush raised "Must contain at least one metric" and failed a step whose work was done (benchmarks/burst.py)
_lock = threading.Lock()


def record(
    project: str | None, counts: dict[str, float], *, values: dict[str, float] | None = None, **metadata: str
) -> None:
    """Counts (Count) and plain values (no unit) for one project's run, with metadata for the log line."""
    with _lock:
        _record(project, counts, values or {}, metadata)


def _record(project: str | None, counts: dict[str, float], values: dict[str, float], metadata: dict[str, str]) -> None:
    if project:
        metrics.add_dimension(name="project", value=project)
    for name, count in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    for name, value in values.items():
        metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=value)
    for key, text in metadata.items():
        metrics.add_metadata(key=key, value=text)


def flush() -> None:
    """Print what this invocation recorded (if anything) and start the next one clean. Never raises: metrics
    are telemetry, and a step's outcome stands without them."""
    with _lock:
        try:
            if metrics.metric_set:
                metrics.flush_metrics()
            else:
                metrics.clear_metrics()
        except SchemaValidationError as exc:
            log.warning("metrics not written: %s", exc)
            metrics.clear_metrics()
