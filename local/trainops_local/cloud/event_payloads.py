"""What an EventBridge target receives, as AWS shapes it: the event (ISO ``time``, no moto-internal fields, a
unique id and an increasing S3 sequencer where moto gives every S3 event the same ones), or the target's
``Input`` / ``InputPath`` / ``InputTransformer`` result. Used by :mod:`trainops_local.cloud.events`."""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import uuid
from typing import Any

__all__ = ["aws_event", "fix_moto_identity", "maybe_json", "render_input_transformer", "target_input"]

_MOTO_INTERNAL_KEYS = ("ingestion-time",)
# moto gives every S3 EventBridge event the same id and sequencer; AWS ids are unique and sequencers
# increase per key, and consumers deduplicate/order on them.
_MOTO_FIXED_EVENT_ID = "17793124-05d4-b198-2fde-7ededc63b103"
_MOTO_FIXED_SEQUENCER = "617f08299329d189"
_sequencer_lock = threading.Lock()
_sequencer = [0x617F08299329D189]


def fix_moto_identity(event: dict[str, Any]) -> None:
    """Give a moto S3 event a unique id and an increasing sequencer (in place, so all rules agree)."""
    if event.get("id") == _MOTO_FIXED_EVENT_ID:
        event["id"] = str(uuid.uuid4())
    obj = (event.get("detail") or {}).get("object") if isinstance(event.get("detail"), dict) else None
    if isinstance(obj, dict) and obj.get("sequencer") == _MOTO_FIXED_SEQUENCER:
        with _sequencer_lock:
            _sequencer[0] += 1
            obj["sequencer"] = f"{_sequencer[0]:016X}"


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


def maybe_json(text: str) -> Any:
    """``text`` parsed as JSON, or as it is when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text
