"""The real ASL (statemachines/training_pipeline.asl.json), deployed from template.yaml and executed by moto's
Step Functions interpreter, with the real handlers and real local training. Every wait has a deadline and stops
on ANY terminal status (LocalTrainops.follow)."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import EXAMPLES, bad_rows_in_the_middle
from tests.helpers import emf_lines

DATA = EXAMPLES / "data" / "breast_cancer.csv"


def _states(app, arn):
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in app.cloud.execution_history(arn)
        if "stateEnteredEventDetails" in e
    ]


def _record(app, run_id):
    from trainops.ledger import Ledger

    return Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb")).get_run(run_id)


def test_happy_path_registers_an_approved_model(trainops_cloud, tmp_path):
    app = trainops_cloud
    # Given a project config and its data
    config = tmp_path / "happy.yaml"
    config.write_text((EXAMPLES / "configs" / "demo.yaml").read_text().replace("project: demo", "project: happy"))
    # When the data lands in S3
    summary = app.run("happy", DATA, config, timeout=300)
    # Then the execution went the whole way and the model is in the registry, approved
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert _states(app, summary.execution_arn) == [
        "ReceiveInput",
        "NormalizeRequest",
        "RunOrSkip",
        "SelectAlgorithm",
        "NeedsSplit",
        "SplitDataset",
        "TuneOrTrain",
        "StartTraining",
        "RegisterModel",
        "FinishRun",
        "Registered",
    ]
    sm = app.cloud.client("sagemaker")
    package = sm.describe_model_package(ModelPackageName=summary.model_package_arn)
    assert package["ModelApprovalStatus"] == "Approved"
    meta = package["CustomerMetadataProperties"]
    assert meta["trainops:objective-metric"] == "validation:auc"
    assert float(meta["trainops:objective-value"]) > 0.9
    assert meta["trainops:data"].endswith("data/happy/breast_cancer.csv")
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].endswith("output/model.tar.gz")
    job = sm.describe_training_job(TrainingJobName=summary.training_jobs[0]["name"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    record = _record(app, summary.run_id)
    assert record["status"] == "SUCCEEDED"
    assert record["approval_status"] == "Approved"
    assert {i["field"] for i in record["inferred"]} >= {"problem.type", "problem.objective_metric"}
    assert record["split"]["stratified"] is True
    assert record["split"]["validation_rows"] + record["split"]["train_rows"] == 569
    # and the registration is a CloudWatch metric: counted, approved, with the model's objective
    (metrics,) = [m for m in emf_lines(app, "RegisterModelFunction") if m.get("project") == "happy"]
    assert metrics["ModelsRegistered"] == 1.0 and metrics["ModelsApproved"] == 1.0
    assert metrics["ObjectiveValue"] == pytest.approx(float(meta["trainops:objective-value"]))
    assert metrics["objective_metric"] == "validation:auc"


def test_a_duplicate_callback_event_is_harmless(trainops_cloud, tmp_path):
    app = trainops_cloud
    summary = app.run("dupes", DATA, None, timeout=300)
    assert summary.status == "SUCCEEDED"
    job_name = summary.training_jobs[0]["name"]
    sm = app.cloud.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName=job_name)
    # When SageMaker sends the Completed event again (it may)
    detail = {"TrainingJobName": job_name, "TrainingJobArn": job["TrainingJobArn"], "TrainingJobStatus": "Completed"}
    for _ in range(2):
        app.cloud.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": "SageMaker Training Job State Change",
                    "Detail": json.dumps(detail),
                    "Resources": [job["TrainingJobArn"]],
                }
            ]
        )
    app.cloud.wait_idle(30)
    # Then nothing changes: one package, the run still succeeded, no failed callback
    packages = sm.list_model_packages(ModelPackageGroupName="trainops-dupes")["ModelPackageSummaryList"]
    assert len(packages) == 1
    assert _record(app, summary.run_id)["status"] == "SUCCEEDED"
    token = app.cloud.client("dynamodb").get_item(
        TableName=app.outputs["RunsTableName"], Key={"pk": {"S": f"JOB#{job_name}"}, "sk": {"S": "TOKEN"}}
    )["Item"]
    assert token["status"]["S"] == "ANSWERED"


def test_training_failure_ends_the_run_with_the_reason_recorded(trainops_cloud, tmp_path):
    app = trainops_cloud
    data = bad_rows_in_the_middle(tmp_path / "broken")
    summary = app.run("broken", data, None, timeout=300)
    assert summary.status == "FAILED"
    assert summary.failed_state == "StartTraining"
    assert summary.error == "TrainingJobFailed"
    assert "line" in summary.cause and "abc" in summary.cause  # SageMaker's FailureReason, not a generic message
    states = _states(app, summary.execution_arn)
    assert states[-4:] == ["RecordFailure", "FinishFailedRun", "FailureKind", "RunFailed"]
    record = _record(app, summary.run_id)
    assert record["status"] == "FAILED"
    assert "abc" in record["cause"]
    groups = app.cloud.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert "trainops-broken" not in {g["ModelPackageGroupName"] for g in groups}


def test_invalid_config_fails_at_the_first_state_with_the_field_named(trainops_cloud, tmp_path):
    app = trainops_cloud
    s3 = app.cloud.client("s3")
    s3.put_object(Bucket=app.data_bucket, Key="config/badcfg.yaml", Body=b"project: badcfg\nalgorithm: {name: magic}\n")
    app.cloud.wait_idle(30)
    known = app._executions()
    key = app.upload_data("badcfg", DATA)
    arn = app.find_execution(key, known)
    summary = app.follow(arn, "badcfg", timeout=120)
    assert summary.status == "FAILED"
    assert summary.failed_state == "NormalizeRequest"
    assert summary.error == "ConfigInvalid"
    assert "algorithm.name" in summary.cause
    # the failure is recorded even though no run id could be derived from a valid request
    from trainops.ledger import Ledger

    execution_name = arn.rsplit(":", 1)[1]
    record = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb")).get_run(execution_name)
    assert record["status"] == "FAILED"
    assert record["error"] == "ConfigInvalid"


def test_a_rejected_config_upload_is_recorded_and_reaches_the_alarmed_queue(trainops_cloud):
    from trainops.ledger import Ledger

    app = trainops_cloud
    s3 = app.cloud.client("s3")
    sqs = app.cloud.client("sqs")
    queue_url = app.cloud.stacks[app.stack_name].physical_id("RejectedConfigsQueue")  # a queue's id is its URL
    # When a config that does not validate is uploaded
    s3.put_object(Bucket=app.data_bucket, Key="config/rejected.yaml", Body=b"project: rejected\nschedule: weekly\n")
    app.cloud.wait_idle(30)
    # Then the rejection is on the project's history, with the field and the fix
    ledger = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))
    # one record for the upload, however many times Lambda retried it
    (entry,) = [e for e in ledger.project_runs("rejected") if e.get("kind") == "config"]
    assert entry["status"] == "CONFIG_REJECTED" and entry["error"] == "ConfigInvalid"
    assert entry["field"] == "schedule" and "Fix:" in entry["cause"]
    # and after Lambda's retries the invocation record is in the alarmed queue (its OnFailure destination)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    records = [json.loads(m["Body"]) for m in messages]
    assert any(r["requestPayload"]["detail"]["object"]["key"] == "config/rejected.yaml" for r in records)
    # and a valid config afterwards is recorded as accepted
    s3.put_object(Bucket=app.data_bucket, Key="config/rejected.yaml", Body=b"project: rejected\n")
    app.cloud.wait_idle(30)
    statuses = [e["status"] for e in ledger.project_runs("rejected") if e.get("kind") == "config"]
    assert statuses == ["CONFIG_ACCEPTED", "CONFIG_REJECTED"]  # newest first


@pytest.mark.parametrize("payload", [{"hello": "world"}, {"project": "../../etc"}, {"project": "demo", "data": 5}])
def test_bad_manual_input_fails_cleanly_and_is_recorded(trainops_cloud, payload):
    app = trainops_cloud
    name = f"bad-{abs(hash(json.dumps(payload))) % 10**8}"
    arn = app.start_manual(payload, name)
    summary = app.follow(arn, "n/a", timeout=60)
    assert summary.status == "FAILED"
    assert summary.failed_state == "NormalizeRequest"
    assert summary.error in ("InvalidEvent", "InvalidProjectName")
    assert summary.cause


def test_multi_file_upload_starts_one_run(trainops_cloud, tmp_path):
    app = trainops_cloud
    folder = tmp_path / "batch"
    folder.mkdir()
    lines = DATA.read_text().splitlines()
    for i in range(5):
        (folder / f"part-{i}.csv").write_text("\n".join(lines[i::5]) + "\n")
    summary = app.run("multi", folder, None, timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    # the five part uploads started executions that skipped; only the marker's execution trained
    runs = [
        r
        for r in app.cloud.client("dynamodb").scan(TableName=app.outputs["RunsTableName"])["Items"]
        if r.get("project", {}).get("S") == "multi" and r["sk"]["S"] == "RUN"
    ]
    assert len(runs) == 1


def test_schedule_retrains_on_the_latest_data_and_skips_when_nothing_is_new(trainops_cloud, tmp_path):
    app = trainops_cloud
    config = tmp_path / "sched.yaml"
    config.write_text("project: sched\nschedule: rate(1 day)\nalgorithm: {hyperparameters: {num_round: 10}}\n")
    first = app.run("sched", DATA, config, timeout=300)
    assert first.status == "SUCCEEDED"
    group = app.outputs["ScheduleGroupName"]
    # When the project's schedule fires (EventBridge Scheduler -> the state machine)
    delivery = app.cloud.fire_schedule("trainops-sched", group)
    assert delivery.error is None
    summary = app.follow(delivery.result, "sched", timeout=120)
    # Then the run is skipped, and says why: the newest data was already trained on
    assert summary.status == "SKIPPED"
    assert "no new data" in summary.skip_reason
    start = json.loads(app.cloud.client("stepfunctions").describe_execution(executionArn=delivery.result)["input"])
    assert start["trigger"] == "schedule"
    assert start["scheduled_time"] != "<aws.scheduler.scheduled-time>"


def _upload_and_follow(app, key: str, body: bytes, project: str):
    known = app._executions()
    app.cloud.client("s3").put_object(Bucket=app.data_bucket, Key=key, Body=body)
    arn = app.find_execution(key, known)
    return app.follow(arn, project, timeout=300)


def test_a_key_with_spaces_plus_and_unicode_trains_on_exactly_that_object(trainops_cloud):
    app = trainops_cloud
    key = "data/odd-keys/red flower+1 é.csv"
    summary = _upload_and_follow(app, key, DATA.read_bytes(), "odd-keys")
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    meta = app.cloud.client("sagemaker").describe_model_package(ModelPackageName=summary.model_package_arn)[
        "CustomerMetadataProperties"
    ]
    assert meta["trainops:data"].endswith("red flower+1 é.csv")


@pytest.mark.parametrize(
    ("key", "body", "error", "field"),
    [
        ("data/zero/empty.csv", b"", "DatasetError", "0 bytes"),
        ("data/Bad'Name/x.csv", b"0,1\n", "InvalidProjectName", "not allowed"),
        ("data/header/h.csv", b"label,a,b\n0,1,2\n1,2,3\n", "DatasetError", "header row"),
    ],
)
def test_bad_uploads_end_in_a_recorded_failure_with_a_clear_error(trainops_cloud, key, body, error, field):
    app = trainops_cloud
    summary = _upload_and_follow(app, key, body, key.split("/")[1])
    assert summary.status == "FAILED"
    assert summary.error == error
    assert field in summary.cause
    from trainops.ledger import Ledger

    record_id = summary.run_id or summary.execution_arn.rsplit(":", 1)[1]
    record = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb")).get_run(record_id)
    assert record["status"] == "FAILED"
    assert record["error"] == error


TUNING = """project: {project}
algorithm: {{name: xgboost, hyperparameters: {{num_round: 15}}}}
problem: {{objective_metric: validation:auc, objective_direction: Maximize}}
tuning:
  max_jobs: 4
  max_parallel_jobs: 1
  ranges:
    eta: {{type: continuous, min: 0.05, max: 0.5, scaling: Logarithmic}}
    max_depth: {{type: integer, min: 2, max: 6}}
