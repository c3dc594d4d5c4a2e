"""The local cloud's state persists between `trainops local` commands (separate processes) in --workdir."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli import DATA, trainops


def run_json(*args: str, cwd: Path) -> dict:
    result = trainops("local", "run", *args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout)


def test_a_second_process_meets_the_first_model_and_trains_incrementally_from_it_in_a_relative_workdir(tmp_path):
    # Given a project whose config trains incrementally, run in a RELATIVE --workdir: the upload is one CSV,
    # so the run needs a validation split (a processing job, which runs in its own folder)
    config = tmp_path / "inc.yaml"
    config.write_text(
        "project: inc\nalgorithm: {name: xgboost, hyperparameters: {num_round: 10}}\nincremental: {enabled: true}\n"
    )
    args = ("--project", "inc", "--data", str(DATA), "--config", str(config), "--workdir", "state/wd")

    # When two separate commands run on the same workdir
    first = run_json(*args, cwd=tmp_path)
    second = run_json(*args, cwd=tmp_path)

    # Then the first is the project's first model, split as usual, its state kept in the relative folder
    assert first["status"] == "SUCCEEDED"
    assert first["split"]["validation_rows"] > 0
    assert first["champion"] is None
    assert "first model of the project" in first["approval_reason"]
    assert (tmp_path / "state" / "wd" / "cloud.pickle").is_file()
    # and the second is judged against the first one's model and continues it
    assert second["status"] == "SUCCEEDED"
    assert second["champion"]["arn"] == first["model_package_arn"]
    assert second["champion"]["value"] == first["objective"]["value"]
    assert second["incremental_from"] == first["model_package_arn"]
    assert second["model_package_arn"].endswith("/2")
    assert "Approved model" in second["approval_reason"]

    # When the state is reset
    reset = trainops("local", "reset", "--workdir", "state/wd", "--json", cwd=tmp_path)

    # Then the folder is gone, and a second reset has nothing to do
    assert reset.returncode == 0, reset.stderr
    assert "cloud.pickle" in json.loads(reset.stdout)["removed"]
    assert not (tmp_path / "state" / "wd").exists()
    again = trainops("local", "reset", "--workdir", "state/wd", cwd=tmp_path)
    assert again.returncode == 0
    assert "nothing to delete" in again.stdout


def test_a_second_tuning_run_warm_starts_from_the_first_ones_tuning_job_in_the_default_workdir(tmp_path):
    # Given a small Bayesian tuning config (warm start: auto, the default)
    config = tmp_path / "tune.yaml"
    config.write_text(
        "project: tune\nalgorithm: {name: xgboost, hyperparameters: {num_round: 10}}\n"
        "problem: {objective_metric: 'validation:auc', objective_direction: Maximize}\n"
        "tuning:\n  strategy: Bayesian\n  max_jobs: 2\n  max_parallel_jobs: 1\n"
        "  ranges:\n    max_depth: {type: integer, min: 2, max: 5}\n"
    )
    args = ("--project", "tune", "--data", str(DATA), "--config", str(config))

    # When it runs twice, in two processes, with the default --workdir (.trainops in the current folder)
    first = run_json(*args, cwd=tmp_path)
    second = run_json(*args, cwd=tmp_path)

    # Then the second tuning job is warm-started from the first one's
    assert (tmp_path / ".trainops" / "state.json").is_file()
    assert first["warm_start"]["parents"] == []
    assert second["warm_start"]["parents"] == [first["tuning_job"]]
    assert second["tuning_job"] != first["tuning_job"]
    assert second["champion"]["arn"] == first["model_package_arn"]


def test_a_workdir_in_another_state_format_is_refused_with_exit_2_and_reset_named(tmp_path):
    # Given a workdir written by a trainops with another state format
    workdir = tmp_path / "old"
    workdir.mkdir()
    (workdir / "state.json").write_text(json.dumps({"format": 999}))

    # When a run is asked to use it
    result = trainops("local", "run", "--project", "old", "--data", str(DATA), "--workdir", str(workdir), "--json")

    # Then nothing starts: exit 2, and the message says how to start afresh
    assert result.returncode == 2, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    assert payload["status"] == "INVALID_INPUT"
    assert "format 999" in payload["error"]
    assert "trainops local reset" in payload["error"]
    assert json.loads((workdir / "state.json").read_text()) == {"format": 999}  # untouched


def test_reset_refuses_a_folder_that_is_not_a_trainops_workdir(tmp_path):
    # Given a folder holding the user's own files
    (tmp_path / "notes.txt").write_text("mine")

    # When it is given to reset
    result = trainops("local", "reset", "--workdir", str(tmp_path))

    # Then nothing is deleted
    assert result.returncode == 2
    assert "notes.txt" in result.stderr
    assert (tmp_path / "notes.txt").exists()
