"""Per-function settings, read from the environment the template gives each function, late and typed."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    data_bucket: str = Field(alias="DATA_BUCKET")
    artifacts_bucket: str = Field(alias="ARTIFACTS_BUCKET")
    runs_table: str = Field(alias="RUNS_TABLE")
    sagemaker_role_arn: str = Field(alias="SAGEMAKER_ROLE_ARN")
    region: str = Field(alias="AWS_REGION")
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")
    scheduler_role_arn: str | None = Field(default=None, alias="SCHEDULER_ROLE_ARN")
    schedule_group: str | None = Field(default=None, alias="SCHEDULE_GROUP")


_KEYS = tuple(f.alias for f in Settings.model_fields.values() if f.alias)


@lru_cache(maxsize=8)
def _settings(values: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.model_validate(dict(values))


def get_settings() -> Settings:
    """Cached per distinct environment, so a warm container parses once and tests can change it."""
    env = dict(os.environ)
    if "AWS_REGION" not in env and "AWS_DEFAULT_REGION" in env:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
    return _settings(tuple((k, env[k]) for k in _KEYS if k in env))
