"""Bring-your-own training, locally: script mode in the framework image's environment, and containers through
a declared stand-in command.

Script mode runs the image's ``train`` (the SageMaker training toolkit, ``frameworks/bootstrap.py``) with the
Python and packages of the framework image (``frameworks/envs.py``), ``SAGEMAKER_BASE_DIR`` at the job's
``/opt/ml`` stand-in, and the environment variables the image and SageMaker set: nothing of the controller's.
The toolkit builds the SM_* variables and the arguments, installs ``requirements.txt``, runs a packaged entry
point with ``python -m``, and writes ``output/failure``.

A container (any other image) runs the command registered for its image URI with
:func:`LocalCommand` (``algorithm.local_command`` of the project config, registered by ``trainops local run``),
as SageMaker runs ``docker run <image> train``: the command gets ``train`` as its last argument, the same
``/opt/ml`` contract at ``$SAGEMAKER_BASE_DIR``, and the image's working directory is the command's folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainops_local import frameworks
from trainops_local.frameworks.envs import EnvironmentBuildError, FrameworkEnv, UnknownFramework
from trainops_local.sagemaker import s3io
from trainops_local.sagemaker.layout import TrainingLayout
from trainops_local.sagemaker.procrun import ProcessInterrupted, run_process
from trainops_local.sagemaker.types import JobFailed, JobStopped

PROGRAM = "sagemaker_program"
SUBMIT_DIR = "sagemaker_submit_directory"
CODE_CHANNEL_SOURCEDIR = "/opt/ml/input/data/code/sourcedir.tar.gz"  # the SDK's path for a job without network
BOOTSTRAP = Path(frameworks.__file__).resolve().parent / "bootstrap.py"
FAILURE_REASON_MAX = 1024  # DescribeTrainingJob's FailureReason
# The environment of a Linux container before the image adds its own.
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the scikit-learn and XGBoost images set with ENV (their Dockerfiles), relative to /opt/ml.
IMAGE_ENV = {
    "sklearn": {
        "SM_INPUT": "input",
        "SM_INPUT_TRAINING_CONFIG_FILE": "input/config/hyperparameters.json",
        "SM_INPUT_DATA_CONFIG_FILE": "input/config/inputdataconfig.json",
        "SM_CHECKPOINT_CONFIG_FILE": "input/config/checkpointconfig.json",
        "SM_MODEL_DIR": "model",
    },
}
IMAGE_ENV["xgboost"] = IMAGE_ENV["sklearn"]


@dataclass
class JobHooks:
    """How a running job reports: its log lines, its metrics, and whether it must stop now."""

    log: Callable[[str], None]
    report_metric: Callable[[str, int, float], None]
    stop_reason: Callable[[], JobStopped | None]

    def interrupt(self) -> Interrupt:
        return Interrupt(self.stop_reason)


class Interrupt:
    """``run_process``'s interrupt from ``stop_reason``: keeps the JobStopped to raise once the process ended."""

    def __init__(self, stop_reason: Callable[[], JobStopped | None]) -> None:
        self.stop_reason = stop_reason
        self.stopped: JobStopped | None = None

    def __call__(self) -> str | None:
        reason = self.stop_reason()
        if reason is None:
            return None
        self.stopped = reason
        return str(reason)


def decode_value(value: str) -> Any:
    """Hyperparameter values arrive JSON-encoded by the SDK; plain strings are kept as they are."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def is_script_mode(hyperparameters: dict[str, str]) -> bool:
    """Script mode is recognised by ``sagemaker_program`` + ``sagemaker_submit_directory``."""
    return PROGRAM in hyperparameters and SUBMIT_DIR in hyperparameters


@dataclass(frozen=True)
class LocalCommand:
    """The local stand-in of a container image: a command (argv) run in a folder."""

    argv: tuple[str, ...]
    cwd: Path

    def check(self) -> None:
        """Raise JobFailed when the command's program is not installed here."""
        program = self.argv[0]
        installed = (self.cwd / program).exists() if "/" in program else shutil.which(program) is not None
        if not installed:
            raise JobFailed(
                f"ClientError: the local stand-in command {program!r} (algorithm.local_command) is not installed "
                f"on this machine"
            )


