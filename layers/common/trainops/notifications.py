"""trainops's own EventBridge events, on the account's default bus, ``source: trainops``.

One pydantic model per detail-type: the schema users write rules against (docs/events.md). Fields are only ever
added, never renamed or retyped, and ``schema_version`` changes only when a field's meaning does.

| detail-type | emitted by | when |
|---|---|---|
| ``Model Registered`` | RegisterModel | a model package was created, whatever its approval status |
| ``Model Waiting For Approval`` | RegisterModel | ... and it is ``PendingManualApproval`` (someone decides) |
| ``Run Succeeded`` | FinishRun | the run ends with a registered model |
| ``Run Failed`` | FinishFailedRun | the run ends in the failure path (``status`` FAILED or NO_MODEL) |

Delivery is at least once: a retried task can emit an event again (same ``run_id``; deduplicate on it).
Publishing never fails a run: the run record is the source of truth, and an event that could not be put is
logged and counted (metric ``EventsNotPublished``), see :func:`emit`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainops import telemetry
from trainops.errors import TrainopsError
from trainops.models import Registration, RunFailure, RunRequest
from trainops.types import PROJECT_NAME_RE

SOURCE = "trainops"
EVENT_BUS = "default"
SCHEMA_VERSION: Literal[1] = 1
MAX_CAUSE = 4096  # a cause is a message for people; the full one stays on the run record

log = logging.getLogger(__name__)

DetailType = Literal["Run Succeeded", "Run Failed", "Model Registered", "Model Waiting For Approval"]


class EventsNotPublished(TrainopsError):
    """PutEvents failed, or EventBridge refused some entries. Logged and counted, never raised to the run."""


class EventDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    schema_version: Literal[1] = SCHEMA_VERSION
    project: str | None = Field(description="None only when the run failed before its input named a project.")
    run_id: str
    execution_arn: str | None = Field(description="The Step Functions execution of the run.")
    execution_url: str | None = Field(description="The execution in the Step Functions console.")


class Objective(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    name: str | None = Field(description="The objective metric, e.g. validation:auc.")
    value: float | None


class ModelDetail(EventDetail):
    model_package_arn: str
    model_package_group: str
    model_version: int | None = Field(description="The package's version in its group.")
    approval_status: Literal["Approved", "PendingManualApproval", "Rejected"]
    reason: str = Field(description="Why the package has its approval status (also in its metadata).")
    objective: Objective
    champion_arn: str | None = Field(description="The Approved package it was compared with, if any.")
    champion_value: float | None
    model_artifact: str
    training_job: str
    model_package_url: str | None = Field(
        description="The package's group in SageMaker Studio (StudioDomainId), else the SageMaker console."
    )


class ModelRegistered(ModelDetail):
    """``Model Registered``: every package trainops creates."""


class ModelWaitingForApproval(ModelDetail):
    """``Model Waiting For Approval``: a package registered ``PendingManualApproval``; someone has to decide."""

    approval_status: Literal["PendingManualApproval"] = "PendingManualApproval"
    approve_command: str = Field(description="The AWS CLI command that approves it.")


class RunSucceeded(ModelDetail):
    """``Run Succeeded``: the run ended with a registered model (Approved or waiting)."""


class RunFailed(EventDetail):
    """``Run Failed``: the run ended in the failure path."""

    status: Literal["FAILED", "NO_MODEL"] = Field(description="NO_MODEL: tuning produced no completed job.")
    error: str = Field(description="The error's name (a trainops.errors class, or a Step Functions error).")
    cause: str = Field(description="What went wrong and how to fix it.")


DETAIL_TYPES: dict[type[EventDetail], DetailType] = {
    ModelRegistered: "Model Registered",
    ModelWaitingForApproval: "Model Waiting For Approval",
    RunSucceeded: "Run Succeeded",
    RunFailed: "Run Failed",
}


# ------------------------------------------------------------------------------------------- links
_CONSOLE_DOMAINS = {"aws": "aws.amazon.com", "aws-cn": "amazonaws.cn", "aws-us-gov": "amazonaws-us-gov.com"}


def _arn_parts(arn: str | None) -> tuple[str, str, str] | None:
    """(partition, region, account) of an ARN."""
    parts = (arn or "").split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[1], parts[3], parts[4]


def execution_arn(state_machine_arn: str | None, execution_name: str | None) -> str | None:
    """``arn:<p>:states:<r>:<a>:execution:<state machine>:<name>`` from the state machine's ARN and a name."""
    if not state_machine_arn or not execution_name or ":stateMachine:" not in state_machine_arn:
        return None
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"


