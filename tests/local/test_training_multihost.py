"""Several instances locally: hosts algo-1..algo-N as processes, each with its own /opt/ml, sharded channels,
resolving each other, a real torch.distributed (gloo) training across them, the job failing when one fails."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trainops_local.sagemaker import hosts as multihost
from trainops_local.sagemaker import s3io
from trainops_local.sagemaker.engine import run_training_job
from trainops_local.sagemaker.layout import resource_config

BUCKET = "local-test-bucket"
# A GPU instance type in the request as torch_distributed needs one on AWS; locally it runs on the CPU (gloo)
PYTORCH_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-gpu-py311"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
DDP_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "scripts" / "ddp_train.py"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="hosts get their own /etc/hosts with unshare, as root")


def request(name: str, image: str, program: str, *, count: int = 2, instance: str = "ml.g5.xlarge",
            sharded: bool = True, **hps: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "HyperParameters": {
            "sagemaker_program": json.dumps(program),
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
            **hps,
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/data/train/",
                        "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated",
                    }
                },
            },
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": count, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


@pytest.fixture
def four_parts(s3: Any) -> list[str]:
    """y = 2*x1 - x2 + 0.5 over 4 CSV objects (label first)."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(4):
        x = rng.normal(size=(32, 2))
        y = 2 * x[:, 0] - x[:, 1] + 0.5
        body = "\n".join(",".join(f"{v:.6f}" for v in (label, *row)) for row, label in zip(x, y, strict=True))
        s3.put_object(Bucket=BUCKET, Key=f"data/train/part-{i}.csv", Body=body.encode() + b"\n")
        names.append(f"part-{i}.csv")
    return names


def model_files(s3: Any, uri: str) -> dict[str, bytes]:
    body = s3.get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


# -- the contract, without processes -------------------------------------------------------------------------------
def test_each_host_has_its_resourceconfig() -> None:
    req = request("rc", PYTORCH_IMAGE, "x.py", count=3)
    second = resource_config(req, "algo-2")
    assert second["current_host"] == "algo-2"
    assert second["hosts"] == ["algo-1", "algo-2", "algo-3"]
    assert second["instance_groups"][0]["hosts"] == ["algo-1", "algo-2", "algo-3"]
    assert (second["current_instance_type"], second["network_interface_name"]) == ("ml.g5.xlarge", "eth0")


def test_sharded_by_s3_key_gives_each_host_every_nth_object(s3: Any) -> None:
    for i in range(5):
        s3.put_object(Bucket=BUCKET, Key=f"d/{i}.csv", Body=b"1\n")
    uri = f"s3://{BUCKET}/d/"
    shares = [s3io.list_keys(s3, uri, (i, 2)) for i in range(2)]
    # every object goes to exactly one host, about 1/n each (AWS documents only that; locally: round-robin by key)
    assert shares == [["d/0.csv", "d/2.csv", "d/4.csv"], ["d/1.csv", "d/3.csv"]]
    # more hosts than objects: some get none, as AWS warns
    assert s3io.list_keys(s3, uri, (5, 6)) == []


def test_hosts_file_adds_the_job_hosts_to_the_machine_ones() -> None:
    text = multihost.hosts_file_text(["algo-1", "algo-2"], "127.0.0.1 localhost\n")
    assert text.splitlines()[0] == "127.0.0.1 localhost"
    assert "127.0.10.1\talgo-1" in text and "127.0.10.2\talgo-2" in text


def test_without_a_private_hosts_file_the_job_fails_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multihost, "_private_hosts_work", lambda: "unshare --mount failed: Operation not permitted")
    monkeypatch.setattr(multihost, "SYSTEM_HOSTS", tmp_path / "hosts")
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    with pytest.raises(multihost.JobFailed) as info:
        multihost.resolver(["algo-1", "algo-2"], tmp_path)
    assert "Operation not permitted" in info.value.reason
    assert "resources.instance_count: 1" in info.value.reason and "/etc/hosts" in info.value.reason
    # names the machine already lists are used as they are
    (tmp_path / "hosts").write_text("127.0.0.1 localhost algo-1 algo-2\n")
    assert multihost.resolver(["algo-1", "algo-2"], tmp_path)(["python"]) == ["python"]


