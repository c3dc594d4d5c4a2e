"""Deterministic names. A retried task or a duplicate event recomputes the same name, so SageMaker's
``ResourceInUse`` tells us the job already exists (we adopt it) instead of a second job being started.

Every SageMaker resource trainops creates starts with :data:`RESOURCE_PREFIX`, so the template's IAM statements
name them (``training-job/trainops-*``, ``model-package-group/trainops-*``, ...) instead of every job of the
account (docs/security.md)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from trainops.errors import InvalidProjectName, InvalidTrainingRequest
from trainops.types import PROJECT_NAME_RE, TRAINING_JOB_NAME_RE

# the fixed start of every training, processing and tuning job, and model package group, trainops creates
RESOURCE_PREFIX = "trainops-"
MAX_TRAINING_JOB_NAME = 63


def check_project_name(name: object, *, field: str = "project") -> str:
    if not isinstance(name, str) or not PROJECT_NAME_RE.match(name):
        shown = repr(name)[:80]
        raise InvalidProjectName(
            f"project name {shown} is not allowed: it becomes part of S3 prefixes, job names and tags",
            field=field,
            fix="use 1-32 lower-case letters, digits and inner hyphens, e.g. 'churn-model'",
        )
    return name


def digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def run_id_for(stamp: datetime, *identity: str) -> str:
    """``20261126T125300-1a2b3c4d``: sortable, and the same for the same trigger identity."""
    return f"{stamp.strftime('%Y%m%dT%H%M%S')}-{digest(*identity)}"


def job_name(project: str, run_id: str, suffix: str) -> str:
    """``trainops-<project>-<run_id>-<suffix>``, checked against SageMaker's pattern and 63-character limit."""
    name = f"{RESOURCE_PREFIX}{project}-{run_id.replace('T', '')}-{suffix}".replace("_", "-")
    if len(name) > MAX_TRAINING_JOB_NAME:
        # keep it unique and within the limit: shorten the middle (never the prefix), keep a digest of the whole
        keep = MAX_TRAINING_JOB_NAME - len(suffix) - 10
        name = f"{name[:keep].rstrip('-')}-{digest(name, length=7)}-{suffix}"
    if not TRAINING_JOB_NAME_RE.match(name):
        raise InvalidTrainingRequest(
            f"job name {name!r} does not match SageMaker's pattern",
            field="TrainingJobName",
            fix="use a project name of letters, digits and hyphens",
        )
    return name


def model_package_group_name(project: str) -> str:
    """``trainops-<project>``: its model packages are ``model-package/trainops-<project>/<version>``."""
    return f"{RESOURCE_PREFIX}{project}"
