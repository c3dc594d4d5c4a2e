"""Per-function settings, read from the environment the template gives each function, late and typed.

A frozen dataclass rather than a pydantic model: it is built on every cold start, and pydantic's class
construction costs ~10 ms of import time for six strings (benchmarks/cold_start.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from trainops.errors import TrainopsError


class SettingsError(TrainopsError):
    """The function's environment lacks a variable the template sets (a deployment problem)."""


@dataclass(frozen=True)
class Settings:
    data_bucket: str
    artifacts_bucket: str
    runs_table: str
    sagemaker_role_arn: str
    region: str
    state_machine_arn: str | None = None
    scheduler_role_arn: str | None = None
    schedule_group: str | None = None
    # Job security (template parameters KmsKeyArn, JobSubnetIds, JobSecurityGroupIds, RequireNetworkIsolation,
    # TrustedImageRepositories): empty when the stack sets none. trainops.security reads them.
    kms_key_arn: str | None = None
    job_subnet_ids: str | None = None
    job_security_group_ids: str | None = None
    require_network_isolation: str | None = None
    trusted_image_repositories: str | None = None
    # template parameter StudioDomainId: events link a model package to its group in that Studio domain
    studio_domain_id: str | None = None
    # isolation between projects (trainops.project_roles): the boundary of every project's job role, and the
    # stack's managed policies attached to it (images, logs, metrics; the stack's key and VPC when given)
    jobs_permissions_boundary_arn: str | None = None
    jobs_policy_arns: str | None = None


ENV = {
    "data_bucket": "DATA_BUCKET",
    "artifacts_bucket": "ARTIFACTS_BUCKET",
    "runs_table": "RUNS_TABLE",
    "sagemaker_role_arn": "SAGEMAKER_ROLE_ARN",
    "region": "AWS_REGION",
    "state_machine_arn": "STATE_MACHINE_ARN",
    "scheduler_role_arn": "SCHEDULER_ROLE_ARN",
    "schedule_group": "SCHEDULE_GROUP",
    "kms_key_arn": "KMS_KEY_ARN",
    "job_subnet_ids": "JOB_SUBNET_IDS",
    "job_security_group_ids": "JOB_SECURITY_GROUP_IDS",
    "require_network_isolation": "REQUIRE_NETWORK_ISOLATION",
    "trusted_image_repositories": "TRUSTED_IMAGE_REPOSITORIES",
    "studio_domain_id": "STUDIO_DOMAIN_ID",
    "jobs_permissions_boundary_arn": "JOBS_PERMISSIONS_BOUNDARY_ARN",
    "jobs_policy_arns": "JOBS_POLICY_ARNS",
}


@lru_cache(maxsize=8)
def _settings(values: tuple[tuple[str, str | None], ...]) -> Settings:
    given = dict(values)
    missing = [
        ENV[name]
        for name in ("data_bucket", "artifacts_bucket", "runs_table", "sagemaker_role_arn", "region")
        if not given.get(name)
    ]
    if missing:
        raise SettingsError(
            f"environment variables missing: {', '.join(missing)}", field="Environment", fix="deploy with template.yaml"
        )
    return Settings(**given)  # type: ignore[arg-type]


def get_settings() -> Settings:
    """Cached per distinct environment, so a warm container parses once and tests can change it."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    values = tuple((name, region if name == "region" else os.environ.get(var)) for name, var in ENV.items())
    return _settings(values)
