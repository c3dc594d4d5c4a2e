"""One fix to moto 5.2.5's S3 bucket-policy evaluation.

moto evaluates a bucket policy without any request context, treats condition operators it does not implement
(all but ``StringEquals``) as matched, and answers DENIED for any statement whose conditions do not hold, even
an Allow or a Deny that simply does not apply. So the usual TLS-only statement (Deny when ``Bool``
``aws:SecureTransport`` is ``"false"``) denies every request.

The patched ``FakeBucket.get_permission`` evaluates the conditions itself against the context S3 would see for
an in-process boto3 request (``https://``, so ``aws:SecureTransport = "true"``), keeps the statements whose
conditions hold, and lets moto judge actions, resources and effects of those.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["REQUEST_CONTEXT", "install", "uninstall"]

_originals: dict[str, Any] = {}
REQUEST_CONTEXT = {"aws:securetransport": "true"}
_OPERATORS = {
    "Bool": lambda expected, actual: actual.lower() in {str(v).lower() for v in expected},
    "StringEquals": lambda expected, actual: actual in {str(v) for v in expected},
    "StringNotEquals": lambda expected, actual: actual not in {str(v) for v in expected},
}


def conditions_hold(conditions: dict[str, dict[str, Any]] | None, context: dict[str, str]) -> bool:
    """IAM condition semantics for the operators above; unknown operators are ignored, as moto does."""
    for operator, pairs in (conditions or {}).items():
        check = _OPERATORS.get(operator)
        if check is None:
            continue
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            values = expected if isinstance(expected, list) else [expected]
            if actual is None or not check(values, actual):
                return False
    return True


def install() -> None:
    """Patch ``FakeBucket.get_permission`` (idempotent)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    if _originals:
        return
    _originals["get_permission"] = FakeBucket.__dict__["get_permission"]

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        applicable = [
            {k: v for k, v in s.items() if k != "Condition"}
            for s in statements
            if conditions_hold(s.get("Condition"), REQUEST_CONTEXT)
        ]
        if not applicable:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": applicable})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own ``get_permission``."""
    from moto.s3.models import FakeBucket

    if "get_permission" in _originals:
        FakeBucket.get_permission = _originals.pop("get_permission")  # type: ignore[method-assign]
