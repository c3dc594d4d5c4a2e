"""Monkeypatches on moto's classes, undone exactly: replaced methods restored, added methods removed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any


class MotoPatches:
    """One set of patches (the training backend's, the tuner's), installed and removed together."""

    def __init__(self) -> None:
        self.originals: dict[str, Any] = {}  # key -> moto's own function, for patches that call through
        self._undo: list[tuple[type, str, Any | None]] = []

    def apply(self, cls: type, patches: dict[str, Callable[..., Any]], *, key_prefix: str = "") -> None:
        for name, fn in patches.items():
            original = cls.__dict__.get(name)
            if original is not None:
                self.originals.setdefault(key_prefix + name, original)
            self._undo.append((cls, name, original))
            setattr(cls, name, fn)

    def undo(self) -> None:
        for cls, name, original in reversed(self._undo):
            if original is None:
                with contextlib.suppress(AttributeError):
                    delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._undo.clear()
        self.originals.clear()
