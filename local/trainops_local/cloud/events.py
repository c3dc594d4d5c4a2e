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

import boto3

__all__ = ["DeliveryRecord", "EventDelivery", "render_input_transformer", "target_input"]

LOG = logging.getLogger(__name__)

_MOTO_INTERNAL_KEYS = ("ingestion-time",)
# moto gives every S3 EventBridge event the same id and sequencer; AWS ids are unique and sequencers
# increase per key, and consumers deduplicate/order on them.
_MOTO_FIXED_EVENT_ID = "17793124-05d4-b198-2fde-7ededc63b103"
_MOTO_FIXED_SEQUENCER = "617f08299329d189"
_sequencer_lock = threading.Lock()
_sequencer = [0x617F08299329D189]


# boto3 clients of the delivery threads, per (thread, service, region): creating one costs about 10 ms (an SSL
# context), which a burst of events would pay per event; EventBridge itself pays nothing of the kind.
_clients: dict[tuple[int, str, str], Any] = {}


def _client(service: str, region: str) -> Any:
    key = (threading.get_ident(), service, region)
    found = _clients.get(key)
    if found is None:
        found = _clients[key] = boto3.client(service, region_name=region)
    return found


def _fix_moto_identity(event: dict[str, Any]) -> None:
    """Give a moto S3 event a unique id and an increasing sequencer (in place, so all rules agree)."""
    if event.get("id") == _MOTO_FIXED_EVENT_ID:
        event["id"] = str(uuid.uuid4())
    obj = (event.get("detail") or {}).get("object") if isinstance(event.get("detail"), dict) else None
    if isinstance(obj, dict) and obj.get("sequencer") == _MOTO_FIXED_SEQUENCER:
        with _sequencer_lock:
            _sequencer[0] += 1
            obj["sequencer"] = f"{_sequencer[0]:016X}"


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


