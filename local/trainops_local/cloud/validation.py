"""Strict, AWS-like request validation for every boto3 client in the process.

botocore validates only types, required members and *minimum* lengths client-side; AWS also rejects
values outside an enum, strings that do not match the model's ``pattern``, strings/lists/maps longer
than ``max`` and numbers outside ``min``/``max``. Locally nobody does (moto accepts
``TrainingInputMode="Streaming"``), so this module adds those checks as a ``before-parameter-build``
handler, derived from the same botocore service model.

Notes:

* The model's patterns are Java regexes. They are compiled with the ``regex`` module (which knows
  ``\\p{L}``, ``\\p{Alnum}`` ...), after translating Java's surrogate-pair ranges; a pattern that still
  does not compile is skipped (only that pattern) and counted in :data:`SKIPPED_PATTERNS`.
* Patterns are matched against the whole value (Java ``Pattern.matches``), so an unanchored
  ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` also caps the length at 63.
* Values of an unexpected Python type are left to botocore's own validator (some clients, like the one
  moto's Step Functions interpreter builds, disable it; AWS would coerce or reject server-side).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.handlers
import regex
from botocore.exceptions import ParamValidationError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

__all__ = [
    "SKIPPED_PATTERNS",
    "StrictParamValidationError",
    "Violation",
    "install",
    "is_installed",
    "uninstall",
    "validate_request",
]

_EVENT = "before-parameter-build"

# Java writes astral code points as surrogate pairs inside character classes; Python/regex need them as
# real code points.
_JAVA_SURROGATE_RANGES = {
    r"\uD800\uDC00-\uDBFF\uDFFF": r"\U00010000-\U0010FFFF",
}

SKIPPED_PATTERNS: Counter[str] = Counter()
"""Model patterns that could not be compiled (and are therefore not enforced), with hit counts."""

_pattern_cache: dict[str, regex.Pattern[str] | None] = {}
_checker_cache: dict[tuple[str, str], _Checker] = {}
_cache_lock = threading.Lock()
_state = {"installed": False}
_registered_sessions: list[Any] = []


@dataclass(frozen=True)
class Violation:
    """One constraint a request parameter breaks."""

    path: str
    constraint: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail} (constraint: {self.constraint})"


class StrictParamValidationError(ParamValidationError):
    """A request that AWS would reject with a ValidationException, caught before it reaches moto.

    A ``botocore.exceptions.ParamValidationError``, so callers see a normal boto error. ``operation``
    is ``"<service>.<Operation>"`` and ``violations`` lists every broken constraint.
    """

    def __init__(self, operation: str, violations: list[Violation]) -> None:
        self.operation = operation
        self.violations = violations
        lines = "\n".join(f"  {v}" for v in violations)
        super().__init__(report=f"{operation} rejected by strict local validation:\n{lines}")


def _compile_pattern(pattern: str) -> regex.Pattern[str] | None:
    cached = _pattern_cache.get(pattern, _MISSING)
    if cached is not _MISSING:
        return cached
    translated = pattern
    for java, python in _JAVA_SURROGATE_RANGES.items():
        translated = translated.replace(java, python)
    compiled: regex.Pattern[str] | None
    try:
        compiled = regex.compile(translated)
    except (regex.error, ValueError, OverflowError):
        compiled = None
    _pattern_cache[pattern] = compiled
    return compiled


_MISSING = object()

_Check = Callable[[Any, str, list[Violation]], None]


class _Checker:
    """Validates one operation's input against its (pre-walked) shape."""

    def __init__(self, shape: Shape | None) -> None:
        self._check = _build(shape, {}) if shape is not None else None

    def __call__(self, params: Any) -> list[Violation]:
        violations: list[Violation] = []
        if self._check is not None:
            self._check(params, "", violations)
        return violations


