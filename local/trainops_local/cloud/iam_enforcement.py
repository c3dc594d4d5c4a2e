"""IAM enforced for the jobs' S3 access in the local cloud (issue 10, item 5, as far as item 2 needs it).

moto 5.2.5 evaluates IAM only when its global switch is on (``set_initial_no_auth_action_count``), and then for
every request of every service: the Lambda handlers, the Step Functions interpreter (fixed keys) and Scheduler
would fail signature checks. So enforcement is keyed on the credentials instead of global: an S3 request signed
with credentials that moto's STS issued for an assumed role is authenticated (signature, session token) and
authorized against that role's policies at resource level (``arn:aws:s3:::<bucket>/<key>``), always; any other
request goes through moto's unchanged check (off by default). The local SageMaker's jobs read and write S3 with
credentials of their ``RoleArn`` (``job_s3_factory``), so a job is held to its project's role as on AWS.

Not enforced (moto evaluates none of these): conditions (``s3:prefix`` on ListBucket, so a job may *list* another
project's keys locally, never read them), permissions boundaries, ``iam:PassRole``, trust policies of the role a
job assumes. Each moto behaviour relied on is pinned in ``tests/local/test_moto_pins.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import boto3
from moto.core.authorization import ActionAuthenticatorMixin
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

__all__ = ["install", "installed", "is_role_session", "job_s3_factory", "uninstall"]

_ORIGINAL: Callable[..., None] | None = None
SESSION_NAME = "trainops-local-job"


def _access_key_id(headers: Any) -> str | None:
    auth = str(headers.get("Authorization") or "")
    if "Credential=" not in auth:
        return None
    return auth.split("Credential=", 1)[1].split("/", 1)[0]


def is_role_session(account_id: str, partition: str, access_key_id: str) -> bool:
    """Whether moto's STS issued this access key for an assumed role (AssumeRole)."""
    return any(r.access_key_id == access_key_id for r in sts_backends[account_id][partition].assumed_roles)


def _authorize_s3(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
    assert _ORIGINAL is not None
    partition = get_partition(self.region)
    key_id = _access_key_id(self.headers)
    if not (
        key_id and self.headers.get("X-Amz-Security-Token") and is_role_session(self.current_account, partition, key_id)
    ):
        _ORIGINAL(self, bucket_name, key_name)
        return
    from moto.iam.access_control import S3IAMRequest

    # moto's own check (ActionAuthenticatorMixin._authenticate_and_authorize_action), without its global switch
    arn = f"{bucket_name or '*'}/{key_name}" if key_name else (bucket_name or "*")
    path = self.raw_path
    query = urlparse(self.uri).query
    if query:
        path += "?" + query
    request = S3IAMRequest(
        account_id=self.current_account,
        method=self.method,
        path=path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=self._get_action(),
    )
    request.check_signature()
    request.check_action_permitted(f"arn:{partition}:s3:::{arn}")


def install() -> None:
    """Enforce IAM on S3 requests made with assumed-role credentials; idempotent."""
    global _ORIGINAL  # noqa: PLW0603 - one patch per process, like moto's own
    if _ORIGINAL is None:
        _ORIGINAL = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action
        ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _authorize_s3  # type: ignore[method-assign]


def uninstall() -> None:
    global _ORIGINAL  # noqa: PLW0603
    if _ORIGINAL is not None:
        ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _ORIGINAL  # type: ignore[method-assign]
        _ORIGINAL = None


def installed() -> bool:
    return _ORIGINAL is not None


def job_s3_factory(region: str) -> Callable[[dict[str, Any]], Any]:
    """For the local SageMaker (``LocalSageMaker.job_s3_factory``): an S3 client with credentials of the job's
    ``RoleArn``, from STS AssumeRole, as SageMaker assumes the execution role on AWS."""

    def factory(request: dict[str, Any]) -> Any:
        creds = boto3.client("sts", region_name=region).assume_role(
            RoleArn=request["RoleArn"], RoleSessionName=SESSION_NAME
        )["Credentials"]
        return boto3.client(
            "s3",
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    return factory
