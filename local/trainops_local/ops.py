"""Operating a trainops stack: the same commands against a deployed stack (boto3, the user's profile) and
against the local cloud (its clients). Everything here reads what the stack itself keeps: the run records in
the RunsTable, the executions, the SageMaker jobs and their logs, and the model registry.

Errors a user can act on are :class:`OpsError` (the CLI exits 2 with the message): an unknown run, project or
package; a package of another project; an approval that is already what was asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from trainops.ledger import Ledger, deserialize_item
from trainops.naming import check_project_name, job_name, model_package_group_name
from trainops.registry import META_PREFIX, meta_value

ClientFactory = Callable[[str], Any]
APPROVAL = {"approve": "Approved", "reject": "Rejected"}
# CustomerMetadataProperties values: at most 256 characters (botocore's model)
MAX_META_VALUE = 256


class OpsError(Exception):
    """Something the user asked for does not exist or is not allowed; the message says which and what to do."""


@dataclass
class Stack:
    """A trainops stack: its outputs (DataBucketName, ArtifactsBucketName, StateMachineArn, RunsTableName) and a
    way to get clients for its account and region."""

    outputs: dict[str, str]
    client: ClientFactory
    region: str

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.outputs["RunsTableName"], self.client("dynamodb"))


def aws_stack(name: str, *, region: str | None, profile: str | None) -> Stack:
    """A deployed stack, found by name with the user's profile; no credentials or no stack is an OpsError."""
    import boto3

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:  # an unknown profile
        raise OpsError(f"AWS profile: {exc}") from exc
    if session.region_name is None:
        raise OpsError("no AWS region: pass --region or set one in your profile (aws configure)")
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError as exc:
        raise OpsError("no AWS credentials: configure a profile (aws configure) or pass --profile") from exc
    except ClientError as exc:
        raise OpsError(f"stack {name!r} not found in {session.region_name}: deploy it, or pass --stack") from exc
    except BotoCoreError as exc:
        raise OpsError(f"cannot reach CloudFormation: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = {"RunsTableName", "StateMachineArn", "DataBucketName"} - set(outputs)
    if missing:
        raise OpsError(f"stack {name!r} has no output {sorted(missing)[0]}: is it a trainops stack?")
    return Stack(outputs=outputs, client=session.client, region=session.region_name)


# --- runs -------------------------------------------------------------------------------------------
def list_runs(stack: Stack, project: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest runs first: run id, project, status, trigger, data, started, model and approval."""
    if project is not None:
        check_project(project)
        items = [r for r in stack.ledger.project_runs(project) if r.get("sk") == "RUN"]
    else:
        items = _scan_runs(stack)
    items.sort(key=lambda r: str(r.get("started_at") or ""), reverse=True)
    return [_run_row(r) for r in items[:limit]]


def _scan_runs(stack: Stack) -> list[dict[str, Any]]:
    ddb = stack.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": stack.outputs["RunsTableName"],
        "FilterExpression": "sk = :run",
        "ExpressionAttributeValues": {":run": {"S": "RUN"}},
    }
    items: list[dict[str, Any]] = []
    while True:
        page = ddb.scan(**kwargs)
        items.extend(deserialize_item(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _run_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": r.get("run_id"),
        "project": r.get("project"),
        "status": r.get("status"),
        "trigger": r.get("trigger"),
        "data": r.get("dataset_uri"),
        "started_at": r.get("started_at"),
        "approval_status": r.get("approval_status"),
        "objective_value": r.get("objective_value"),
        "model_package_arn": r.get("model_package_arn"),
        "error": r.get("error"),
    }


def show_run(stack: Stack, run_id: str) -> dict[str, Any]:
    """Everything about one run: states passed, inferred choices with reasons, jobs with metrics, approval and
    its reason, the failure's cause, the uploads it covered."""
    record = stack.ledger.get_run(run_id)
    if record is None:
        raise OpsError(f"no run {run_id!r}: `trainops runs list` shows the run ids")
    out: dict[str, Any] = {
        **_run_row(record),
        "execution": record.get("execution"),
        "config_source": record.get("config_source"),
        "inferred": record.get("inferred") or [],
        "split": record.get("split"),
        "approval_reason": record.get("approval_reason"),
        "cause": record.get("cause"),
        "follows": record.get("follows"),
        "covers": record.get("covers"),
    }
    out["states"] = _states(stack, str(record.get("execution") or ""))
    out["jobs"] = [_job(stack, name) for name in _job_names(record)]
    project = str(record.get("project") or "")
    if project:
        out["uploads_covered"] = [
            {"run_id": u.get("run_id"), "data": u.get("dataset_uri"), "received_at": u.get("received_at")}
            for u in stack.ledger.project_requests(project)
            if u.get("covered_by") == run_id
        ]
    return out


def _states(stack: Stack, execution: str) -> list[str]:
    if not execution:
        return []
    head, _, machine = stack.outputs["StateMachineArn"].rpartition(":stateMachine:")
    arn = f"{head}:execution:{machine}:{execution}"
    sfn = stack.client("stepfunctions")
    names: list[str] = []
    try:
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            names += [e["stateEnteredEventDetails"]["name"] for e in page["events"] if "stateEnteredEventDetails" in e]
    except ClientError:
        return []  # an execution past Step Functions' 90-day retention
    return names


def _job_names(record: dict[str, Any]) -> list[str]:
    names = [str(record[k]) for k in ("training_job", "failed_job") if record.get(k)]
    registration = record.get("registration") or {}
    if isinstance(registration, dict) and registration.get("training_job"):
        names.append(str(registration["training_job"]))
    return list(dict.fromkeys(names))


def _job(stack: Stack, name: str) -> dict[str, Any]:
    sm = stack.client("sagemaker")
    try:
        d = sm.describe_training_job(TrainingJobName=name)
    except ClientError:
        return {"name": name, "status": "unknown"}
    return {
        "name": name,
        "status": d.get("TrainingJobStatus"),
        "failure_reason": d.get("FailureReason"),
        "metrics": {m["MetricName"]: m["Value"] for m in d.get("FinalMetricDataList", [])},
        "training_seconds": d.get("TrainingTimeInSeconds"),
        "billable_seconds": d.get("BillableTimeInSeconds"),
    }


def run_logs(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    """The run's jobs' log lines from CloudWatch Logs (/aws/sagemaker/TrainingJobs and ProcessingJobs)."""
    record = stack.ledger.get_run(run_id)
    if record is None:
        raise OpsError(f"no run {run_id!r}: `trainops runs list` shows the run ids")
    logs = stack.client("logs")
    prefixes = set(_job_names(record))
    if record.get("project"):  # the split, and every training job of a tuning run
        prefixes.add(job_name(str(record["project"]), run_id, "split"))
        prefixes.add(job_name(str(record["project"]), run_id, "x")[:-2])
    if record.get("tuning_job"):  # its training jobs are named <tuning job>-<number>-<id>
        prefixes.add(str(record["tuning_job"]))
    lines: list[dict[str, Any]] = []
    for group in ("/aws/sagemaker/ProcessingJobs", "/aws/sagemaker/TrainingJobs"):
        for prefix in sorted(prefixes):
            try:
                streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)["logStreams"]
            except ClientError:
                continue
            for stream in streams:
                events = logs.get_log_events(
                    logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
                )["events"]
                lines += [{"stream": stream["logStreamName"], "message": e["message"]} for e in events]
    return list({(line["stream"], line["message"]): line for line in lines}.values())


def start(stack: Stack, project: str, data: str | None = None, *, name: str | None = None) -> str:
    """StartExecution with the documented manual-start input; returns the execution ARN."""
    check_project(project)
    payload: dict[str, Any] = {"project": project}
    if data:
        payload["data"] = data
    kwargs: dict[str, Any] = {"stateMachineArn": stack.outputs["StateMachineArn"], "input": json.dumps(payload)}
    if name:
        kwargs["name"] = name
    return str(stack.client("stepfunctions").start_execution(**kwargs)["executionArn"])


# --- models -----------------------------------------------------------------------------------------
def list_models(stack: Stack, project: str) -> list[dict[str, Any]]:
    check_project(project)
    sm = stack.client("sagemaker")
    group = model_package_group_name(project)
    try:
        sm.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as exc:
        raise OpsError(f"project {project!r} has no model package group {group}: no model registered yet") from exc
    pages = sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
    summaries = [s for page in pages for s in page["ModelPackageSummaryList"]]
    rows = []
    for summary in sorted(summaries, key=lambda s: s.get("ModelPackageVersion", 0), reverse=True):
        d = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        meta = d.get("CustomerMetadataProperties") or {}
        rows.append(
            {
                "version": d.get("ModelPackageVersion"),
                "arn": d["ModelPackageArn"],
                "approval_status": d.get("ModelApprovalStatus"),
                "objective_metric": meta.get(f"{META_PREFIX}objective-metric"),
                "objective_value": meta.get(f"{META_PREFIX}objective-value"),
                "run_id": meta.get(f"{META_PREFIX}run-id"),
                "created": str(d.get("CreationTime") or ""),
                "reason": d.get("ApprovalDescription") or meta.get(f"{META_PREFIX}approval-reason"),
            }
        )
    return rows


def set_approval(stack: Stack, arn: str, action: str, reason: str, *, project: str | None = None) -> dict[str, Any]:
    """Approve or reject a model package, keeping the reason with it (ApprovalDescription and metadata)."""
    status = APPROVAL[action]
    if not reason.strip():
        raise OpsError("--reason is required: it is kept with the package")
    sm = stack.client("sagemaker")
    try:
        d = sm.describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        raise OpsError(f"no model package {arn!r}: `trainops models list PROJECT` shows them") from exc
    group = str(d.get("ModelPackageGroupName") or "")
    if not group.startswith(model_package_group_name("")):
        raise OpsError(f"{arn} is in group {group!r}, not a trainops project's group (trainops-<project>)")
    if project is not None and group != model_package_group_name(project):
        raise OpsError(f"{arn} belongs to group {group!r}, not project {project!r}'s")
    if d.get("ModelApprovalStatus") == status:
        raise OpsError(f"{arn} is already {status}")
    meta = dict(d.get("CustomerMetadataProperties") or {})
    meta[f"{META_PREFIX}approval-reason"] = _meta_text(f"{status} by hand: {reason}")
    sm.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus=status,
        ApprovalDescription=reason[:1024],
        # AWS updates the keys given; passing them all also keeps them where an emulation would replace them
        CustomerMetadataProperties=meta,
    )
    after = sm.describe_model_package(ModelPackageName=arn)
    return {"arn": arn, "approval_status": after.get("ModelApprovalStatus"), "reason": reason}


def _meta_text(text: str) -> str:
    return meta_value(text)[:MAX_META_VALUE]


def check_project(project: str) -> None:
    try:
        check_project_name(project)
    except Exception as exc:
        raise OpsError(str(exc)) from exc
