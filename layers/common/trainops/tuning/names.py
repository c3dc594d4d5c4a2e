"""Tuning job names: deterministic per run (a retried start adopts the job), and recognisably the project's
(warm start reads only its own project's jobs)."""

from __future__ import annotations

import re

from trainops.errors import (
    InvalidTrainingRequest,
)
from trainops.naming import RESOURCE_PREFIX, digest
from trainops.tuning.limits import MAX_TUNING_JOB_NAME, MAX_TUNING_PROJECT_PART
from trainops.types import TUNING_JOB_NAME_RE


# --- names ------------------------------------------------------------------------------------------
def project_job_prefix(project: str) -> str:
    """The part of every tuning job name of ``project`` before the run's digest: ``trainops-<project>``.

    A tuning job name has 32 characters at most, and the run's digest takes 9 of them after this prefix, so a
    project of more than 14 characters keeps its first 7 and a digest of the whole name (``trainops-<7>-<6 hex>``,
    23 characters): two projects sharing a long start never share tuning jobs (or warm-start parents).
    """
    if len(project) <= MAX_TUNING_PROJECT_PART:
        return f"{RESOURCE_PREFIX}{project}"
    return f"{RESOURCE_PREFIX}{project[:7].rstrip('-')}-{digest(project, length=6)}"


def tuning_job_name(project: str, run_id: str) -> str:
    """Deterministic tuning job name, <= 32 characters: ``trainops-<project part>-<8 hex of project+run>``.

    Deterministic so that a retried start finds (and adopts) the job the first attempt created. Its training
    jobs (``<tuning job>-<3 digits>-<8 hex>``, named by SageMaker) start with the same prefix.
    """
    name = f"{project_job_prefix(project)}-{digest(project, run_id)}"
    if len(name) > MAX_TUNING_JOB_NAME or not TUNING_JOB_NAME_RE.match(name):
        raise InvalidTrainingRequest(
            f"tuning job name {name!r} is not valid (<= 32 chars, letters, digits, hyphens)",
            field="project",
            fix="use a project name of lower-case letters, digits and inner hyphens",
        )
    return name


def is_project_tuning_job(name: str, project: str) -> bool:
    """True when ``name`` was made by :func:`tuning_job_name` for ``project``."""
    prefix, _, suffix = name.rpartition("-")
    return prefix == project_job_prefix(project) and re.fullmatch(r"[0-9a-f]{8}", suffix) is not None
