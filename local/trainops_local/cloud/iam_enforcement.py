"""IAM enforced in the local cloud (issue 10, item 5): every call made by a role is judged by that role's policies.

moto 5.2.5 evaluates IAM only behind a global switch (``set_initial_no_auth_action_count``), and then for every
request: the tests', the CLI's and moto's own internal calls (the Step Functions interpreter signs with the fixed
keys ``ak``/``sk``, EventBridge and Scheduler deliveries with the environment's) fail its signature checks, and it
authorizes against ``"*"`` for every service but S3, SQS, IAM and STS. So enforcement here is keyed on the
principal, not global:

* **Who calls.** A request signed with credentials moto's STS issued for an assumed role (AssumeRole) is that role's
  call: its signature and session token are checked, then the role's inline and attached policies (and its
  permissions boundary, if any) are evaluated. Any other request is the account's administrator (the environment's
  keys: the tests, the CLI, the deployer), as the root user would be on AWS, and goes through moto's unchanged
  check (off).
* **Each Lambda invocation** runs with credentials of its function's role (STS AssumeRole, session named after the
  function), put in the invocation's environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``) as the Lambda runtime does. One process holds every function here, so a client created
  from the default credential chain (the shared ``trainops.aws`` cache, boto3's default session) is signed with
  the credentials of the thread's own environment (:func:`_get_auth_instance`), as if each function had its own
  process.
* **The Step Functions interpreter** calls Lambda with credentials of the state machine's role (the execution's
  ``roleArn``), instead of moto's fixed keys.
* **Jobs** of the local SageMaker read and write S3 with credentials of their ``RoleArn`` (:func:`job_s3_factory`).
* **Scheduler** starts a schedule's target with credentials of the schedule's ``RoleArn``.
* **Resources.** Each request is judged on the ARNs AWS's Service Authorization Reference gives its action
  (:mod:`.iam_resources`: DynamoDB tables and indexes, SageMaker jobs and model packages, state machines and
  executions, functions, buses, schedules); S3 on ``arn:aws:s3:::<bucket>/<key>``.
* **iam:PassRole** is checked on every role a request passes (CreateTrainingJob, CreateProcessingJob,
  CreateHyperParameterTuningJob, CreateAutoMLJobV2, CreateSchedule, CreateStateMachine, ...), with
  ``iam:PassedToService`` set to the service the role goes to (moto evaluates ``StringEquals`` on it).
* **Denials** answer as AWS does: ``AccessDeniedException`` (JSON services) or ``AccessDenied`` (S3, query
  services) with ``User: <assumed-role ARN> is not authorized to perform: <action> on resource: <ARN> because no
  identity-based policy allows the <action> action`` (or ``with an explicit deny``).

Not enforced (moto evaluates none of these, or the local cloud does not model them): conditions other than
``StringEquals`` on values the adapter supplies (``dynamodb:LeadingKeys``, ``s3:prefix``, ``aws:SourceArn``,
``kms:*``: listed and checked against the template by ``tests/template/test_iam_conditions.py``), trust policies
(AssumeRole by the local cloud itself is not judged), resource-based policies (bucket policies, Lambda
permissions), SCPs and session policies, EventBridge rules' deliveries (they run as the account). Each moto
behaviour relied on is pinned in ``tests/local/test_moto_pins.py`` and ``tests/local/test_iam_enforcement.py``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
from botocore.credentials import Credentials
from botocore.signers import RequestSigner
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.core.exceptions import _RESTError as _RestError
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from . import lambdas
from .iam_resources import Authorization, authorization

if TYPE_CHECKING:
    from .local_cloud import LocalCloud

__all__ = [
    "JOB_SESSION_NAME",
    "acting_as",
    "install",
    "install_cloud",
    "installed",
    "is_role_session",
    "job_s3_factory",
    "role_credentials",
    "uninstall",
    "uninstall_cloud",
]

JOB_SESSION_NAME = SESSION_NAME = "SageMaker"
STATES_SESSION_NAME = "trainops-local-states"
SCHEDULER_SESSION_NAME = "trainops-local-scheduler"

# services answering in JSON (AccessDeniedException); the others (query, rest-xml) answer AccessDenied in XML
_JSON_SERVICES = frozenset({"dynamodb", "sagemaker", "states", "lambda", "events", "scheduler", "logs", "kms"})
_REST_JSON_403 = frozenset({"lambda", "scheduler"})

_originals: dict[str, Any] = {}
_lock = threading.Lock()
_tls = threading.local()
_sessions: dict[tuple[str, str], dict[str, str]] = {}  # (role ARN, session name) -> credentials
_issued_env_keys: set[str] = set()  # access keys put in a Lambda environment: part of the default chain
_interpreter_clients: dict[tuple[str, str, str], Any] = {}
_session_keys: dict[tuple[str, str, str], bool] = {}
_parsed_policies: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------- who calls
def _access_key_id(headers: Any) -> str | None:
    auth = str(headers.get("Authorization") or "")
    if "Credential=" not in auth:
        return None
    return auth.split("Credential=", 1)[1].split("/", 1)[0]


def is_role_session(account_id: str, partition: str, access_key_id: str) -> bool:
    """Whether moto's STS issued this access key for an assumed role (AssumeRole); remembered while installed (an
    access key id is never reissued)."""
    key = (account_id, partition, access_key_id)
    known = _session_keys.get(key)
    if known is None:
        known = any(r.access_key_id == access_key_id for r in sts_backends[account_id][partition].assumed_roles)
        if installed() and (known or not access_key_id.startswith("ASIA")):  # moto's session keys start ASIA
            _session_keys[key] = known
    return known


def _role_session_request(self: Any) -> bool:
    key_id = _access_key_id(self.headers)
    return bool(
        key_id
        and self.headers.get("X-Amz-Security-Token")
        and is_role_session(self.current_account, get_partition(self.region), key_id)
    )


def role_credentials(role_arn: str, session_name: str, region: str = "us-east-1") -> dict[str, str]:
    """Credentials of ``role_arn`` from STS AssumeRole, asked by the account's administrator; one session per role
    and session name for the life of the installation (moto does not expire them)."""
    key = (role_arn, session_name)
    found = _sessions.get(key)
    if found is None:
        admin = _admin()
        sts = boto3.client(
            "sts",
            region_name=region,
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
            aws_session_token=admin.token,
        )
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
        found = {k: str(creds[k]) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
        if installed():  # cleared by uninstall(): sessions live as long as moto's state
            with _lock:
                found = _sessions.setdefault(key, found)
    return found


# --------------------------------------------------------------------------------------------- authorization
def _params(self: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in (getattr(self, "querystring", None) or {}).items():
        params[key] = value[0] if isinstance(value, list) and value else value
    parsed = getattr(self, "params", None)  # moto's own parse, where the service has it
    if isinstance(parsed, Mapping):
        params.update(parsed)
    body = self.body
    if isinstance(body, Mapping):  # DynamoDB puts its parsed parameters there
        params.update(body)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            params.update(loaded)
    for key, value in (getattr(self, "uri_match", None) or {}).items():
        params.setdefault(key, value)
    return params


def _parsed(policy: Any) -> Any:
    """moto's IAMPolicy for an inline document (text) or a managed policy, parsed once per document text."""
    from moto.iam.access_control import IAMPolicy

    # an inline document, or a managed policy: its default version's document
    text = policy if isinstance(policy, str) else next(v.document for v in policy.versions if v.is_default)
    found = _parsed_policies.get(text)
    if found is None:
        found = IAMPolicy(text)
        if len(_parsed_policies) > 4096:
            _parsed_policies.clear()
        _parsed_policies[text] = found
    return found


