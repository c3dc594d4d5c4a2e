"""Run Lambda functions in-process: moto's ``LambdaFunction._invoke_lambda`` replaced by a real handler call.

moto routes every invocation (the ``Invoke`` API, ``InvokeAsync``, Step Functions ``lambda:invoke`` tasks,
S3 notifications) through ``LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)``; by
default that needs Docker (or only echoes). :class:`LambdaRunner` installs a replacement that

* finds the function's code directory (registered by the deployer for the function name, else the
  function's deployment zip extracted once into the work directory),
* imports the handler module by file path under a module name unique to the function (two functions'
  ``app.py`` never collide) -- once, like a warm container, with imports serialised by a lock,
* applies the function's environment (plus the Lambda runtime's ``AWS_LAMBDA_*`` variables) as a
  *per-thread overlay* of ``os.environ`` so concurrent invocations of different functions each see their
  own values,
* passes a realistic context object, enforces ``Timeout`` (the handler runs in a worker thread; an
  overrun answers ``Sandbox.Timedout`` / ``Task timed out after N.00 seconds``, and the handler makes no
  further AWS call: :mod:`trainops_local.cloud.deadlines`),
* answers an exception as the Lambda error payload ``{"errorMessage", "errorType", "stackTrace"}`` with
  ``errored=True``, so Step Functions sees the exception class name as the error name,
* captures what the handler prints (stdout/stderr, Powertools logs) into the function's CloudWatch log group.

Layers are not mounted (the shared package is installed in the venv); they are recorded per function.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from trainops_local.cloud import deadlines

LOG = logging.getLogger(__name__)

__all__ = [
    "FunctionCode",
    "LambdaContext",
    "LambdaRunner",
]


@dataclass
class FunctionCode:
    """Where a deployed function's code lives locally."""

    function_name: str
    code_dir: Path
    layers: list[str] = field(default_factory=list)


