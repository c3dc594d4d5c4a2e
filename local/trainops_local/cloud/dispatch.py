"""Per-request overhead of moto 5.2.5's dispatch that AWS has no counterpart for.

Every request moto answers looks its backend up with ``BackendDict[account_id]``, and that lookup calls
``BackendDict._create_account_specific_backend``, which takes the global backend lock and checks
``self not in BackendDict._instances``: a list membership test by ``==`` on dicts, so each check compares this
service's backends with those of every other service registered before it (over a hundred), key by key. In a
burst of events (``benchmarks/burst.py``) that check alone was about 6 % of the local cloud's CPU.

:func:`install` puts a fast path in front of it: when the account's backend already exists and this very
``BackendDict`` is already registered (found by identity), there is nothing to create or register, which is
exactly what the original would conclude; anything else goes to moto's original, unchanged.

And every request's ``BaseResponse.call_action`` lists the response class's methods with ``inspect.getmembers``
(``method_names_from_class``) to see whether the action is one: about 2.5 % of the burst's CPU. The list is kept
per class; a class that gains or loses an attribute (anywhere in its MRO) is listed again.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install", "uninstall"]

_originals: dict[str, Any] = {}


def install() -> None:
    """Install the fast paths (idempotent)."""
    import moto.core.responses
    from moto.core.base_backend import BackendDict

    if _originals:
        return
    list_methods = moto.core.responses.method_names_from_class
    _originals["method_names_from_class"] = list_methods
    listed: dict[type, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: type) -> list[str]:
        shape = tuple(len(vars(k)) for k in clazz.__mro__)
        known = listed.get(clazz)
        if known is None or known[0] != shape:
            known = listed[clazz] = (shape, list_methods(clazz))
        return known[1]

    moto.core.responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]
    original = BackendDict.__dict__["_create_account_specific_backend"]
    _originals["_create_account_specific_backend"] = original

    def _create_account_specific_backend(self: Any, account_id: str) -> None:
        if dict.__contains__(self, account_id) and any(known is self for known in BackendDict._instances):  # type: ignore[misc]
            return
        original(self, account_id)

    BackendDict._create_account_specific_backend = _create_account_specific_backend  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's functions."""
    import moto.core.responses
    from moto.core.base_backend import BackendDict

    if not _originals:
        return
    moto.core.responses.method_names_from_class = _originals.pop("method_names_from_class")
    BackendDict._create_account_specific_backend = _originals.pop("_create_account_specific_backend")  # type: ignore[method-assign]
