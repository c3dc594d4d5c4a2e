"""Bring your own training through `trainops`: the R container example, and bad input named before anything
starts (or, for a requirements.txt that cannot install, a failed job with the installer's error)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.test_cli import DATA, trainops

pytestmark = pytest.mark.e2e


def test_the_r_example_trains_as_a_container_through_its_local_stand_in():
    assert shutil.which("Rscript"), "R is needed: `make test` installs r-base-core (apt-get)"
    result = trainops(
        "local",
        "run",
        "--project",
        "r-example",
        "--data",
        str(DATA),
        "--config",
        str(EXAMPLES / "r" / "config.yaml"),
        "--json",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["objective"]["name"] == "validation:auc"
    assert summary["objective"]["value"] > 0.9
    assert summary["split"]["validation_rows"] > 0  # data.split: always, asked for by the config
    assert summary["approval_status"] == "Approved"


def script_project(tmp_path: Path, config: str, files: dict[str, str]) -> Path:
    code = tmp_path / "src"
    code.mkdir()
    for name, text in files.items():
        (code / name).write_text(text)
    path = tmp_path / "cfg.yaml"
    path.write_text(config)
    return path


SCRIPT_CONFIG = """project: byo
algorithm:
  name: script
  framework: sklearn
  framework_version: "{version}"
  entry_point: {entry}
  source_dir: {source}
"""


@pytest.mark.parametrize(
    ("version", "entry", "source", "field", "words"),
    [
        ("1.2-1", "missing.py", "src", "algorithm.entry_point", "is not in"),
        ("1.2-1", "train.py", "no-such-folder", "algorithm.source_dir", "is not a folder"),
        ("9.9-9", "train.py", "src", "algorithm.framework_version", "1.2-1"),
    ],
)
def test_bad_script_configs_exit_2_naming_the_field_before_anything_starts(
    tmp_path: Path, version: str, entry: str, source: str, field: str, words: str
):
    config = script_project(
        tmp_path, SCRIPT_CONFIG.format(version=version, entry=entry, source=source), {"train.py": "print(1)\n"}
    )
    for command in (
        ("local", "run", "--project", "byo", "--data", str(DATA), "--config", str(config), "--json"),
        ("config", "validate", str(config), "--json"),
    ):
        result = trainops(*command, timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert field in result.stdout
        assert words in result.stdout
        assert "local cloud up" not in result.stdout + result.stderr


CONTAINER_CONFIG = """project: byo-container
algorithm:
  name: container
  image_uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-mine:1
{command}"""


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("  local_command: [trainops-no-such-program, train.R]\n", "'trainops-no-such-program' is not installed"),
        ("", "give the command that runs its training code"),
    ],
)
def test_a_container_without_a_runnable_stand_in_exits_2_naming_local_command(tmp_path: Path, command: str, words: str):
    config = tmp_path / "cfg.yaml"
    config.write_text(CONTAINER_CONFIG.format(command=command))
    result = trainops(
        "local", "run", "--project", "byo-container", "--data", str(DATA), "--config", str(config), "--json"
    )
    assert result.returncode == 2
    body = json.loads(result.stdout)
    assert body["status"] == "INVALID_INPUT"
    assert "algorithm.local_command" in body["error"]
    assert words in body["error"]


def test_config_validate_treats_a_local_source_dir_as_local_run_does():
    result = trainops("config", "validate", str(EXAMPLES / "configs" / "script-pipe.yaml"), "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout) == []


def test_a_requirements_txt_that_cannot_install_fails_the_job_with_the_installer_error(tmp_path: Path):
    config = script_project(
        tmp_path,
        SCRIPT_CONFIG.format(version="1.2-1", entry="train.py", source="src"),
        {"train.py": "print('never runs')\n", "requirements.txt": "trainops-no-such-package-anywhere==0.0.1\n"},
    )
    result = trainops("local", "run", "--project", "byo", "--data", str(DATA), "--config", str(config), "--json")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["status"] == "FAILED"
    assert summary["failed_state"] == "StartTraining"
    assert "InstallRequirementsError" in summary["cause"]
    assert "trainops-no-such-package-anywhere" in summary["cause"]