def _path() -> str:
    return os.environ.get("PATH", CONTAINER_PATH)


def fetch_code(s3: Any, request: dict[str, Any], layout: TrainingLayout) -> str:
    """Download and extract ``sagemaker_submit_directory`` into code/; returns the entry point's name.

    The toolkit finds code/ filled and does not download it again (the job's process cannot reach the local
    cloud's S3, which lives inside the controller's process).
    """
    hps = request.get("HyperParameters") or {}
    program = str(decode_value(hps[PROGRAM]))
    source = str(decode_value(hps[SUBMIT_DIR]))
    if source == CODE_CHANNEL_SOURCEDIR:
        # a job without network gets its code as the input channel "code" (as the SageMaker Python SDK sends it);
        # SageMaker puts the archive at this path, the toolkit extracts it
        code = next((c for c in request.get("InputDataConfig") or [] if c.get("ChannelName") == "code"), None)
        if code is None:
            raise JobFailed(f"ClientError: {SUBMIT_DIR} is {source}, but the job has no input channel named code")
        source = code["DataSource"]["S3DataSource"]["S3Uri"]
    if not source.startswith("s3://"):
        raise JobFailed(f"ClientError: {SUBMIT_DIR} must be an S3 URI of a sourcedir.tar.gz, got {source!r}")
    tarball = layout.root / "sourcedir.tar.gz"
    try:
        bucket, key = s3io.split_uri(source)
        s3.download_file(bucket, key, str(tarball))
        s3io.extract_tar(tarball, layout.code_dir)
    except Exception as exc:
        raise JobFailed(f"ClientError: could not fetch {SUBMIT_DIR} {source}: {exc}") from exc
    if not (layout.code_dir / program).exists():
        raise JobFailed(f"ClientError: entry point {program!r} not found in {source}")
    return program


def prepare_environment(request: dict[str, Any], layout: TrainingLayout, hooks: JobHooks) -> FrameworkEnv:
    """The framework image's environment (+ the code's requirements.txt), built now if needed."""
    image = request["AlgorithmSpecification"]["TrainingImage"]
    found = frameworks.framework_of_image(image)
    if found is None:
        raise JobFailed(f"ClientError: {image} is not a framework image")
    framework, version, python = found
    try:
        spec = frameworks.env_spec(framework, version, python=python)
    except UnknownFramework as exc:
        raise JobFailed(f"ClientError: {exc}") from exc
    requirements_file = layout.code_dir / "requirements.txt"
    requirements = requirements_file.read_bytes() if requirements_file.is_file() else None
    if requirements and request.get("EnableNetworkIsolation"):
        # On AWS the toolkit's pip install cannot reach any index from an isolated container and the job fails;
        # locally the environment would be built from the network, so refuse it as AWS would fail it.
        raise JobFailed(
            'AlgorithmError: InstallRequirementsError:\nExitCode 1\nErrorMessage "the job runs with network '
            "isolation (EnableNetworkIsolation), so requirements.txt cannot be installed: pip has no network "
            '(trainops refuses this locally as it fails on AWS)"\nCommand "pip install -r requirements.txt"'
        )
    interrupt, log = hooks.interrupt(), hooks.log
    try:
        env = frameworks.ensure_environment(
            spec, requirements, log=log, interrupt=interrupt, requirements_dir=layout.code_dir
        )
    except ProcessInterrupted:
        assert interrupt.stopped is not None  # set before run_process raises
        raise interrupt.stopped from None
    except EnvironmentBuildError as exc:
        raise JobFailed(_build_failure(exc, spec.framework, spec.version)) from exc
    log(f"local environment of the {spec.framework} {spec.version} image: Python {env.python_version} ({env.path})")
    for note in env.notes():
        log(f"local environment differs from the image: {note}")
    return env


