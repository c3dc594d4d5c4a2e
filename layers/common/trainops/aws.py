"""AWS clients: created lazily on first use, reused across warm invocations, never at import time.

Logic functions take their clients as arguments (tests pass their own); handlers get them from here.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from trainops.errors import AccessDenied, AwsThrottled, DatasetError, QuotaExceeded

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
_clients: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    key = (service, region)
    with _lock:
        if key not in _clients:
            _clients[key] = boto3.client(service, region_name=region, config=_CONFIG)
        return _clients[key]


THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "InternalFailure",
    }
)


# S3: the bucket, the object or the pinned version is gone (deleted or overwritten while a run was in progress)
S3_MISSING_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "NoSuchVersion", "404", "NotFound"})
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "Forbidden", "403", "KMSAccessDenied"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: ClientError, action: str) -> Exception:
    """Turn a ClientError into a typed trainops error where one applies (``raise translate(e) from e``)."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", str(exc))
    if code in THROTTLING_CODES:
        return AwsThrottled(f"{action}: {code}: {message}", fix="retried automatically with backoff")
    if code == "ResourceLimitExceeded":
        return QuotaExceeded(
            f"{action}: {message}", fix="ask for a quota increase in Service Quotas, or wait for running jobs to end"
        )
    if code in S3_MISSING_CODES:
        return DatasetError(
            f"{action}: {code}: {message}",
            field="dataset",
            fix="the data was deleted or overwritten while the run was in progress: upload it again",
        )
    if code in DENIED_CODES or code.startswith("KMS."):
        kms = code.startswith("KMS") or "kms" in message.lower()
        return AccessDenied(
            f"{action}: {code}: {message}",
            fix="allow kms:Decrypt (and kms:GenerateDataKey for writes) on the object's KMS key to the role, and "
            "check the key is enabled"
            if kms
            else "grant the missing permission to the function's or the SageMaker execution role",
        )
    return exc
