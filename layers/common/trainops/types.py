"""Constrained types declared once and reused at every boundary."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

# Lower-case letters, digits and inner hyphens, at most 32 characters: the name ends up in S3 prefixes,
# job names (63), tuning job names (32), tags and log lines, so anything else (``../``, ``/``, quotes,
# ``$``, ``{}``, spaces, unicode) is refused rather than escaped.
PROJECT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
ProjectName = Annotated[str, StringConstraints(pattern=PROJECT_NAME_RE.pattern)]

# SageMaker: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
TRAINING_JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
TrainingJobName = Annotated[str, StringConstraints(pattern=TRAINING_JOB_NAME_RE.pattern, max_length=63)]
TUNING_JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
TuningJobName = Annotated[str, StringConstraints(pattern=TUNING_JOB_NAME_RE.pattern, max_length=32)]

S3_URI_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")


def _check_s3_uri(value: str) -> str:
    if not S3_URI_RE.match(value):
        raise ValueError(f"not an S3 URI: {value!r} (expected s3://bucket/key)")
    return value


S3Uri = Annotated[str, AfterValidator(_check_s3_uri), Field(max_length=1024)]

# Tags on a training, processing or tuning job and on a model package (CreateTrainingJob's Tags: at most 50)
MAX_TAGS = 50
TAG_KEY_RE = re.compile(r"^[\w\s.:/=+\-@]{1,128}$")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    _check_s3_uri(uri)
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    return bucket, key
