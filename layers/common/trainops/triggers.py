"""Normalise the three triggers (S3 upload via EventBridge, schedule, manual start) into one RunRequest.

Key layout in the data bucket (documented in the README):
- ``data/<project>/<file>``: a single-file dataset; a run starts on upload.
- ``data/<project>/<dataset>/...`` then ``data/<project>/<dataset>/_READY``: a multi-file dataset; one run
  starts when the marker is written. ``train/`` and ``validation/`` sub-folders mean "already split".
"""

from __future__ import annotations

import functools
import posixpath
import re
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainops import config_yaml  # noqa: F401  (config text is read on every invocation: PyYAML at start)
from trainops.aws import S3_MISSING_CODES, error_code, translate
from trainops.coalescing import FOLLOW_UP
from trainops.config import (
    CHANNEL_NAME_PATTERN,
    MAX_CONFIG_BYTES,
    ProjectConfig,
    default_config,
    load_config_text,
)
from trainops.errors import ConfigInvalid, ConfigNotFound, DatasetError, InvalidEvent, require
from trainops.events import S3ObjectCreated, parse
from trainops.models import Dataset, RunRequest, Skip, Trigger
from trainops.naming import check_project_name, digest, run_id_for
from trainops.types import split_s3_uri

READY_MARKER = "_READY"
CHANNEL_NAME_RE = re.compile(CHANNEL_NAME_PATTERN)
MAX_CHANNELS = 20  # InputDataConfig, CreateTrainingJob
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")


class ManualStart(BaseModel):
    """The documented input of a manual start from the Step Functions console (see events/manual_*.json)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    trigger: str = "manual"
    project: str
    data: str | None = Field(default=None, description="s3://<data bucket>/data/<project>/... ; default: latest")
    run_id: str | None = None
    config: str | None = Field(default=None, description="s3:// URI of a config; default config/<project>.yaml")


class FollowUpStart(BaseModel):
    """The input FinishRun gives the run that follows a project's finished run (trainops.coalescing)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    trigger: Literal["follow-up"]
    project: str
    run_id: str
    data: str
    version_id: str | None = None
    follows: str
    covers: list[str]