def _iso_time(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value:
        return value
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS delivers it to a target: ISO-8601 ``time``, no moto-internal fields."""
    out = {k: v for k, v in copy.deepcopy(event).items() if k not in _MOTO_INTERNAL_KEYS}
    out["time"] = _iso_time(out.get("time"))
    return out


def _jsonpath_first(expr: str, data: Any) -> Any:
    from jsonpath_ng.ext import parse

    matches = parse(expr).find(data)
    return matches[0].value if matches else None


def render_input_transformer(
    transformer: dict[str, Any], event: dict[str, Any], extra: dict[str, Any] | None = None
) -> Any:
    """Apply an EventBridge ``InputTransformer`` to ``event``.

    Placeholders inside a JSON string literal receive the value's JSON-escaped text (no quotes); placeholders
    outside strings receive the value as JSON (strings raw, as AWS does for plain-text templates). The
    result is parsed as JSON when it is JSON, else returned as text.
    """
    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        values[name] = _jsonpath_first(path, event)
    values.update(extra or {})
    values.setdefault("aws.events.event", event)
    values.setdefault("aws.events.event.json", event)
    template: str = transformer.get("InputTemplate", "")
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "<":
            end = template.find(">", i + 1)
            name = template[i + 1 : end] if end != -1 else None
            if name is not None and name in values:
                value = values[name]
                if in_string:
                    text = value if isinstance(value, str) else json.dumps(value)
                    out.append(json.dumps(text)[1:-1])
                elif isinstance(value, str):
                    out.append(value)
                else:
                    out.append(json.dumps(value))
                i = end + 1
                continue
        if ch == "\\" and in_string and i + 1 < len(template):
            out.append(template[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        out.append(ch)
        i += 1
    rendered = "".join(out)
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def target_input(target: dict[str, Any], event: dict[str, Any], rule_name: str = "", rule_arn: str = "") -> Any:
    """The payload EventBridge sends to ``target`` for ``event`` (Input, InputPath, InputTransformer or event)."""
    if target.get("Input") is not None:
        try:
            return json.loads(target["Input"])
        except ValueError:
            return target["Input"]
    if target.get("InputPath"):
        return _jsonpath_first(target["InputPath"], event)
    if target.get("InputTransformer"):
        extra: dict[str, Any] = {"aws.events.rule-name": rule_name, "aws.events.rule-arn": rule_arn}
        ingestion = event.get("time")
        extra["aws.events.event.ingestion-time"] = ingestion
        return render_input_transformer(target["InputTransformer"], event, extra)
    return event


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

        _clients.clear()
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
        _clients.clear()

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
            _fix_moto_identity(original_event)
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
            sqs = boto3.client("sqs", region_name=queue_arn.split(":")[3] or region)
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
            sfn = _client("stepfunctions", region)
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
            sns = boto3.client("sns", region_name=region)
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
                sfn = boto3.client("stepfunctions", region_name=region)
                params.setdefault("Name", str(uuid.uuid4()))
                resp = sfn.start_execution(
                    stateMachineArn=params["StateMachineArn"], name=params["Name"], input=params.get("Input", "{}")
                )
                record.result = str(resp["executionArn"])
            else:
                record.payload = _maybe_json(raw_input)
                record.result = self.deliver(arn, raw_input, region)
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            record.done.set()
            raise
        record.done.set()
        return record


class UnsupportedTarget(RuntimeError):
    """A rule target of a kind the local cloud does not deliver to (recorded on the delivery, never silent)."""


ASYNC_RETRIES_DEFAULT = 2  # Lambda's default MaximumRetryAttempts for asynchronous invocations


def invoke_async(function_arn: str, payload: Any, region: str) -> str:
    """An asynchronous invocation as Lambda runs it: retries, then the OnFailure destination.

    Returns ``"invoked"``; raises FunctionErrorAfterDelivery when every attempt failed (after writing the
    destination record, if the function has an OnFailure destination).
    """
    lam = _client("lambda", region)
    data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    config = _event_invoke_config(lam, function_arn)
    attempts = 1 + int(config.get("MaximumRetryAttempts", ASYNC_RETRIES_DEFAULT))
    for attempt in range(1, attempts + 1):
        resp = lam.invoke(FunctionName=function_arn, InvocationType="Event", Payload=data)
        if not resp.get("FunctionError"):
            return "invoked"
        body = resp["Payload"].read().decode("utf-8", "replace")
        LOG.warning("async invocation %d/%d of %s failed: %s", attempt, attempts, function_arn, body[:300])
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if destination:
        try:
            # moto marks every function error "Handled"; a Python handler can only fail by raising, which
            # Lambda reports as "Unhandled"
            _send_failure_record(destination, function_arn, payload, "Unhandled", body, attempts, region)
        except Exception:  # a function error is never an EventBridge delivery failure (no rule DLQ)
            LOG.exception("could not send the OnFailure record of %s to %s", function_arn, destination)
    raise FunctionErrorAfterDelivery(f"{resp['FunctionError']} function error after {attempts} attempt(s): {body}")


def _event_invoke_config(lam: Any, function_arn: str) -> dict[str, Any]:
    try:
        return dict(lam.get_function_event_invoke_config(FunctionName=function_arn))
    except lam.exceptions.ResourceNotFoundException:
        return {}


def _send_failure_record(
    destination: str, function_arn: str, payload: Any, function_error: str, body: str, attempts: int, region: str
) -> None:
    """The record Lambda sends to an OnFailure destination (the SQS message body)."""
    if destination.split(":")[2] != "sqs":
        raise UnsupportedTarget(f"OnFailure destination {destination}: only SQS is delivered locally")
    record = {
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _maybe_json(payload) if isinstance(payload, str) else payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": function_error},
        "responsePayload": _maybe_json(body),
    }
    _, _, _, queue_region, account, name = destination.split(":", 5)
    sqs = boto3.client("sqs", region_name=queue_region or region)
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))


class FunctionErrorAfterDelivery(RuntimeError):
    """The event reached the Lambda function, whose handler then failed (not a delivery failure)."""


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
