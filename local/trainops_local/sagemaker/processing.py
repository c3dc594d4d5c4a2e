"""The local SageMaker processing engine: runs one CreateProcessingJob request on this machine."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from trainops_local.sagemaker import s3io
from trainops_local.sagemaker.images import NOT_LOCAL, processing_runnable
from trainops_local.sagemaker.procrun import ProcessInterrupted, run_process
from trainops_local.sagemaker.types import (
    JobFailed,
    LogCallback,
    ProcessingOutcome,
    StatusCallback,
    StatusChange,
    StatusTransition,
    StopCheck,
    utcnow,
)

log = logging.getLogger(__name__)

CONTAINER_ROOT = "/opt/ml/processing"
CONFIG_ROOT = "/opt/ml/config"
OUTPUT_ROOT = "/opt/ml/output"
EXIT_MESSAGE_BYTES = 1024  # DescribeProcessingJob's ExitMessage: the first 1 KB of /opt/ml/output/message
PYTHONS = ("python", "python3", "/usr/bin/python3", "/usr/local/bin/python3", "/usr/bin/python")


class _Paths:
    """Maps the container's /opt/ml/processing, /opt/ml/config and /opt/ml/output into the work directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.processing = self.workdir / "processing"
        self.config = self.workdir / "config"
        self.output = self.workdir / "output"

    def local(self, container_path: str) -> Path:
        """Local directory of a container path (must be under /opt/ml/processing)."""
        if not (container_path == CONTAINER_ROOT or container_path.startswith(CONTAINER_ROOT + "/")):
            raise JobFailed(f"ClientError: LocalPath {container_path!r} must be under {CONTAINER_ROOT}")
        target = (self.processing / container_path[len(CONTAINER_ROOT) :].lstrip("/")).resolve()
        if not target.is_relative_to(self.processing.resolve()):
            raise JobFailed(f"ClientError: LocalPath {container_path!r} escapes {CONTAINER_ROOT}")
        return target

    def rewrite(self, arg: str) -> str:
        """Rewrite every container path inside an argument."""
        return (
            arg.replace(CONTAINER_ROOT, str(self.processing))
            .replace(CONFIG_ROOT, str(self.config))
            .replace(OUTPUT_ROOT, str(self.output))
        )

    def exit_message(self) -> str | None:
        """What the container wrote to /opt/ml/output/message, as SageMaker returns it (first 1 KB)."""
        path = self.output / "message"
        if not path.is_file():
            return None
        raw = path.read_bytes()[:EXIT_MESSAGE_BYTES]
        return raw.decode("utf-8", errors="replace") or None


def _download_inputs(s3: Any, request: dict[str, Any], paths: _Paths) -> None:
    for item in request.get("ProcessingInputs") or []:
        name = item.get("InputName", "?")
        source = item.get("S3Input")
        if source is None:
            raise JobFailed(f"ClientError: input '{name}': only S3Input is available locally")
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise JobFailed(
                f"ClientError: input '{name}': S3DataType {source.get('S3DataType')} is not available locally"
            )
        dest = paths.local(source["LocalPath"])
        gunzip = source.get("S3CompressionType", "None") == "Gzip"
        files = s3io.download_prefix(s3, source["S3Uri"], dest, gunzip=gunzip)
        if not files:
            raise JobFailed(f"ClientError: input '{name}': no objects under {source['S3Uri']}")


def _argv(request: dict[str, Any], paths: _Paths) -> list[str]:
    app = request.get("AppSpecification") or {}
    image = app.get("ImageUri", "")
    if not processing_runnable(image):
        raise JobFailed(f"ClientError: Image {image} {NOT_LOCAL}")
    entry = list(app.get("ContainerEntrypoint") or [])
    if not entry:
        raise JobFailed(f"ClientError: Image {image}'s default entry point {NOT_LOCAL} (set ContainerEntrypoint)")
    if entry[0] not in PYTHONS:
        raise JobFailed(f"ClientError: entry point {entry[0]!r} {NOT_LOCAL} (only python/python3 run locally)")
    args = [*entry[1:], *(app.get("ContainerArguments") or [])]
    return [sys.executable, *(paths.rewrite(a) for a in args)]