class ScheduleStart(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    trigger: str
    project: str
    scheduled_time: str | None = None


def _input_error(what: str, exc: ValidationError, *, fix: str) -> InvalidEvent:
    """The first problem of an input, named by its field: "project is missing", "unknown field 'projct'"."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(input)"
    if err["type"] == "missing":
        message = f"{what} input: {field} is missing"
    elif err["type"] == "extra_forbidden":
        message = f"{what} input: unknown field {field!r}"
    else:
        message = f"{what} input: {field}: {err['msg']}"
    return InvalidEvent(message, field=field, fix=fix)


def _parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)


class DatasetKey(NamedTuple):
    """Where a dataset is in the bucket, before the bucket is known: a file, or a prefix with a marker."""

    kind: Literal["file", "prefix"]
    prefix: str


def classify_key(key: str) -> tuple[str, DatasetKey | None, str | None]:
    """(project, dataset-or-None, skip-reason). Raises InvalidEvent/InvalidProjectName on unusable keys.

    A file directly under ``data/`` (a stray ``data/readme.txt``) belongs to no project: skipped, like a folder
    placeholder, so it neither fails an execution nor feeds the failure alarm."""
    parts = key.split("/")
    if len(parts) == 2 and parts[0] == "data":
        return "", None, f"{key} is not in a project folder (data/<project>/...): not a dataset"
    if len(parts) < 3 or parts[0] != "data":
        raise InvalidEvent(
            f"object key {key!r} is not under data/<project>/",
            field="detail.object.key",
            fix="upload to data/<project>/",
        )
    project = check_project_name(parts[1], field="detail.object.key (project part)")
    name = parts[-1]
    if key.endswith("/"):
        return project, None, f"{key} is a folder placeholder, not data"
    if len(parts) == 3:
        if name.startswith((".", "_")):
            return project, None, f"{key} is a marker or hidden file, not a dataset"
        return project, DatasetKey("file", key), None
    if name == READY_MARKER:
        prefix = posixpath.dirname(key) + "/"
        return project, DatasetKey("prefix", prefix), None
    return project, None, f"{key} is part of a multi-file dataset: the run starts when {READY_MARKER} is written"


# CreateTrainingJob's S3DataSource.S3Uri and CreateProcessingJob's S3Input.S3Uri: at most 1024 characters
MAX_CHANNEL_URI = 1024


def _with_bucket(
    dataset: DatasetKey, bucket: str, version_id: str | None, *, field: str = "detail.object.key"
) -> Dataset:
    uri = f"s3://{bucket}/{dataset.prefix}"
    if len(uri) > MAX_CHANNEL_URI:
        raise DatasetError(
            f"s3://{bucket}/{dataset.prefix[:60]}... is {len(uri)} characters: SageMaker takes a data location "
            f"(a channel's S3Uri) of at most {MAX_CHANNEL_URI}",
            field=field,
            fix=f"upload under a key of at most {MAX_CHANNEL_URI - len(bucket) - 6} characters",
        )
    return Dataset(
        bucket=bucket,
        prefix=dataset.prefix,
        kind=dataset.kind,
        uri=f"s3://{bucket}/{dataset.prefix}",
        version_id=version_id,
    )


def inspect_dataset(dataset: Dataset, s3: Any) -> Dataset:
    """Check the data exists and is not empty; detect train/ + validation/ parts."""
    return _inspect(dataset, s3)[0]


def _inspect(dataset: Dataset, s3: Any) -> tuple[Dataset, datetime | None]:
    """:func:`inspect_dataset`, plus when a single-file dataset was written (its HEAD's LastModified; None for a
    multi-file dataset), so an upload's run id needs no second HEAD of the same object."""
    try:
        if dataset.kind == "file":
            kwargs: dict[str, Any] = {"Bucket": dataset.bucket, "Key": dataset.prefix}
            if dataset.version_id:
                kwargs["VersionId"] = dataset.version_id
            head = s3.head_object(**kwargs)
            if head.get("ContentLength", 0) == 0:
                raise DatasetError(
                    f"{dataset.uri} is empty (0 bytes)", field="dataset", fix="upload a file with a header-less CSV"
                )
            modified = head.get("LastModified")
            return (
                dataset.model_copy(update={"fingerprint": _fingerprint([(dataset.prefix, head)])}),
                modified if isinstance(modified, datetime) else None,
            )
        objects = []
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=dataset.bucket, Prefix=dataset.prefix):
            objects.extend(page.get("Contents", []))
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
            raise DatasetError(
                f"{dataset.uri} no longer exists (overwritten or deleted before the run started)",
                field="dataset",
                fix="upload the data again",
            ) from exc
        raise translate(exc, "reading the dataset") from exc
    data = [o for o in objects if not posixpath.basename(o["Key"]).startswith(("_", ".")) and o.get("Size", 0) > 0]
    if not data:
        raise DatasetError(
            f"{dataset.uri} holds no data files (only markers or empty objects)",
            field="dataset",
            fix="upload the data files before the _READY marker",
        )
    channels = _channels(dataset, [o["Key"][len(dataset.prefix) :] for o in data])
    parts = [(o["Key"], o) for o in data]
    return (
        dataset.model_copy(
            update={
                "has_validation": {"train", "validation"} <= set(channels),
                "channels": channels,
                "fingerprint": _fingerprint(parts),
            }
        ),
        None,
    )


