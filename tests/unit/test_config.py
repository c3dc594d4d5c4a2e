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


# --- what the pipeline refuses, refused when the config is read (issue 9, defect 5) -----------------
@pytest.mark.parametrize(
    ("text", "path", "lines"),
    [
        ("project: demo\nproject: other\n", "project", "lines 1 and 2"),
        (
            "project: demo\nalgorithm:\n  hyperparameters:\n    eta: 0.1\n    max_depth: 3\n    eta: 0.2\n",
            "algorithm.hyperparameters.eta",
            "lines 4 and 6",
        ),
        (
            "project: demo\ntuning:\n  ranges:\n    eta: {type: continuous, min: 0.1, max: 0.3, min: 0.2}\n",
            "tuning.ranges.eta.min",
            "lines 4 and 4",
        ),
        ("project: demo\ntags:\n  - {a: 1, a: 2}\n", "tags.0.a", "lines 3 and 3"),
        ("project: demo\ntags: {on: x, yes: y}\n", "tags.True", "lines 2 and 2"),  # both keys read as true
    ],
)
def test_duplicate_keys_are_refused_naming_the_key_and_the_lines(text, path, lines):
    # Given a key written twice (YAML itself keeps the last one silently)
    with pytest.raises(ConfigInvalid) as info:
        load_config_text(text)
    # Then the error names the key, where it is, and both lines
    assert info.value.field == path
    assert f"sets {path} twice ({lines})" in str(info.value)
    assert info.value.fix and "delete the line" in info.value.fix


def test_a_merge_key_may_still_be_overridden():
    text = (
        "project: demo\nresources: &r {instance_count: 1}\nregistry: {}\ndata:\n  <<: {split: auto}\n  split: never\n"
    )
    assert load_config_text(text).data.split == "never"


def test_a_config_over_32_kib_is_refused_when_read_by_the_pipeline_too():
    # SyncSchedule and NormalizeRequest read config text through load_config_text: one limit, shared
    from trainops.config import MAX_CONFIG_BYTES
    from trainops.triggers import MAX_CONFIG_BYTES as PIPELINE_LIMIT

    assert PIPELINE_LIMIT is MAX_CONFIG_BYTES == 32 * 1024
    text = "project: demo\ndescription: '" + "x" * MAX_CONFIG_BYTES + "'\n"
    with pytest.raises(ConfigInvalid, match="larger than 32 KiB") as info:
        load_config_text(text.encode())
    assert info.value.field == "(file)"
    assert load_config_text("project: demo\ndescription: '" + "x" * 30000 + "'\n").project == "demo"


@pytest.mark.parametrize(
    ("schedule", "words", "fix"),
    [
        ("rate(0 minutes)", "positive whole number", "rate(7 days)"),
        ("rate(-5 minutes)", "positive whole number", "rate(7 days)"),
        ("rate(1.5 hours)", "positive whole number", "rate(7 days)"),
        ("rate(1 hours)", "unit is singular", "rate(1 hour)"),
        ("rate(5 hour)", "unit is plural", "rate(5 hours)"),
        ("rate(5 weeks)", "one of minute, minutes", "rate(5 days)"),
        ("rate(5days)", "rate(value unit)", "rate(7 days)"),
        ("cron(banana)", "has 1 field(s); EventBridge Scheduler's cron has 6", "cron(0 3 ? * MON *)"),
        ("cron(0 3 * * ?)", "has 5 field(s)", "cron(0 3 ? * MON *)"),
        ("cron(0 3 * * ? * *)", "has 7 field(s)", "cron(0 3 ? * MON *)"),
        ("cron(0 3 * * MON *)", "exactly one of day-of-month (*) and day-of-week (MON) must be '?'", "?"),
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month", "?"),
        ("cron(60 3 ? * MON *)", "minutes field '60'", "rate(7 days)"),
        ("cron(0 24 ? * MON *)", "hours field '24'", "rate(7 days)"),
        ("cron(0 3 32 * ? *)", "day-of-month field '32'", "rate(7 days)"),
        ("cron(0 3 ? FOO MON *)", "month field 'FOO'", "rate(7 days)"),
        ("cron(0 3 ? * MON/2 *)", "'/' wildcard is not allowed", "rate(7 days)"),
        ("cron(0 3 ? * 3#6 *)", "<day>#<1-5>", "rate(7 days)"),
        ("cron(0 3 ? * MON 1969)", "year field '1969'", "rate(7 days)"),
        ("cron(0/0 3 ? * MON *)", "increment after '/'", "rate(7 days)"),
        ("at(2027-01-01T00:00:00)", "one-time schedule", "rate(...) or cron(...)"),
        ("every day", "neither rate(value unit) nor cron(six fields)", "rate(7 days)"),
    ],
)
def test_schedules_eventbridge_scheduler_would_refuse_are_config_errors(schedule, words, fix):
    with pytest.raises(ConfigInvalid) as info:
        load_config_text(f"project: demo\nschedule: '{schedule}'\n")
    assert info.value.field == "schedule"
    assert words in str(info.value)
    assert info.value.fix and fix in info.value.fix