# -- processes -----------------------------------------------------------------------------------------------------
PROBE = """
import json, os, socket
print("PROBE " + json.dumps({
    "host": os.environ["SM_CURRENT_HOST"], "hosts": json.loads(os.environ["SM_HOSTS"]),
    "files": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])), "gpus": os.environ["SM_NUM_GPUS"],
    "resolved": {h: socket.getaddrinfo(h, 7777)[0][4][0] for h in json.loads(os.environ["SM_HOSTS"])},
    "resourceconfig": json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json"))),
    "model_dir": os.environ["SM_MODEL_DIR"],
}), flush=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], os.environ["SM_CURRENT_HOST"]), "w").write("x")
if os.environ["SM_CURRENT_HOST"] == "algo-2" and os.environ.get("SM_HP_FAIL") == "true":
    raise SystemExit("algo-2 gives up")
if os.environ["SM_CURRENT_HOST"] == "algo-1" and os.environ.get("SM_HP_FAIL") == "true":
    import time; time.sleep(600)
"""


@as_root
@pytest.mark.parametrize("sharded", [True, False])
def test_hosts_see_their_own_opt_ml_and_share_and_resolve_each_other(
    s3: Any, four_parts: list[str], make_sourcedir: Any, tmp_path: Path, sharded: bool
) -> None:
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=make_sourcedir(extra={"probe.py": PROBE}))
    lines: list[str] = []
    other: list[tuple[str, str]] = []
    req = request("probe", SKLEARN_IMAGE, "probe.py", instance="ml.m5.large", sharded=sharded)
    outcome = run_training_job(
        req, s3=s3, workdir=tmp_path, on_log=lines.append, on_host_log=lambda h, line: other.append((h, line))
    )
    assert outcome.status == "Completed", outcome.failure_reason
    first = json.loads(next(line for line in lines if line.startswith("PROBE "))[6:])
    second = json.loads(next(line for host, line in other if host == "algo-2" and line.startswith("PROBE "))[6:])
    assert (first["host"], second["host"]) == ("algo-1", "algo-2")
    assert first["hosts"] == second["hosts"] == ["algo-1", "algo-2"]
    assert second["resourceconfig"]["current_host"] == "algo-2"
    assert first["resolved"] == second["resolved"] == {"algo-1": "127.0.10.1", "algo-2": "127.0.10.2"}
    assert first["gpus"] == "0"
    assert first["model_dir"] != second["model_dir"]
    if sharded:
        assert (first["files"], second["files"]) == (four_parts[0::2], four_parts[1::2])
    else:
        assert first["files"] == second["files"] == four_parts
    # only algo-1's model directory becomes model.tar.gz
    assert set(model_files(s3, outcome.model_artifact or "")) == {"algo-1"}
    assert not any(h == "algo-1" for h, _ in other)  # algo-1's lines go to on_log only
    assert threading.active_count() == 1
    # nothing of the machine changed: the names resolve only inside the job's processes
    assert "algo-1" not in Path("/etc/hosts").read_text()


@as_root
def test_one_host_failing_fails_the_job_and_stops_the_others(
    s3: Any, four_parts: list[str], make_sourcedir: Any, tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=make_sourcedir(extra={"probe.py": PROBE}))
    req = request("fails", SKLEARN_IMAGE, "probe.py", instance="ml.m5.large", fail='"true"')
    outcome = run_training_job(req, s3=s3, workdir=tmp_path)  # algo-1 would sleep 600 s: it is stopped
    assert outcome.status == "Failed"
    assert outcome.failure_reason and outcome.failure_reason.startswith("AlgorithmError: ExecuteUserScriptError")
    assert outcome.local_notes["failed_instance"] == "algo-2"
    assert outcome.model_artifact is None
    assert threading.active_count() == 1


PIPE_READER = """
import os
data = open(os.path.join(os.environ["SM_INPUT_DIR"], "data", "train_0"), "rb").read()
print("PIPE %s %d" % (os.environ["SM_CURRENT_HOST"], data.count(b"\\n")), flush=True)
"""