def _channels(dataset: Dataset, relative_keys: list[str]) -> list[str]:
    """A multi-file dataset's channels: its first-level folders, named as uploaded (none: the files are the
    train channel). Files beside channel folders would belong to no channel, so they are refused."""
    folders = sorted({key.split("/", 1)[0] for key in relative_keys if "/" in key})
    loose = sorted(key for key in relative_keys if "/" not in key)
    if folders and loose:
        raise DatasetError(
            f"{dataset.uri} has data files beside its channel folders ({', '.join(loose[:3])}"
            f"{', ...' if len(loose) > 3 else ''}; folders: {', '.join(folders)}): they would reach no channel",
            field="dataset",
            fix="move every data file into a channel folder (train/, validation/, test/, ...)",
        )
    bad = [f for f in folders if not CHANNEL_NAME_RE.match(f)]
    if bad:
        raise DatasetError(
            f"{dataset.uri}: folder {bad[0]!r} cannot be a channel name (letters, digits, '.', '-', '_'; at most 64)",
            field="dataset",
            fix="rename the folder",
        )
    if len(folders) > MAX_CHANNELS:
        raise DatasetError(
            f"{dataset.uri} has {len(folders)} channel folders; a training job takes at most {MAX_CHANNELS}",
            field="dataset",
            fix="merge folders",
        )
    return folders


def _fingerprint(objects: list[tuple[str, dict[str, Any]]]) -> str:
    """The data's identity: every data object's key, size and ETag (not the marker's). Unencrypted and SSE-S3
    objects have content ETags, so the same bytes uploaded again are the same data; SSE-KMS gives every upload
    a new ETag, so there a re-upload counts as new data (the safe side: it retrains)."""
    rows = sorted(
        f"{key}\x1f{o.get('ContentLength', o.get('Size'))}\x1f{str(o.get('ETag', '')).strip(chr(34))}"
        for key, o in objects
    )
    return digest(*rows, length=32)


def latest_dataset(bucket: str, project: str, s3: Any) -> Dataset | None:
    """The newest single file or _READY-marked dataset of a project (for scheduled retraining)."""
    best: tuple[datetime, str] | None = None
    try:
        objects = [
            o
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"data/{project}/")
            for o in page.get("Contents", [])
        ]
    except ClientError as exc:
        raise translate(exc, f"listing data/{project}/") from exc
    for obj in objects:
        key = obj["Key"]
        try:
            _, dataset, skip = classify_key(key)
        except InvalidEvent:
            continue
        if dataset is None or skip:
            continue
        if best is None or (obj["LastModified"], key) > best:
            best = (obj["LastModified"], key)
    if best is None:
        return None
    _, dataset, _ = classify_key(best[1])
    return _with_bucket(require(dataset, f"the dataset of {best[1]}"), bucket, None)


def load_project_config(bucket: str, project: str, s3: Any, *, uri: str | None = None) -> tuple[ProjectConfig, str]:
    """(config, source). No config/<project>.yaml means defaults, inferred from the data, and says so."""
    explicit = uri is not None
    if uri is None:
        uri = f"s3://{bucket}/config/{project}.yaml"
    cfg_bucket, key = split_s3_uri(uri)
    try:
        obj = s3.get_object(Bucket=cfg_bucket, Key=key)
        if obj.get("ContentLength", 0) > MAX_CONFIG_BYTES:
            raise ConfigInvalid(f"{uri} is larger than 32 KiB", field="config", fix="trim the config")
        text = obj["Body"].read()
    except ClientError as exc:
        code = error_code(exc)
        if code in ("NoSuchKey", "404", "NotFound") and not explicit:
            return default_config(project), "defaults (no config/<project>.yaml; problem type and objective inferred)"
        if code in S3_MISSING_CODES:
            what = f"bucket {cfg_bucket} does not exist" if code == "NoSuchBucket" else "does not exist"
            raise ConfigNotFound(
                f"{uri}: {what}", field="config", fix="upload the config there, or leave 'config' out"
            ) from exc
        raise translate(exc, f"reading {uri}") from exc
    return _parsed_config(text, project, uri).model_copy(deep=True), uri


@functools.lru_cache(maxsize=64)
def _parsed_config(text: str | bytes, project: str, source: str) -> ProjectConfig:
    """A config's text parsed and validated once per warm container (about 2.5 ms each time otherwise: a burst
    of uploads reads the same config again and again); callers get a deep copy, so nothing is shared."""
    return load_config_text(text, expected_project=project, source=source)


