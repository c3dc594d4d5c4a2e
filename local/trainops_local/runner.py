"""Run trainops' main job on the local cloud: deploy template.yaml into the embedded moto, upload a dataset
(and config), and follow the real event path to the registry, reporting progress as it goes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from trainops.config import AlgorithmName
from trainops.errors import TrainopsError
from trainops.lint import lint_config
from trainops.naming import check_project_name

from trainops_local.cloud import LocalCloud, iam_enforcement
from trainops_local.cloud.local_cloud import TERMINAL_EXECUTION_STATUSES
from trainops_local.cloud.persistence import LocalState
from trainops_local.configfile import ConfigFile, read_config_file
from trainops_local.sagemaker import backend as local_sagemaker
from trainops_local.sagemaker import tuning as local_tuning
from trainops_local.upload import upload

REPO = Path(__file__).resolve().parents[2]
DATA_SUFFIXES = (".csv", ".libsvm", ".txt", ".gz")


class UsageError(Exception):
    """Bad input to the CLI itself (missing file, invalid config): exit code 2, nothing started."""


@dataclass
class Progress:
    state: str | None = None
    job: str | None = None
    job_status: str | None = None
    metric: tuple[str, float] | None = None
    jobs_done: int = 0
    jobs_total: int = 0
    elapsed_s: float = 0.0
    note: str | None = None


@dataclass
class RunSummary:
    status: str
    project: str
    execution_arn: str | None
    run_id: str | None = None
    model_package_arn: str | None = None
    approval_status: str | None = None
    approval_reason: str | None = None
    objective: dict[str, Any] | None = None
    champion: dict[str, Any] | None = None
    artifact: str | None = None
    training_jobs: list[dict[str, Any]] = field(default_factory=list)
    tuning_job: str | None = None
    # what the run started from: the tuning jobs it was warm-started from (parents, type, reason) and the
    # model package incremental training continued
    warm_start: dict[str, Any] | None = None
    incremental_from: str | None = None
    inferred: list[dict[str, Any]] = field(default_factory=list)
    config_source: str | None = None
    split: dict[str, Any] | None = None
    failed_state: str | None = None
    error: str | None = None
    cause: str | None = None
    skip_reason: str | None = None
    elapsed_s: float = 0.0
    job_seconds: float = 0.0
    controller_overhead_s: float = 0.0
    # DescribeTrainingJob's TrainingTimeInSeconds and BillableTimeInSeconds summed over the run's training jobs
    # (managed spot training: billable excludes the waits for spot capacity)
    training_seconds: int = 0
    billable_seconds: int = 0
    # local cloud only: the framework environment a script ran in (and how it differs from the image), and
    # the traceback of a failed script from its log
    framework_environment: dict[str, Any] | None = None
    traceback: str | None = None
    # concurrency: the uploads this run trained on (its own, and those it superseded), and the follow-up run
    # its end started for data that arrived meanwhile
    uploads_covered: list[dict[str, Any]] = field(default_factory=list)
    follow_up_run: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[Progress], None]


def check_inputs(project: str, data: Path, config: Path | None) -> ConfigFile | None:
    """Validate what the user gave before anything starts (UsageError -> exit code 2)."""
    try:
        check_project_name(project, field="--project")
    except TrainopsError as exc:
        raise UsageError(str(exc)) from exc
    if not data.exists():
        raise UsageError(f"--data {data}: no such file or directory")
    if data.is_file() and data.stat().st_size == 0:
        raise UsageError(f"--data {data}: the file is empty")
    if data.is_dir() and not any(
        p.is_file() and not p.name.startswith((".", "_")) and p.stat().st_size > 0 for p in data.rglob("*")
    ):
        raise UsageError(f"--data {data}: the directory holds no data files (only empty, hidden or marker files)")
    if config is None:
        return None
    if not config.is_file():
        raise UsageError(f"--config {config}: no such file")
    try:
        found = read_config_file(config, expected_project=project)
    except TrainopsError as exc:
        raise UsageError(str(exc)) from exc
    errors = [f for f in lint_config(found.config) if f.severity == "error"]
    if errors:
        raise UsageError(" ".join(f"[{f.field}] {f.message} ({f.id}). Fix: {f.fix}." for f in errors))
    if (missing := found.local_command_missing()) is not None:
        raise UsageError(
            f"[algorithm.local_command] {missing!r} is not installed on this machine, so the local stand-in of "
            f"{found.config.algorithm.image_uri} cannot run. Fix: install it (for R: apt-get install r-base-core), "
            f"or correct algorithm.local_command"
        )
    if found.config.algorithm.name == AlgorithmName.CONTAINER and not found.local_command:
        raise UsageError(
            f"[algorithm.local_command] the local cloud cannot run the image {found.config.algorithm.image_uri} "
            f"(no Docker): give the command that runs its training code on this machine. Fix: e.g. "
            f"local_command: [Rscript, train.R]"
        )
    return found


class LocalTrainops:
    """The local cloud with trainops deployed into it (a context manager).

    ``workdir`` keeps the local cloud's state between commands (objects, tables, registry, jobs, executions:
    see :mod:`trainops_local.cloud.persistence`); ``persist=False`` forgets everything at exit. Entering raises
    ``StateError`` for a workdir written in another format or in use by another command.
    """

    def __init__(
        self,
        workdir: Path = Path(".trainops"),
        *,
        template: Path | None = None,
        stack_name: str = "trainops",
        persist: bool = True,
        iam: bool | None = None,
    ) -> None:
        # absolute once: jobs run in their own folders, where a relative path would be doubled
        self.workdir = Path(workdir).absolute()
        self.template = template or REPO / "template.yaml"
        self.stack_name = stack_name
        self.state = LocalState(self.workdir) if persist else None
        # iam: IAM enforced in the local cloud (None: $TRAINOPS_LOCAL_IAM decides)
        self.cloud = LocalCloud(self.workdir / "cloud", state=self.state, iam=iam)
        self.cloud.on_start.append(self._install_sagemaker)
        self.cloud.on_stop.append(self._uninstall_sagemaker)
        self.outputs: dict[str, Any] = {}

    def _install_sagemaker(self, cloud: LocalCloud) -> None:
        jobs = local_sagemaker.install(self.workdir / "jobs", region=cloud.region)
        if cloud.iam:  # each job reads and writes S3 with its execution role's credentials
            jobs.job_s3_factory = iam_enforcement.job_s3_factory(cloud.region)
        local_tuning.install()

    def _uninstall_sagemaker(self, cloud: LocalCloud) -> None:
        del cloud
        local_tuning.uninstall()
        local_sagemaker.uninstall()

    def __enter__(self) -> LocalTrainops:
        self.cloud.start()
        try:
            stack = self.cloud.deploy(self.template, self.stack_name)
            self.outputs = dict(stack.outputs)
        except BaseException:
            self.cloud.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.cloud.stop()

    @property
    def data_bucket(self) -> str:
        return str(self.outputs["DataBucketName"])

    @property
    def state_machine_arn(self) -> str:
        return str(self.outputs["StateMachineArn"])

    # -- uploads -------------------------------------------------------------------------------------
    def upload_config(self, project: str, path: Path) -> str:
        """Upload the config as `trainops config upload` does (a local source_dir packed into the artifacts
        bucket first); a container's local_command is registered as its image's stand-in."""
        found = read_config_file(path, expected_project=project)
        if found.local_command and found.config.algorithm.image_uri:
            local_sagemaker.register_local_command(
                found.config.algorithm.image_uri, list(found.local_command), found.folder
            )
        done = upload(
            found,
            s3=self.cloud.client("s3"),
            data_bucket=self.data_bucket,
            artifacts_bucket=str(self.outputs["ArtifactsBucketName"]),
        )
        return done.config_uri.split("/", 3)[3]

    def upload_data(self, project: str, path: Path) -> str:
        """Upload a file (one run on upload) or a directory (one run when _READY lands); returns the key that
        starts the run."""
        s3 = self.cloud.client("s3")
        if path.is_file():
            key = f"data/{project}/{path.name}"
            s3.upload_file(str(path), self.data_bucket, key)
            return key
        prefix = f"data/{project}/{path.name}"
        for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))):
            s3.upload_file(str(file), self.data_bucket, f"{prefix}/{file.relative_to(path).as_posix()}")
        key = f"{prefix}/_READY"
        s3.put_object(Bucket=self.data_bucket, Key=key, Body=b"")
        return key

    # -- executions ----------------------------------------------------------------------------------
    def _executions(self) -> set[str]:
        sfn = self.cloud.client("stepfunctions")
        arns: set[str] = set()
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn):
            arns.update(e["executionArn"] for e in page["executions"])
        return arns

    def find_execution(self, key: str, known: set[str], timeout: float = 30.0) -> str:
        """The execution EventBridge started for the upload of ``key``."""
        sfn = self.cloud.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arn in sorted(self._executions() - known):
                desc = sfn.describe_execution(executionArn=arn)
                event = json.loads(desc.get("input") or "{}")
                if (event.get("detail") or {}).get("object", {}).get("key") == key:
                    return arn
            time.sleep(0.05)
        raise TimeoutError(f"no execution started for s3://{self.data_bucket}/{key} within {timeout:.0f}s")

    def run(
        self,
        project: str,
        data: Path,
        config: Path | None = None,
        *,
        progress: ProgressCallback | None = None,
        timeout: float = 900.0,
    ) -> RunSummary:
        check_inputs(project, data, config)
        start = time.monotonic()
        if config is not None:
            self.upload_config(project, config)
            self.cloud.wait_idle(30)
        known = self._executions()
        key = self.upload_data(project, data)
        arn = self.find_execution(key, known)
        summary = self.follow(arn, project, start=start, progress=progress, timeout=timeout)
        self.cloud.checkpoint()  # a crash in a later run of this command keeps this one
        return summary

    def start_manual(self, payload: dict[str, Any], name: str) -> str:
        sfn = self.cloud.client("stepfunctions")
        return str(
            sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload))[
                "executionArn"
            ]
        )

    def follow(
        self,
        arn: str,
        project: str,
        *,
        start: float | None = None,
        progress: ProgressCallback | None = None,
        timeout: float = 900.0,
    ) -> RunSummary:
        """Poll the execution until ANY terminal status (deadline ``timeout``), reporting progress."""
        start = start if start is not None else time.monotonic()
        sfn = self.cloud.client("stepfunctions")
        deadline = time.monotonic() + timeout
        tracker = _Tracker(self)
        while True:
            desc = sfn.describe_execution(executionArn=arn)
            if progress is not None:
                progress(tracker.progress(arn, time.monotonic() - start))
            if desc["status"] in TERMINAL_EXECUTION_STATUSES:
                break
            if time.monotonic() > deadline:
                cause = f"no result within --timeout {timeout:g} s: the execution was stopped"
                sfn.stop_execution(executionArn=arn, error="LocalTimeout", cause=cause)
                desc = sfn.describe_execution(executionArn=arn)
                summary = tracker.summary(arn, desc, project, time.monotonic() - start)
                summary.status, summary.error, summary.cause = "TIMED_OUT", "LocalTimeout", cause
                return summary
            time.sleep(0.1)
        self.cloud.wait_idle(30)
        local_sagemaker.wait_idle(30)
        summary = tracker.summary(arn, desc, project, time.monotonic() - start)
        if progress is not None:
            progress(tracker.progress(arn, summary.elapsed_s))
        return summary


class _Tracker:
    """Reads what a user would look at: execution history, run record, SageMaker jobs."""

    def __init__(self, app: LocalTrainops) -> None:
        self.app = app
        self.run_id: str | None = None

    def _history(self, arn: str) -> list[dict[str, Any]]:
        return self.app.cloud.execution_history(arn)

    def _coverage(self, project: str, outputs: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        if self.run_id is None:
            return [], None
        from trainops.ledger import Ledger

        ledger = Ledger(self.app.outputs["RunsTableName"], self.app.cloud.client("dynamodb"))
        covered = [
            {"run_id": r["run_id"], "data": r.get("dataset_uri"), "received_at": r.get("received_at")}
            for r in ledger.project_requests(project)
            if r.get("covered_by") == self.run_id
        ]
        finish = outputs.get("FinishRun") or outputs.get("FinishFailedRun") or {}
        outcome = finish.get("follow_up") if isinstance(finish, dict) else None
        if isinstance(outcome, dict) and outcome.get("action") == "follow-up":
            return covered, str(outcome["run_id"])
        return covered, None

    def _run_record(self) -> dict[str, Any]:
        if self.run_id is None:
            return {}
        ddb = self.app.cloud.client("dynamodb")
        item = ddb.get_item(
            TableName=self.app.outputs["RunsTableName"],
            Key={"pk": {"S": f"RUN#{self.run_id}"}, "sk": {"S": "RUN"}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return {}
        from trainops.ledger import deserialize_item

        return deserialize_item(item)

    def _states(self, history: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
        entered: list[str] = []
        outputs: dict[str, Any] = {}
        for event in history:
            if "stateEnteredEventDetails" in event:
                entered.append(event["stateEnteredEventDetails"]["name"])
            details = event.get("stateExitedEventDetails")
            if details:
                try:
                    outputs[details["name"]] = json.loads(details.get("output") or "null")
                except ValueError:
                    outputs[details["name"]] = None
        normalized = outputs.get("NormalizeRequest") or {}
        request = normalized.get("request") if isinstance(normalized, dict) else None
        if request:
            self.run_id = request.get("run_id")
        return entered, outputs

    def _jobs(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        sm = self.app.cloud.client("sagemaker")
        jobs: list[dict[str, Any]] = []
        tuning = record.get("tuning_job")
        names: list[str] = []
        if tuning:
            try:
                resp = sm.list_training_jobs_for_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=tuning, MaxResults=100
                )
                names = sorted(s["TrainingJobName"] for s in resp.get("TrainingJobSummaries", []))
            except (ClientError, BotoCoreError):
                names = []
        elif record.get("training_job"):
            names = [record["training_job"]]
        for name in names:
            d = sm.describe_training_job(TrainingJobName=name)
            seconds = d.get("TrainingTimeInSeconds")  # whole seconds: the exact times are better
            if d.get("TrainingStartTime") and d.get("TrainingEndTime"):
                seconds = (d["TrainingEndTime"] - d["TrainingStartTime"]).total_seconds()
            transitions = d.get("SecondaryStatusTransitions") or [{}]
            jobs.append(
                {
                    "name": name,
                    "status": d["TrainingJobStatus"],
                    "secondary_status": d.get("SecondaryStatus"),
                    "status_message": transitions[-1].get("StatusMessage"),
                    "metrics": {m["MetricName"]: m["Value"] for m in d.get("FinalMetricDataList", [])},
                    "seconds": seconds,
                    "training_seconds": d.get("TrainingTimeInSeconds"),
                    "billable_seconds": d.get("BillableTimeInSeconds"),
                    "failure_reason": d.get("FailureReason"),
                }
            )
        return jobs

    def progress(self, arn: str, elapsed: float) -> Progress:
        history = self._history(arn)
        entered, _ = self._states(history)
        record = self._run_record()
        objective = (record.get("objective") or "").split(" ")[0] or None
        p = Progress(state=entered[-1] if entered else None, elapsed_s=elapsed)
        try:
            jobs = self._jobs(record)
        except (ClientError, BotoCoreError):
            jobs = []
        if jobs:
            running = [j for j in jobs if j["status"] in ("InProgress", "Stopping")]
            current = running[-1] if running else jobs[-1]
            p.job, p.job_status = current["name"], current["status"]
            metrics = current["metrics"]
            if objective and objective in metrics:
                p.metric = (objective, metrics[objective])
            elif metrics:
                name = sorted(metrics)[-1]
                p.metric = (name, metrics[name])
            p.jobs_total = len(jobs)
            p.jobs_done = sum(1 for j in jobs if j["status"] in ("Completed", "Failed", "Stopped"))
            if current["secondary_status"] == "Stopped" or (current["status"] == "Stopped"):
                p.note = "stopped early"
            elif current["status_message"] == "Downloading the training image":
                # locally: the framework image's environment is being built (once; later jobs reuse it)
                p.note = "Downloading the training image (locally: building its environment, first time only)"
        return p

    def summary(self, arn: str, desc: dict[str, Any], project: str, elapsed: float) -> RunSummary:
        history = self._history(arn)
        entered, outputs = self._states(history)
        record = self._run_record()
        status = desc["status"]
        final = json.loads(desc.get("output") or "null") if status == "SUCCEEDED" else None
        s = RunSummary(status=status, project=project, execution_arn=arn, run_id=self.run_id, elapsed_s=elapsed)
        s.inferred = list(record.get("inferred") or [])
        s.config_source = record.get("config_source")
        s.split = record.get("split") or None
        s.tuning_job = record.get("tuning_job")
        s.warm_start = _json_field(record.get("warm_start"))
        s.incremental_from = record.get("incremental_from")
        jobs = self._jobs(record)
        s.training_jobs = [{"name": j["name"], "status": j["status"], "seconds": j["seconds"]} for j in jobs]
        s.training_seconds = sum(j["training_seconds"] or 0 for j in jobs)
        s.billable_seconds = sum(j["billable_seconds"] or 0 for j in jobs)
        notes = [local_sagemaker.local_notes(j["name"]) for j in jobs]
        s.framework_environment = next(
            (n["framework_environment"] for n in notes if "framework_environment" in n), None
        )
        s.traceback = next((n["traceback"] for n in notes if "traceback" in n), None)
        in_jobs = _tuning_seconds(self.app, s.tuning_job) if s.tuning_job else sum(j["seconds"] or 0 for j in jobs)
        s.job_seconds = round(in_jobs + _processing_seconds(self.app, record), 3)
        s.controller_overhead_s = round(max(0.0, elapsed - s.job_seconds), 3)
        s.uploads_covered, s.follow_up_run = self._coverage(project, outputs)
        if isinstance(final, dict) and final.get("action") == "skip":
            s.status = "SKIPPED"
            s.skip_reason = final.get("reason")
            return s
        if isinstance(final, dict) and final.get("registration"):
            reg = final["registration"]
            plan = final.get("plan") or {}
            s.model_package_arn = reg["model_package_arn"]
            s.approval_status = reg["approval_status"]
            s.approval_reason = reg["reason"]
            s.objective = (
                {
                    "name": reg["objective_metric"],
                    "value": reg["objective_value"],
                    "direction": plan.get("objective_direction"),
                }
                if reg.get("objective_value") is not None
                else None
            )
            if reg.get("champion_arn"):
                s.champion = {"arn": reg["champion_arn"], "value": reg.get("champion_value")}
            s.artifact = reg["model_artifact"]
            return s
        failure = outputs.get("RecordFailure")
        failed = failure.get("failure") if isinstance(failure, dict) else None
        s.error = (failed or {}).get("error") or record.get("error") or desc.get("error")
        s.cause = (failed or {}).get("cause") or record.get("cause") or desc.get("cause")
        failure_path = ("RecordFailure", "FinishFailedRun", "FailureKind", "RunFailed", "NoModel", "FailureNotRecorded")
        before = [name for name in entered if name not in failure_path]
        s.failed_state = before[-1] if before else None
        if (failed or {}).get("status") == "NO_MODEL":
            s.status = "NO_MODEL"
        return s


def _json_field(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _processing_seconds(app: LocalTrainops, record: dict[str, Any]) -> float:
    run_id = record.get("run_id")
    project = record.get("project")
    if not run_id or not project:
        return 0.0
    from trainops.naming import job_name

    sm = app.cloud.client("sagemaker")
    try:
        d = sm.describe_processing_job(ProcessingJobName=job_name(project, run_id, "split"))
    except (ClientError, BotoCoreError):
        return 0.0
    start, end = d.get("ProcessingStartTime"), d.get("ProcessingEndTime")
    return (end - start).total_seconds() if start and end else 0.0


def _tuning_seconds(app: LocalTrainops, name: str) -> float:
    """Wall time of a tuning job (its training jobs overlap when they run in parallel)."""
    try:
        d = app.cloud.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    except (ClientError, BotoCoreError):
        return 0.0
    start, end = d.get("CreationTime"), d.get("HyperParameterTuningEndTime")
    return (end - start).total_seconds() if start and end else 0.0
