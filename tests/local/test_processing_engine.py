"""The local processing engine: inputs downloaded, the entry point run, outputs uploaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainops_local.sagemaker.processing import run_processing_job

BUCKET = "local-test-bucket"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

SPLIT = """
import argparse, json, os, pathlib, sys
p = argparse.ArgumentParser()
p.add_argument("--input")
p.add_argument("--ratio", type=float)
a = p.parse_args()
rows = []
for f in sorted(pathlib.Path(a.input).rglob("*.csv")):
    rows += f.read_text().splitlines()
if not rows:
    sys.exit("no rows found")
cut = int(len(rows) * a.ratio)
out = pathlib.Path("/opt/ml/processing/output".replace("/opt/ml/processing", os.environ["PROC_ROOT"]))
(out / "train").mkdir(parents=True, exist_ok=True)
(out / "train" / "train.csv").write_text("\\n".join(rows[:cut]) + "\\n")
(out / "validation" / "validation.csv").write_text("\\n".join(rows[cut:]) + "\\n")
(out / "report" / "split.json").write_text(json.dumps({"train": cut, "validation": len(rows) - cut}))
print(f"split {len(rows)} rows")
"""


def processing_request(name: str, image: str = SKLEARN_IMAGE) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/split.py"],
            "ContainerArguments": ["--input", "/opt/ml/processing/input/data", "--ratio", "0.75"],
        },
        "Environment": {"PROC_ROOT": "/opt/ml/processing"},
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/data/proj/ds",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/abc/split.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": out,
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/runs/proj/r1/{out}",
                        "LocalPath": f"/opt/ml/processing/output/{out}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for out in ("train", "validation", "report")
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def test_processing_job_runs_the_script_and_uploads_outputs(s3: Any, tmp_path: Path) -> None:
    rows = "\n".join(f"{i % 2},{i},{i * 2}" for i in range(8)) + "\n"
    s3.put_object(Bucket=BUCKET, Key="data/proj/ds/a.csv", Body=rows.encode())
    s3.put_object(Bucket=BUCKET, Key="code/abc/split.py", Body=SPLIT.encode())
    logs: list[str] = []
    outcome = run_processing_job(processing_request("split-1"), s3=s3, workdir=tmp_path, on_log=logs.append)
    assert outcome.status == "Completed", outcome.failure_reason
    assert "split 8 rows" in logs
    assert (tmp_path / "processing/input/code/split.py").is_file()
    report = s3.get_object(Bucket=BUCKET, Key="runs/proj/r1/report/split.json")["Body"].read()
    assert json.loads(report) == {"train": 6, "validation": 2}
    train = s3.get_object(Bucket=BUCKET, Key="runs/proj/r1/train/train.csv")["Body"].read().decode()
    assert len(train.splitlines()) == 6
    assert outcome.outputs["report"] == f"s3://{BUCKET}/runs/proj/r1/report"


def test_processing_failure_reports_stderr_tail(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="data/proj/ds/empty.txt", Body=b"nothing")
    s3.put_object(Bucket=BUCKET, Key="code/abc/split.py", Body=SPLIT.encode())
    outcome = run_processing_job(processing_request("split-2"), s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    assert "no rows found" in (outcome.failure_reason or "")


def test_processing_stop_and_unknown_image(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="data/proj/ds/a.csv", Body=b"1,2\n")
    s3.put_object(Bucket=BUCKET, Key="code/abc/split.py", Body=b"import time\nwhile True: time.sleep(0.05)\n")
    stopped = run_processing_job(processing_request("split-3"), s3=s3, workdir=tmp_path / "a", should_stop=lambda: True)
    assert stopped.status == "Stopped"
    request = processing_request("split-4")
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    timed_out = run_processing_job(request, s3=s3, workdir=tmp_path / "b")
    assert timed_out.status == "Stopped"
    assert "MaxRuntimeInSeconds" in (timed_out.failure_reason or "")
    custom = run_processing_job(
        processing_request("split-5", image="1.dkr.ecr.us-east-1.amazonaws.com/mine:1"), s3=s3, workdir=tmp_path / "c"
    )
    assert custom.status == "Failed"
    assert "is not available locally" in (custom.failure_reason or "")


def test_the_exit_message_is_what_the_container_wrote_to_opt_ml_output_message(s3: Any, tmp_path: Path) -> None:
    # SageMaker returns the first 1 KB of /opt/ml/output/message as the job's ExitMessage
    script = (
        "import os, sys\n"
        "out = sys.argv[sys.argv.index('--out') + 1]\n"
        "os.makedirs(out, exist_ok=True)\n"
        "open(os.path.join(out, 'message'), 'w').write('file a.csv line 3 has 4 columns' + 'x' * 2000)\n"
        "sys.exit(1)\n"
    )
    s3.put_object(Bucket=BUCKET, Key="data/proj/ds/a.csv", Body=b"1,2\n")
    s3.put_object(Bucket=BUCKET, Key="code/abc/split.py", Body=script.encode())
    request = processing_request("split-msg")
    request["AppSpecification"]["ContainerArguments"] = ["--out", "/opt/ml/output"]
    outcome = run_processing_job(request, s3=s3, workdir=tmp_path)
    assert outcome.status == "Failed"
    assert (outcome.exit_message or "").startswith("file a.csv line 3 has 4 columns")
    assert len(outcome.exit_message or "") == 1024
