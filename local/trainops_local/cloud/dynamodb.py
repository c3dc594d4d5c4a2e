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
``GetItem`` (one dict lookup) is left concurrent. Pinned by ``tests/local/test_dynamodb_atomic.py``. The lock
hands itself to the longest waiter (first come, first served): with a plain lock, a thread that releases it
can take it again before the woken waiter runs, and in a burst of events (``benchmarks/burst.py``) handlers
waited past their 60 s Timeout for a write DynamoDB would have served in milliseconds.

A ``Query`` of the table itself (no ``IndexName``) makes moto list and sort every item of the table, then keep
those of the queried partition: about 50 ms for a few thousand items, per query, which DynamoDB (one partition
read) does not pay. :func:`install` has such a query walk only its partition (the items moto would have kept,
in the same order); index queries are left as they are.
"""

from __future__ import annotations

import collections
import functools
import inspect
import threading
from typing import Any

from trainops_local.cloud import deadlines

__all__ = ["install", "uninstall"]

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")  # BatchWriteItem calls the first two
WALKS = ("query", "scan")  # reads that iterate the table's partitions


class FairRLock:
    """A reentrant lock served first come, first served: a release hands it straight to the longest waiter."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiters: collections.deque[tuple[int, threading.Lock]] = collections.deque()

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append((me, gate))
        gate.acquire()  # released by the owner that hands the lock over (ownership already set to us)

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release un-acquired lock")
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                self._owner, gate = self._waiters.popleft()
                self._depth = 1
                gate.release()
            else:
                self._owner = None

    def __enter__(self) -> FairRLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


_lock = FairRLock()
_originals: dict[str, Any] = {}
_partition = threading.local()  # (table, hash key) of the base-table query running in this thread


def _partition_query(original: Any) -> Any:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        hash_key = arguments.get("hash_key")
        if arguments.get("index_name") or hash_key is None:
            return original(self, *args, **kwargs)
        _partition.key = (self, hash_key)
        try:
            return original(self, *args, **kwargs)
        finally:
            _partition.key = None

    return query


def _partition_items(original: Any) -> Any:
    @functools.wraps(original)
    def all_items(self: Any) -> Any:
        key = getattr(_partition, "key", None)
        if key is None or key[0] is not self:
            return original(self)
        found = self.items.get(key[1])
        if found is None:
            return []
        items = list(found.values()) if self.range_key_attr else [found]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    return all_items


def install() -> None:
    """Serialise moto's DynamoDB item writes, queries and scans; base-table queries walk their partition only
    (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if _originals:
        return
    for name in WRITES + WALKS:
        original = DynamoDBBackend.__dict__[name]
        _originals[name] = original

        @functools.wraps(original)
        def write(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                deadlines.check_first_lock()  # a handler that timed out while it waited for the lock: refused
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, write)
    for name, wrap in (("query", _partition_query), ("all_items", _partition_items)):
        original = Table.__dict__[name]
        _originals[f"Table.{name}"] = original
        setattr(Table, name, wrap(original))


def uninstall() -> None:
    """Restore moto's methods."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    for name, original in _originals.items():
        if name.startswith("Table."):
            setattr(Table, name.removeprefix("Table."), original)
        else:
            setattr(DynamoDBBackend, name, original)
    _originals.clear()