def _write_config(request: dict[str, Any], paths: _Paths) -> None:
    paths.config.mkdir(parents=True, exist_ok=True)
    (paths.config / "processingjobconfig.json").write_text(json.dumps(request, default=str, indent=2))
    resource = {"current_host": "algo-1", "hosts": ["algo-1"]}
    (paths.config / "resourceconfig.json").write_text(json.dumps(resource))


def _upload_outputs(s3: Any, request: dict[str, Any], paths: _Paths) -> dict[str, str]:
    written: dict[str, str] = {}
    for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        target = item.get("S3Output")
        if target is None:
            continue
        s3io.upload_dir(s3, paths.local(target["LocalPath"]), target["S3Uri"])
        written[item.get("OutputName", target["S3Uri"])] = target["S3Uri"]
    return written


def run_processing_job(  # noqa: PLR0915  (the processing job's lifecycle, in order)
    request: dict[str, Any],
    *,
    s3: Any,
    workdir: Path,
    on_status: StatusCallback | None = None,
    should_stop: StopCheck | None = None,
    on_log: LogCallback | None = None,
) -> ProcessingOutcome:
    """Run a CreateProcessingJob request locally: download inputs, run the entry point, upload outputs.

    ``/opt/ml/processing`` maps to ``workdir/processing`` and ``python``/``python3`` to this interpreter.
    Never raises for job errors: they become a Failed outcome. ``on_status`` receives the phases
    (Starting, Downloading, Processing, Uploading, then the terminal status).
    """
    start = utcnow()
    t0 = time.monotonic()
    transitions: list[StatusTransition] = []

    def enter(status: str) -> None:
        now = utcnow()
        if transitions and transitions[-1].end_time is None:
            transitions[-1].end_time = now
        transitions.append(StatusTransition(status, now, status))
        if on_status:
            try:
                on_status(StatusChange(status, status, tuple(transitions)))
            except Exception:
                log.exception("on_status failed")

    def emit(line: str) -> None:
        if on_log:
            try:
                on_log(line)
            except Exception:
                log.exception("on_log failed")

    max_runtime = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")

    def interrupt() -> str | None:
        if max_runtime and time.monotonic() - t0 > float(max_runtime):
            return f"MaxRuntimeExceeded: Processing job exceeded MaxRuntimeInSeconds ({max_runtime} s)"
        if should_stop is not None and should_stop():
            return "Stopped"
        return None

    def finish(status: str, reason: str | None, exit_message: str | None, outputs: dict[str, str]) -> ProcessingOutcome:
        enter(status)
        return ProcessingOutcome(status, reason, exit_message, start, utcnow(), outputs)

    paths = _Paths(workdir)
    try:
        enter("Starting")
        paths.processing.mkdir(parents=True, exist_ok=True)
        paths.output.mkdir(parents=True, exist_ok=True)
        argv = _argv(request, paths)
        _write_config(request, paths)
        enter("Downloading")
        _download_inputs(s3, request, paths)
        for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            if "S3Output" in item:
                paths.local(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        if (reason := interrupt()) is not None:
            raise ProcessInterrupted(reason)
        enter("Processing")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.update({k: paths.rewrite(str(v)) for k, v in (request.get("Environment") or {}).items()})
        code_dir = paths.processing
        result = run_process(argv, cwd=code_dir, env=env, on_line=lambda _s, line: emit(line), interrupt=interrupt)
        if result.returncode != 0:
            tail = "\n".join(result.stderr_tail[-10:]).strip()[-1024:]
            reason = f"AlgorithmError: exit code {result.returncode}" + (f"\n{tail}" if tail else "")
            return finish("Failed", reason, paths.exit_message(), {})
        enter("Uploading")
        outputs = _upload_outputs(s3, request, paths)
        return finish("Completed", None, paths.exit_message(), outputs)
    except JobFailed as exc:
        emit(exc.reason)
        return finish("Failed", exc.reason, None, {})
    except ProcessInterrupted as stop:
        reason = None if stop.reason == "Stopped" else stop.reason
        return finish("Stopped", reason, None, {})
    except Exception as exc:
        log.exception("local processing job %s crashed", request.get("ProcessingJobName"))
        return finish("Failed", f"InternalServerError: the local engine failed: {type(exc).__name__}: {exc}", None, {})
