"""A Lambda handler that outlives its ``Timeout`` makes no further AWS call, as on AWS.

AWS stops a timed-out invocation: whatever the handler would have done next never happens. The local runner
(:mod:`trainops_local.cloud.lambdas`) runs each handler in a thread, and Python cannot stop a thread, so a
timed-out handler used to go on: in a burst (``benchmarks/burst.py``) three NormalizeRequest handlers that had
waited past their 60 s for the local DynamoDB lock went on to record runs whose executions had already failed,
and those uploads were never trained nor reported.

Here, once the runner has answered ``Sandbox.Timedout``, the handler's thread is marked expired, and

* its next AWS request raises :class:`HandlerTimedOut` before moto sees it (moto's ``BotocoreStubber``, the
  one entry point of every mocked request, checks first);
* a DynamoDB write that was waiting for the local table lock (:mod:`trainops_local.cloud.dynamodb`) when the
  time ran out is dropped when it gets the lock.

A request already inside moto completes, as one AWS had already received would. :class:`HandlerTimedOut` is a
``BaseException``, so a handler's ``except Exception`` cannot catch it and carry on. Threads a handler starts
itself are not covered (trainops' handlers start none).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["HandlerTimedOut", "check", "expire", "finished", "install", "started", "uninstall"]


class HandlerTimedOut(BaseException):
    """Raised in a timed-out handler's thread at its next AWS call: the invocation is over."""


_mutex = threading.Lock()
_running: set[int] = set()
_expired: set[int] = set()
_originals: dict[str, Any] = {}


def started() -> None:
    """The calling thread runs a handler from now on."""
    with _mutex:
        _running.add(threading.get_ident())


def finished() -> None:
    """The calling thread's handler returned (its thread id may be reused from now on)."""
    me = threading.get_ident()
    with _mutex:
        _running.discard(me)
        _expired.discard(me)


def expire(ident: int | None) -> bool:
    """Mark the handler running in thread ``ident`` as timed out; False if it has already finished."""
    with _mutex:
        if ident is None or ident not in _running:
            return False
        _expired.add(ident)
        return True


def check() -> None:
    """Raise :class:`HandlerTimedOut` if the calling thread's handler has timed out."""
    if _expired and threading.get_ident() in _expired:
        raise HandlerTimedOut("the invocation timed out: Lambda has stopped this handler")


def install() -> None:
    """Check every mocked AWS request (idempotent)."""
    from moto.core.botocore_stubber import BotocoreStubber

    if _originals:
        return
    original = BotocoreStubber.__dict__["__call__"]
    _originals["__call__"] = original

    def __call__(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        check()
        return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = __call__  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's entry point."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = _originals.pop("__call__", None)
    if original is not None:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]
