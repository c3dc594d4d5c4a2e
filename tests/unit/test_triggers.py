"""Trigger normalisation: every bad input gets a typed error naming the field."""

import boto3
import pytest
from moto import mock_aws
from trainops.errors import ConfigInvalid, ConfigNotFound, DatasetError, InvalidEvent, InvalidProjectName
from trainops.models import RunRequest, Skip
from trainops.triggers import classify_key, normalize

from tests.helpers import DATA_BUCKET, csv_rows


def s3_event(key, *, size=100, bucket=DATA_BUCKET, source="aws.s3", detail_type="Object Created"):
    return {
        "version": "0",
        "detail-type": detail_type,
        "source": source,
        "time": "2026-11-26T12:00:00Z",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": size, "sequencer": "0A1B"}},
    }


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATA_BUCKET)
        yield client


def run(event, s3):
    return normalize(event, execution="exec-1", start_time="2026-11-26T12:00:00Z", data_bucket=DATA_BUCKET, s3=s3)


def test_single_file_upload_becomes_a_run_request_with_inferred_defaults(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/train.csv", Body=csv_rows())
    request, cfg = run(s3_event("data/demo/train.csv"), s3)
    assert isinstance(request, RunRequest)
    assert request.project == "demo"
    assert request.dataset.kind == "file"
    assert "defaults" in request.config_source
    assert cfg is not None


def test_duplicate_events_give_the_same_run_id(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/train.csv", Body=csv_rows())
    a, _ = run(s3_event("data/demo/train.csv"), s3)
    b, _ = run(s3_event("data/demo/train.csv"), s3)
    assert a.run_id == b.run_id


@pytest.mark.parametrize("key", ["data/demo/train.csv", "data/demo/ds1/_READY"])
def test_an_upload_re_announced_with_another_event_time_is_the_same_run(s3, key):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/ds1/part-0.csv", Body=csv_rows())
    s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=csv_rows() if key.endswith(".csv") else b"")
    first, _ = run(s3_event(key), s3)
    later = s3_event(key)
    later["time"] = "2026-11-27T08:30:00Z"  # the same object version, announced again a day later
    again, _ = run(later, s3)
    assert first.run_id == again.run_id


def test_keys_with_spaces_plus_and_unicode_are_used_as_stored(s3):
    key = "data/demo/red flower+1 é.csv"
    s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=csv_rows())
    request, _ = run(s3_event(key), s3)
    assert request.dataset.prefix == key  # EventBridge keys are not URL-encoded: never decoded


def test_multi_file_parts_are_skipped_and_the_marker_starts_one_run(s3):
    for i in range(3):
        s3.put_object(Bucket=DATA_BUCKET, Key=f"data/demo/batch1/part-{i}.csv", Body=csv_rows())
    skipped, _ = run(s3_event("data/demo/batch1/part-0.csv"), s3)
    assert isinstance(skipped, Skip)
    assert "_READY" in skipped.reason
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/batch1/_READY", Body=b"")
    request, _ = run(s3_event("data/demo/batch1/_READY", size=0), s3)
    assert request.dataset.kind == "prefix"
    assert request.dataset.prefix == "data/demo/batch1/"


def test_ready_marker_without_data_is_a_dataset_error(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/empty/_READY", Body=b"")
    with pytest.raises(DatasetError, match="no data files"):
        run(s3_event("data/demo/empty/_READY", size=0), s3)


def test_zero_byte_object_is_a_dataset_error(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/empty.csv", Body=b"")
    with pytest.raises(DatasetError) as info:
        run(s3_event("data/demo/empty.csv", size=0), s3)
    assert "0 bytes" in str(info.value)


def test_object_deleted_before_the_run_is_a_dataset_error(s3):
    with pytest.raises(DatasetError, match="no longer exists"):
        run(s3_event("data/demo/gone.csv"), s3)


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ("not a dict", InvalidEvent),
        ({"hello": "world"}, InvalidEvent),
        (s3_event("data/demo/x.csv", source="aws.ec2"), InvalidEvent),
        (s3_event("data/demo/x.csv", detail_type="Object Deleted"), InvalidEvent),
        (s3_event("data/demo/x.csv", bucket="someone-elses-bucket"), InvalidEvent),
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, InvalidEvent),
        (s3_event("elsewhere/x.csv"), InvalidEvent),
        (s3_event("data/../etc/passwd"), InvalidProjectName),
        (s3_event("data/Dem'o/x.csv"), InvalidProjectName),
        ({"project": "../x"}, InvalidProjectName),
        ({"project": "demo", "extra": 1}, InvalidEvent),
        ({"project": "demo", "run_id": "a b"}, InvalidEvent),
        ({"trigger": "schedule"}, InvalidEvent),
    ],
)
def test_bad_inputs_raise_typed_errors(event, error, s3):
    with pytest.raises(error) as info:
        run(event, s3)
    assert str(info.value)


def test_invalid_config_in_the_bucket_is_a_config_error(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/train.csv", Body=csv_rows())
    s3.put_object(Bucket=DATA_BUCKET, Key="config/demo.yaml", Body=b"project: demo\nalgorithm: {name: nope}\n")
    with pytest.raises(ConfigInvalid) as info:
        run(s3_event("data/demo/train.csv"), s3)
    assert info.value.field == "algorithm.name"


def test_explicit_config_that_does_not_exist_is_config_not_found(s3):
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/train.csv", Body=csv_rows())
    with pytest.raises(ConfigNotFound):
        run({"project": "demo", "config": f"s3://{DATA_BUCKET}/config/missing.yaml"}, s3)


def test_schedule_with_no_data_is_skipped_and_manual_takes_latest(s3):
    skipped, _ = run({"trigger": "schedule", "project": "demo", "scheduled_time": "2026-11-26T03:00:00Z"}, s3)
    assert isinstance(skipped, Skip)
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/a.csv", Body=csv_rows())
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/b.csv", Body=csv_rows())
    request, _ = run({"project": "demo"}, s3)
    assert request.dataset.prefix == "data/demo/b.csv"


def test_classify_key_ignores_folder_placeholders():
    project, dataset, reason = classify_key("data/demo/folder/")
    assert project == "demo"
    assert dataset is None
    assert "folder" in reason


def test_fingerprint_follows_the_data_not_the_marker(s3):
    def ready_request():
        s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/b1/_READY", Body=b"")
        request, _ = run(s3_event("data/demo/b1/_READY", size=0), s3)
        return request.dataset.fingerprint

    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/b1/part-0.csv", Body=csv_rows(10))
    first = ready_request()
    assert first == ready_request()  # the marker written again: the same data
    s3.put_object(Bucket=DATA_BUCKET, Key="data/demo/b1/part-1.csv", Body=csv_rows(12))
    assert ready_request() != first  # a part added: new data, even though the marker is the same empty object


@pytest.mark.parametrize(
    ("raw", "project"),
    [
        ({"source": "aws.s3", "detail": {"object": {"key": "data/churn/a.csv"}}}, "churn"),
        ({"detail": {"object": {"key": "data/readme.txt"}}}, None),
        ({"detail": {"object": {"key": "data/Bad_Name/a.csv"}}}, None),
        ({"project": "churn"}, "churn"),
        ({"trigger": "follow-up", "project": "churn", "run_id": "x"}, "churn"),
        ({"projct": "churn"}, None),
        (None, None),
        ([1, 2], None),
    ],
)
def test_the_project_of_a_raw_input_is_read_without_any_aws_call(raw, project) -> None:
    from trainops.coalescing import project_of_input

    assert project_of_input(raw) == project
