"""Two small fixes to moto 5.2.5's Step Functions API layer.

* ``SendTaskFailure`` drops ``cause``: the response handler reads only ``error``; the executing backend
  accepts ``cause``, so the patched handler passes it on (the workflow's Catch then sees the real cause,
  e.g. a training job's ``FailureReason``).
* ``StartExecution`` without ``name`` builds the ARN ``...:None`` and a second unnamed start collides; AWS
  generates a UUID. The patched handler does the same.

:func:`install` also installs :mod:`.sfn_mocks` (Step Functions Local mock configs: ``arn#TestCase``), whose
loader moto ships switched off.

Two costs moto pays on every execution, which a burst of events multiplies (AWS pays neither per execution),
are paid once here (:func:`install`):

* every execution re-parses its state machine's definition with the pure-Python ANTLR parser (about 45 ms for
  trainops' pipeline, a third of the controller's CPU in ``benchmarks/burst.py``) and rebuilds its evaluation
  components from the parse tree (another 8 ms): the built program is cached per definition text (bounded).
  The components hold only the definition; everything an execution changes lives in its ``Environment``
  (moto's own Map and Parallel states evaluate one component tree in many threads at once), so executions
  can share them;
* every JSONPath the interpreter evaluates (``InputPath``, ``Parameters`` bindings, ``ResultPath``, Choice
  variables) is compiled by ``jsonpath_ng`` again, and ``jsonpath_ng.ext.parse`` builds a new PLY parser
  (its LALR tables) each time, about 1 ms per path: compiled paths are cached per path text (immutable
  expression trees; bounded);
* every Lambda task creates a new boto3 client (about 10 ms, mostly an SSL context): one client per region is
  reused (botocore clients are thread-safe).
"""

from __future__ import annotations

import functools
import threading
import uuid
from typing import Any

from . import sfn_mocks

__all__ = ["install", "uninstall"]

_originals: dict[str, Any] = {}
_cache_lock = threading.Lock()
_programs: dict[str, Any] = {}  # definition text -> the evaluation program built from it
_lambda_clients: dict[tuple[str, str], Any] = {}
PARSE_CACHE_SIZE = 32
JSONPATH_CACHE_SIZE = 4096


def _program(definition: str) -> Any:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program = _programs.get(definition)
    if program is None:
        program, _ = AmazonStateLanguageParser.parse(definition)  # raises on a bad definition, as before
        _settle_heap_keys(program)
        with _cache_lock:
            if len(_programs) >= PARSE_CACHE_SIZE:
                _programs.pop(next(iter(_programs)))
            _programs[definition] = program
    return program


def _settle_heap_keys(program: Any) -> None:
    """Give every component its ``heap_key`` now. moto draws it lazily on first use, so two executions sharing a
    component for the first time at once could each draw one and read their value under the other's key."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    stack: list[Any] = [program]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, Component):
            if isinstance(item, EvalComponent):
                _ = item.heap_key
            stack.extend(vars(item).values())


def _evaluation_entrypoint(self: Any) -> Any:
    """``ExecutionWorker._get_evaluation_entrypoint`` with the built program cached per definition."""
    return _program(self._evaluation_details.state_machine_details.definition)


def _cached_jsonpath(parse: Any) -> Any:
    """``parse`` of jsonpath_ng (or its ``ext``) memoised per path text."""
    return functools.lru_cache(maxsize=JSONPATH_CACHE_SIZE)(parse)


def _lambda_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for`` for Lambda tasks, one client per region and service."""
    key = (region, service)
    with _cache_lock:
        found = _lambda_clients.get(key)
    if found is None:
        found = _originals["boto_client_for"](region, service, state_credentials)
        with _cache_lock:
            found = _lambda_clients.setdefault(key, found)
    return found


def install() -> None:
    """Patch ``send_task_failure`` and ``start_execution``; install :mod:`.sfn_mocks` (idempotent)."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    if _originals:
        return
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    _originals["json_path.parse"] = json_path.parse
    _originals["result_path.parse"] = result_path.parse
    json_path.parse = _cached_jsonpath(json_path.parse)
    result_path.parse = _cached_jsonpath(result_path.parse)
    _originals["entrypoint"] = ExecutionWorker.__dict__["_get_evaluation_entrypoint"]
    _originals["boto_client_for"] = lambda_eval_utils.boto_client_for
    ExecutionWorker._get_evaluation_entrypoint = _evaluation_entrypoint  # type: ignore[method-assign]
    lambda_eval_utils.boto_client_for = _lambda_client_for
    _originals["send_task_failure"] = StepFunctionResponse.__dict__["send_task_failure"]
    _originals["start_execution"] = StepFunctionsParserBackend.__dict__["start_execution"]
    original_start = _originals["start_execution"]

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
    sfn_mocks.install()  # wraps the start_execution above


def uninstall() -> None:
    """Restore moto's handlers (and drop the cached programs, paths and clients)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    if not _originals:
        return
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.parse = _originals.pop("json_path.parse")
    result_path.parse = _originals.pop("result_path.parse")
    ExecutionWorker._get_evaluation_entrypoint = _originals.pop("entrypoint")  # type: ignore[method-assign]
    lambda_eval_utils.boto_client_for = _originals.pop("boto_client_for")
    with _cache_lock:
        _programs.clear()
        _lambda_clients.clear()
    sfn_mocks.uninstall()
    StepFunctionResponse.send_task_failure = _originals.pop("send_task_failure")  # type: ignore[method-assign]
    StepFunctionsParserBackend.start_execution = _originals.pop("start_execution")  # type: ignore[method-assign]


def interrupt_stopped_waits() -> int:
    """Wake the interpreter threads of stopped executions that wait for a task token.

    moto's StopExecution marks the program stopped but a ``.waitForTaskToken`` task keeps waiting on its
    callback until the task's TimeoutSeconds (hours here). Interrupting the callback endpoints of stopped
    executions lets those threads see the stop and end, so a stopped local cloud leaves nothing running.
    Returns how many waits were interrupted.
    """
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    interrupted = 0
    all_regions: list[Any] = [*stepfunctions_backends.values(), *stepfunctions_parser_backends.values()]
    for regions in all_regions:
        for backend in regions.values():
            for machine in getattr(backend, "state_machines", []):
                for execution in getattr(machine, "executions", []):
                    worker = getattr(execution, "exec_worker", None)
                    env = getattr(worker, "env", None)
                    if env is None or not isinstance(env.program_state(), ProgramStopped):
                        continue
                    for endpoint in list(env.callback_pool_manager._pool.values()):
                        endpoint.interrupt_all()
                        interrupted += 1
    return interrupted
