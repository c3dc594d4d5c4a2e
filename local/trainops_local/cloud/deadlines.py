"""A Lambda handler that outlives its ``Timeout`` makes no further AWS call, as on AWS.

AWS stops a timed-out invocation: whatever the handler would have done next never happens. The local runner
(:mod:`trainops_local.cloud.lambdas`) runs each handler in a thread, and Python cannot stop a thread, so a
timed-out handler used to go on: in a burst (``benchmarks/burst.py``) three NormalizeRequest handlers that had
waited past their 60 s for the local DynamoDB lock went on to record runs whose executions had already failed,
and those uploads were never trained nor reported.

Each invocation now carries a :class:`Deadline` (in its handler thread's thread-local state, so a reused thread
id can never inherit another invocation's); once the runner has answered ``Sandbox.Timedout`` it is expired, and

* the handler's next AWS request raises :class:`HandlerTimedOut` before moto sees it (moto's
  ``BotocoreStubber``, the one entry point of every mocked request, checks first);
* a DynamoDB request that was waiting for the local table lock (:mod:`trainops_local.cloud.dynamodb`) when the
  time ran out is refused when it gets the lock: checked at the request's first acquisition only, so a
  TransactWriteItems or BatchWriteItem already under way is never cut in half.

A request already inside moto completes, as one AWS had already received would. :class:`HandlerTimedOut` is a
``BaseException``, so a handler's ``except Exception`` cannot catch it and carry on. Threads a handler starts
itself are not covered (trainops' handlers start none).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Deadline", "HandlerTimedOut", "check", "check_first_lock", "install", "running", "uninstall"]


class HandlerTimedOut(BaseException):
    """Raised in a timed-out handler's thread at its next AWS call: the invocation is over."""


class Deadline:
    """One invocation's deadline: expired by the runner when the function's ``Timeout`` has passed."""

    def __init__(self) -> None:
        self.expired = False

    def expire(self) -> None:
        self.expired = True


_tls = threading.local()  # .deadline: the invocation's; .depth: nested requests; .lock_checked: met the lock already
_originals: dict[str, Any] = {}


@contextmanager
def running(deadline: Deadline) -> Iterator[None]:
    """The calling thread runs the invocation that ``deadline`` belongs to, for the ``with`` block."""
    _tls.deadline = deadline
    try:
        yield
    finally:
        _tls.deadline = None


def check() -> None:
    """Raise :class:`HandlerTimedOut` if the calling thread's invocation has timed out."""
    deadline = getattr(_tls, "deadline", None)
    if deadline is not None and deadline.expired:
        raise HandlerTimedOut("the invocation timed out: Lambda has stopped this handler")


def check_first_lock() -> None:
    """:func:`check`, at the first local-lock acquisition of the current request only (a transaction or batch
    that has begun writing is finished, never cut in half)."""
    if getattr(_tls, "lock_checked", True):
        return
    _tls.lock_checked = True
    check()


def install() -> None:
    """Check every mocked AWS request (idempotent)."""
    from moto.core.botocore_stubber import BotocoreStubber

    if _originals:
        return
    original = BotocoreStubber.__dict__["__call__"]
    _originals["__call__"] = original

    def __call__(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        depth = getattr(_tls, "depth", 0)
        if depth == 0:  # a request moto makes while answering another is part of that one: never cut
            check()
            _tls.lock_checked = False
        _tls.depth = depth + 1
        try:
            return original(self, event_name, request, **kwargs)
        finally:
            _tls.depth = depth
            if depth == 0:
                _tls.lock_checked = True

    BotocoreStubber.__call__ = __call__  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's entry point."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = _originals.pop("__call__", None)
    if original is not None:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]
