"""The local engine in script mode: SM_* contract, File and Pipe channels, metric scraping, failures, stops."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer
from trainops_local.sagemaker.engine import run_training_job
from trainops_local.sagemaker.types import MetricPoint

BUCKET = "local-test-bucket"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scripts" / "train.py"
METRICS = [
    {"Name": "validation:auc", "Regex": r"validation-auc=([0-9.]+)"},
    {"Name": "train:logloss", "Regex": r"train-logloss=([0-9.]+)"},
]


def script_request(name: str, mode: str = "File", *, program: str = "train.py", **hps: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": SKLEARN_IMAGE,
            "TrainingInputMode": mode,
            "MetricDefinitions": METRICS,
        },
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "HyperParameters": {
            "sagemaker_program": json.dumps(program),
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
            **{k: json.dumps(v) for k, v in hps.items()},
        },
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/{channel}"}},
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


@pytest.fixture
def dataset(s3: Any, make_csv: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    s3.put_object(Bucket=BUCKET, Key="data/train/train.csv", Body=make_csv(x[:450], y[:450]))
    s3.put_object(Bucket=BUCKET, Key="data/validation/validation.csv", Body=make_csv(x[450:], y[450:]))


def upload_code(s3: Any, make_sourcedir: Any, **extra: str) -> None:
    body = make_sourcedir(EXAMPLE, extra=extra)
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=body)


def read_tar(s3: Any, uri: str) -> dict[str, bytes]:
    body = s3.get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["File", "Pipe"])
def test_example_script_trains_with_scraped_metrics(
    s3: Any, dataset: None, make_sourcedir: Any, tmp_path: Path, mode: str
) -> None:
    upload_code(s3, make_sourcedir)
    logs: list[str] = []
    points: list[MetricPoint] = []
    request = script_request(f"script-{mode.lower()}", mode, epochs=3)
    outcome = run_training_job(request, s3=s3, workdir=tmp_path, on_log=logs.append, on_metric=points.append)
    assert outcome.status == "Completed", outcome.failure_reason
    assert outcome.final_metrics["validation:auc"].value > 0.9
    assert [p.epoch for p in points if p.name == "validation:auc"] == [0, 1, 2]
    model = read_tar(s3, outcome.model_artifact or "")
    # pickled by scikit-learn 1.2.1 (the image's), which this interpreter's newer scikit-learn cannot load
    assert b"SGDClassifier" in model["model.pkl"]
    assert json.loads(read_tar(s3, outcome.output_data or "")["summary.json"]) == {"epochs": 3}
    if mode == "Pipe":  # one FIFO per epoch, really read by the script; nothing downloaded
        assert [line for line in logs if line.startswith("reading pipe train_")] == [
            "reading pipe train_0",
            "reading pipe train_1",
            "reading pipe train_2",
        ]
        assert "reading pipe validation_0" in logs
        assert not (tmp_path / "input/data/train").exists()
    else:
        assert (tmp_path / "input/data/train/train.csv").is_file()
    assert threading.active_count() == 1


CONTRACT_PROBE = """
import json, os, sys
out = dict(os.environ)
out["argv"] = sys.argv[1:]
out["cwd"] = os.getcwd()
out["executable"] = sys.executable
out["version"] = "%d.%d" % sys.version_info[:2]
import pandas, sklearn, sagemaker_training.environment
import sagemaker_containers.beta.framework  # the image ships the older toolkit too
out["pandas"] = pandas.__version__
out["sklearn"] = sklearn.__version__
env = sagemaker_training.environment.Environment()
out["toolkit_job"] = env.job_name
out["toolkit_channels"] = env.channel_input_dirs
out["hyperparameters.json"] = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")))
print("PROBE " + json.dumps(out))
"""


def test_script_runs_in_the_framework_image_environment_through_the_toolkit(
    s3: Any, dataset: None, make_sourcedir: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the controller's own environment holds AWS keys and a variable of its own
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "controller-key")
    monkeypatch.setenv("TRAINOPS_CONTROLLER_ONLY", "1")
    upload_code(s3, make_sourcedir, **{"probe.py": CONTRACT_PROBE})
    request = script_request("probe", program="probe.py", epochs=4, K=5, use_bias=True)
    request["HyperParameters"]["label-name"] = "target"  # a plain (not JSON-encoded) value is kept as is
    request["Environment"] = {"MY_SETTING": "on"}
    logs: list[str] = []
    # When the job runs
    outcome = run_training_job(request, s3=s3, workdir=tmp_path, on_log=logs.append)
    # Then the script saw what the scikit-learn image gives it, through the SageMaker training toolkit
    assert outcome.status == "Completed", outcome.failure_reason
    probe = json.loads(next(line for line in logs if line.startswith("PROBE "))[6:])
    assert probe["version"] == "3.10"  # the image's Python
    assert (probe["pandas"], probe["sklearn"]) == ("1.5.3", "1.2.1")  # the image's pins
    assert probe["argv"] == ["-K", "5", "--epochs", "4", "--label-name", "target", "--use_bias", "True"]
    assert probe["SAGEMAKER_BASE_DIR"] == str(tmp_path)
    assert probe["SM_MODEL_DIR"] == str(tmp_path / "model")
    assert json.loads(probe["SM_CHANNELS"]) == ["train", "validation"]
    assert probe["SM_CHANNEL_TRAIN"] == str(tmp_path / "input/data/train")
    assert json.loads(probe["SM_HPS"]) == {"epochs": 4, "K": 5, "use_bias": True, "label-name": "target"}
    assert probe["SM_HP_EPOCHS"] == "4"
    assert (probe["SM_CURRENT_HOST"], json.loads(probe["SM_HOSTS"]), probe["SM_NUM_GPUS"]) == (
        "algo-1",
        ["algo-1"],
        "0",
    )
    assert probe["SM_MODULE_DIR"] == f"s3://{BUCKET}/code/sourcedir.tar.gz"
    assert probe["SM_FRAMEWORK_MODULE"] == "sagemaker_sklearn_container.training:main"
    assert probe["cwd"] == str(tmp_path / "code")
    assert probe["toolkit_job"] == "probe"
    assert probe["toolkit_channels"]["validation"] == str(tmp_path / "input/data/validation")
    assert probe["hyperparameters.json"]["epochs"] == "4"  # as sent: the SDK JSON-encodes values
    assert (probe["TRAINING_JOB_NAME"], probe["AWS_REGION"], probe["MY_SETTING"]) == ("probe", "us-east-1", "on")
    # and nothing of the controller's environment
    assert "AWS_ACCESS_KEY_ID" not in probe
    assert "TRAINOPS_CONTROLLER_ONLY" not in probe
    assert "trainops_local" not in probe["PYTHONPATH"]
    assert str(Path(sys.executable).parent) not in probe["PATH"]
    # and the run output says which environment it was
    env = outcome.local_notes["framework_environment"]
    assert (env["framework"], env["version"], env["toolkit"]) == ("sklearn", "1.2-1", "sagemaker-training")
    assert probe["executable"].startswith(env["path"])


SLOW = """
import time
for i in range(600):
    print(f"step={i} validation-auc=0.5", flush=True)
    time.sleep(0.05)