def execution_url(arn: str | None) -> str | None:
    """The execution's page in the Step Functions console (None in partitions without a public console)."""
    parts = _arn_parts(arn)
    if parts is None or parts[0] not in _CONSOLE_DOMAINS:
        return None
    _, region, _ = parts
    return (
        f"https://{region}.console.{_CONSOLE_DOMAINS[parts[0]]}/states/home?region={region}"
        f"#/v2/executions/details/{arn}"
    )


def model_package_url(package_arn: str, group: str, studio_domain_id: str | None = None) -> str | None:
    """The package's group (its versions) in SageMaker Studio when the stack names a Studio domain
    (a Studio URL needs one), else the SageMaker console of the region."""
    parts = _arn_parts(package_arn)
    if parts is None or parts[0] not in _CONSOLE_DOMAINS:
        return None
    partition, region, _ = parts
    if studio_domain_id and partition == "aws":
        return (
            f"https://studio-{studio_domain_id}.studio.{region}.sagemaker.aws/models/registered-models/{group}/versions"
        )
    return f"https://{region}.console.{_CONSOLE_DOMAINS[partition]}/sagemaker/home?region={region}"


def model_version(package_arn: str) -> int | None:
    """``.../model-package/<group>/<version>`` -> version."""
    tail = package_arn.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


# ------------------------------------------------------------------------------------------ builders
def model_events(
    request: RunRequest,
    reg: Registration,
    *,
    state_machine_arn: str | None,
    studio_domain_id: str | None = None,
) -> list[ModelDetail]:
    """RegisterModel's events: ``Model Registered``, and ``Model Waiting For Approval`` when it waits."""
    common = _model_fields(request, reg, state_machine_arn=state_machine_arn, studio_domain_id=studio_domain_id)
    events: list[ModelDetail] = [ModelRegistered(**common)]
    if reg.approval_status == "PendingManualApproval":
        command = (
            f"aws sagemaker update-model-package --model-package-arn {reg.model_package_arn} "
            "--model-approval-status Approved --approval-description 'why it is approved'"
        )
        events.append(ModelWaitingForApproval(**{**common, "approve_command": command}))
    return events


def run_succeeded(
    request: RunRequest, reg: Registration, *, state_machine_arn: str | None, studio_domain_id: str | None = None
) -> RunSucceeded:
    return RunSucceeded(
        **_model_fields(request, reg, state_machine_arn=state_machine_arn, studio_domain_id=studio_domain_id)
    )


def run_failed(state: dict[str, Any], *, state_machine_arn: str | None) -> RunFailed | None:
    """``Run Failed`` from the failure path's state (``failure`` written by RecordFailure); None without one."""
    failure_data = state.get("failure")
    if not isinstance(failure_data, dict):
        return None
    failure = RunFailure.model_validate(failure_data)
    request_data = state.get("request")
    request: dict[str, Any] = request_data if isinstance(request_data, dict) else {}
    # without a request (the first state failed), RecordFailure named the run after the execution
    name = str(request.get("execution") or failure.run_id)
    arn = execution_arn(state_machine_arn, name)
    cause = failure.cause if len(failure.cause) <= MAX_CAUSE else failure.cause[: MAX_CAUSE - 1] + "…"
    return RunFailed(
        project=failure.project or project_hint(state.get("input")),
        run_id=failure.run_id,
        execution_arn=arn,
        execution_url=execution_url(arn),
        status=failure.status,
        error=failure.error,
        cause=cause,
    )


