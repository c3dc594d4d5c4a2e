"""``LocalCloud``: the embedded moto with every local adaptation installed, as one context manager."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import boto3

from . import dispatch, dynamodb, iam_enforcement, s3, sfn, validation
from .deploy import StackOutputs, deploy
from .events import DeliveryRecord, EventDelivery
from .lambdas import LambdaRunner
from .persistence import LocalState

__all__ = ["TERMINAL_EXECUTION_STATUSES", "LocalCloud"]

log = logging.getLogger(__name__)

TERMINAL_EXECUTION_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"})

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}
_CLEARED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)

Hook = Callable[["LocalCloud"], None]
IAM_ENV = "TRAINOPS_LOCAL_IAM"


def iam_from_environment() -> bool:
    """Whether ``$TRAINOPS_LOCAL_IAM`` turns IAM enforcement on (``1``, ``true``, ``yes``, ``on``)."""
    value = os.environ.get(IAM_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{IAM_ENV}={value!r}: expected 1/true/yes/on or 0/false/no/off")


class LocalCloud:
    """One in-process AWS: moto with Step Functions execution, strict validation, in-process Lambda,
    EventBridge delivery to Lambda/Step Functions, and a SAM deployer.

    Usage::

        cloud = LocalCloud(Path(".trainops"))
        cloud.on_start.append(lambda c: sagemaker_backend.install(c))  # adapters, run after start
        with cloud:
            stack = cloud.deploy(Path("template.yaml"), "trainops", {"Stage": "local"})
            cloud.client("s3").put_object(...)
            cloud.wait_idle(10)

    Hooks in ``on_start`` run (in order) after moto and every patch are in place; hooks in ``on_stop``
    run first on exit, in reverse order.

    With ``state`` (a :class:`~.persistence.LocalState`), what the commands produce persists in its workdir:
    ``start()`` checks and locks it, the first ``deploy()`` lays the saved records over the new stack,
    ``checkpoint()`` and ``stop()`` save them (a cloud that never deployed saves nothing).
    """

    def __init__(
        self,
        workdir: Path,
        region: str = "us-east-1",
        *,
        strict_validation: bool = True,
        event_workers: int = 4,
        moto_config: Mapping[str, Any] | None = None,
        state: LocalState | None = None,
        iam: bool | None = None,
    ) -> None:
        self.workdir = Path(workdir).absolute()  # jobs and handlers run in other folders: never relative
        self.state = state
        self._restored = False
        self.region = region
        self.strict_validation = strict_validation
        # IAM enforced for every role's call (trainops_local.cloud.iam_enforcement); default: $TRAINOPS_LOCAL_IAM
        self.iam = iam_from_environment() if iam is None else iam
        self.on_start: list[Hook] = []
        self.on_stop: list[Hook] = []
        self.runner = LambdaRunner(self.workdir)
        self.events = EventDelivery(max_workers=event_workers)
        self.stacks: dict[str, StackOutputs] = {}
        self._moto_config: dict[str, Any] = {
            "stepfunctions": {"execute_state_machine": True},
            "core": {"reset_boto3_session": True},
        }
        for key, value in (moto_config or {}).items():
            self._moto_config[key] = {**self._moto_config.get(key, {}), **dict(value)}
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[tuple[str, int], Any] = {}
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        """Start moto and install every adaptation (see the class docstring); returns ``self``."""
        if self._started:
            return self
        import moto

        self._threads_before = {t.ident for t in threading.enumerate()}
        if self.state is not None:
            self.state.open()  # refuses an incompatible or busy workdir before anything starts
            self._restored = False
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(_FAKE_ENV, AWS_DEFAULT_REGION=self.region, AWS_REGION=self.region)
        for key in (*env, *_CLEARED_ENV):
            self._saved_env[key] = os.environ.get(key)
        for key in _CLEARED_ENV:
            os.environ.pop(key, None)
        os.environ.update(env)
        boto3.DEFAULT_SESSION = None
        self._mock = moto.mock_aws(config=cast(Any, self._moto_config))
        try:
            self._mock.start()
        except BaseException:
            if self.state is not None:
                self.state.close()
            raise
        self._started = True
        try:
            if self.strict_validation:
                validation.install()
            dispatch.install()
            sfn.install()
            s3.install()
            dynamodb.install()
            self.runner.install()
            self.events.install()
            if self.iam:
                iam_enforcement.install_cloud(self)
            for hook in self.on_start:
                hook(self)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Run ``on_stop`` hooks, uninstall every patch, stop moto and restore the environment."""
        if not self._started:
            return
        errors: list[BaseException] = []
        try:
            self._stop_running_executions()
        except Exception as exc:  # noqa: BLE001  (stop collects every failure and raises them together, so one cannot skip the rest)
            errors.append(exc)
        for hook in reversed(self.on_stop):
            try:
                hook(self)
            except Exception as exc:  # noqa: BLE001  (stop collects every failure and raises them together, so one cannot skip the rest)
                errors.append(exc)
        iam_enforcement.uninstall_cloud()
        self.events.uninstall()
        self.runner.uninstall()
        sfn.uninstall()
        dispatch.uninstall()
        s3.uninstall()
        dynamodb.uninstall()
        validation.uninstall()
        self._clients.clear()
        self._wait_for_own_threads(timeout=30.0)
        try:
            self._save_state()
        except Exception as exc:  # noqa: BLE001  (stop collects every failure and raises them together, so one cannot skip the rest)
            errors.append(exc)
        try:
            self._mock.stop()
        finally:
            if self.state is not None:
                self.state.close()
            self._mock = None
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env.clear()
            boto3.DEFAULT_SESSION = None
            self._started = False
        if errors:
            raise errors[0]

    def _stop_running_executions(self) -> None:
        """Nothing is left running: every RUNNING execution is stopped (as StopExecution does on AWS), so no
        interpreter thread outlives this cloud and writes into the next one's backends."""
        sfn_client = self.client("stepfunctions")
        for machine in sfn_client.list_state_machines().get("stateMachines", []):
            # the first page of what still runs, again until nothing does: moto's page token fails once the
            # execution it names has ended (pinned in tests/local/test_moto_pins.py), as stopping makes them;
            # a stop takes effect when the interpreter thread notices it (stopping again is harmless); bounded,
            # since a stopped run's last task may still start a follow-up
            for attempt in range(100):
                running = sfn_client.list_executions(
                    stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING", maxResults=1000
                )["executions"]
                if not running:
                    break
                if attempt:
                    time.sleep(0.05)
                for execution in running:
                    sfn_client.stop_execution(
                        executionArn=execution["executionArn"],
                        error="LocalCloudStopped",
                        cause="the local cloud stopped",
                    )
        sfn.interrupt_stopped_waits()
        with contextlib.suppress(TimeoutError):
            self.events.wait_idle(10.0)

    def _wait_for_own_threads(self, timeout: float) -> None:
        """Wait (bounded) for the threads started while this cloud ran to end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            extra = [t for t in threading.enumerate() if t.ident not in self._threads_before and t.is_alive()]
            if not extra:
                return
            time.sleep(0.05)
        log.warning("threads still running after the local cloud stopped: %s", [t.name for t in extra])

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def started(self) -> bool:
        """Whether the cloud is running."""
        return self._started

    # -- deploy -----------------------------------------------------------------------------------------
    def deploy(
        self, template_path: Path, stack_name: str = "trainops", parameters: Mapping[str, Any] | None = None
    ) -> StackOutputs:
        """Deploy a SAM template (see :func:`trainops_local.cloud.deploy.deploy`); functions run in-process."""
        self._require_started()
        stack = deploy(
            Path(template_path),
            stack_name,
            parameters,
            region=self.region,
            on_function=self.runner.register,
        )
        self.stacks[stack_name] = stack
        if self.state is not None and not self._restored:
            started = time.monotonic()
            self.state.restore(self.region, self.account_id)
            self._restored = True
            log.debug("local cloud state restored in %.3f s", time.monotonic() - started)
        return stack

    # -- persistence ------------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Save the state now (with ``state``, after a deploy): a later crash loses only what follows."""
        self._require_started()
        self._save_state()

    def _save_state(self) -> None:
        if self.state is not None and self._restored:
            started = time.monotonic()
            self.state.save(self.region, self.account_id)
            log.debug("local cloud state saved in %.3f s", time.monotonic() - started)

    # -- clients and helpers ----------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in this cloud's region (cached per thread)."""
        self._require_started()
        key = (service, threading.get_ident())
        if key not in self._clients:
            self._clients[key] = boto3.client(service, region_name=self.region)
        return self._clients[key]

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no EventBridge delivery is queued or in flight (``TimeoutError`` after ``timeout``)."""
        self.events.wait_idle(timeout)

    def wait_execution(self, execution_arn: str, timeout: float = 60.0, poll: float = 0.05) -> dict[str, Any]:
        """Poll an execution until it reaches ANY terminal status; ``TimeoutError`` after ``timeout`` seconds."""
        sfn_client = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            desc: dict[str, Any] = sfn_client.describe_execution(executionArn=execution_arn)
            if desc["status"] in TERMINAL_EXECUTION_STATUSES:
                return desc
            if time.monotonic() >= deadline:
                raise TimeoutError(f"execution {execution_arn} still {desc['status']} after {timeout}s")
            time.sleep(poll)

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """All history events of an execution, oldest first."""
        sfn_client = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn_client.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def fire_schedule_rule(self, rule_name: str, event_bus_name: str = "default") -> list[DeliveryRecord]:
        """Fire an EventBridge schedule rule once (deliveries are asynchronous: see :meth:`wait_idle`)."""
        self._require_started()
        return self.events.fire_schedule_rule(rule_name, event_bus_name, region=self.region, account_id=self.account_id)

    def fire_schedule(self, name: str, group: str = "default") -> DeliveryRecord:
        """Fire an EventBridge Scheduler schedule once, synchronously."""
        self._require_started()
        return self.events.fire_schedule(name, group, region=self.region, account_id=self.account_id)

    def redeliver_event(self, event: dict[str, Any], event_bus_name: str = "default") -> list[DeliveryRecord]:
        """Deliver an event again to the rules it matches, as EventBridge's at-least-once delivery may
        (asynchronously: see :meth:`wait_idle`)."""
        self._require_started()
        return self.events.redeliver(event, event_bus_name, region=self.region, account_id=self.account_id)

    @property
    def account_id(self) -> str:
        """The moto account id."""
        from moto.core import DEFAULT_ACCOUNT_ID

        return str(DEFAULT_ACCOUNT_ID)

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("LocalCloud is not started: use it as a context manager or call start()")
