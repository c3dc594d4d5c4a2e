"""Metrics never fail a step: concurrent invocations in one process (the local cloud's in-process Lambda) share
Powertools' metric set, and a flush racing another invocation's used to raise SchemaValidationError."""

from __future__ import annotations

import sys
import threading

from trainops import telemetry


def test_concurrent_record_and_flush_never_raise(capsys):
    errors: list[BaseException] = []

    def invocation(n: int) -> None:
        try:
            for i in range(200):
                telemetry.record(f"p{n}", {"RunsSkipped": 1}, reason="duplicate delivery", run_id=str(i))
                telemetry.flush()
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=invocation, args=(n,)) for n in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so the race shows
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert '"RunsSkipped"' in capsys.readouterr().out  # the metrics were still written


def test_flush_with_nothing_recorded_prints_nothing(capsys):
    telemetry.flush()
    assert capsys.readouterr().out == ""