class LambdaContext:
    """The ``context`` argument of a Python Lambda handler (the attributes the runtime provides)."""

    def __init__(
        self,
        *,
        function_name: str,
        function_version: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        timeout_seconds: float,
        aws_request_id: str,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[{function_version}]{aws_request_id.replace('-', '')}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's ``Timeout``."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --------------------------------------------------------------------------------------------- env overlay

_tls = threading.local()


def _overlay() -> Mapping[str, str] | None:
    return getattr(_tls, "env", None)


class _OverlayEnviron(type(os.environ)):  # type: ignore[misc]
    """``os.environ`` whose reads see the current thread's Lambda environment first."""

    def __getitem__(self, key: str) -> str:
        env = _overlay()
        if env is not None and key in env:
            return env[key]
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        env = _overlay()
        if env is not None and key in env:
            return True
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        env = _overlay()
        if env is None:
            yield from super().__iter__()
            return
        yield from env
        for key in super().__iter__():
            if key not in env:
                yield key

    def __len__(self) -> int:
        env = _overlay()
        if env is None:
            return super().__len__()
        return len(set(env) | set(super().__iter__()))

    def copy(self) -> dict[str, str]:
        return dict(self)


_environ_class = type(os.environ)


class _ThreadStream(io.TextIOBase):
    """A ``sys.stdout``/``sys.stderr`` proxy: an invocation's writes go to its buffer, others pass through."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, s: str) -> int:
        buf: io.StringIO | None = getattr(_tls, "log", None)
        if buf is not None:
            return buf.write(s)
        return self.real.write(s)

    def flush(self) -> None:
        if getattr(_tls, "log", None) is None:
            self.real.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.real.fileno()


# --------------------------------------------------------------------------------------------- runner


class LambdaRunner:
    """Replaces moto's Lambda invocation with in-process handler calls; see the module docstring."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="trainops-lambda-"))
        self._functions: dict[str, FunctionCode] = {}
        self._modules: dict[tuple[str, str, str], ModuleType] = {}
        self._import_lock = threading.RLock()
        self._original: Callable[..., Any] | None = None
        self._stdout: _ThreadStream | None = None
        self._stderr: _ThreadStream | None = None
        self.invocations = 0

    # -- registry ---------------------------------------------------------------------------------------
    def register(self, function_name: str, code_dir: Path, layers: list[str] | None = None) -> None:
        """Record the local code directory (and layers) of a function, by function name."""
        self._functions[function_name] = FunctionCode(function_name, Path(code_dir).resolve(), list(layers or []))

    def registered(self) -> dict[str, FunctionCode]:
        """Function name -> code location, as registered."""
        return dict(self._functions)

    def reset_modules(self) -> None:
        """Forget imported handler modules (the next invocation is a cold start)."""
        with self._import_lock:
            for module in self._modules.values():
                sys.modules.pop(module.__name__, None)
            self._modules.clear()

    # -- install ----------------------------------------------------------------------------------------
    def install(self) -> None:
        """Patch moto's ``LambdaFunction._invoke_lambda`` and install the env/stdout thread overlays."""
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            return
        self._original = LambdaFunction.__dict__["_invoke_lambda"]
        runner = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return runner.invoke(fn, event)

        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]
        deadlines.install()
        os.environ.__class__ = _OverlayEnviron
        self._ensure_streams()

    def _ensure_streams(self) -> None:
        # Re-checked on every invocation: test runners and CLIs swap sys.stdout/sys.stderr themselves.
        with self._import_lock:
            if not isinstance(sys.stdout, _ThreadStream):
                self._stdout = _ThreadStream(sys.stdout)
                sys.stdout = self._stdout
            if not isinstance(sys.stderr, _ThreadStream):
                self._stderr = _ThreadStream(sys.stderr)
                sys.stderr = self._stderr

    def uninstall(self) -> None:
        """Restore moto's original method, ``os.environ`` and the standard streams."""
        from moto.awslambda.models import LambdaFunction

        if self._original is None:
            return
        LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
        self._original = None
        deadlines.uninstall()
        os.environ.__class__ = _environ_class
        if self._stdout is not None and sys.stdout is self._stdout:
            sys.stdout = self._stdout.real
        if self._stderr is not None and sys.stderr is self._stderr:
            sys.stderr = self._stderr.real
        self._stdout = self._stderr = None
        self.reset_modules()

    # -- code resolution --------------------------------------------------------------------------------
    def code_dir_for(self, fn: Any) -> Path:
        """The directory holding ``fn``'s code: registered by the deployer, else its zip extracted once."""
        registered = self._functions.get(fn.function_name)
        if registered is not None:
            return registered.code_dir
        code_bytes: bytes = getattr(fn, "code_bytes", b"") or b""
        if not code_bytes:
            raise RuntimeError(
                f"Lambda function {fn.function_name!r} has no local code: deploy it with the local deployer "
                "or create it with a ZipFile"
            )
        digest = hashlib.sha256(code_bytes).hexdigest()[:16]
        target = self._workdir / "lambda-code" / f"{_safe(fn.function_name)}-{digest}"
        with self._import_lock:
            if not target.exists():
                tmp = target.with_suffix(".tmp")
                tmp.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(io.BytesIO(code_bytes)) as zf:
                    zf.extractall(tmp)
                tmp.rename(target)
        return target

    def _load_handler(self, fn: Any) -> Callable[[Any, Any], Any]:
        handler: str = fn.handler or ""
        module_path, _, attr = handler.rpartition(".")
        if not module_path or not attr:
            raise RuntimeError(f"Bad handler {handler!r} for function {fn.function_name!r}")
        code_dir = self.code_dir_for(fn)
        key = (fn.function_name, str(code_dir), module_path)
        with self._import_lock:
            module = self._modules.get(key)
            if module is None:
                file = code_dir / (module_path.replace(".", "/") + ".py")
                if not file.is_file():
                    raise ImportError(f"Unable to import module '{module_path}': {file} not found")
                unique = f"_trainops_lambda_{_safe(fn.function_name)}_{_safe(module_path)}"
                spec = importlib.util.spec_from_file_location(unique, file)
                if spec is None or spec.loader is None:
                    raise ImportError(f"Unable to import module '{module_path}' from {file}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[unique] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(unique, None)
                    raise
                self._modules[key] = module
        func = getattr(module, attr, None)
        if not callable(func):
            raise RuntimeError(f"Handler '{attr}' missing on module '{module_path}' of {fn.function_name!r}")
        return func

    # -- invocation -------------------------------------------------------------------------------------
    def environment_for(self, fn: Any, request_id: str) -> dict[str, str]:
        """The environment a handler of ``fn`` sees: the runtime's variables plus the function's own."""
        env = {
            "_HANDLER": str(fn.handler),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "_X_AMZN_TRACE_ID": f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]};Parent=0;Sampled=0",
        }
        env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
        return env

    def invoke(self, fn: Any, event: Any = None) -> tuple[str, bool, str]:  # noqa: PLR0915  (the Lambda runtime's invocation sequence, in order)
        """Run ``fn``'s handler on ``event``; the ``(payload, errored, logs)`` moto expects."""
        self.invocations += 1
        self._ensure_streams()
        if isinstance(event, str | bytes):
            with contextlib.suppress(ValueError):
                event = json.loads(event)
        if event is None:
            event = {}
        request_id = str(uuid.uuid4())
        timeout = float(fn.timeout or 3)
        context = LambdaContext(
            function_name=fn.function_name,
            function_version=str(fn.version) if str(fn.version) != "1" else "$LATEST",
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size or 128),
            timeout_seconds=timeout,
            aws_request_id=request_id,
        )
        env = self.environment_for(fn, request_id)
        log = io.StringIO()
        outcome: dict[str, Any] = {}
        deadline = deadlines.Deadline()

        def run() -> None:
            _tls.env = env
            _tls.log = log
            try:
                try:
                    handler = self._load_handler(fn)
                except ImportError as exc:
                    outcome["import_error"] = True
                    raise exc
                with deadlines.running(deadline):
                    outcome["result"] = handler(event, context)
            except BaseException as exc:  # noqa: BLE001  (a handler's every failure is the invocation's FunctionError, as in the Lambda runtime)
                outcome["error"] = exc
                outcome["tb"] = exc.__traceback__
            finally:
                _tls.env = None
                _tls.log = None

        log.write(f"START RequestId: {request_id} Version: $LATEST\n")
        started = time.monotonic()
        worker = threading.Thread(target=run, name=f"lambda-{fn.function_name}-{request_id[:8]}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            # AWS stops a timed-out handler; a thread cannot be stopped, so it makes no further AWS call instead
            deadline.expire()
            payload: dict[str, Any] | None = {
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
                "errorType": "Sandbox.Timedout",
            }
            errored = True
            log.write(f"{payload['errorMessage']}\n")  # type: ignore[index]
            # where the handler was when its time ran out, for whoever runs the local cloud (not in the function's
            # log group: Lambda writes only the line above there)
            frame = sys._current_frames().get(worker.ident or 0)
            LOG.warning(
                "%s timed out after %.0f s in:\n%s",
                fn.function_name,
                timeout,
                "".join(traceback.format_stack(frame)) if frame is not None else "(no stack)",
            )
        elif "error" in outcome:
            exc = outcome["error"]
            payload = {
                "errorMessage": str(exc),
                "errorType": "Runtime.ImportModuleError" if outcome.get("import_error") else type(exc).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_tb(outcome["tb"]),
            }
            errored = True
            log.write(f"[ERROR] {payload['errorType']}: {payload['errorMessage']}\n")
        else:
            payload = None
            errored = False
        if errored:
            body = json.dumps(payload)
        else:
            try:
                body = json.dumps(outcome.get("result"))
            except (TypeError, ValueError) as exc:
                body = json.dumps(
                    {
                        "errorMessage": f"Unable to marshal response: {exc}",
                        "errorType": "Runtime.MarshalError",
                        "requestId": request_id,
                        "stackTrace": [],
                    }
                )
                errored = True
        elapsed_ms = (time.monotonic() - started) * 1000
        log.write(
            f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
            f"Memory Size: {fn.memory_size} MB\n"
        )
        logs = log.getvalue()
        with contextlib.suppress(Exception):
            fn.logs_backend.ensure_log_group(fn.logs_group_name)
            fn.save_logs(logs)
        return body, errored, logs


def _safe(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", name)