"""


def test_tuning_registers_the_best_job_and_a_second_run_warm_starts_from_the_first(trainops_cloud, tmp_path):
    app = trainops_cloud
    config = tmp_path / "tuned.yaml"
    config.write_text(TUNING.format(project="tuned"))
    first = app.run("tuned", DATA, config, timeout=600)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    assert "StartTuning" in _states(app, first.execution_arn)
    sm = app.cloud.client("sagemaker")
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=first.tuning_job)
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    package = sm.describe_model_package(ModelPackageName=first.model_package_arn)
    assert best in package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    meta = package["CustomerMetadataProperties"]
    assert meta["trainops:tuning-job"] == first.tuning_job
    assert "eta=" in meta["trainops:best-hyperparameters"]
    # Second run: warm start "auto" finds the first tuning job
    second = app.run("tuned", DATA, config, timeout=600)
    assert second.status == "SUCCEEDED", (second.error, second.cause)
    warm = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=second.tuning_job)["WarmStartConfig"]
    assert [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]] == [first.tuning_job]
    assert warm["WarmStartType"] == "IdenticalDataAndAlgorithm"
    assert second.champion["arn"] == first.model_package_arn


def test_tuning_where_every_job_fails_ends_as_no_model_and_registers_nothing(trainops_cloud, tmp_path):
    app = trainops_cloud
    config = tmp_path / "allfail.yaml"
    config.write_text(TUNING.format(project="allfail"))
    data = bad_rows_in_the_middle(tmp_path / "broken")
    summary = app.run("allfail", data, config, timeout=600)
    assert summary.status == "NO_MODEL"
    assert _states(app, summary.execution_arn)[-1] == "NoModel"
    assert summary.error in ("TuningJobFailed", "NoModelProduced")
    assert "abc" in summary.cause  # the training jobs' FailureReason reaches the run's cause
    groups = app.cloud.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert "trainops-allfail" not in {g["ModelPackageGroupName"] for g in groups}
    assert _record(app, summary.run_id)["status"] == "NO_MODEL"


def test_lost_job_events_are_answered_by_the_reconciler(trainops_cloud):
    app = trainops_cloud
    stack = app.cloud.stacks[app.stack_name]
    events = app.cloud.client("events")
    job_rule = stack.physical_id("HandleJobEventFunctionJobStateChange")
    reconcile_rule = stack.physical_id("ReconcileJobsFunctionEvery15Minutes")
    sfn = app.cloud.client("stepfunctions")
    # Given SageMaker's state-change events do not reach the callback (lost on the way)
    events.disable_rule(Name=job_rule)
    try:
        known = app._executions()
        key = app.upload_data("lost-event", DATA)
        arn = app.find_execution(key, known)
        # When the reconciler's schedule fires (every 15 minutes on AWS; here until the run ends)
        deadline = time.monotonic() + 180
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            app.cloud.fire_schedule_rule(reconcile_rule)
            app.cloud.wait_idle(60)
            time.sleep(0.5)
        summary = app.follow(arn, "lost-event", timeout=60)
    finally:
        events.enable_rule(Name=job_rule)
    # Then the split and the training job were answered as if their events had arrived
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert summary.model_package_arn


def test_registration_waits_for_another_run_of_the_project_to_finish_registering(trainops_cloud, tmp_path):
    from trainops.ledger import Ledger

    app = trainops_cloud
    ledger = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))
    config = tmp_path / "locked.yaml"
    config.write_text((EXAMPLES / "configs" / "demo.yaml").read_text().replace("project: demo", "project: locked"))
    # Given another run of the project holding the project's registration lock
    assert ledger.acquire_lock("locked", "another-run")
    app.upload_config("locked", config)
    app.cloud.wait_idle(30)
    known = app._executions()
    arn = app.find_execution(app.upload_data("locked", DATA), known)
    # When this run reaches RegisterModel, it is told the registry is busy and retries
    deadline = time.monotonic() + 300
    busy = False
    while not busy and time.monotonic() < deadline:
        history = app.cloud.execution_history(arn)
        busy = any("RegistryBusy" in json.dumps(e, default=str) for e in history)
        time.sleep(0.2)
    packages = app.cloud.client("sagemaker").list_model_packages(ModelPackageGroupName="trainops-locked")
    ledger.release_lock("locked", "another-run")
    assert busy, "RegisterModel never reported RegistryBusy"
    assert packages["ModelPackageSummaryList"] == []  # nothing registered while the lock was held
    # Then, once the other run let go, it registers
    summary = app.follow(arn, "locked", timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert summary.model_package_arn
    assert ledger.acquire_lock("locked", "a-third-run")  # and it released the lock
