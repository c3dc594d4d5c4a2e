"""New data while a run of the project is in progress (``concurrency``: coalesce, queue, parallel), and the
inputs a new user gets wrong at the first state. The real ASL, real handlers, real local training."""

from __future__ import annotations

import json
import shutil
import time

from trainops.coalescing import execution_arn
from trainops.ledger import Ledger

from tests.conftest import EXAMPLES

DATA = EXAMPLES / "data" / "breast_cancer.csv"


def _ledger(app) -> Ledger:
    return Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))


def _config(app, tmp_path, project: str, concurrency: str | None) -> None:
    text = (EXAMPLES / "configs" / "demo.yaml").read_text().replace("project: demo", f"project: {project}")
    if concurrency:
        text += f"concurrency: {concurrency}\n"
    path = tmp_path / f"{project}.yaml"
    path.write_text(text)
    app.upload_config(project, path)
    app.cloud.wait_idle(30)


def _copies(tmp_path, *names: str):
    out = []
    for name in names:
        target = tmp_path / name
        shutil.copy(DATA, target)
        out.append(target)
    return out


def _wait(app, arn: str, timeout: float = 300) -> dict:
    sfn = app.cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            return desc
        time.sleep(0.1)


def _holding(ledger: Ledger, project: str, timeout: float = 60) -> None:
    """Until a run of the project holds its slot: uploads of one second have no order, so an upload made
    right after another can otherwise reach NormalizeRequest first."""
    deadline = time.monotonic() + timeout
    while ledger.get_slot(project) is None:
        assert time.monotonic() < deadline, f"no run of {project} took its slot"
        time.sleep(0.05)


def _upload(app, project: str, path) -> tuple[str, str]:
    known = app._executions()
    key = app.upload_data(project, path)
    return key, app.find_execution(key, known)


def test_uploads_during_a_run_coalesce_into_one_follow_up_on_the_newest_data(trainops_cloud, tmp_path):
    app = trainops_cloud
    _config(app, tmp_path, "coal", None)  # the default policy
    first, second, third = _copies(tmp_path, "a.csv", "b.csv", "c.csv")
    ledger = _ledger(app)
    # Given a run of the project in progress (held at RegisterModel by the registration lock, so that it is
    # still running whatever the machine's speed)
    assert ledger.acquire_lock("coal", "held-by-the-test", lease_seconds=600)
    _, first_arn = _upload(app, "coal", first)
    _holding(ledger, "coal")
    # When two more files land while it runs (a second apart: S3 orders different keys by the second)
    _, second_arn = _upload(app, "coal", second)
    time.sleep(1.1)
    _, third_arn = _upload(app, "coal", third)
    # Then neither starts a training: both wait for the running run
    for arn in (second_arn, third_arn):
        desc = _wait(app, arn)
        assert desc["status"] == "SUCCEEDED"
        output = json.loads(desc["output"])
        assert output["action"] == "skip" and "is in progress" in output["reason"], output
    ledger.release_lock("coal", "held-by-the-test")
    assert _wait(app, first_arn)["status"] == "SUCCEEDED"
    # and when the first run ends, ONE follow-up run trains on the newest data
    requests = {r["key"].rsplit("/", 1)[1]: r for r in ledger.project_requests("coal")}
    assert requests["a.csv"]["covered_by"] == requests["a.csv"]["run_id"]
    follow_up = requests["c.csv"]["covered_by"]
    assert requests["b.csv"]["covered_by"] == follow_up != requests["c.csv"]["run_id"]
    # what `trainops local run` prints: the first run names its follow-up, the follow-up the uploads it covered
    assert app.follow(first_arn, "coal", timeout=60).follow_up_run == follow_up
    follow_arn = execution_arn(app.state_machine_arn, follow_up)
    summary = app.follow(follow_arn, "coal", timeout=300)
    assert {u["data"].rsplit("/", 1)[1] for u in summary.uploads_covered} == {"b.csv", "c.csv"}
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    record = ledger.get_run(follow_up)
    assert record["dataset_uri"].endswith("data/coal/c.csv")
    assert record["trigger"] == "follow-up"
    assert record["follows"] == requests["a.csv"]["run_id"]
    assert sorted(record["covers"]) == sorted([requests["b.csv"]["run_id"], requests["c.csv"]["run_id"]])
    # nothing is lost: every upload names the run that covered it; the slot is free again
    assert all(r.get("covered_by") for r in ledger.project_requests("coal"))
    assert ledger.pending("coal") == []
    assert ledger.get_slot("coal") is None
    # two trainings for three uploads
    runs = [r for r in ledger.project_runs("coal") if r.get("status") == "SUCCEEDED"]
    assert len(runs) == 2