def normalize(
    event: Any, *, execution: str, start_time: str | None, data_bucket: str, s3: Any
) -> tuple[RunRequest | Skip, ProjectConfig | None]:
    """Any trigger -> (RunRequest, config) or Skip. Raises typed errors for unusable input."""
    if not isinstance(event, dict):
        shown = "null" if event is None else type(event).__name__.replace("list", "an array").replace("str", "a string")
        raise InvalidEvent(
            f"execution input must be a JSON object, got {shown}",
            field="(input)",
            fix='start manually with {"project": "<name>"}; see events/manual_start.json',
        )
    if "source" in event or "detail-type" in event:
        return _from_s3_event(event, execution=execution, data_bucket=data_bucket, s3=s3)
    if event.get("trigger") == "schedule":
        return _from_schedule(event, execution=execution, data_bucket=data_bucket, s3=s3)
    if event.get("trigger") == FOLLOW_UP:
        return _from_follow_up(event, execution=execution, data_bucket=data_bucket, s3=s3)
    # anything else is a manual start: its model names what is missing or unknown ({} -> "project is missing")
    return _from_manual(event, execution=execution, start_time=start_time, data_bucket=data_bucket, s3=s3)


def _from_s3_event(event: dict[str, Any], *, execution: str, data_bucket: str, s3: Any) -> Any:
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        raise InvalidEvent(
            f"foreign event: source={event.get('source')!r} detail-type={event.get('detail-type')!r}",
            field="source",
            fix="only S3 'Object Created' events start runs",
        )
    created = parse(S3ObjectCreated, event, what="S3 Object Created event", fix="start runs from S3 uploads only")
    bucket, obj = created.detail.bucket.name, created.detail.object
    key, version_id = obj.key, obj.version_id
    if bucket != data_bucket:
        raise InvalidEvent(
            f"event for bucket {bucket!r}, not this stack's data bucket", field="detail.bucket.name", fix="check rule"
        )
    project, where, skip = classify_key(key)  # as stored: EventBridge does not URL-encode it (trainops.events)
    if where is None:
        return Skip(reason=skip or "not a dataset"), None
    if where.kind == "file" and obj.size == 0:
        raise DatasetError(f"s3://{bucket}/{key} is empty (0 bytes)", field="detail.object.size", fix="upload data")
    dataset, written = _inspect(_with_bucket(where, bucket, version_id if where.kind == "file" else None), s3)
    # A run's identity is the object (bucket, key, version or sequencer), never the event: the same upload
    # announced twice, even with another event time, is one run. Its time part is the object's, for sorting
    # (a file's comes with the HEAD that inspected it; a dataset's is its marker's).
    identity = (bucket, key, version_id or obj.sequencer or obj.etag or "")
    if written is None:
        written = _object_time(s3, bucket, key, version_id)
    run_id = run_id_for(written or _parse_time(created.time), *identity)
    trigger = Trigger(kind="s3", detail={"key": key, "version_id": version_id, "sequencer": obj.sequencer})
    return _request(run_id, project, trigger, dataset, execution, data_bucket, s3)