def _policies(access_key: Any) -> tuple[list[Any], list[Any]]:
    """The role's identity policies and its permissions boundary (empty: none)."""
    from moto.iam.access_control import IAMPolicy

    identity = [_parsed(p) for p in access_key.collect_policies()]
    boundary: list[Any] = []
    role = access_key.backend.get_role(access_key._owner_role_name)
    if role.permissions_boundary_arn:
        try:
            boundary = [IAMPolicy(access_key.backend.get_policy(role.permissions_boundary_arn))]
        except Exception:  # a boundary that no longer exists allows nothing  # noqa: BLE001  (moto raises several types for a missing policy; a missing boundary allows nothing)
            boundary = [IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": []}))]
    return identity, boundary


def _decide(policies: list[Any], action: str, resource: str, context: dict[str, str] | None) -> str:
    """``"allow"``, ``"deny"`` (explicit) or ``"none"`` (no statement allows).

    Statement by statement: moto answers DENIED for *any* statement whose condition fails, an Allow as much as a
    Deny (pinned in test_moto_pins); on AWS such a statement simply does not apply, so it is skipped here."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    allowed = False
    for policy in policies:
        statements = policy._policy_json["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            judged = IAMPolicyStatement(statement)
            if "Condition" in statement and not judged._check_conditions(context):
                continue
            result = judged.is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return "deny"
            allowed = allowed or result == PermissionResult.PERMITTED
    return "allow" if allowed else "none"


class _Denied(Exception):
    def __init__(self, principal: str, action: str, resource: str, why: str) -> None:
        self.message = f"User: {principal} is not authorized to perform: {action}" + (
            f" on resource: {resource}" if resource != "*" else ""
        )
        self.message += f" {why}" if why.startswith("with") else f" because no {why} policy allows the {action} action"
        super().__init__(self.message)


class _XmlAccessDenied(AccessDeniedError):
    """moto's AccessDenied (XML, 403) with AWS's full message (moto's names no resource)."""

    def __init__(self, message: str) -> None:
        super().__init__(user_arn="", action="")
        _RestError.__init__(self, "AccessDenied", message)


def _judge(access_key: Any, checks: list[Authorization]) -> None:
    """Raise :class:`_Denied` unless every check is allowed by the identity policies (and boundary)."""
    identity, boundary = _policies(access_key)
    principal = access_key.arn
    for check in checks:
        context = dict(check.context) or None
        needed = [(check.action, r, context) for r in check.resources]
        needed += [("iam:PassRole", role, {"iam:PassedToService": service}) for role, service in check.passed_roles]
        for action, resource, values in needed:
            decision = _decide(identity, action, resource, values)
            if decision == "deny":
                raise _Denied(principal, action, resource, "with an explicit deny in an identity-based policy")
            if decision == "none":
                raise _Denied(principal, action, resource, "identity-based")
            if boundary and _decide(boundary, action, resource, values) != "allow":
                raise _Denied(principal, action, resource, "permissions boundary")


def _signed_request(self: Any) -> Any:
    """moto's ``_create_aws_request`` signs ``body or data``: for a request without a body (a REST DELETE or GET
    with query parameters, e.g. Scheduler's DeleteSchedule) it form-encodes the parsed parameters into a payload the
    client never sent, and the signature never matches (pinned in test_moto_pins). The raw body is what was signed."""
    from botocore.awsrequest import AWSRequest

    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    # a form-encoded call (STS, IAM, SNS) arrives with its form parsed into ``data``: moto's encoding of it matches
    body = self._body or (b"" if self._method in ("GET", "DELETE", "HEAD") else self._data)
    request = AWSRequest(method=self._method, url=self._path, data=body, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


def _iam_request(self: Any, request_cls: type) -> Any:
    path = self.raw_path
    query = urlparse(self.uri).query
    if query:
        path += "?" + query
    request = request_cls(
        account_id=self.current_account,
        method=self.method,
        path=path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=self._get_action(),
    )
    request._create_aws_request = _signed_request.__get__(request)
    return request


def _authorize_normal(self: Any, resource: str = "*") -> None:
    """``ActionAuthenticatorMixin._authenticate_and_authorize_normal_action`` for role sessions (see module doc)."""
    if not _role_session_request(self):
        _originals["normal"](self, resource)
        return
    from moto.iam.access_control import IAMRequest

    request = _iam_request(self, IAMRequest)
    request.check_signature()
    signing_name = request._service
    operation = self._get_action()
    checks = authorization(
        signing_name,
        operation,
        _params(self),
        partition=get_partition(self.region),
        region=request._region,
        account=self.current_account,
    )
    if not checks:
        if request._action == "sts:GetCallerIdentity":
            return  # always allowed on AWS
        checks = [Authorization(request._action, (resource,))]  # moto's own resource (IAM, STS, SQS) or "*"
    try:
        _judge(request._access_key, checks)
    except _Denied as denied:
        if signing_name in _JSON_SERVICES:
            error = JsonRESTError("AccessDeniedException", denied.message)
            error.code = 403 if signing_name in _REST_JSON_403 else 400
            raise error from None
        raise _XmlAccessDenied(denied.message) from None


def _authorize_s3(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
    """``_authenticate_and_authorize_s3_action`` for role sessions: resource-level, as moto's own check."""
    if not _role_session_request(self):
        _originals["s3"](self, bucket_name, key_name)
        return
    from moto.iam.access_control import S3IAMRequest

    arn = f"{bucket_name or '*'}/{key_name}" if key_name else (bucket_name or "*")
    request = _iam_request(self, S3IAMRequest)
    request.check_signature()
    try:
        _judge(request._access_key, [Authorization(request._action, (f"arn:{get_partition(self.region)}:s3:::{arn}",))])
    except _Denied:
        request._raise_access_denied()


def install() -> None:
    """Judge every request made with assumed-role credentials (S3 and the other services); idempotent."""
    with _lock:
        if "normal" in _originals:
            return
        _originals["admin"] = _admin()
        _originals["normal"] = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
        _originals["s3"] = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action
        _originals["auth_instance"] = RequestSigner.get_auth_instance
        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authorize_normal  # type: ignore[method-assign]
        ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _authorize_s3  # type: ignore[method-assign]
        RequestSigner.get_auth_instance = _get_auth_instance


def uninstall() -> None:
    with _lock:
        if "normal" not in _originals:
            return
        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _originals.pop("normal")  # type: ignore[method-assign]
        ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _originals.pop("s3")  # type: ignore[method-assign]
        RequestSigner.get_auth_instance = _originals.pop("auth_instance")
        _originals.pop("admin", None)
        _sessions.clear()
        _issued_env_keys.clear()
        _interpreter_clients.clear()
        _session_keys.clear()
        _parsed_policies.clear()


def installed() -> bool:
    return "normal" in _originals


# --------------------------------------------------------------------------------------------- signing
def _thread_credentials() -> Credentials | None:
    """The credentials of the current thread's principal: set by :func:`acting_as`, else a Lambda invocation's
    environment (``lambdas`` overlay), else none (the account's administrator)."""
    explicit: Credentials | None = getattr(_tls, "credentials", None)
    if explicit is not None:
        return explicit
    env = lambdas._overlay()
    if env is not None and env.get("AWS_ACCESS_KEY_ID") in _issued_env_keys:
        return Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN"))
    return None


def _admin() -> Credentials:
    """The account's administrator: the environment's keys when enforcement was installed (moto's own while
    ``mock_aws`` runs)."""
    found: Credentials | None = _originals.get("admin")
    if found is None:
        env = os.environ
        found = Credentials(
            env.get("AWS_ACCESS_KEY_ID", "testing"),
            env.get("AWS_SECRET_ACCESS_KEY", "testing"),
            env.get("AWS_SESSION_TOKEN"),
        )
    return found


def _get_auth_instance(self: Any, *args: Any, request_credentials: Any = None, **kwargs: Any) -> Any:
    """Sign a client of the default credential chain with the credentials of the thread's principal."""
    if request_credentials is None and self._credentials is not None:
        key = getattr(self._credentials, "access_key", None)
        admin = _originals["admin"]
        if key == admin.access_key or key in _issued_env_keys:
            principal = _thread_credentials()
            if principal is not None:
                request_credentials = principal
            elif key != admin.access_key:
                request_credentials = admin  # a chain client cached inside a Lambda, used outside it
    return _originals["auth_instance"](self, *args, request_credentials=request_credentials, **kwargs)


@contextmanager
def acting_as(role_arn: str, session_name: str, region: str = "us-east-1") -> Iterator[None]:
    """Within the block, this thread's default-chain clients sign with ``role_arn``'s credentials."""
    creds = role_credentials(role_arn, session_name, region)
    previous = getattr(_tls, "credentials", None)
    _tls.credentials = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    try:
        yield
    finally:
        _tls.credentials = previous


# --------------------------------------------------------------------------------------------- the local cloud
def install_cloud(cloud: LocalCloud) -> None:
    """Enforcement for a started :class:`~.local_cloud.LocalCloud`: :func:`install`, and each Lambda, the
    interpreter and Scheduler acting with their roles (see the module docstring)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    install()
    region = cloud.region
    runner = cloud.runner
    environment_for = runner.environment_for

    def function_environment(fn: Any, request_id: str) -> dict[str, str]:
        env = environment_for(fn, request_id)
        creds = role_credentials(str(fn.role), fn.function_name, fn.region or region)
        with _lock:
            _issued_env_keys.add(creds["AccessKeyId"])
        env.update(
            AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
            AWS_SESSION_TOKEN=creds["SessionToken"],
        )
        return env

    runner.environment_for = function_environment  # type: ignore[method-assign]
    _originals["cloud.environment_for"] = (runner, environment_for)

    client_for = lambda_eval_utils.boto_client_for

    def interpreter_client(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            return client_for(region, service, state_credentials)
        key = (region, service, str(role_arn))
        found = _interpreter_clients.get(key)
        if found is None:
            from botocore.config import Config

            creds = role_credentials(str(role_arn), STATES_SESSION_NAME, region)
            found = boto3.client(
                service,
                region_name=region,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
            )
            with _lock:
                found = _interpreter_clients.setdefault(key, found)
        return found

    lambda_eval_utils.boto_client_for = interpreter_client
    _originals["cloud.boto_client_for"] = client_for

    events = cloud.events
    fire_schedule = events.fire_schedule

    def fire_as_scheduler(name: str, group: str = "default", region: str = region, **kwargs: Any) -> Any:
        from moto.scheduler.models import scheduler_backends

        account = kwargs.get("account_id") or cloud.account_id
        role_arn = scheduler_backends[account][region].get_schedule(group, name).target.get("RoleArn")
        if not role_arn:
            return fire_schedule(name, group, region=region, **kwargs)
        with acting_as(str(role_arn), SCHEDULER_SESSION_NAME, region):
            return fire_schedule(name, group, region=region, **kwargs)

    events.fire_schedule = fire_as_scheduler  # type: ignore[assignment]
    _originals["cloud.fire_schedule"] = (events, fire_schedule)


def uninstall_cloud() -> None:
    """Undo :func:`install_cloud` (before the Step Functions and Lambda adapters are uninstalled)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    if "cloud.environment_for" in _originals:
        runner, environment_for = _originals.pop("cloud.environment_for")
        runner.environment_for = environment_for
    if "cloud.boto_client_for" in _originals:
        lambda_eval_utils.boto_client_for = _originals.pop("cloud.boto_client_for")
    if "cloud.fire_schedule" in _originals:
        events, fire_schedule = _originals.pop("cloud.fire_schedule")
        events.fire_schedule = fire_schedule
    uninstall()


def job_s3_factory(region: str) -> Callable[[dict[str, Any]], Any]:
    """For the local SageMaker (``LocalSageMaker.job_s3_factory``): an S3 client with credentials of the job's
    ``RoleArn``, from STS AssumeRole, as SageMaker assumes the execution role on AWS."""

    def factory(request: dict[str, Any]) -> Any:
        creds = role_credentials(request["RoleArn"], JOB_SESSION_NAME, region)
        return boto3.client(
            "s3",
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    return factory
