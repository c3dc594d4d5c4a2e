"""`trainops runs|start|models` on the local cloud's kept state: each command is a new process, as a user runs
them after `trainops local run`."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.test_cli import name_only_config, trainops

pytestmark = pytest.mark.e2e
DATA = EXAMPLES / "data" / "breast_cancer.csv"


def test_runs_models_and_start_against_the_local_state(tmp_path):
    def cli(*args: str):
        return trainops(*args, cwd=tmp_path)

    config = name_only_config(tmp_path, "opscli")
    ran = cli("local", "run", "--project", "opscli", "--data", str(DATA), "--config", config, "--json")
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    first = json.loads(ran.stdout)
    # runs list / show / logs read what the first command kept in ./.trainops
    listed = cli("runs", "list", "--project", "opscli", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["run_id"], row["status"], row["approval_status"]) == (first["run_id"], "SUCCEEDED", "Approved")
    table = cli("runs", "list")
    assert first["run_id"] in table.stdout and "APPROVAL_STATUS" in table.stdout
    shown = json.loads(cli("runs", "show", first["run_id"], "--json").stdout)
    assert "RegisterModel" in shown["states"] and shown["jobs"][0]["metrics"]["validation:auc"] > 0.9
    logs = cli("runs", "logs", first["run_id"])
    assert "validation-auc" in logs.stdout
    # models list shows the ARN whole on one line; reject keeps the reason; a second reject is refused
    models = cli("models", "list", "opscli")
    arn = first["model_package_arn"]
    assert any(line.endswith(arn) for line in models.stdout.splitlines())
    rejected = cli("models", "reject", arn, "--reason", "bias review 7", "--json")
    assert json.loads(rejected.stdout)["approval_status"] == "Rejected"
    again = cli("models", "reject", arn, "--reason", "again")
    assert again.returncode == 2 and "already Rejected" in again.stderr
    # start runs the project again on its newest data (locally it runs in this command)
    started = cli("start", "opscli", "--json")
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
    assert json.loads(started.stdout)["status"] == "SUCCEEDED"
    assert len(json.loads(cli("runs", "list", "--project", "opscli", "--json").stdout)) == 2


def test_unknown_things_and_missing_state_exit_2(tmp_path):
    missing = trainops("runs", "list", "--workdir", str(tmp_path / "none"), "--json")
    assert missing.returncode == 2 and "holds no local cloud state" in json.loads(missing.stdout)["error"]
    config = name_only_config(tmp_path, "opsbad")
    ran = trainops(
        "local", "run", "--project", "opsbad", "--data", str(DATA), "--config", config, "--json", cwd=tmp_path
    )
    assert ran.returncode == 0
    for args, words in [
        (("runs", "show", "nope"), "no run 'nope'"),
        (("runs", "logs", "nope"), "no run 'nope'"),
        (("models", "list", "unknown"), "no model package group"),
        (
            ("models", "approve", "arn:aws:sagemaker:us-east-1:123456789012:model-package/x/1", "--reason", "r"),
            "no model",
        ),
        (("start", "Bad Name"), "not allowed"),
    ]:
        result = trainops(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert words in result.stderr, (args, result.stderr)