def _build_failure(exc: EnvironmentBuildError, framework: str, version: str) -> str:
    tail = _tail(exc.output.splitlines(), 12)
    if exc.kind == "requirements":
        # the toolkit's own report of a failed requirements install (errors.InstallRequirementsError)
        text = f'InstallRequirementsError:\nExitCode 1\nErrorMessage "{tail}"\nCommand "{exc.command}"'
        return _cap(f"AlgorithmError: {text}")
    return _cap(
        f"InternalServerError: the local environment of {framework} {version} could not be built: {exc}\n{tail}"
    )


def job_environment(
    request: dict[str, Any], layout: TrainingLayout, *, region: str, image_env: dict[str, str] | None = None
) -> dict[str, str]:
    """What a training container's process sees: the image's ENV, SageMaker's variables, the request's
    ``Environment``, and ``SAGEMAKER_BASE_DIR`` pointing at the local /opt/ml. Nothing of the controller's."""
    home = layout.root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": CONTAINER_PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "UTF-8",
        "SAGEMAKER_BASE_DIR": str(layout.root),
        "TRAINING_JOB_NAME": request["TrainingJobName"],
        "TRAINING_JOB_ARN": request.get("TrainingJobArn", ""),
        "AWS_REGION": region,
    }
    env.update({k: str(layout.root / v) for k, v in (image_env or {}).items()})
    env.update({k: str(v) for k, v in (request.get("Environment") or {}).items()})
    return env


@dataclass(frozen=True)
class Command:
    """What one instance of the job runs: argv, working directory, environment."""

    argv: list[str]
    cwd: Path
    variables: dict[str, str]


def script_command(request: dict[str, Any], layout: TrainingLayout, env: FrameworkEnv, *, region: str) -> Command:
    """The image's ``train`` (the toolkit) in the framework environment, on the instance whose /opt/ml is
    ``layout``."""
    variables = job_environment(request, layout, region=region, image_env=IMAGE_ENV.get(env.spec.framework))
    variables["PATH"] = f"{env.path / 'bin'}:{CONTAINER_PATH}"
    variables["SAGEMAKER_TRAINING_MODULE"] = env.spec.framework_module
    argv = [str(env.python), str(_install_bootstrap(env)), env.spec.toolkit]
    return Command(argv, layout.code_dir, variables)


def container_command(
    request: dict[str, Any], layout: TrainingLayout, command: LocalCommand, *, region: str
) -> Command:
    """A container image's local stand-in command, as ``docker run <image> train``."""
    command.check()
    variables = job_environment(request, layout, region=region)
    variables["PATH"] = _path()  # the stand-in uses this machine's programs (Rscript, ...), not an image's
    return Command([*command.argv, "train"], command.cwd, variables)


def run_script(
    request: dict[str, Any], layout: TrainingLayout, env: FrameworkEnv, *, region: str, hooks: JobHooks
) -> list[str]:
    """Run the image's ``train`` (the toolkit) in the framework environment; returns the job's log lines."""
    cmd = script_command(request, layout, env, region=region)
    return _run(cmd.argv, cmd.cwd, cmd.variables, request, layout, hooks, toolkit=True)


def _install_bootstrap(env: FrameworkEnv) -> Path:
    """The image's ``train`` command inside the environment's ``bin/``, where framework images keep theirs
    (``/usr/local/bin/train``): the toolkit passes its ``sys.path`` on to the script as PYTHONPATH, so the
    script sees that folder, as in the image, and nothing of trainops."""
    target = env.path / "bin" / "trainops-train"
    text = BOOTSTRAP.read_text()
    if not target.is_file() or target.read_text() != text:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(text)
        tmp.replace(target)
    return target


