"""Script mode: the SageMaker training toolkit's contract (SM_* environment, ``--name value`` arguments)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainops_local.sagemaker import s3io
from trainops_local.sagemaker.layout import CURRENT_HOST, TrainingLayout, cpu_count
from trainops_local.sagemaker.procrun import ProcessInterrupted, run_process
from trainops_local.sagemaker.types import JobFailed, JobStopped

PROGRAM = "sagemaker_program"
SUBMIT_DIR = "sagemaker_submit_directory"


def decode_value(value: str) -> Any:
    """Hyperparameter values arrive JSON-encoded by the SDK; plain strings are kept as they are."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def is_script_mode(hyperparameters: dict[str, str]) -> bool:
    """Script mode is recognised by ``sagemaker_program`` + ``sagemaker_submit_directory``."""
    return PROGRAM in hyperparameters and SUBMIT_DIR in hyperparameters


def user_hyperparameters(hyperparameters: dict[str, str]) -> dict[str, Any]:
    """The decoded hyperparameters not reserved by SageMaker (``sagemaker_*``)."""
    return {k: decode_value(v) for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}


def to_cmd_args(hps: dict[str, Any]) -> list[str]:
    """``--name value`` pairs in name order, as the training toolkit builds them."""
    args: list[str] = []
    for name in sorted(hps):
        value = hps[name]
        args += [f"--{name}", value if isinstance(value, str) else json.dumps(value)]
    return args