@pytest.mark.parametrize(
    "schedule",
    [
        "rate(1 minute)",
        "rate(15 minutes)",
        "rate(1 day)",
        "rate(7 days)",
        "cron(0 3 ? * MON *)",
        "cron(0 10 * * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(15 12 L * ? 2027-2030)",
        "cron(0 9 3W JAN,JUL ? *)",
        "cron(0 9 ? * 6L *)",
        "cron(0 9 ? * 3#2 *)",
        "cron(5,35 14 ? * sun *)",
    ],
)
def test_schedules_eventbridge_scheduler_accepts_are_kept(schedule):
    assert load_config_text(f"project: demo\nschedule: '{schedule}'\n").schedule == schedule


def test_sync_schedule_creates_no_schedule_for_a_refused_expression():
    # Given an uploaded config with rate(0 minutes): SyncSchedule reads it through the model
    from trainops.schedules import sync_from_config_event

    class Body:
        def read(self) -> bytes:
            return b"project: demo\nschedule: rate(0 minutes)\n"

    class S3:
        def get_object(self, **_: object) -> dict[str, object]:
            return {"Body": Body()}

    class Scheduler:
        created: list[dict[str, object]] = []

        def create_schedule(self, **params: object) -> None:
            self.created.append(params)

    settings = type(
        "S", (), {"data_bucket": "b", "schedule_group": None, "state_machine_arn": "a", "scheduler_role_arn": "r"}
    )
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "b"}, "object": {"key": "config/demo.yaml"}},
    }
    scheduler = Scheduler()
    # When it syncs, Then it refuses the config, naming the field, and creates nothing
    with pytest.raises(ConfigInvalid) as info:
        sync_from_config_event(event, settings=settings, s3=S3(), scheduler=scheduler)  # type: ignore[arg-type]
    assert info.value.field == "schedule"
    assert scheduler.created == []


@pytest.mark.parametrize(
    ("written", "read"),
    [("Off", "Off"), ("off", "Off"), ("no", "Off"), ("false", "Off"), ("'Off'", "Off"), ("Auto", "Auto")],
)
def test_unquoted_off_which_yaml_reads_as_false_is_early_stopping_off(written, read):
    text = f"project: demo\ntuning:\n  early_stopping: {written}\n  ranges: {{eta: {{type: continuous, min: 0.1, max: 0.3}}}}\n"
    assert load_config_text(text).tuning.early_stopping == read


@pytest.mark.parametrize("written", ["On", "on", "yes", "true"])
def test_unquoted_on_which_yaml_reads_as_true_says_exactly_that(written):
    text = f"project: demo\ntuning:\n  early_stopping: {written}\n  ranges: {{eta: {{type: continuous, min: 0.1, max: 0.3}}}}\n"
    with pytest.raises(ConfigInvalid) as info:
        load_config_text(text)
    assert info.value.field == "tuning.early_stopping"
    assert "YAML reads an unquoted On, on, yes or true as the boolean true" in str(info.value)
    assert info.value.fix == "write one of 'Auto', 'Off', in quotes (e.g. 'Off')"


def test_other_off_and_none_words_yaml_changes_are_read_as_meant():
    ranges = "  ranges: {eta: {type: continuous, min: 0.1, max: 0.3}}\n"
    assert load_config_text(f"project: demo\ntuning:\n  warm_start: off\n{ranges}").tuning.warm_start == "off"
    # PyYAML keeps None a string; null and ~ are null: for data.compression all three mean no compression
    for written in ("None", "null", "~"):
        assert load_config_text(f"project: demo\ndata: {{compression: {written}}}\n").data.compression == "None"
