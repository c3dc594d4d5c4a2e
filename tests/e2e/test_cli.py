"""Whole runs through the local cloud, as a user runs them: the `trainops` command."""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, bad_rows_in_the_middle

TRAINOPS = [sys.executable, "-m", "trainops_local.cli"]
DATA = EXAMPLES / "data" / "breast_cancer.csv"


def trainops(
    *args: str, timeout: float = 600, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``trainops`` in ``cwd`` (default: a fresh folder, so the default --workdir .trainops is new, as on a
    machine that never ran trainops; relative paths in ``args`` resolve there)."""
    if cwd is None:
        cwd = Path(tempfile.mkdtemp(prefix="trainops-e2e-"))
        atexit.register(shutil.rmtree, cwd, True)
    return subprocess.run([*TRAINOPS, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def name_only_config(folder: Path, project: str) -> str:
    """A config naming only the project (everything else inferred): uploading it makes the project's job role."""
    path = folder / f"{project}.yaml"
    path.write_text(f"project: {project}\n")
    return str(path)


def test_demo_runs_the_main_job_and_a_tuning_run():
    result = trainops("local", "demo", "--json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    demo, tuned = json.loads(result.stdout)
    assert demo["status"] == "SUCCEEDED"
    assert demo["approval_status"] == "Approved"
    assert demo["objective"]["name"] == "validation:auc"
    assert demo["objective"]["value"] > 0.9
    assert demo["model_package_arn"].startswith("arn:aws:sagemaker:")
    assert tuned["status"] == "SUCCEEDED"
    assert tuned["tuning_job"]
    assert len(tuned["training_jobs"]) >= 2


def test_local_run_without_config_says_what_it_inferred_and_second_run_meets_the_champion(tmp_path):
    result = trainops("local", "run", "--project", "inferred", "--data", str(DATA), "--runs", "2", "--json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    first, second = json.loads(result.stdout)
    fields = {i["field"]: i for i in first["inferred"]}
    assert fields["problem.type"]["value"] == "binary"
    assert "0/1" in fields["problem.type"]["reason"]
    assert first["approval_status"] == "Approved"
    assert first["champion"] is None
    # the second run of the same data is compared with the first: not better by the margin -> a human decides
    assert second["champion"]["arn"] == first["model_package_arn"]
    assert second["approval_status"] == "PendingManualApproval"
    assert "does not beat" in second["approval_reason"]
    for summary in (first, second):
        assert set(summary) >= {
            "status",
            "execution_arn",
            "model_package_arn",
            "approval_status",
            "objective",
            "training_jobs",
            "elapsed_s",
        }
        assert summary["training_jobs"][0]["status"] == "Completed"


def test_script_mode_in_pipe_mode_then_incremental_from_the_first_model():
    result = trainops(
        "local",
        "run",
        "--project",
        "script-demo",
        "--data",
        str(DATA),
        "--config",
        str(EXAMPLES / "configs" / "script-pipe.yaml"),
        "--runs",
        "2",
        "--json",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    first, second = json.loads(result.stdout)
    assert first["status"] == "SUCCEEDED"
    assert second["status"] == "SUCCEEDED"
    assert second["champion"]["arn"] == first["model_package_arn"]
    assert first["objective"]["name"] == "validation:auc"


def test_incremental_xgboost_resumes_from_the_approved_model(tmp_path):
    config = tmp_path / "inc.yaml"
    config.write_text(
        "project: inc\nalgorithm: {name: xgboost, hyperparameters: {num_round: 20}}\nincremental: {enabled: true}\n"
    )
    result = trainops(
        "local", "run", "--project", "inc", "--data", str(DATA), "--config", str(config), "--runs", "2", "--json"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    first, second = json.loads(result.stdout)
    assert second["champion"]["arn"] == first["model_package_arn"]
    assert second["status"] == "SUCCEEDED"


def test_bad_data_fails_the_job_and_the_cli_shows_state_error_and_cause(tmp_path):
    data = bad_rows_in_the_middle(tmp_path / "bad")
    config = name_only_config(tmp_path, "baddata")
    result = trainops("local", "run", "--project", "baddata", "--data", str(data), "--config", config, "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "FAILED"
    assert summary["failed_state"] == "StartTraining"
    assert summary["error"] == "TrainingJobFailed"
    assert "abc" in summary["cause"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "does/not/exist.csv"], "no such file"),
        (["--data", str(DATA), "--config", "nope.yaml"], "no such file"),
        (["--data", str(DATA), "--config", "{bad}"], "bad"),
    ],
)
def test_bad_cli_input_exits_2_before_anything_starts(args, message, tmp_path):
    if args[-1] == "{bad}":
        bad = tmp_path / "bad.yaml"
        bad.write_text("project: clibad\nresources: {instance_count: 0}\n")
        args = [*args[:-1], str(bad)]
        message = "resources.instance_count"
    start = time.monotonic()
    result = trainops("local", "run", "--project", "clibad", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert time.monotonic() - start < 20  # nothing was started, nothing is left running
    assert not list(Path(ROOT).glob(".trainops-*"))


def test_config_validate_command_reports_findings(tmp_path):
    good = trainops("config", "validate", str(EXAMPLES / "configs" / "demo-tuning.yaml"))
    assert good.returncode == 0, good.stdout + good.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("project: x\ntuning:\n  ranges:\n    eta: {type: continuous, min: 1, max: 0.1}\n")
    result = trainops("config", "validate", str(bad), "--json")
    assert result.returncode == 2
    assert "ranges.eta" in result.stdout


def test_timeout_stops_the_run_and_says_so_in_json(tmp_path):
    config = tmp_path / "slow.yaml"
    config.write_text("project: slow\nalgorithm:\n  hyperparameters: {num_round: 1000000}\n")
    result = trainops(
        "local", "run", "--project", "slow", "--data", str(DATA), "--config", str(config), "--json", "--timeout", "4"
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "TIMED_OUT"
    assert summary["error"] == "LocalTimeout"
    assert "--timeout 4" in summary["cause"]


def test_a_data_directory_of_empty_files_exits_2_before_anything_starts(tmp_path):
    (tmp_path / "ds" / "train").mkdir(parents=True)
    (tmp_path / "ds" / "train" / "part-0.csv").write_bytes(b"")
    result = trainops("local", "run", "--project", "empty", "--data", str(tmp_path / "ds"), "--json", timeout=60)
    assert result.returncode == 2
    assert "holds no data files" in json.loads(result.stdout)["error"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"project: demo\nalgorithm: [unclosed\n", "not valid YAML"),
        (b"project: demo\ndescription: caf\xe9\n", "not UTF-8"),
        (b"project: demo\ndescription: '" + b"x" * 33000 + b"'\n", "larger than 32 KiB"),
        (
            b"project: demo\nalgorithm: {name: script, framework: sklearn, entry_point: t.py, source_dir: nowhere}\n",
            "source_dir",
        ),
        # what the pipeline refuses, refused by both commands first (issue 9, defect 5)
        (b"project: demo\nschedule: rate(1 day)\nproject: demo\n", "sets project twice (lines 1 and 3)"),
        (b"project: demo\nschedule: rate(0 minutes)\n", "positive whole number"),
        (b"project: demo\nschedule: cron(banana)\n", "EventBridge Scheduler's cron has 6"),
        (b"project: demo\nalgorithm:\n  hyperparameters: {num_round: 1000000000}\n", "cannot finish within"),
        (b"project: demo\nalgorithm:\n  hyperparameters: {eta: 1e308}\n", "outside [0, 1]"),
        (
            b"project: demo\nalgorithm:\n  hyperparameters: {" + b", ".join(b"h%d: 1" % i for i in range(101)) + b"}\n",
            "SageMaker allows 100",
        ),
        (b"project: demo\nalgorithm: {name: autopilot}\n", "Autopilot reads CSV with a header row"),
        (
            b"project: demo\ntuning:\n  early_stopping: On\n  ranges: {eta: {type: continuous, min: 0.1, max: 0.3}}\n",
            "YAML reads an unquoted On",
        ),
    ],
)
def test_bad_config_files_exit_2_with_json_from_both_commands(tmp_path, content, words):
    config = tmp_path / "demo.yaml"
    config.write_bytes(content)
    run = trainops(
        "local", "run", "--project", "demo", "--data", str(DATA), "--config", str(config), "--json", timeout=60
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert words in json.loads(run.stdout)["error"]
    validate = trainops("config", "validate", str(config), "--json", timeout=60)
    assert validate.returncode == 2, validate.stdout + validate.stderr
    assert words in json.loads(validate.stdout)[0]["message"]
