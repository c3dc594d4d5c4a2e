"""Atomic conditional writes, which moto 5.2.5's DynamoDB lacks.

moto evaluates a ``ConditionExpression`` and then writes, with nothing in between to stop another thread: two
concurrent ``PutItem``s with ``attribute_not_exists(pk)`` can both succeed. DynamoDB applies each conditional
write atomically, and trainops relies on it (one run slot per project, one record per upload, the registration
lock). :func:`install` serialises moto's item writes (``PutItem``, ``UpdateItem``, ``DeleteItem``,
``TransactWriteItems``; ``BatchWriteItem`` goes through the first) with one lock; reads are left concurrent.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ["install", "uninstall"]

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")  # BatchWriteItem calls the first two
_lock = threading.RLock()
_originals: dict[str, Any] = {}


def install() -> None:
    """Serialise moto's DynamoDB item writes (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    if _originals:
        return
    for name in WRITES:
        original = DynamoDBBackend.__dict__[name]
        _originals[name] = original

        @functools.wraps(original)
        def write(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, write)


def uninstall() -> None:
    """Restore moto's methods."""
    from moto.dynamodb.models import DynamoDBBackend

    for name, original in _originals.items():
        setattr(DynamoDBBackend, name, original)
    _originals.clear()