def run_container(
    request: dict[str, Any], layout: TrainingLayout, command: LocalCommand, *, region: str, hooks: JobHooks
) -> list[str]:
    """Run a container image's local stand-in command, as ``docker run <image> train``."""
    cmd = container_command(request, layout, command, region=region)
    hooks.log(
        f"local stand-in of {request['AlgorithmSpecification']['TrainingImage']}: {' '.join(cmd.argv)} "
        f"(in {command.cwd})"
    )
    return _run(cmd.argv, cmd.cwd, cmd.variables, request, layout, hooks, toolkit=False)


def _run(
    argv: list[str],
    cwd: Path,
    variables: dict[str, str],
    request: dict[str, Any],
    layout: TrainingLayout,
    hooks: JobHooks,
    *,
    toolkit: bool,
) -> list[str]:
    scraper = MetricScraper.from_request(request, hooks.report_metric)
    lines: list[str] = []

    def on_line(_stream: str, line: str) -> None:
        lines.append(line)
        hooks.log(line)
        scraper.feed(line)

    interrupt = hooks.interrupt()
    try:
        result = run_process(argv, cwd=cwd, env=variables, on_line=on_line, interrupt=interrupt)
    except ProcessInterrupted:
        assert interrupt.stopped is not None  # set before run_process raises
        raise interrupt.stopped from None
    except OSError as exc:  # the program could not be started at all
        raise JobFailed(f"ClientError: could not start {argv[0]}: {exc}") from exc
    if result.returncode != 0:
        raise JobFailed(failure_reason(layout, result.returncode, toolkit=toolkit))
    return lines


@dataclass
class MetricScraper:
    """Applies MetricDefinitions regexes to log lines; epoch = matches of that metric so far (0-based)."""

    definitions: list[tuple[str, re.Pattern[str]]]
    report: Callable[[str, int, float], None]
    counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def from_request(cls, request: dict[str, Any], report: Callable[[str, int, float], None]) -> MetricScraper:
        """Compile the request's ``AlgorithmSpecification.MetricDefinitions``."""
        defs = request.get("AlgorithmSpecification", {}).get("MetricDefinitions") or []
        compiled = []
        for d in defs:
            try:
                compiled.append((d["Name"], re.compile(d["Regex"])))
            except re.error as exc:
                raise JobFailed(f"ClientError: MetricDefinitions {d['Name']}: invalid regex: {exc}") from exc
        return cls(compiled, report)

    def feed(self, line: str) -> None:
        """Scrape one log line."""
        for name, regex in self.definitions:
            match = regex.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1) if regex.groups else match.group(0))
            except (ValueError, IndexError, TypeError):
                continue
            self.report(name, self.counts[name], value)
            self.counts[name] += 1


def failure_reason(layout: TrainingLayout, returncode: int, *, toolkit: bool) -> str:
    """SageMaker's FailureReason: ``AlgorithmError:`` and ``output/failure`` if the job wrote one."""
    if layout.failure_file.is_file():
        text = layout.failure_file.read_text(errors="replace").strip()
        if text:
            return _cap(f"AlgorithmError: {text}")
    if toolkit:
        return _cap(f"AlgorithmError: ExecuteUserScriptError:\nExitCode {returncode}")
    return f"AlgorithmError: , exit code: {returncode}"


def traceback_excerpt(lines: list[str], limit: int = 60) -> str | None:
    """The Python tracebacks of a job's log, first error first: what a user needs to see of a failed script.

    A chained traceback's first error is usually the cause, so the excerpt keeps the beginning of the first
    traceback and the end of the last one when it has to shorten.
    """
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("Traceback (most recent call")), None)
    if start is None:
        return None
    body = lines[start:]
    if len(body) > limit:
        head, tail = body[: limit * 2 // 3], body[-(limit // 3) :]
        body = [*head, f"... ({len(lines) - start - len(head) - len(tail)} lines) ...", *tail]
    return "\n".join(body)


def _tail(lines: list[str], count: int) -> str:
    return "\n".join(line for line in lines[-count:] if line.strip())


def _cap(text: str) -> str:
    return text if len(text) <= FAILURE_REASON_MAX else text[: FAILURE_REASON_MAX - 3] + "..."
