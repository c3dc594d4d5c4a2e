"""Distributed training through the pipeline: `trainops local run` of a PyTorch DDP project on two instances.

The config's ``resources.distribution: torch_distributed`` reaches the job as the SageMaker Python SDK encodes it,
the PyTorch container's toolkit starts torchrun on algo-1 and algo-2 (two processes here), the ShardedByS3Key channel
gives each its share of the four uploaded objects, and algo-1's model is registered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.test_cli import trainops

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="the local instances get their own /etc/hosts as root"),
]


def test_pytorch_ddp_on_two_instances_through_the_pipeline(tmp_path: Path) -> None:
    # Given four CSV objects (label first) in the train channel
    rng = np.random.default_rng(1)
    train = tmp_path / "data" / "train"
    train.mkdir(parents=True)
    for i in range(4):
        x = rng.normal(size=(32, 2))
        y = 2 * x[:, 0] - x[:, 1] + 0.5
        np.savetxt(train / f"part-{i}.csv", np.column_stack([y, x]), delimiter=",", fmt="%.6f")

    def cli(*args: str):
        return trainops(*args, cwd=tmp_path, timeout=900)

    # When the example project runs on two instances
    ran = cli(
        "local", "run", "--project", "ddp-demo", "--data", str(tmp_path / "data"),
        "--config", str(EXAMPLES / "configs" / "pytorch-ddp.yaml"), "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    summary = json.loads(ran.stdout)
    # Then the job completed, algo-1's loss is the objective, and the model was registered
    assert summary["status"] == "SUCCEEDED", json.dumps(summary, indent=2)[-3000:]
    assert summary["objective"]["name"] == "train:loss"
    assert summary["objective"]["value"] < 1.0
    assert summary["model_package_arn"]
    env = summary["framework_environment"]
    assert env["framework"] == "pytorch" and any("CPU build 2.13.0" in d for d in env["differences"])
    # and each instance logged into its own stream, each with its own share of the objects
    logs = cli("runs", "logs", summary["run_id"], "--json")
    assert logs.returncode == 0, logs.stderr
    lines = json.loads(logs.stdout)
    streams = {line["stream"].split("/")[-1].rsplit("-", 1)[0] for line in lines if "/algo-" in line["stream"]}
    assert {"algo-1", "algo-2"} <= streams
    starts = {
        line["stream"].split("/")[-1].rsplit("-", 1)[0]: line["message"]
        for line in lines
        if line["message"].startswith("host=") and "world_size=" in line["message"]
    }
    assert "rank=0 world_size=2 files=part-0.csv,part-2.csv" in starts["algo-1"]
    assert "rank=1 world_size=2 files=part-1.csv,part-3.csv" in starts["algo-2"]
    assert any("torchrun" in line["message"] and "--node_rank" in line["message"] for line in lines)
