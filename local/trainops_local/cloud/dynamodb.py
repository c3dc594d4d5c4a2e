"""Atomic conditional writes, and reads that never fail because of writes, which moto 5.2.5's DynamoDB lacks.

moto evaluates a ``ConditionExpression`` and then writes, with nothing in between to stop another thread: two
concurrent ``PutItem``s with ``attribute_not_exists(pk)`` can both succeed. DynamoDB applies each conditional
write atomically, and trainops relies on it (one run slot per project, one record per upload, the registration
lock). And moto's ``Query`` and ``Scan`` walk every partition of the table (the dicts a write adds to), so a
read while another thread writes a new partition fails with ``RuntimeError: dictionary changed size during
iteration`` (a FinishRun that met it left its project's slot held and the uploads waiting on it uncovered, in
``benchmarks/burst.py``); DynamoDB never fails a read because of concurrent writes.

:func:`install` serialises moto's item writes (``PutItem``, ``UpdateItem``, ``DeleteItem``,
``TransactWriteItems``; ``BatchWriteItem`` goes through the first) and its ``Query`` and ``Scan`` with one lock;
``GetItem`` (one dict lookup) is left concurrent. Pinned by ``tests/local/test_dynamodb_atomic.py``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ["install", "uninstall"]

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")  # BatchWriteItem calls the first two
WALKS = ("query", "scan")  # reads that iterate the table's partitions
_lock = threading.RLock()
_originals: dict[str, Any] = {}


def install() -> None:
    """Serialise moto's DynamoDB item writes, queries and scans (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    if _originals:
        return
    for name in WRITES + WALKS:
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