def _object_time(s3: Any, bucket: str, key: str, version_id: str | None) -> datetime | None:
    """When the object (the file, or a dataset's marker) was written; None when it cannot be read."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        modified = s3.head_object(**kwargs).get("LastModified")
    except ClientError:
        return None
    return modified if isinstance(modified, datetime) else None


def _from_schedule(event: dict[str, Any], *, execution: str, data_bucket: str, s3: Any) -> Any:
    try:
        start = ScheduleStart.model_validate(event)
    except ValidationError as exc:
        raise _input_error(
            "schedule", exc, fix="the schedule's input is written by trainops: upload the config again"
        ) from exc
    project = check_project_name(start.project)
    dataset = latest_dataset(data_bucket, project, s3)
    if dataset is None:
        return Skip(reason=f"scheduled retraining of {project}: no data under data/{project}/ yet"), None
    dataset = inspect_dataset(dataset, s3)
    stamp = _parse_time(start.scheduled_time)
    run_id = run_id_for(stamp, "schedule", project, start.scheduled_time or execution)
    trigger = Trigger(kind="schedule", detail={"scheduled_time": start.scheduled_time})
    return _request(run_id, project, trigger, dataset, execution, data_bucket, s3)


def _from_manual(event: dict[str, Any], *, execution: str, start_time: str | None, data_bucket: str, s3: Any) -> Any:
    try:
        start = ManualStart.model_validate(event)
    except ValidationError as exc:
        raise _input_error(
            "manual start", exc, fix='use {"project": "<name>", "data": "s3://.../data/<name>/file.csv"}'
        ) from exc
    project = check_project_name(start.project)
    if start.run_id is not None and not RUN_ID_RE.match(start.run_id):
        raise InvalidEvent(f"run_id {start.run_id!r} is not allowed", field="run_id", fix="letters, digits, hyphens")
    if start.data:
        try:
            bucket, key = split_s3_uri(start.data)
        except ValueError as exc:
            raise InvalidEvent(str(exc), field="data", fix="give an s3:// URI") from exc
        if bucket != data_bucket:
            raise InvalidEvent(f"data must be in the data bucket {data_bucket}", field="data")
        key_project, where, skip = classify_key(key if not key.endswith("/") else key + READY_MARKER)
        if key_project != project:
            raise InvalidEvent(f"data {start.data} is not under data/{project}/", field="data")
        if where is None:
            raise InvalidEvent(f"data {start.data}: {skip}", field="data")
        dataset = inspect_dataset(_with_bucket(where, bucket, None, field="data"), s3)
    else:
        found = latest_dataset(data_bucket, project, s3)
        if found is None:
            raise DatasetError(f"no data under s3://{data_bucket}/data/{project}/", field="data", fix="upload data")
        dataset = inspect_dataset(found, s3)
    run_id = start.run_id or run_id_for(_parse_time(start_time), "manual", execution)
    trigger = Trigger(kind="manual", detail={"execution": execution})
    return _request(run_id, project, trigger, dataset, execution, data_bucket, s3, config_uri=start.config)


def _from_follow_up(event: dict[str, Any], *, execution: str, data_bucket: str, s3: Any) -> Any:
    try:
        start = FollowUpStart.model_validate(event)
    except ValidationError as exc:
        raise _input_error(FOLLOW_UP, exc, fix="follow-up runs are started by trainops itself") from exc
    project = check_project_name(start.project)
    if not RUN_ID_RE.match(start.run_id):
        raise InvalidEvent(f"run_id {start.run_id!r} is not allowed", field="run_id", fix="letters, digits, hyphens")
    bucket, key = split_s3_uri(start.data)
    if bucket != data_bucket:
        raise InvalidEvent(f"data must be in the data bucket {data_bucket}", field="data")
    key_project, where, skip = classify_key(key if not key.endswith("/") else key + READY_MARKER)
    if where is None or key_project != project:
        raise InvalidEvent(f"data {start.data}: {skip or 'not under data/' + project + '/'}", field="data")
    version = start.version_id if where.kind == "file" else None
    dataset = inspect_dataset(_with_bucket(where, bucket, version), s3)
    trigger = Trigger(kind="follow-up", detail={"follows": start.follows, "covers": start.covers})
    return _request(start.run_id, project, trigger, dataset, execution, data_bucket, s3)


def _request(
    run_id: str,
    project: str,
    trigger: Trigger,
    dataset: Dataset,
    execution: str,
    data_bucket: str,
    s3: Any,
    *,
    config_uri: str | None = None,
) -> tuple[RunRequest, ProjectConfig]:
    config, source = load_project_config(data_bucket, project, s3, uri=config_uri)
    request = RunRequest(
        run_id=run_id,
        project=project,
        trigger=trigger,
        dataset=dataset,
        config=config.model_dump(mode="json", exclude_none=True),
        config_source=source,
        config_hash=config.config_hash(),
        execution=execution,
    )
    return request, config
