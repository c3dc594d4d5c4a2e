"""The /opt/ml directory layout of a SageMaker training container, rooted in a local work directory."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CURRENT_HOST = "algo-1"


def host_names(request: dict[str, Any]) -> list[str]:
    """``algo-1`` ... ``algo-N`` for ResourceConfig.InstanceCount N, in the order SageMaker lists them."""
    count = int((request.get("ResourceConfig") or {}).get("InstanceCount") or 1)
    return [f"algo-{i}" for i in range(1, max(count, 1) + 1)]


@dataclass(frozen=True)
class TrainingLayout:
    """Local equivalents of /opt/ml/... for one training job."""

    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def intermediate_dir(self) -> Path:
        return self.root / "output" / "intermediate"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    def create(self) -> None:
        """Create every directory of the contract."""
        for path in (
            self.config_dir,
            self.data_dir,
            self.model_dir,
            self.output_data_dir,
            self.intermediate_dir,
            self.checkpoints_dir,
            self.code_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)


def channel_input_mode(channel: dict[str, Any], job_mode: str) -> str:
    """A channel's effective input mode: its own ``InputMode``, else the job's; ``model`` is always File."""
    if channel["ChannelName"] == "model":
        return "File"
    return str(channel.get("InputMode") or job_mode or "File")


def write_input_config(layout: TrainingLayout, request: dict[str, Any], host: str = CURRENT_HOST) -> dict[str, Any]:
    """Write hyperparameters.json, inputdataconfig.json and resourceconfig.json (as ``host`` sees it); returns the
    input data config."""
    job_mode = request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    input_config: dict[str, Any] = {}
    for channel in request.get("InputDataConfig") or []:
        entry: dict[str, Any] = {
            "TrainingInputMode": channel_input_mode(channel, job_mode),
            "S3DistributionType": channel.get("DataSource", {})
            .get("S3DataSource", {})
            .get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        input_config[channel["ChannelName"]] = entry
    hyperparameters = dict(request.get("HyperParameters") or {})
    _write_json(layout.config_dir / "hyperparameters.json", hyperparameters)
    _write_json(layout.config_dir / "inputdataconfig.json", input_config)
    _write_json(layout.config_dir / "resourceconfig.json", resource_config(request, host))
    if checkpoint := request.get("CheckpointConfig"):
        _write_json(
            layout.config_dir / "checkpointconfig.json",
            {"LocalPath": str(layout.checkpoints_dir), "S3Uri": checkpoint.get("S3Uri", "")},
        )
    return input_config


def resource_config(request: dict[str, Any], host: str = CURRENT_HOST) -> dict[str, Any]:
    """``resourceconfig.json`` as SageMaker writes it on ``host`` of a (homogeneous cluster) job."""
    instance_type = (request.get("ResourceConfig") or {}).get("InstanceType", "local")
    hosts = host_names(request)
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": hosts}
        ],
        "network_interface_name": "eth0",
    }


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2))


def cpu_count() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1
