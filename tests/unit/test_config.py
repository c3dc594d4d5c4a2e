import json
from pathlib import Path

import pytest
from trainops.config import ProjectConfig, json_schema, load_config_text
from trainops.errors import ConfigInvalid

from tests.helpers import config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_leave_problem_and_objective_to_inference():
    cfg = config()
    assert cfg.algorithm.name == "xgboost"
    assert cfg.problem.type is None
    assert cfg.problem.objective_metric is None
    assert cfg.registry.auto_approve_first is True


def test_example_configs_validate():
    from trainops_local.configfile import read_config_file  # a local source_dir is packed by the CLI

    paths = sorted((ROOT / "examples").glob("**/*.yaml"))
    assert len(paths) >= 4
    for path in paths:
        assert isinstance(read_config_file(path).config, ProjectConfig)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("project: demo\nalgorithm: {name: deep-magic}", "algorithm.name"),
        ("project: demo\nunknown_key: 1", "unknown_key"),
        ("project: ../etc\n", "project"),
        ("project: 'a\"b'\n", "project"),
        ("project: demo\ndata: {validation_fraction: 0.9}", "data.validation_fraction"),
        ("project: demo\nalgorithm: {name: script}", "algorithm"),
        ("project: demo\nresources: {instance_type: m5.large}", "resources.instance_type"),
        ("project: demo\ntags: {'aws:owner': x}", "tags"),
        ("project: demo\nschedule: every day", "schedule"),
    ],
)
def test_invalid_configs_name_the_field_and_the_fix(text, field):
    with pytest.raises(ConfigInvalid) as info:
        load_config_text(text)
    assert info.value.field == field
    assert info.value.fix
    assert field.split(".")[0] in str(info.value)


def test_yaml_syntax_error_is_a_config_error():
    with pytest.raises(ConfigInvalid, match="not valid YAML"):
        load_config_text("project: [unclosed")


def test_config_must_live_under_its_own_name():
    with pytest.raises(ConfigInvalid) as info:
        load_config_text("project: other\n", expected_project="demo")
    assert info.value.field == "project"


def test_config_hash_is_stable_and_sensitive():
    assert config().config_hash() == config().config_hash()
    assert config().config_hash() != config(description="x").config_hash()


def test_exported_schema_is_current():
    exported = json.loads((ROOT / "schemas" / "project-config.schema.json").read_text())
    assert exported == json.loads(json.dumps(json_schema())), "run `make schemas`"