@as_root
def test_pipe_mode_streams_each_host_its_share(
    s3: Any, four_parts: list[str], make_sourcedir: Any, tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=make_sourcedir(extra={"pipe.py": PIPE_READER}))
    req = request("piped", SKLEARN_IMAGE, "pipe.py", instance="ml.m5.large")
    req["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    lines: list[str] = []
    outcome = run_training_job(
        req, s3=s3, workdir=tmp_path, on_log=lines.append, on_host_log=lambda _h, line: lines.append(line)
    )
    assert outcome.status == "Completed", outcome.failure_reason
    # each host's FIFO carries its two objects of 32 rows, nothing more, nothing lost
    assert sorted(line for line in lines if line.startswith("PIPE ")) == ["PIPE algo-1 64", "PIPE algo-2 64"]
    assert threading.active_count() == 1


SLEEPER = """
import os, time
print("started " + os.environ["SM_CURRENT_HOST"], flush=True)
time.sleep(600)
"""


@as_root
def test_a_stop_request_stops_every_host(s3: Any, four_parts: list[str], make_sourcedir: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=make_sourcedir(extra={"sleep.py": SLEEPER}))
    started: set[str] = set()

    def seen(line: str, host: str = "algo-1") -> None:
        if line.startswith("started "):
            started.add(host)

    req = request("stopped", SKLEARN_IMAGE, "sleep.py", instance="ml.m5.large")
    outcome = run_training_job(
        req,
        s3=s3,
        workdir=tmp_path,
        on_log=seen,
        on_host_log=lambda host, line: seen(line, host),
        should_stop=lambda: started == {"algo-1", "algo-2"},  # both sleep 600 s unless stopped
    )
    assert (outcome.status, outcome.secondary_status) == ("Stopped", "Stopped")
    assert threading.active_count() == 1


@as_root
@pytest.mark.parametrize("distribution", ["torch_distributed", "none"])
def test_torch_distributed_gloo_trains_across_two_hosts(
    s3: Any, four_parts: list[str], make_sourcedir: Any, tmp_path: Path, distribution: str
) -> None:
    # Given a DDP script, 4 objects sharded over 2 instances of the PyTorch image
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=make_sourcedir(DDP_SCRIPT))
    hps = {"epochs": "15"}
    if distribution == "torch_distributed":  # as the SDK's PyTorch estimator (and trainops) encode it
        hps |= {"sagemaker_torch_distributed_enabled": "true", "sagemaker_instance_type": '"ml.g5.xlarge"'}
    lines: list[str] = []
    other: list[tuple[str, str]] = []
    req = request(f"ddp-{distribution}", PYTORCH_IMAGE, "ddp_train.py", **hps)
    # When the job runs
    outcome = run_training_job(
        req, s3=s3, workdir=tmp_path, on_log=lines.append, on_host_log=lambda h, line: other.append((h, line))
    )
    # Then both ranks trained together, each on its share, and algo-1's model is the job's
    assert outcome.status == "Completed", (outcome.failure_reason, outcome.local_notes.get("traceback"))
    by_host = {"algo-1": lines, "algo-2": [line for h, line in other if h == "algo-2"]}
    for rank, (host, host_lines) in enumerate(by_host.items()):
        start = next(line for line in host_lines if line.startswith(f"host={host} rank="))
        assert f"rank={rank} world_size=2" in start
        assert f"files={four_parts[rank]},{four_parts[rank + 2]} rows=64" in start
        losses = [float(line.rsplit("loss=", 1)[1]) for line in host_lines if f"host={host} rank={rank} epoch=" in line]
        assert len(losses) == 15 and losses[-1] < losses[0] / 2
    if distribution == "torch_distributed":
        assert any("torchrun" in line and "--node_rank" in line for line in lines)  # the toolkit's launcher
    files = model_files(s3, outcome.model_artifact or "")
    assert json.loads(files["training.json"]) == {"world_size": 2, "rows": 128}
    assert "model.pt" in files
    assert outcome.local_notes["instances"] == 2
    env = outcome.local_notes["framework_environment"]
    assert any("CPU build 2.13.0" in note for note in env["differences"])
