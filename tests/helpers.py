"""Shared builders for tests."""

from __future__ import annotations

import json
from typing import Any

from trainops.config import ProjectConfig, parse_config
from trainops.models import Dataset, RunRequest, TrainingPlan, Trigger

DATA_BUCKET = "trainops-data-test"
ARTIFACTS_BUCKET = "trainops-artifacts-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/trainops-sagemaker"
XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def config(**overrides: Any) -> ProjectConfig:
    data: dict[str, Any] = {"project": "demo"}
    data.update(overrides)
    return parse_config(data)


def run_request(cfg: ProjectConfig | None = None, *, run_id: str = "20261126T120000-1a2b3c4d") -> RunRequest:
    cfg = cfg or config()
    return RunRequest(
        run_id=run_id,
        project=cfg.project,
        trigger=Trigger(kind="manual"),
        dataset=Dataset(
            bucket=DATA_BUCKET,
            prefix=f"data/{cfg.project}/train.csv",
            kind="file",
            uri=f"s3://{DATA_BUCKET}/data/{cfg.project}/train.csv",
            fingerprint="etag-1",
        ),
        config=cfg.model_dump(mode="json", exclude_none=True),
        config_source="test",
        config_hash=cfg.config_hash(),
    )


def plan(**overrides: Any) -> TrainingPlan:
    base: dict[str, Any] = {
        "algorithm": "xgboost",
        "image": XGB_IMAGE,
        "version": "1.7-1",
        "problem_type": "binary",
        "objective_metric": "validation:auc",
        "objective_direction": "Maximize",
        "content_type": "text/csv",
        "input_mode": "Pipe",
        "hyperparameters": {"num_round": "50", "objective": "binary:logistic", "eval_metric": "auc"},
        "needs_split": True,
    }
    base.update(overrides)
    return TrainingPlan.model_validate(base)


def csv_rows(n: int = 40, *, label: Any = None) -> bytes:
    rows = []
    for i in range(n):
        y = label if label is not None else i % 2
        rows.append(f"{y},{i * 0.5},{(i % 7) * 1.5},{i % 3}")
    return ("\n".join(rows) + "\n").encode()


def emf_lines(app: Any, logical_id: str) -> list[dict[str, Any]]:
    """The embedded-metric-format lines a function printed (what CloudWatch turns into metrics)."""
    group = f"/aws/lambda/{app.cloud.stacks[app.stack_name].physical_id(logical_id)}"
    events = app.cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    lines: list[dict[str, Any]] = []
    for event in events:
        for line in event["message"].splitlines():
            if line.startswith("{") and '"_aws"' in line:
                lines.append(json.loads(line))
    # Powertools writes a metric's values as a list; one value per metric is what these tests record
    for doc in lines:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                if isinstance(doc.get(metric["Name"]), list) and len(doc[metric["Name"]]) == 1:
                    doc[metric["Name"]] = doc[metric["Name"]][0]
    return lines
