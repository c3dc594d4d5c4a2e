"""Run a container entry point as a local subprocess: line-by-line output, stop and deadline polling."""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

POLL_SECONDS = 0.2
TERM_GRACE_SECONDS = 2.0
TAIL_LINES = 20


@dataclass(frozen=True)
class ProcessResult:
    """Exit code and the last stderr lines of a finished process."""

    returncode: int
    stderr_tail: list[str]


class ProcessInterrupted(Exception):
    """The process was terminated because ``interrupt()`` returned a reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pump(stream: IO[str], name: str, out: queue.Queue[tuple[str, str | None]]) -> None:
    try:
        for line in stream:
            out.put((name, line.rstrip("\n")))
    finally:
        out.put((name, None))


def run_process(  # noqa: PLR0912  (the job process's lifecycle (start, stream, stop, exit), in order)
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    on_line: Callable[[str, str], None],
    interrupt: Callable[[], str | None],
) -> ProcessResult:
    """Run ``argv``; every stdout/stderr line goes to ``on_line(stream, line)``.

    ``interrupt()`` is polled every 0.2 s; a non-None reason terminates the process group (SIGTERM, then
    SIGKILL after a grace period) and raises :class:`ProcessInterrupted` with that reason.
    """
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        start_new_session=True,
    )
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
    assert proc.stdout is not None
    assert proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, "stdout", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "stderr", lines), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    open_streams = 2
    reason: str | None = None
    try:
        while open_streams:
            try:
                stream, line = lines.get(timeout=POLL_SECONDS)
            except queue.Empty:
                reason = interrupt()
                if reason is not None:
                    break
                continue
            if line is None:
                open_streams -= 1
                continue
            if stream == "stderr":
                tail.append(line)
            on_line(stream, line)
            reason = interrupt()
            if reason is not None:
                break
        while reason is None:  # output closed: wait for the exit, still honouring interrupts
            try:
                proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                reason = interrupt()
    finally:
        if proc.poll() is None:
            _terminate(proc)
        returncode = proc.wait()
        for pump in pumps:
            pump.join(timeout=TERM_GRACE_SECONDS)
        for stream_ in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                stream_.close()
    if reason is not None:
        raise ProcessInterrupted(reason)
    return ProcessResult(returncode=returncode, stderr_tail=list(tail))


def _terminate(proc: subprocess.Popen[str]) -> None:
    for sig, wait in ((signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