def project_hint(raw_input: Any) -> str | None:
    """The project a raw execution input names (a manual or scheduled start, an S3 upload under
    ``data/<project>/``), for a run that failed before it had a request (an invalid config)."""
    candidate: Any = None
    if isinstance(raw_input, dict):
        candidate = raw_input.get("project")
        detail = raw_input.get("detail")
        if candidate is None and isinstance(detail, dict) and isinstance(detail.get("object"), dict):
            parts = str(detail["object"].get("key") or "").split("/")
            candidate = parts[1] if len(parts) >= 3 and parts[0] == "data" else None
    return candidate if isinstance(candidate, str) and PROJECT_NAME_RE.match(candidate) else None


def _model_fields(
    request: RunRequest, reg: Registration, *, state_machine_arn: str | None, studio_domain_id: str | None
) -> dict[str, Any]:
    arn = execution_arn(state_machine_arn, request.execution)
    return {
        "project": request.project,
        "run_id": request.run_id,
        "execution_arn": arn,
        "execution_url": execution_url(arn),
        "model_package_arn": reg.model_package_arn,
        "model_package_group": reg.model_package_group,
        "model_version": model_version(reg.model_package_arn),
        "approval_status": reg.approval_status,
        "reason": reg.reason,
        "objective": Objective(name=reg.objective_metric, value=reg.objective_value),
        "champion_arn": reg.champion_arn,
        "champion_value": reg.champion_value,
        "model_artifact": reg.model_artifact,
        "training_job": reg.training_job,
        "model_package_url": model_package_url(reg.model_package_arn, reg.model_package_group, studio_domain_id),
    }


# ------------------------------------------------------------------------------------------ publishing
def entry(detail: EventDetail) -> dict[str, Any]:
    """The PutEvents entry of one detail (``Resources``: the package and the execution, for rules on ARNs)."""
    resources = [
        arn
        for arn in (getattr(detail, "model_package_arn", None), detail.execution_arn)
        if isinstance(arn, str) and arn
    ]
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPES[type(detail)],
        "Detail": json.dumps(detail.model_dump(mode="json")),
        "Resources": resources,
        "EventBusName": EVENT_BUS,
    }


def put_events(details: list[EventDetail], events: Any) -> None:
    """PutEvents (at most 10 entries a call, as EventBridge allows); ``EventsNotPublished`` on any failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    entries = [entry(d) for d in details]
    for start in range(0, len(entries), 10):
        batch = entries[start : start + 10]
        try:
            response = events.put_events(Entries=batch)
        except (ClientError, BotoCoreError) as exc:
            raise EventsNotPublished(
                f"PutEvents failed: {exc}", fix="allow events:PutEvents on the default bus to the function's role"
            ) from exc
        if response.get("FailedEntryCount"):
            failed = [
                f"{batch[i]['DetailType']}: {r.get('ErrorCode')} {r.get('ErrorMessage')}"
                for i, r in enumerate(response.get("Entries") or [])
                if r.get("ErrorCode")
            ]
            count = response["FailedEntryCount"]
            raise EventsNotPublished(f"EventBridge refused {count} event(s): {'; '.join(failed)}")


def emit(details: list[EventDetail], events: Any) -> bool:
    """Put the events; on failure log and count (``EventsNotPublished``) and carry on. True when all were put.

    A lost notification must not undo a registered model or turn a finished run into a failed one: the run
    record and the model registry hold the outcome, and the metric can be alarmed on."""
    if not details:
        return True
    if events is None:  # a step called without an events client (a test): nothing to publish with
        log.debug("no events client: %d trainops event(s) not published", len(details))
        return False
    try:
        put_events(details, events)
    except EventsNotPublished as exc:
        project = details[0].project
        log.error("trainops events not published: %s", exc)
        telemetry.record(
            project,
            {"EventsNotPublished": len(details)},
            run_id=details[0].run_id,
            detail_types=",".join(DETAIL_TYPES[type(d)] for d in details),
            events_error=str(exc)[:1000],
        )
        return False
    return True
