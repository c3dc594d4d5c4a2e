"""Two small fixes to moto 5.2.5's Step Functions API layer.

* ``SendTaskFailure`` drops ``cause``: the response handler reads only ``error``; the executing backend
  accepts ``cause``, so the patched handler passes it on (the workflow's Catch then sees the real cause,
  e.g. a training job's ``FailureReason``).
* ``StartExecution`` without ``name`` builds the ARN ``...:None`` and a second unnamed start collides; AWS
  generates a UUID. The patched handler does the same.

:func:`install` also installs :mod:`.sfn_mocks` (Step Functions Local mock configs: ``arn#TestCase``), whose
loader moto ships switched off.
"""

from __future__ import annotations

import uuid
from typing import Any

from . import sfn_mocks

__all__ = ["install", "uninstall"]

_originals: dict[str, Any] = {}


def install() -> None:
    """Patch ``send_task_failure`` and ``start_execution``; install :mod:`.sfn_mocks` (idempotent)."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    if _originals:
        return
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
    """Restore moto's handlers."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    if not _originals:
        return
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
    all_regions = [*stepfunctions_backends.values(), *stepfunctions_parser_backends.values()]
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