"""


def test_max_runtime_stops_the_script(s3: Any, dataset: None, make_sourcedir: Any, tmp_path: Path) -> None:
    upload_code(s3, make_sourcedir, **{"slow.py": SLOW})
    request = script_request("slow", program="slow.py")
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    outcome = run_training_job(request, s3=s3, workdir=tmp_path)
    assert (outcome.status, outcome.secondary_status) == ("Stopped", "MaxRuntimeExceeded")
    assert "MaxRuntimeInSeconds" in (outcome.failure_reason or "")
    assert outcome.training_time_seconds < 10


def test_stop_request_terminates_the_script(s3: Any, dataset: None, make_sourcedir: Any, tmp_path: Path) -> None:
    upload_code(s3, make_sourcedir, **{"slow.py": SLOW})
    points: list[MetricPoint] = []
    outcome = run_training_job(
        script_request("slow-stop", program="slow.py"),
        s3=s3,
        workdir=tmp_path,
        on_metric=points.append,
        should_stop=lambda: len(points) >= 3,
    )
    assert (outcome.status, outcome.secondary_status) == ("Stopped", "Stopped")
    assert len(points) < 20
    assert threading.active_count() == 1


def test_incremental_training_from_model_channel(s3: Any, dataset: None, make_sourcedir: Any, tmp_path: Path) -> None:
    upload_code(s3, make_sourcedir)
    first = run_training_job(script_request("inc-1", epochs=2), s3=s3, workdir=tmp_path / "a")
    assert first.status == "Completed", first.failure_reason
    second = script_request("inc-2", "Pipe", epochs=1)
    second["InputDataConfig"].append(
        {
            "ChannelName": "model",
            "ContentType": "application/x-sagemaker-model",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": first.model_artifact}},
        }
    )
    logs: list[str] = []
    outcome = run_training_job(second, s3=s3, workdir=tmp_path / "b", on_log=logs.append)
    assert outcome.status == "Completed", outcome.failure_reason
    assert "continuing from model.tar.gz" in logs  # the model channel stayed in File mode
    assert (tmp_path / "b/input/data/model/model.tar.gz").is_file()
