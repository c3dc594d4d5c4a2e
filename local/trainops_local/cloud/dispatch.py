"""Per-request overhead of moto 5.2.5's dispatch that AWS has no counterpart for.

Every request moto answers looks its backend up with ``BackendDict[account_id]``, and that lookup calls
``BackendDict._create_account_specific_backend``, which takes the global backend lock and checks
``self not in BackendDict._instances``: a list membership test by ``==`` on dicts, so each check compares this
service's backends with those of every other service registered before it (over a hundred), key by key. In a
burst of events (``benchmarks/burst.py``) that check alone was about 6 % of the local cloud's CPU.

:func:`install` puts a fast path in front of it: when the account's backend already exists and this very
``BackendDict`` is already registered (found by identity), there is nothing to create or register, which is
exactly what the original would conclude; anything else goes to moto's original, unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install", "uninstall"]

_originals: dict[str, Any] = {}


def install() -> None:
    """Install the fast path (idempotent)."""
    from moto.core.base_backend import BackendDict

    if _originals:
        return
    original = BackendDict.__dict__["_create_account_specific_backend"]
    _originals["_create_account_specific_backend"] = original

    def _create_account_specific_backend(self: Any, account_id: str) -> None:
        if dict.__contains__(self, account_id) and any(known is self for known in BackendDict._instances):  # type: ignore[misc]
            return
        original(self, account_id)

    BackendDict._create_account_specific_backend = _create_account_specific_backend  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's method."""
    from moto.core.base_backend import BackendDict

    if not _originals:
        return
    BackendDict._create_account_specific_backend = _originals.pop("_create_account_specific_backend")  # type: ignore[method-assign]
