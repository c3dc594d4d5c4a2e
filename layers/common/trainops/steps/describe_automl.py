"""The DescribeAutoML step: one turn of the describe loop (AutoML jobs send no state-change event)."""

from __future__ import annotations

from typing import Any

from trainops import autopilot
from trainops.settings import Settings
from trainops.steps.common import Clients


def describe_automl(event: dict[str, Any], *, settings: Settings, clients: Clients) -> dict[str, Any]:
    del settings  # the job's name and bound travel in the loop's state
    job = event["automl"]
    turn = autopilot.poll(
        job["job_name"], clients.sagemaker, waited=int(job.get("waited", 0)), max_runtime=int(job["max_runtime"])
    )
    out = {**job, **turn}
    if turn["done"]:
        out["result"] = autopilot.best_candidate(job["job_name"], clients.sagemaker).model_dump(mode="json")
    return out