def _env_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def build_env(
    request: dict[str, Any], layout: TrainingLayout, input_config: dict[str, Any], program: str
) -> dict[str, str]:
    """The SM_* environment of the SageMaker training toolkit, pointing at the local layout."""
    raw_hps = request.get("HyperParameters") or {}
    hps = user_hyperparameters(raw_hps)
    channels = sorted(input_config)
    channel_dirs = {c: str(layout.channel_dir(c)) for c in channels}
    module_name = Path(program).stem
    resource = {"current_host": CURRENT_HOST, "hosts": [CURRENT_HOST], "network_interface_name": "eth0"}
    framework = {k: decode_value(v) for k, v in raw_hps.items() if k.startswith("sagemaker_")}
    training_env = {
        "additional_framework_parameters": framework,
        "channel_input_dirs": channel_dirs,
        "current_host": CURRENT_HOST,
        "framework_module": None,
        "hosts": [CURRENT_HOST],
        "hyperparameters": hps,
        "input_config_dir": str(layout.config_dir),
        "input_data_config": input_config,
        "input_dir": str(layout.input_dir),
        "is_master": True,
        "job_name": request["TrainingJobName"],
        "log_level": 20,
        "master_hostname": CURRENT_HOST,
        "model_dir": str(layout.model_dir),
        "module_dir": str(layout.code_dir),
        "module_name": module_name,
        "network_interface_name": "eth0",
        "num_cpus": cpu_count(),
        "num_gpus": 0,
        "output_data_dir": str(layout.output_data_dir),
        "output_dir": str(layout.output_dir),
        "output_intermediate_dir": str(layout.intermediate_dir),
        "resource_config": resource,
        "user_entry_point": program,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update(
        {
            "SM_MODEL_DIR": str(layout.model_dir),
            "SM_CHANNELS": json.dumps(channels),
            "SM_HPS": json.dumps(hps),
            "SM_INPUT_DIR": str(layout.input_dir),
            "SM_INPUT_CONFIG_DIR": str(layout.config_dir),
            "SM_OUTPUT_DIR": str(layout.output_dir),
            "SM_OUTPUT_DATA_DIR": str(layout.output_data_dir),
            "SM_OUTPUT_INTERMEDIATE_DIR": str(layout.intermediate_dir),
            "SM_NUM_CPUS": str(cpu_count()),
            "SM_NUM_GPUS": "0",
            "SM_HOSTS": json.dumps([CURRENT_HOST]),
            "SM_CURRENT_HOST": CURRENT_HOST,
            "SM_INPUT_DATA_CONFIG": json.dumps(input_config),
            "SM_RESOURCE_CONFIG": json.dumps(resource),
            "SM_NETWORK_INTERFACE_NAME": "eth0",
            "SM_FRAMEWORK_PARAMS": json.dumps(framework),
            "SM_USER_ARGS": json.dumps(to_cmd_args(hps)),
            "SM_TRAINING_ENV": json.dumps(training_env),
            "SM_MODULE_DIR": str(layout.code_dir),
            "SM_MODULE_NAME": module_name,
            "SM_USER_ENTRY_POINT": program,
            "SM_LOG_LEVEL": "20",
            "SM_IS_MASTER": "true",
            "TRAINING_JOB_NAME": request["TrainingJobName"],
            "TRAINING_JOB_ARN": request.get("TrainingJobArn", ""),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = channel_dirs[channel]
    for name, value in hps.items():
        env[f"SM_HP_{name.upper()}"] = _env_value(value)
    env.update({k: str(v) for k, v in (request.get("Environment") or {}).items()})
    return env


def fetch_code(s3: Any, request: dict[str, Any], layout: TrainingLayout) -> str:
    """Download and extract ``sagemaker_submit_directory`` into code/; returns the entry point's name."""
    hps = request.get("HyperParameters") or {}
    program = str(decode_value(hps[PROGRAM]))
    source = str(decode_value(hps[SUBMIT_DIR]))
    if not source.startswith("s3://"):
        raise JobFailed(f"ClientError: {SUBMIT_DIR} must be an S3 URI of a sourcedir.tar.gz, got {source!r}")
    tarball = layout.root / "sourcedir.tar.gz"
    try:
        bucket, key = s3io.split_uri(source)
        s3.download_file(bucket, key, str(tarball))
        s3io.extract_tar(tarball, layout.code_dir)
    except Exception as exc:
        raise JobFailed(f"ClientError: could not fetch {SUBMIT_DIR} {source}: {exc}") from exc
    if not (layout.code_dir / program).is_file():
        raise JobFailed(f"ClientError: entry point {program!r} not found in {source}")
    return program


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


def run(
    request: dict[str, Any],
    layout: TrainingLayout,
    input_config: dict[str, Any],
    program: str,
    *,
    log: Callable[[str], None],
    report_metric: Callable[[str, int, float], None],
    stop_reason: Callable[[], JobStopped | None],
) -> None:
    """Run the entry point; raises JobFailed (non-zero exit) or JobStopped."""
    env = build_env(request, layout, input_config, program)
    hps = user_hyperparameters(request.get("HyperParameters") or {})
    if (layout.code_dir / "requirements.txt").exists():
        log("requirements.txt found: not installed locally (the local cloud uses the current environment)")
    interpreter = [sys.executable] if program.endswith(".py") else ["/bin/sh"]
    argv = [*interpreter, program, *to_cmd_args(hps)]
    scraper = MetricScraper.from_request(request, report_metric)

    def on_line(_stream: str, line: str) -> None:
        log(line)
        scraper.feed(line)

    stopped: dict[str, JobStopped] = {}

    def interrupt() -> str | None:
        reason = stop_reason()
        if reason is None:
            return None
        stopped["reason"] = reason
        return str(reason)

    try:
        result = run_process(argv, cwd=layout.code_dir, env=env, on_line=on_line, interrupt=interrupt)
    except ProcessInterrupted:
        raise stopped["reason"] from None
    if result.returncode != 0:
        raise JobFailed(failure_reason(layout, result.returncode, result.stderr_tail))


def failure_reason(layout: TrainingLayout, returncode: int, stderr_tail: list[str]) -> str:
    """``output/failure`` if the script wrote one, else the tail of stderr."""
    if layout.failure_file.is_file():
        text = layout.failure_file.read_text(errors="replace").strip()
        if text:
            return f"AlgorithmError: {text[:1024]}"
    tail = "\n".join(stderr_tail[-10:]).strip()
    return f"AlgorithmError: ExecuteUserScriptError: exit code {returncode}" + (f"\n{tail[-1024:]}" if tail else "")
