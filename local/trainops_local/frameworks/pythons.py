"""Find the Python interpreters on this machine, and the one nearest to a framework image's Python."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # full, e.g. 3.10.13

    @property
    def minor(self) -> tuple[int, int]:
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)


def _minor(text: str) -> tuple[int, int]:
    match = _VERSION.match(text)
    if match is None:
        raise ValueError(f"not a Python version: {text!r}")
    return int(match.group(1)), int(match.group(2))


def _probe(path: str) -> Interpreter | None:
    try:
        out = subprocess.run(
            [path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Interpreter(path=path, version=out) if _VERSION.match(out) else None


def _candidates() -> list[str]:
    """pyenv installations, pythonX.Y on PATH, and the interpreters uv manages."""
    found: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found += sorted(glob.glob(f"{pyenv_root}/versions/3.*/bin/python3.*[0-9]"))
    for minor in range(6, 16):
        exe = shutil.which(f"python3.{minor}")
        if exe:
            found.append(exe)
    try:
        from uv import find_uv_bin

        out = subprocess.run(
            [find_uv_bin(), "python", "list", "--only-installed", "--output-format", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        import json

        found += [str(item["path"]) for item in json.loads(out) if item.get("path")]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):  # no uv Pythons: none found
        pass
    return found


@cache
def interpreters() -> tuple[Interpreter, ...]:
    """Every distinct CPython 3 interpreter found, one per minor version (the newest patch release)."""
    best: dict[tuple[int, int], Interpreter] = {}
    for path in _candidates():
        interpreter = _probe(path)
        if interpreter is None:
            continue
        current = best.get(interpreter.minor)
        if current is None or _patch(interpreter) > _patch(current):
            best[interpreter.minor] = interpreter
    return tuple(best[k] for k in sorted(best))


def _patch(interpreter: Interpreter) -> int:
    parts = interpreter.version.split(".")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0


def nearest(wanted: str) -> Interpreter | None:
    """The interpreter of the wanted minor version, else the nearest minor (the newer one on a tie)."""
    target = _minor(wanted)
    available = interpreters()
    if not available:
        return None

    def distance(i: Interpreter) -> tuple[int, int]:
        gap = abs((i.minor[0] - target[0]) * 100 + i.minor[1] - target[1])
        return gap, -i.minor[1]

    return min(available, key=distance)
