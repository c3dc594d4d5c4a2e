"""Per-project retraining schedules: an EventBridge Scheduler schedule per project whose config sets
``schedule:``, kept in step with the config on every upload (created, updated, or deleted)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from trainops import config_yaml  # noqa: F401  (config text is read on every invocation: PyYAML at start)
from trainops.aws import error_code, translate
from trainops.config import load_config_text
from trainops.errors import InvalidEvent
from trainops.events import S3ObjectCreated, parse
from trainops.naming import check_project_name
from trainops.settings import Settings


def schedule_name(project: str) -> str:
    return f"trainops-{project}"


def schedule_input(project: str) -> str:
    # <aws.scheduler.scheduled-time> is filled in by EventBridge Scheduler at each invocation.
    return json.dumps({"trigger": "schedule", "project": project, "scheduled_time": "<aws.scheduler.scheduled-time>"})


def sync_from_config_event(event: dict[str, Any], *, settings: Settings, s3: Any, scheduler: Any) -> dict[str, Any]:
    fix = "the config rule sends S3 Object Created events of config/<project>.yaml only: check the rule's pattern"
    key = parse(S3ObjectCreated, event, what="config upload event", fix=fix).detail.object.key
    if not key.startswith("config/"):
        raise InvalidEvent(f"{key} is not under config/", field="detail.object.key", fix=fix)
    stem = key[len("config/") :]
    if not stem.endswith((".yaml", ".yml")) or "/" in stem:
        return {"action": "ignored", "reason": f"{key} is not config/<project>.yaml"}
    project = check_project_name(stem.rsplit(".", 1)[0], field="config key")
    try:
        body = s3.get_object(Bucket=settings.data_bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise translate(exc, f"reading {key}") from exc
    config = load_config_text(body, expected_project=project, source=f"s3://{settings.data_bucket}/{key}")
    name = schedule_name(project)
    group = settings.schedule_group or "default"
    if config.schedule is None:
        try:
            scheduler.delete_schedule(Name=name, GroupName=group)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise translate(exc, "DeleteSchedule") from exc
            return {"action": "none", "project": project, "reason": "no schedule configured"}
        return {"action": "deleted", "project": project, "schedule": name}
    params = {
        "Name": name,
        "GroupName": group,
        "ScheduleExpression": config.schedule,
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        "Description": f"trainops: retrain {project} on its latest data",
        "Target": {
            "Arn": settings.state_machine_arn,
            "RoleArn": settings.scheduler_role_arn,
            "Input": schedule_input(project),
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
        },
    }
    try:
        scheduler.create_schedule(**params)
        action = "created"
    except ClientError as exc:
        if error_code(exc) != "ConflictException":
            raise translate(exc, "CreateSchedule") from exc
        scheduler.update_schedule(**params)
        action = "updated"
    return {"action": action, "project": project, "schedule": name, "expression": config.schedule}