def test_queue_trains_every_upload_one_at_a_time(trainops_cloud, tmp_path):
    app = trainops_cloud
    _config(app, tmp_path, "queued", "queue")
    first, second = _copies(tmp_path, "one.csv", "two.csv")
    ledger = _ledger(app)
    assert ledger.acquire_lock("queued", "held-by-the-test", lease_seconds=600)
    _, first_arn = _upload(app, "queued", first)
    _holding(ledger, "queued")
    _, second_arn = _upload(app, "queued", second)
    assert "queued" in json.loads(_wait(app, second_arn)["output"])["reason"]
    ledger.release_lock("queued", "held-by-the-test")
    assert _wait(app, first_arn)["status"] == "SUCCEEDED"
    requests = {r["key"].rsplit("/", 1)[1]: r for r in ledger.project_requests("queued")}
    # the queued upload runs under its own run id, after the first one ended
    own = requests["two.csv"]["run_id"]
    assert requests["two.csv"]["covered_by"] == own
    summary = app.follow(execution_arn(app.state_machine_arn, own), "queued", timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert ledger.get_run(own)["dataset_uri"].endswith("data/queued/two.csv")
    assert ledger.get_slot("queued") is None


def test_parallel_starts_every_upload_at_once(trainops_cloud, tmp_path):
    app = trainops_cloud
    _config(app, tmp_path, "para", "parallel")
    first, second = _copies(tmp_path, "x.csv", "y.csv")
    _, first_arn = _upload(app, "para", first)
    _, second_arn = _upload(app, "para", second)
    for arn in (first_arn, second_arn):
        assert _wait(app, arn)["status"] == "SUCCEEDED"
        assert "registration" in json.loads(
            app.cloud.client("stepfunctions").describe_execution(executionArn=arn)["output"]
        )
    assert _ledger(app).get_slot("para") is None


def test_a_slot_left_by_an_ended_run_is_taken_over_by_the_next_upload(trainops_cloud, tmp_path):
    app = trainops_cloud
    _config(app, tmp_path, "orphan", None)
    ledger = _ledger(app)
    # Given the project's slot held by a run whose execution ended without freeing it (stopped by hand or
    # timed out: FinishRun never ran)
    sfn = app.cloud.client("stepfunctions")
    dead = sfn.start_execution(stateMachineArn=app.state_machine_arn, name="ended-run", input="{}")["executionArn"]
    assert _wait(app, dead, timeout=60)["status"] != "RUNNING"
    assert ledger.claim_slot("orphan", "20260101T000000-deadbeef", "ended-run")
    # When data lands, it is not held back forever: the run starts and trains
    (path,) = _copies(tmp_path, "late.csv")
    _, arn = _upload(app, "orphan", path)
    summary = app.follow(arn, "orphan", timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert ledger.get_slot("orphan") is None


def test_bad_manual_inputs_end_failed_with_the_real_error(trainops_cloud):
    app = trainops_cloud
    sfn = app.cloud.client("stepfunctions")
    cases = {
        "in-empty": ({}, "InvalidEvent", "project is missing"),
        "in-null": (None, "InvalidEvent", "must be a JSON object, got null"),
        "in-array": ([1, 2], "InvalidEvent", "got an array"),
        "in-typo": ({"projct": "x"}, "InvalidEvent", "project is missing"),
        "in-bucket": (
            {"project": "inputs", "config": "s3://no-such-bucket-anywhere/c.yaml"},
            "ConfigNotFound",
            "bucket no-such-bucket-anywhere does not exist",
        ),
        "in-longkey": (
            {"project": "inputs", "data": f"s3://{app.data_bucket}/data/inputs/{'k' * 1010}.csv"},
            "DatasetError",
            "of at most 1024",
        ),
    }
    s3 = app.cloud.client("s3")
    s3.put_object(Bucket=app.data_bucket, Key="config/inputs.yaml", Body=b"project: inputs\nconcurrency: parallel\n")
    app.cloud.wait_idle(30)
    s3.put_object(Bucket=app.data_bucket, Key="data/inputs/.keep", Body=b"")  # skipped: a hidden file
    s3.upload_file(str(DATA), app.data_bucket, "data/inputs/inputs.csv")
    app.cloud.wait_idle(30)
    arns = {
        name: sfn.start_execution(stateMachineArn=app.state_machine_arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]
        for name, (payload, _, _) in cases.items()
    }
    for name, (_, error, words) in cases.items():
        desc = _wait(app, arns[name], timeout=60)
        # the execution itself fails with the run's own error and cause (no generic "see the run record")
        assert desc["status"] == "FAILED", name
        assert desc["error"] == error, (name, desc.get("error"), desc.get("cause"))
        assert words in desc["cause"], (name, desc["cause"])
        record = _ledger(app).get_run(name)
        assert record["status"] == "FAILED" and record["error"] == error


def test_a_stray_file_beside_the_project_folders_is_skipped(trainops_cloud):
    app = trainops_cloud
    known = app._executions()
    app.cloud.client("s3").put_object(Bucket=app.data_bucket, Key="data/readme.txt", Body=b"what goes where")
    arn = app.find_execution("data/readme.txt", known)
    desc = _wait(app, arn, timeout=60)
    assert desc["status"] == "SUCCEEDED"
    assert "not in a project folder" in json.loads(desc["output"])["reason"]


def test_the_reconciler_finishes_a_slot_whose_run_ended_without_freeing_it(trainops_cloud, tmp_path):
    app = trainops_cloud
    _config(app, tmp_path, "swept", None)
    ledger = _ledger(app)
    # Given an upload waiting on a run that is still starting (its execution does not exist yet)
    assert ledger.claim_slot("swept", "20260101T000000-0badc0de", "not-started-yet")
    (path,) = _copies(tmp_path, "waiting.csv")
    _, arn = _upload(app, "swept", path)
    assert "is in progress" in json.loads(_wait(app, arn, timeout=60)["output"])["reason"]
    # When that run turns out to have ended without FinishRun (stopped or timed out), and no upload follows
    sfn = app.cloud.client("stepfunctions")
    dead = sfn.start_execution(stateMachineArn=app.state_machine_arn, name="ended-early", input="{}")["executionArn"]
    assert _wait(app, dead, timeout=60)["status"] != "RUNNING"
    assert ledger.claim_slot("swept", "20260101T000000-0badc0de", "ended-early")
    # Then the reconciler's schedule finishes it: the waiting upload gets its follow-up run
    app.cloud.fire_schedule_rule(app.cloud.stacks[app.stack_name].physical_id("ReconcileJobsFunctionEvery15Minutes"))
    app.cloud.wait_idle(60)
    (request,) = ledger.project_requests("swept")
    follow_up = request["covered_by"]
    assert follow_up and follow_up != request["run_id"]
    summary = app.follow(execution_arn(app.state_machine_arn, follow_up), "swept", timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert ledger.get_run(follow_up)["dataset_uri"].endswith("data/swept/waiting.csv")
    assert ledger.get_slot("swept") is None
