"""Where a report's facts come from: the AWS APIs a user could call themselves, through boto3 clients.

One implementation serves both worlds: pass it the clients of a deployed stack (a boto3 session) or those of
the local cloud (``LocalCloud.client``), and the runs table's name. Every read is one documented API:

* the run record: DynamoDB ``GetItem`` on the runs table (``RUN#<run id>``)
* jobs: SageMaker ``DescribeHyperParameterTuningJob``, ``ListTrainingJobsForHyperParameterTuningJob``,
  ``DescribeTrainingJob``
* per-epoch metrics: the job's log in CloudWatch Logs (``/aws/sagemaker/TrainingJobs``, stream
  ``<job>/algo-1-<time>``), read back through the job's ``MetricDefinitions`` regexes, which is how SageMaker
  itself finds them; when the log is gone, CloudWatch ``GetMetricData`` in ``/aws/sagemaker/TrainingJobs``
  (dimension ``Host = <job>/algo-1``), whose one-minute averages are coarser
* registered versions: SageMaker ``ListModelPackages`` and ``DescribeModelPackage`` (trainops' metadata)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
MAX_LOG_EVENTS = 200_000  # a runaway log is read no further


class ReportSource(Protocol):
    """What a report reads. ``Boto3Source`` implements it for AWS and for the local cloud."""

    def run_record(self, run_id: str) -> dict[str, Any] | None:
        """The run's record in the runs table, or None when the table has no such run."""
        ...

    def describe_tuning_job(self, name: str) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob."""
        ...

    def tuning_job_summaries(self, name: str) -> list[dict[str, Any]]:
        """Every HyperParameterTrainingJobSummary of the tuning job, oldest first."""
        ...

    def describe_training_job(self, name: str) -> dict[str, Any]:
        """DescribeTrainingJob."""
        ...

    def log_lines(self, job_name: str) -> list[str]:
        """The first instance's log lines of a training job, in order; [] when there is no log."""
        ...

    def metric_history(self, job_name: str, metric: str, start: datetime, end: datetime) -> list[float]:
        """A training job's values of ``metric`` from CloudWatch, oldest first (one-minute averages)."""
        ...

    def model_packages(self, project: str) -> list[dict[str, Any]]:
        """DescribeModelPackage of every version in the project's group, oldest first."""
        ...


class Boto3Source:
    """``ReportSource`` over boto3 clients: ``client("sagemaker")`` etc., and the runs table's name."""

    def __init__(self, client: Callable[[str], Any], runs_table: str) -> None:
        self._factory = client
        self._clients: dict[str, Any] = {}
        self.runs_table = runs_table

    def client(self, service: str) -> Any:
        """One client per service, made on first use."""
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def run_record(self, run_id: str) -> dict[str, Any] | None:
        from trainops.ledger import Ledger

        return Ledger(self.runs_table, self.client("dynamodb")).get_run(run_id)

    def describe_tuning_job(self, name: str) -> dict[str, Any]:
        return dict(self.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))

    def tuning_job_summaries(self, name: str) -> list[dict[str, Any]]:
        sm = self.client("sagemaker")
        summaries: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
            "MaxResults": 100,
        }
        while True:
            page = sm.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
            summaries.extend(page.get("TrainingJobSummaries", []))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return sorted(summaries, key=lambda s: (s.get("CreationTime") or datetime.min, s["TrainingJobName"]))

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return dict(self.client("sagemaker").describe_training_job(TrainingJobName=name))

    def log_lines(self, job_name: str) -> list[str]:
        logs = self.client("logs")
        try:
            streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job_name}/algo-1-")
        except (ClientError, BotoCoreError):
            return []
        names = sorted(s["logStreamName"] for s in streams.get("logStreams", []))
        lines: list[str] = []
        for stream in names:
            token: str | None = None
            while len(lines) < MAX_LOG_EVENTS:
                kwargs: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": stream, "startFromHead": True}
                if token:
                    kwargs["nextToken"] = token
                try:
                    page = logs.get_log_events(**kwargs)
                except (ClientError, BotoCoreError):
                    break
                lines.extend(e["message"] for e in page.get("events", []))
                if not page.get("events") or page.get("nextForwardToken") in (None, token):
                    break
                token = page["nextForwardToken"]
        return lines

    def metric_history(self, job_name: str, metric: str, start: datetime, end: datetime) -> list[float]:
        query = {
            "Id": "m",
            "MetricStat": {
                "Metric": {
                    "Namespace": METRICS_NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": f"{job_name}/algo-1"}],
                },
                "Period": 60,
                "Stat": "Average",
            },
        }
        try:
            resp = self.client("cloudwatch").get_metric_data(
                MetricDataQueries=[query],
                StartTime=start - timedelta(minutes=1),
                EndTime=end + timedelta(minutes=1),
                ScanBy="TimestampAscending",
            )
        except (ClientError, BotoCoreError):
            return []
        results = resp.get("MetricDataResults") or [{}]
        pairs = sorted(zip(results[0].get("Timestamps", []), results[0].get("Values", []), strict=False))
        return [float(v) for _, v in pairs]

    def model_packages(self, project: str) -> list[dict[str, Any]]:
        from trainops.naming import model_package_group_name

        sm = self.client("sagemaker")
        arns: list[str] = []
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": model_package_group_name(project),
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
            "MaxResults": 100,
        }
        with contextlib.suppress(ClientError):  # no group yet: no versions
            while True:
                page = sm.list_model_packages(**kwargs)
                arns.extend(s["ModelPackageArn"] for s in page.get("ModelPackageSummaryList", []))
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        packages = [dict(sm.describe_model_package(ModelPackageName=arn)) for arn in arns]
        return sorted(packages, key=lambda p: (p.get("CreationTime") or datetime.min, p.get("ModelPackageVersion", 0)))
