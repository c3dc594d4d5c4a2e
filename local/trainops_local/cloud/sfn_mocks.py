"""Step Functions Local mock configs, and virtual Retry waits, for moto 5.2.5's interpreter.

**Mock configs.** moto's interpreter (ported from LocalStack) already evaluates mocked responses: a Task
whose name is in the execution's mock test case takes the mocked ``Return``/``Throw`` for its attempt number
instead of calling its service, and a ``.waitForTaskToken`` task returns the mocked value without waiting.
Two links are missing in moto: its loader ``moto.stepfunctions.parser.mocking.mock_config
.load_mock_test_case_for`` returns ``None`` whatever is configured, and its ``StartExecution`` neither accepts
``<state machine arn>#<TestCase>`` nor hands a test case to the execution. :func:`install` adds both, in the
format of Step Functions Local (``SFN_MOCK_CONFIG``):

.. code-block:: json

    {"StateMachines": {"<name>": {"TestCases": {"<case>": {"<State>": "<MockedResponse>"}}}},
     "MockedResponses": {"<MockedResponse>": {"0": {"Throw": {"Error": "...", "Cause": "..."}},
                                              "1-2": {"Return": {"StatusCode": 200, "Payload": {}}}}}}

The config comes from :func:`use_config` (a mapping or a file), else from the file named by the
``SFN_MOCK_CONFIG`` environment variable, read at each ``StartExecution``. States not named in a test case
run for real (Step Functions Local's "hybrid" path). A legacy Lambda-ARN task's ``Return`` is the Invoke
response (``{"StatusCode": 200, "Payload": ...}``); a ``.waitForTaskToken`` task's ``Return`` is what the
callback would have sent.

**Virtual Retry waits.** moto sleeps for real between retries (``time.sleep`` in ``retrier_decl``) and
refuses ``IntervalSeconds`` below 1, so a state machine's backoff cannot be scaled down to milliseconds in its
definition. :func:`virtual_retry_waits` (a context manager, never on by default) records each wait the
interpreter computes -- backoff, ``MaxDelaySeconds`` and jitter applied -- instead of sleeping it, so a test
runs every retry of the real definition at once and can assert the schedule.

Pinned by ``tests/local/test_moto_pins.py``: without this module moto's loader returns nothing and
``arn#Case`` is not a state machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = [
    "ENV_VAR",
    "MockConfigError",
    "RetryWaits",
    "install",
    "load_mock_test_case_for",
    "uninstall",
    "use_config",
    "virtual_retry_waits",
]

ENV_VAR = "SFN_MOCK_CONFIG"

_originals: dict[str, Any] = {}
_pending = threading.local()  # the test case of the StartExecution under way in this thread
_state: dict[str, dict[str, Any] | None] = {"config": None}  # the config given to use_config
_config_lock = threading.Lock()


class MockConfigError(ValueError):
    """A mock config that does not follow the Step Functions Local format."""


# --------------------------------------------------------------------------------------------- config


def use_config(config: Mapping[str, Any] | Path | str | None) -> None:
    """Use this mock config (a mapping, or a JSON file) from now on; ``None`` falls back to ``SFN_MOCK_CONFIG``.

    The config is validated now, so a malformed one fails here rather than at StartExecution.
    """
    loaded = None if config is None else _read(config)
    if loaded is not None:
        _validate(loaded)
    with _config_lock:
        _state["config"] = loaded


def _read(config: Mapping[str, Any] | Path | str) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return json.loads(json.dumps(config))  # a private copy, JSON only
    return dict(json.loads(Path(config).read_text()))


def _current_config() -> dict[str, Any] | None:
    with _config_lock:
        if _state["config"] is not None:
            return _state["config"]
    path = os.environ.get(ENV_VAR)
    if not path:
        return None
    loaded = _read(path)
    _validate(loaded)
    return loaded


def _validate(config: dict[str, Any]) -> None:
    machines = config.get("StateMachines")
    responses = config.get("MockedResponses")
    if not isinstance(machines, dict) or not isinstance(responses, dict):
        raise MockConfigError("a mock config is an object with StateMachines and MockedResponses objects")
    for machine, body in machines.items():
        cases = body.get("TestCases") if isinstance(body, dict) else None
        if not isinstance(cases, dict):
            raise MockConfigError(f"StateMachines.{machine}: needs a TestCases object")
        for case, states in cases.items():
            if not isinstance(states, dict):
                raise MockConfigError(f"StateMachines.{machine}.TestCases.{case}: must map state names to responses")
            for state, response in states.items():
                if response not in responses:
                    raise MockConfigError(
                        f"StateMachines.{machine}.TestCases.{case}.{state}: no MockedResponses.{response}"
                    )
    for name, attempts in responses.items():
        if not isinstance(attempts, dict) or not attempts:
            raise MockConfigError(f"MockedResponses.{name}: must map attempt ranges ('0', '1-2') to responses")
        for rng, response in attempts.items():
            if not isinstance(response, dict) or len(set(response) & {"Return", "Throw"}) != 1 or len(response) != 1:
                raise MockConfigError(f"MockedResponses.{name}.{rng}: exactly one of Return or Throw")
            throw = response.get("Throw")
            if throw is not None and (not isinstance(throw, dict) or not isinstance(throw.get("Error"), str)):
                raise MockConfigError(f"MockedResponses.{name}.{rng}.Throw: needs an Error string (and a Cause)")


def load_mock_test_case_for(state_machine_name: str, test_case_name: str) -> Any:
    """moto's ``MockTestCase`` for a state machine's test case, or ``None`` when no config defines it."""
    from moto.stepfunctions.parser.mocking import mock_config as mc

    config = _current_config()
    if config is None:
        return None
    states = ((config["StateMachines"].get(state_machine_name) or {}).get("TestCases") or {}).get(test_case_name)
    if states is None:
        return None
    per_state = []
    for state, response_name in states.items():
        responses: list[Any] = []
        for rng, body in config["MockedResponses"][response_name].items():
            start, end = mc._parse_mocked_response_range(rng)
            if "Return" in body:
                responses.append(mc.MockedResponseReturn(start, end, payload=body["Return"]))
            else:
                throw = body["Throw"]
                responses.append(mc.MockedResponseThrow(start, end, error=throw["Error"], cause=throw.get("Cause", "")))
        per_state.append(mc.StateMockedResponses(state, response_name, responses))
    return mc.MockTestCase(state_machine_name, test_case_name, per_state)


# --------------------------------------------------------------------------------------------- patches


def install() -> None:
    """Wire the loader and ``arn#TestCase`` into moto's StartExecution (idempotent)."""
    from moto.stepfunctions.exceptions import InvalidName
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.mocking import mock_config
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    if _originals:
        return
    _originals["load_mock_test_case_for"] = mock_config.load_mock_test_case_for
    _originals["start_execution"] = StepFunctionsParserBackend.__dict__["start_execution"]
    _originals["_get_start_execution_worker"] = Execution.__dict__["_get_start_execution_worker"]
    original_start = _originals["start_execution"]
    original_worker = _originals["_get_start_execution_worker"]

    def start_execution(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        if "#" not in str(state_machine_arn):
            return original_start(self, state_machine_arn, *args, **kwargs)
        arn, case_name = str(state_machine_arn).split("#", 1)
        machine = self.describe_state_machine(arn)
        case = load_mock_test_case_for(machine.name, case_name)
        if case is None:
            raise InvalidName(
                f"Invalid mock test case name '{case_name}' for state machine '{machine.name}': no such test case "
                f"in the mock config (trainops_local.cloud.sfn_mocks.use_config or ${ENV_VAR})"
            )
        _pending.case = case
        try:
            return original_start(self, arn, *args, **kwargs)
        finally:
            _pending.case = None

    def _get_start_execution_worker(self: Any) -> Any:
        worker = original_worker(self)
        case = getattr(_pending, "case", None)
        if case is not None:
            worker._mock_test_case = case  # read when the worker builds its Environment, in its own thread
            self.mock_test_case_name = case.test_case_name
        return worker

    mock_config.load_mock_test_case_for = load_mock_test_case_for
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
    Execution._get_start_execution_worker = _get_start_execution_worker  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's loader and StartExecution; forget the config given to :func:`use_config`."""
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.mocking import mock_config
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    if not _originals:
        return
    mock_config.load_mock_test_case_for = _originals.pop("load_mock_test_case_for")
    StepFunctionsParserBackend.start_execution = _originals.pop("start_execution")  # type: ignore[method-assign]
    Execution._get_start_execution_worker = _originals.pop("_get_start_execution_worker")  # type: ignore[method-assign]
    use_config(None)


# --------------------------------------------------------------------------------------------- retry waits


@dataclass
class RetryWaits:
    """The Retry waits the interpreter asked for while :func:`virtual_retry_waits` was active, in seconds."""

    on_wait: Callable[[float], None] | None = None
    waits: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(float(seconds))
        if self.on_wait is not None:
            self.on_wait(float(seconds))

    def clear(self) -> None:
        with self._lock:
            self.waits.clear()


@contextlib.contextmanager
def virtual_retry_waits(on_wait: Callable[[float], None] | None = None) -> Iterator[RetryWaits]:
    """Record the interpreter's Retry waits instead of sleeping them (``on_wait`` is called with each)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    waits = RetryWaits(on_wait)
    saved = retrier_decl.time
    retrier_decl.time = SimpleNamespace(sleep=waits.sleep)  # type: ignore[assignment]
    try:
        yield waits
    finally:
        retrier_decl.time = saved