def _short(value: str, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _build(shape: Shape, memo: dict[str, list[_Check | None]]) -> _Check | None:
    """Compile a shape into a checking closure (``None`` when the shape has nothing to check).

    Named shapes are compiled once per operation (``memo``); a recursive reference (DynamoDB's
    ``AttributeValue``, SageMaker's ``SearchExpression``) resolves lazily through the memo cell.
    """
    name = shape.name
    if name in memo:
        cell = memo[name]
        if cell and cell[0] is not _IN_PROGRESS:
            return cell[0]

        def lazy(value: Any, path: str, out: list[Violation]) -> None:
            chk = cell[0]
            if chk is not None and chk is not _IN_PROGRESS:
                chk(value, path, out)

        return lazy
    cell = [_IN_PROGRESS]
    memo[name] = cell
    built = _build_shape(shape, memo)
    cell[0] = built
    return built


def _IN_PROGRESS(_value: Any, _path: str, _out: list[Violation]) -> None:  # sentinel
    return None


def _build_shape(shape: Shape, memo: dict[str, list[_Check | None]]) -> _Check | None:  # noqa: PLR0911, PLR0915  (one return per botocore shape type)
    meta = shape.metadata
    tname = shape.type_name
    if isinstance(shape, StructureShape):
        members: list[tuple[str, _Check]] = []
        for name, member in shape.members.items():
            chk = _build(member, memo)
            if chk is not None:
                members.append((name, chk))
        if not members:
            return None

        def check_struct(value: Any, path: str, out: list[Violation]) -> None:
            if not isinstance(value, dict):
                return
            for name, chk in members:
                if name in value and value[name] is not None:
                    chk(value[name], _join(path, name), out)

        return check_struct
    if isinstance(shape, ListShape):
        item_chk = _build(shape.member, memo)
        max_len = meta.get("max")

        def check_list(value: Any, path: str, out: list[Violation]) -> None:
            if not isinstance(value, list | tuple):
                return
            if max_len is not None and len(value) > max_len:
                out.append(Violation(path, f"max={max_len}", f"list of {len(value)} items, at most {max_len} allowed"))
            if item_chk is not None:
                for i, item in enumerate(value):
                    item_chk(item, f"{path}[{i}]", out)

        return check_list if (item_chk is not None or max_len is not None) else None
    if isinstance(shape, MapShape):
        key_chk = _build(shape.key, memo)
        val_chk = _build(shape.value, memo)
        max_len = meta.get("max")

        def check_map(value: Any, path: str, out: list[Violation]) -> None:
            if not isinstance(value, dict):
                return
            if max_len is not None and len(value) > max_len:
                out.append(Violation(path, f"max={max_len}", f"map of {len(value)} entries, at most {max_len} allowed"))
            for k, v in value.items():
                if key_chk is not None:
                    key_chk(k, f"{path}(key {k!r})", out)
                if val_chk is not None and v is not None:
                    val_chk(v, f"{path}.{k}", out)

        return check_map if (key_chk or val_chk or max_len is not None) else None
    if tname == "string":
        enum = set(shape.enum) if getattr(shape, "enum", None) else None
        max_len = meta.get("max")
        pattern_src = meta.get("pattern")
        pattern = _compile_pattern(pattern_src) if pattern_src else None
        skipped_pattern = pattern_src if (pattern_src and pattern is None) else None
        if enum is None and max_len is None and pattern_src is None:
            return None

        def check_string(value: Any, path: str, out: list[Violation]) -> None:
            if not isinstance(value, str):
                return
            if enum is not None and value not in enum:
                shown = ", ".join(sorted(enum)[:12]) + (", ..." if len(enum) > 12 else "")
                out.append(Violation(path, "enum", f"{_short(value)} is not one of [{shown}]"))
                return
            if max_len is not None and len(value) > max_len:
                out.append(Violation(path, f"max={max_len}", f"length {len(value)}, at most {max_len} characters"))
            if pattern is not None:
                if pattern.fullmatch(value) is None:
                    out.append(Violation(path, f"pattern={pattern_src}", f"{_short(value)} does not match the pattern"))
            elif skipped_pattern is not None:
                SKIPPED_PATTERNS[skipped_pattern] += 1

        return check_string
    if tname in ("integer", "long", "float", "double"):
        lo = meta.get("min")
        hi = meta.get("max")
        if lo is None and hi is None:
            return None

        def check_number(value: Any, path: str, out: list[Violation]) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return
            if lo is not None and value < lo:
                out.append(Violation(path, f"min={lo}", f"{value} is below the minimum {lo}"))
            if hi is not None and value > hi:
                out.append(Violation(path, f"max={hi}", f"{value} is above the maximum {hi}"))

        return check_number
    if tname == "blob":
        max_len = meta.get("max")
        if max_len is None:
            return None

        def check_blob(value: Any, path: str, out: list[Violation]) -> None:
            if isinstance(value, bytes | bytearray | str) and len(value) > max_len:
                out.append(Violation(path, f"max={max_len}", f"{len(value)} bytes, at most {max_len} allowed"))

        return check_blob
    return None


def _checker_for(model: OperationModel) -> _Checker:
    key = (model.service_model.service_name, model.name)
    checker = _checker_cache.get(key)
    if checker is None:
        with _cache_lock:
            checker = _checker_cache.get(key)
            if checker is None:
                checker = _Checker(model.input_shape)
                _checker_cache[key] = checker
    return checker


def validate_request(model: OperationModel, params: dict[str, Any]) -> None:
    """Validate ``params`` for ``model`` and raise :class:`StrictParamValidationError` on any violation."""
    violations = _checker_for(model)(params)
    if violations:
        raise StrictParamValidationError(f"{model.service_model.service_name}.{model.name}", violations)


def _handler(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
    if not _state["installed"]:
        return
    validate_request(model, params)


def _default_sessions() -> Iterator[Any]:
    default = boto3.DEFAULT_SESSION
    if default is not None:
        yield default._session


def install() -> None:
    """Enable strict validation for every botocore session created from now on and the boto3 default session.

    Idempotent. Clients that already exist keep their handler list, but the handler checks a global flag,
    so :func:`uninstall` turns it off everywhere.
    """
    if _state["installed"]:
        return
    spec = (_EVENT, _handler)
    if spec not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(spec)
    for session in _default_sessions():
        session.register(_EVENT, _handler, unique_id="trainops-strict-validation")
        _registered_sessions.append(session)
    _state["installed"] = True


def uninstall() -> None:
    """Disable strict validation and remove the handler from ``BUILTIN_HANDLERS`` and known sessions."""
    _state["installed"] = False
    spec = (_EVENT, _handler)
    while spec in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.remove(spec)
    for session in _registered_sessions:
        session.unregister(_EVENT, _handler, unique_id="trainops-strict-validation")
    _registered_sessions.clear()


def is_installed() -> bool:
    """Whether strict validation is currently active."""
    return _state["installed"]
