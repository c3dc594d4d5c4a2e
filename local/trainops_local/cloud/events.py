"""EventBridge delivery that moto 5.2.5 lacks: Lambda and Step Functions targets, schedules.

moto matches events against rules but delivers only to SQS, CloudWatch Logs, archives, other buses and API
destinations; a Step Functions target raises NotImplementedError (and on the S3 path that error is
swallowed and stops delivery to later rules); InputTransformer is ignored for S3-sourced events; a
schedule-only rule matches every event; disabled rules still fire; schedules never fire; every S3 PutObject
also emits a spurious ``Object Tags Added`` event.

:class:`EventDelivery` replaces ``moto.events.models.Rule.send_to_targets`` so that, for each matching,
enabled rule, each target is delivered independently (a failing target never stops the others):

* Lambda targets: an asynchronous ``Invoke`` (``InvocationType=Event``) through moto, i.e. the in-process
  runner, from a small worker pool, with Lambda's asynchronous semantics: a function error is retried up to
  the function's ``EventInvokeConfig.MaximumRetryAttempts`` (default 2; AWS waits about 1 and 2 minutes
  between attempts, locally they follow at once), then the invocation record goes to its ``OnFailure``
  destination (SQS) as Lambda writes it;
* Step Functions targets: ``StartExecution`` with a generated unique name, from the worker pool;
* SNS targets (moto raises NotImplementedError for them): ``Publish`` of the payload (text as it is, JSON
  otherwise), from the worker pool, so the topic's subscriptions (an SQS queue in a test) receive it;
* every other target: moto's own delivery (with InputTransformer now honoured for S3 events too).

The payload is the event in AWS's shape (ISO ``time``, no moto-internal fields) or the target's
``Input`` / ``InputPath`` / ``InputTransformer`` result. :meth:`EventDelivery.fire_schedule_rule` and
:meth:`EventDelivery.fire_schedule` fire EventBridge schedule rules and EventBridge Scheduler schedules on
demand; :meth:`EventDelivery.redeliver` delivers an event again to the rules it matches, as EventBridge's
at-least-once delivery may; :meth:`EventDelivery.wait_idle` waits for queued/in-flight deliveries.

The payloads are shaped in :mod:`trainops_local.cloud.event_payloads`, Lambda's asynchronous invocation (retries,
OnFailure record) is :mod:`trainops_local.cloud.async_invoke`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from trainops_local.cloud.async_invoke import (
    FunctionErrorAfterDelivery,
    UnsupportedTarget,
    clear_clients,
    invoke_async,
    thread_client,
)
from trainops_local.cloud.event_payloads import (
    aws_event,
    fix_moto_identity,
    maybe_json,
    render_input_transformer,
    target_input,
)

__all__ = ["DeliveryRecord", "EventDelivery", "render_input_transformer", "target_input"]

LOG = logging.getLogger(__name__)


@dataclass
class DeliveryRecord:
    """One delivery attempt of an event (or schedule firing) to one target."""

    source: str  # rule ARN or schedule ARN
    target_arn: str
    target_id: str
    payload: Any
    result: str | None = None  # execution ARN, or "invoked"
    error: str | None = None
    dead_letter_arn: str | None = None  # the target's DeadLetterConfig (an SQS queue)
    dead_lettered: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class EventDelivery:
    """Installs the EventBridge/S3 patches and delivers to Lambda and Step Functions targets."""

    def __init__(self, max_workers: int = 4) -> None:
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._cond = threading.Condition()
        self._pending = 0
        self._originals: dict[str, Any] = {}
        self._tagging_api = threading.local()
        self.records: list[DeliveryRecord] = []

    # -- install ----------------------------------------------------------------------------------------
    def install(self) -> None:
        """Patch moto's ``Rule.send_to_targets`` and S3 event emission; start the worker pool."""
        if self._originals:
            return
        import moto.s3.notifications as s3n
        from moto.events.models import Rule
        from moto.s3.responses import S3Response

        clear_clients()
        self._pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="eventbridge")
        self._originals = {
            "send_to_targets": Rule.__dict__["send_to_targets"],
            "s3_send_event": s3n.send_event,
            "s3_put_object_tagging": S3Response.__dict__["put_object_tagging"],
        }
        delivery = self
        original_send = self._originals["send_to_targets"]

        def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
            delivery._send_to_targets(rule, original_event, transform_input, original_send)

        original_s3_send = self._originals["s3_send_event"]

        def s3_send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            # moto calls put_object_tagging (and so emits "Object Tags Added") on every PutObject, copy and
            # multipart completion; AWS emits it only for the PutObjectTagging API.
            if event_name == s3n.S3NotificationEvent.OBJECT_TAGGING_PUT_EVENT and not getattr(
                delivery._tagging_api, "active", False
            ):
                return
            original_s3_send(account_id, event_name, bucket, key)

        original_tagging = self._originals["s3_put_object_tagging"]

        def put_object_tagging(response: Any) -> Any:
            delivery._tagging_api.active = True
            try:
                return original_tagging(response)
            finally:
                delivery._tagging_api.active = False

        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
        s3n.send_event = s3_send_event
        S3Response.put_object_tagging = put_object_tagging  # type: ignore[method-assign,assignment]

    def uninstall(self, wait: float = 5.0) -> None:
        """Restore moto, after waiting up to ``wait`` seconds for in-flight deliveries."""
        if not self._originals:
            return
        import moto.s3.notifications as s3n
        from moto.events.models import Rule
        from moto.s3.responses import S3Response

        try:
            self.wait_idle(wait)
        except TimeoutError:
            LOG.warning("EventBridge deliveries still in flight at shutdown")
        Rule.send_to_targets = self._originals["send_to_targets"]  # type: ignore[method-assign]
        s3n.send_event = self._originals["s3_send_event"]
        S3Response.put_object_tagging = self._originals["s3_put_object_tagging"]  # type: ignore[method-assign]
        self._originals = {}
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        clear_clients()

    # -- matching and fan-out ---------------------------------------------------------------------------
    @staticmethod
    def rule_matches(rule: Any, event: dict[str, Any]) -> bool:
        """AWS matching: enabled rules only; a schedule-only rule (no pattern) matches no event."""
        if rule.state != "ENABLED":
            return False
        if not rule.event_pattern.get_pattern():
            return False
        return bool(rule.event_pattern.matches_event(event))

    def _send_to_targets(
        self, rule: Any, original_event: Any, transform_input: bool, original_send: Callable[..., None]
    ) -> None:
        try:
            fix_moto_identity(original_event)
            if not self.rule_matches(rule, original_event):
                return
        except Exception:
            LOG.exception("EventBridge rule %s: pattern evaluation failed", rule.name)
            return
        self._deliver_to_targets(rule, rule.targets, original_event, transform_input, original_send)

    def _deliver_to_targets(
        self,
        rule: Any,
        targets: list[dict[str, Any]],
        original_event: dict[str, Any],
        transform_input: bool,
        original_send: Callable[..., None] | None,
    ) -> list[DeliveryRecord]:
        records: list[DeliveryRecord] = []
        for target in list(targets):
            arn: str = target.get("Arn", "")
            service = arn.split(":")[2] if arn.count(":") >= 5 else ""
            try:
                if service in ("lambda", "states", "sns"):
                    event = aws_event(original_event)
                    payload = target_input(target, event, rule.name, rule.arn)
                    record = DeliveryRecord(
                        rule.arn,
                        arn,
                        target.get("Id", ""),
                        payload,
                        dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                    )
                    records.append(record)
                    self._submit(record, rule.region_name)
                else:
                    if original_send is None:
                        raise UnsupportedTarget(
                            f"delivery to {arn} is not supported by fire_schedule_rule or redeliver"
                        )
                    single = copy.copy(rule)
                    single.targets = [target]
                    event = dict(original_event)
                    event.setdefault("ingestion-time", event.get("time"))
                    single_transform = transform_input or bool(target.get("InputTransformer"))
                    if single_transform and not isinstance(event.get("ingestion-time"), int | float):
                        event["ingestion-time"] = dt.datetime.now(dt.UTC).timestamp()
                    original_send(single, event, single_transform)
            except Exception as exc:
                LOG.exception("EventBridge rule %s: delivery to %s failed", rule.name, arn)
                failed = DeliveryRecord(rule.arn, arn, target.get("Id", ""), None, error=f"{type(exc).__name__}: {exc}")
                failed.done.set()
                self.records.append(failed)
                records.append(failed)
        return records

    # -- the worker pool ---------------------------------------------------------------------------------
    def _submit(self, record: DeliveryRecord, region: str) -> None:
        if self._pool is None:
            raise RuntimeError("EventDelivery is not installed")
        with self._cond:
            self._pending += 1
        self.records.append(record)
        try:
            self._pool.submit(self._run, record, region)
        except Exception:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()
            raise

    def _run(self, record: DeliveryRecord, region: str) -> None:
        try:
            record.result = self.deliver(record.target_arn, record.payload, region)
        except FunctionErrorAfterDelivery as exc:
            # Delivered: the function's own failure is Lambda's business (async retries/destinations).
            record.error = str(exc)
        except Exception as exc:  # noqa: BLE001  (any failure of a delivery is recorded on it, as EventBridge records failed invocations)
            LOG.warning("EventBridge delivery to %s failed: %s", record.target_arn, exc)
            record.error = f"{type(exc).__name__}: {exc}"
            if record.dead_letter_arn:
                self._dead_letter(record, region, exc)
        finally:
            record.done.set()
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    @staticmethod
    def _dead_letter(record: DeliveryRecord, region: str, exc: Exception) -> None:
        """Send an undeliverable event to the target's DLQ, with the attributes EventBridge adds."""
        try:
            queue_arn = str(record.dead_letter_arn)
            sqs = thread_client("sqs", queue_arn.split(":")[3] or region)
            url = sqs.get_queue_url(QueueName=queue_arn.split(":")[5], QueueOwnerAWSAccountId=queue_arn.split(":")[4])
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            sqs.send_message(
                QueueUrl=url["QueueUrl"],
                MessageBody=record.payload if isinstance(record.payload, str) else json.dumps(record.payload),
                MessageAttributes={
                    "RULE_ARN": {"DataType": "String", "StringValue": record.source},
                    "TARGET_ARN": {"DataType": "String", "StringValue": record.target_arn},
                    "ERROR_CODE": {"DataType": "String", "StringValue": str(code)[:256]},
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(exc)[:256] or "error"},
                },
            )
            record.dead_lettered = True
        except Exception:
            LOG.exception("EventBridge: could not dead-letter the event for %s", record.target_arn)

    @staticmethod
    def deliver(target_arn: str, payload: Any, region: str, name_prefix: str = "") -> str:
        """Deliver ``payload`` to a Lambda (async invoke), Step Functions (StartExecution) or SNS (Publish) target,
        now.

        Returns the execution ARN (Step Functions), ``"invoked"`` (Lambda) or the message id (SNS); raises on failure.
        """
        service = target_arn.split(":")[2]
        region = target_arn.split(":")[3] or region
        if service == "states":
            sfn = thread_client("stepfunctions", region)
            body = payload if isinstance(payload, str) else json.dumps(payload)
            if isinstance(payload, str):
                try:
                    json.loads(payload)
                except ValueError:
                    body = json.dumps(payload)
            name = f"{name_prefix}{uuid.uuid4()}"[:80]
            resp = sfn.start_execution(stateMachineArn=target_arn, name=name, input=body)
            return str(resp["executionArn"])
        if service == "lambda":
            return invoke_async(target_arn, payload, region)
        if service == "sns":
            # EventBridge publishes a transformer's text as it is (an email shows it verbatim), anything else as JSON
            message = payload if isinstance(payload, str) else json.dumps(payload)
            sns = thread_client("sns", region)
            return str(sns.publish(TopicArn=target_arn, Message=message)["MessageId"])
        raise UnsupportedTarget(f"target type {service!r} ({target_arn}) is not delivered locally")

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until no delivery is queued or in flight; ``TimeoutError`` after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise TimeoutError(f"{self._pending} EventBridge deliveries still in flight after {timeout}s")

    @property
    def pending(self) -> int:
        """Deliveries queued or in flight."""
        return self._pending

    def errors(self) -> list[DeliveryRecord]:
        """Failed deliveries so far."""
        return [r for r in self.records if r.error]

    def redeliver(
        self,
        event: dict[str, Any],
        event_bus_name: str = "default",
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> list[DeliveryRecord]:
        """Deliver ``event`` again, as EventBridge's at-least-once delivery may: to every enabled rule of the bus
        whose pattern it matches, through the same targets, Input and transformers as the first delivery.

        ``event`` is the event as a target received it (e.g. an execution's input); change its ``time`` or
        ``id`` to re-announce it. Only Lambda and Step Functions targets are redelivered (queued: see
        :meth:`wait_idle`); others raise ``UnsupportedTarget`` into the returned records.
        """
        from moto.events.models import events_backends

        bus = events_backends[account_id][region]._get_event_bus(event_bus_name)
        records: list[DeliveryRecord] = []
        for rule in list(bus.rules.values()):
            if self.rule_matches(rule, event):
                records.extend(self._deliver_to_targets(rule, rule.targets, event, True, None))
        return records

    # -- schedules -------------------------------------------------------------------------------------
    def fire_schedule_rule(
        self,
        rule_name: str,
        event_bus_name: str = "default",
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> list[DeliveryRecord]:
        """Fire an EventBridge schedule rule once: a ``Scheduled Event`` to each of its targets.

        Lambda/Step Functions deliveries are queued (use :meth:`wait_idle`); others are delivered inline.
        """
        from moto.events.models import events_backends

        backend = events_backends[account_id][region]
        rule = backend.describe_rule(rule_name, event_bus_name)
        if not rule.scheduled_expression:
            raise ValueError(f"rule {rule_name!r} has no ScheduleExpression")
        if rule.state != "ENABLED":
            return []
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account_id,
            "time": dt.datetime.now(dt.UTC).timestamp(),
            "region": region,
            "resources": [rule.arn],
            "detail": {},
        }
        original = self._originals.get("send_to_targets")
        return self._deliver_to_targets(rule, rule.targets, event, True, original)

    def fire_schedule(
        self,
        name: str,
        group: str = "default",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        scheduled_time: dt.datetime | None = None,
    ) -> DeliveryRecord:
        """Fire an EventBridge Scheduler schedule once, synchronously, and return the delivery record.

        The target's ``Input`` has the context attributes ``<aws.scheduler.scheduled-time>``,
        ``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>`` and
        ``<aws.scheduler.schedule-arn>`` resolved. Supported targets: Step Functions state machines and
        Lambda functions (templated targets), and the universal ``aws-sdk:sfn:startExecution`` target.
        """
        from moto.scheduler.models import scheduler_backends

        schedule = scheduler_backends[account_id][region].get_schedule(group, name)
        target = dict(schedule.target)
        when = (scheduled_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        context = {
            "aws.scheduler.scheduled-time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws.scheduler.execution-id": str(uuid.uuid4()),
            "aws.scheduler.attempt-number": "1",
            "aws.scheduler.schedule-arn": schedule.arn,
        }
        raw_input: str = target.get("Input") or "{}"
        for key, value in context.items():
            raw_input = raw_input.replace(f"<{key}>", json.dumps(value)[1:-1])
        arn: str = target["Arn"]
        record = DeliveryRecord(schedule.arn, arn, name, raw_input)
        self.records.append(record)
        try:
            if schedule.state != "ENABLED":
                raise RuntimeError(f"schedule {group}/{name} is {schedule.state}")
            if arn.endswith(":aws-sdk:sfn:startExecution"):
                params = json.loads(raw_input)
                sfn = thread_client("stepfunctions", region)
                params.setdefault("Name", str(uuid.uuid4()))
                resp = sfn.start_execution(
                    stateMachineArn=params["StateMachineArn"], name=params["Name"], input=params.get("Input", "{}")
                )
                record.result = str(resp["executionArn"])
            else:
                record.payload = maybe_json(raw_input)
                record.result = self.deliver(arn, raw_input, region)
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            record.done.set()
            raise
        record.done.set()
        return record
