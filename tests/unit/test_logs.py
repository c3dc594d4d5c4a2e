"""The log keys of an invocation (trainops.logs): where they come from, and that concurrent invocations in one
process (the local cloud's in-process Lambda) never print each other's keys."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from trainops import logs


@pytest.fixture
def lines(capsys):
    """What the Powertools logger prints, as parsed JSON lines."""
    capsys.readouterr()
    yield lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logs.logger.thread_safe_clear_keys()


def test_the_run_keys_come_from_the_payloads_the_state_machine_passes():
    request = {"run_id": "r1", "project": "p", "execution": "e1"}
    assert logs.run_keys({"request": request, "plan": {}}) == request
    assert logs.run_keys({"state": {"request": request}}) == request
    assert logs.run_keys({"input": {}, "execution": "e2"}) == {"execution": "e2"}
    assert logs.run_keys({"automl": {"job_name": "j"}}) == {}
    assert logs.run_keys(["not", "a", "dict"]) == {}


def test_the_correlation_id_is_the_execution_else_the_eventbridge_event_id(lines):
    logs.start_invocation("finish_run", {"state": {"request": {"run_id": "r1", "project": "p", "execution": "e1"}}})
    logs.logger.info("one")
    logs.start_invocation("handle_job_event", {"id": "evt-9", "detail-type": "x", "source": "aws.sagemaker"})
    logs.logger.info("two")
    one, two = lines()
    assert (one["correlation_id"], one["run_id"], one["project"], one["step"]) == ("e1", "r1", "p", "finish_run")
    # a new invocation starts clean: nothing of the previous run
    assert two["correlation_id"] == "evt-9"
    assert "run_id" not in two and "project" not in two


def test_a_module_logger_line_carries_the_invocation_keys_and_its_decision(lines):
    logs.start_invocation("start_tuning", {"request": {"run_id": "r2", "project": "p", "execution": "e2"}})
    logs.decision("warm_start", "warm start chosen", parents=["a", "b"], warm_start_type="TransferLearning")
    logging.getLogger("trainops.callbacks").info("from a module", extra={"decision": "job_answered"})
    decided, module_line = lines()
    assert decided["decision"] == "warm_start"
    assert decided["parents"] == ["a", "b"]
    assert decided["location"].startswith("test_a_module_logger_line")  # the caller's line, not the helper's
    assert (module_line["run_id"], module_line["decision"]) == ("r2", "job_answered")


def test_a_typed_error_is_logged_with_field_and_fix(lines):
    from trainops.errors import ConfigInvalid

    logs.log_error(ConfigInvalid("bad", field="tuning.max_jobs", fix="at most 500"))
    (line,) = lines()
    assert (line["level"], line["error"], line["field"], line["fix"]) == (
        "ERROR",
        "ConfigInvalid",
        "tuning.max_jobs",
        "at most 500",
    )
    assert "exception" not in line  # a typed error explains itself: no traceback


def test_concurrent_invocations_never_print_each_others_keys(lines):
    barrier = threading.Barrier(2)

    def invocation(run_id: str) -> None:
        logs.start_invocation("normalize_request", {"request": {"run_id": run_id, "execution": f"exec-{run_id}"}})
        barrier.wait()  # both invocations have bound their keys before either logs
        logs.logger.info(f"line of {run_id}")

    threads = [threading.Thread(target=invocation, args=(r,)) for r in ("ra", "rb")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    printed = lines()
    assert len(printed) == 2
    for line in printed:
        run_id = line["message"].removeprefix("line of ")
        assert (line["run_id"], line["correlation_id"]) == (run_id, f"exec-{run_id}")
