"""The local cloud's state kept in a workdir: what one cloud leaves, the next (a fresh moto) answers with."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from trainops_local.cloud import LocalCloud, persistence
from trainops_local.cloud.persistence import STATE_FORMAT, LocalState, StateError, reset_workdir

MINI = Path(__file__).parent / "fixtures" / "mini" / "template.yaml"
REGION = "us-east-1"


def cloud_on(workdir: Path) -> LocalCloud:
    return LocalCloud(workdir / "cloud", state=LocalState(workdir))


def first_session(cloud: LocalCloud) -> dict[str, Any]:
    """What a command leaves behind: an object, a finished execution (and its DynamoDB item), a registered model
    package with approval and metadata, a finished and a still running training job, a schedule."""
    stack = cloud.deploy(MINI, "mini")
    s3, sfn, sm = cloud.client("s3"), cloud.client("stepfunctions"), cloud.client("sagemaker")
    s3.put_object(Bucket=stack["DataBucketName"], Key="data/a.csv", Body=b"1,2\n")
    arn = sfn.start_execution(stateMachineArn=stack["PipelineArn"], name="run-1", input='{"mode": "ok"}')[
        "executionArn"
    ]
    done = cloud.wait_execution(arn, timeout=30)
    assert done["status"] == "SUCCEEDED"
    group = stack["ModelGroupArn"].rsplit("/", 1)[1]
    package = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"objective": "0.97", "reason": "first model"},
        InferenceSpecification={
            "Containers": [{"Image": "xgb:1", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    for name in ("done-job", "running-job"):
        sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": "xgb:1", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/r",
            OutputDataConfig={"S3OutputPath": "s3://b/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends[cloud.account_id][REGION].training_jobs["running-job"].training_job_status = "InProgress"
    cloud.client("scheduler").create_schedule(
        Name="retrain-p",
        GroupName=stack["ScheduleGroup"],
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": stack["PipelineArn"], "RoleArn": "arn:aws:iam::123456789012:role/r", "Input": "{}"},
    )
    history = cloud.execution_history(arn)
    return {"stack": stack, "execution": arn, "output": done["output"], "history": history, "package": package}


def test_a_fresh_cloud_on_the_workdir_answers_as_the_first_one_left_it(tmp_path: Path) -> None:
    # Given a first cloud that did some work and stopped
    with cloud_on(tmp_path) as cloud:
        before = first_session(cloud)
    assert json.loads((tmp_path / "state.json").read_text())["format"] == STATE_FORMAT

    # When a new cloud (a fresh moto) starts on the same workdir and deploys the same template
    with cloud_on(tmp_path) as cloud:
        stack = cloud.deploy(MINI, "mini")
        s3, sfn, sm, ddb = (cloud.client(s) for s in ("s3", "stepfunctions", "sagemaker", "dynamodb"))

        # Then the physical names are the same, and the objects, items and executions are there
        assert stack.outputs == before["stack"].outputs
        assert s3.get_object(Bucket=stack["DataBucketName"], Key="data/a.csv")["Body"].read() == b"1,2\n"
        assert ddb.get_item(TableName=stack["RunsTableName"], Key={"pk": {"S": "run-1"}})["Item"]["mode"] == {"S": "ok"}
        described = sfn.describe_execution(executionArn=before["execution"])
        assert described["status"] == "SUCCEEDED"
        assert described["output"] == before["output"]
        listed = sfn.list_executions(stateMachineArn=stack["PipelineArn"])["executions"]
        assert [e["executionArn"] for e in listed] == [before["execution"]]
        history = cloud.execution_history(before["execution"])
        assert [e["type"] for e in history] == [e["type"] for e in before["history"]]
        assert history[-1]["type"] == "ExecutionSucceeded"

        # and the registry: approval and metadata kept, the next version numbered after it
        package = sm.describe_model_package(ModelPackageName=before["package"])
        assert package["ModelApprovalStatus"] == "Approved"
        assert package["CustomerMetadataProperties"] == {"objective": "0.97", "reason": "first model"}
        group = stack["ModelGroupArn"].rsplit("/", 1)[1]
        second = sm.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval")
        assert second["ModelPackageArn"].endswith("/2")

        # and the jobs: the finished one as it was, the one running when the command ended Stopped with why
        assert sm.describe_training_job(TrainingJobName="done-job")["TrainingJobStatus"] == "Completed"
        stopped = sm.describe_training_job(TrainingJobName="running-job")
        assert stopped["TrainingJobStatus"] == "Stopped"
        assert "local cloud stopped" in stopped["FailureReason"]
        assert cloud.client("scheduler").get_schedule(Name="retrain-p", GroupName=stack["ScheduleGroup"])

        # and the restored execution takes part in the API like any ended one: a new run starts, a stale task
        # token is refused as AWS refuses it (not a crash on the restored execution)
        new = sfn.start_execution(stateMachineArn=stack["PipelineArn"], name="run-2", input='{"mode": "ok"}')
        assert cloud.wait_execution(new["executionArn"], timeout=30)["status"] == "SUCCEEDED"
        with pytest.raises(ClientError, match=r"InvalidToken|TaskDoesNotExist"):
            sfn.send_task_failure(taskToken="stale", error="E", cause="c")

    # When a third cloud starts: both executions are kept
    with cloud_on(tmp_path) as cloud:
        stack = cloud.deploy(MINI, "mini")
        names = {
            e["name"]
            for e in cloud.client("stepfunctions").list_executions(stateMachineArn=stack["PipelineArn"])["executions"]
        }
        assert names == {"run-1", "run-2"}


def test_a_cloud_that_never_deployed_leaves_the_saved_state_alone(tmp_path: Path) -> None:
    with cloud_on(tmp_path) as cloud:
        first_session(cloud)
    saved = (tmp_path / "cloud.pickle").read_bytes()
    with cloud_on(tmp_path):
        pass
    assert (tmp_path / "cloud.pickle").read_bytes() == saved


def test_one_command_at_a_time_uses_a_workdir(tmp_path: Path) -> None:
    first = LocalState(tmp_path)
    first.open()
    try:
        with pytest.raises(StateError, match="in use by another trainops command"):
            LocalState(tmp_path).open()
        with pytest.raises(StateError, match="in use"):
            reset_workdir(tmp_path)
    finally:
        first.close()
    second = LocalState(tmp_path)
    second.open()
    second.close()


def test_a_crash_while_saving_keeps_the_previous_snapshot_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workdir with a saved snapshot holding one object
    with cloud_on(tmp_path) as cloud:
        stack = cloud.deploy(MINI, "mini")
        cloud.client("s3").put_object(Bucket=stack["DataBucketName"], Key="kept", Body=b"v1")
        cloud.checkpoint()
        # When the next save dies before the new file replaces the old one
        cloud.client("s3").put_object(Bucket=stack["DataBucketName"], Key="lost", Body=b"v2")

        def crash(*args: object) -> None:
            raise OSError("power cut")

        monkeypatch.setattr(persistence.os, "replace", crash)
        with pytest.raises(OSError, match="power cut"):
            cloud.checkpoint()
        monkeypatch.undo()
        monkeypatch.setattr(LocalState, "save", lambda *args: None)  # the process dies: nothing more is saved
    monkeypatch.undo()

    # Then the workdir opens with the previous snapshot
    with cloud_on(tmp_path) as cloud:
        stack = cloud.deploy(MINI, "mini")
        keys = [o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=stack["DataBucketName"])["Contents"]]
        assert keys == ["kept"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"state.json": json.dumps({"format": STATE_FORMAT + 1})}, f"format {STATE_FORMAT + 1}"),
        ({"state.json": "{not json"}, "cannot be read"),
        ({"cloud.pickle": "x"}, "no state.json"),
        ({"state.json": json.dumps({"format": STATE_FORMAT}), "cloud.pickle": "garbage"}, "cannot be read"),
    ],
)
def test_state_in_another_format_is_refused_naming_reset(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    state = LocalState(tmp_path)
    with pytest.raises(StateError, match=message) as caught:
        state.open()
    assert "trainops local reset" in str(caught.value)
    state.close()
    assert {p.name for p in tmp_path.iterdir()} - {"lock"} == set(files)  # nothing rewritten


def test_a_snapshot_of_another_format_number_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"format": STATE_FORMAT}))
    (tmp_path / "cloud.pickle").write_bytes(pickle.dumps(persistence.Snapshot(format=STATE_FORMAT + 1)))
    with pytest.raises(StateError, match="trainops local reset"):
        LocalState(tmp_path).open()


def test_reset_deletes_only_a_trainops_workdir(tmp_path: Path) -> None:
    workdir = tmp_path / "wd"
    (workdir / "cloud").mkdir(parents=True)
    (workdir / "jobs" / "training").mkdir(parents=True)
    (workdir / "state.json").write_text("{}")
    (workdir / "cloud.pickle").write_bytes(b"x")
    assert reset_workdir(workdir) == ["cloud", "cloud.pickle", "jobs", "state.json"]
    assert not workdir.exists()
    assert reset_workdir(workdir) == []

    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(StateError, match=r"mine\.txt"):
        reset_workdir(tmp_path)
    assert (tmp_path / "mine.txt").exists()


def test_relative_workdir_is_made_absolute_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # jobs run in their own folders (a processing job's code folder): a relative root would be doubled there
    monkeypatch.chdir(tmp_path)
    from trainops_local.runner import LocalTrainops

    app = LocalTrainops(Path("rel/wd"))
    assert app.workdir == tmp_path / "rel" / "wd"
    assert app.cloud.workdir == tmp_path / "rel" / "wd" / "cloud"
    assert app.state is not None and app.state.workdir == app.workdir


def test_capture_outside_a_deployed_stack_is_plain_data(tmp_path: Path) -> None:
    # the snapshot pickles moto's records only: no backend, lock or thread rides along
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="plain-data-bucket")
        snapshot = persistence.capture(REGION, "123456789012")
        data = pickle.dumps(snapshot)
    assert b"Backend" not in data
    assert snapshot.counts()["objects"] == 0


def test_a_tuning_run_of_an_earlier_command_reads_as_it_ended(tmp_path: Path) -> None:
    # Given a tuning run (2 training jobs) in one LocalTrainops, which then stops
    from trainops_local.runner import LocalTrainops

    from tests.conftest import EXAMPLES

    config = tmp_path / "tune.yaml"
    config.write_text(
        "project: tune\nalgorithm: {name: xgboost, hyperparameters: {num_round: 5}}\n"
        "problem: {objective_metric: 'validation:auc', objective_direction: Maximize}\n"
        "tuning:\n  strategy: Random\n  max_jobs: 2\n  max_parallel_jobs: 1\n"
        "  ranges:\n    max_depth: {type: integer, min: 2, max: 5}\n"
    )
    workdir = tmp_path / "wd"
    with LocalTrainops(workdir) as app:
        run = app.run("tune", EXAMPLES / "data" / "breast_cancer.csv", config)
        assert run.status == "SUCCEEDED", run
        children = app.cloud.client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=run.tuning_job
        )["TrainingJobSummaries"]

    # When another LocalTrainops (a later command) opens the workdir
    with LocalTrainops(workdir) as app:
        sm = app.cloud.client("sagemaker")

        # Then the tuning job, its children with their objective, their metrics and the package read as before
        tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=run.tuning_job)
        assert tuning["HyperParameterTuningJobStatus"] == "Completed"
        listed = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=run.tuning_job)
        by_name = {s["TrainingJobName"]: s for s in listed["TrainingJobSummaries"]}
        assert set(by_name) == {c["TrainingJobName"] for c in children}
        for child in children:
            again = by_name[child["TrainingJobName"]]
            assert again["TunedHyperParameters"] == child["TunedHyperParameters"]
            assert (
                again["FinalHyperParameterTuningJobObjectiveMetric"]
                == child["FinalHyperParameterTuningJobObjectiveMetric"]
            )
        best = sm.describe_training_job(TrainingJobName=tuning["BestTrainingJob"]["TrainingJobName"])
        assert {m["MetricName"] for m in best["FinalMetricDataList"]} >= {"validation:auc"}
        artifact = best["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, key = artifact[5:].split("/", 1)
        assert app.cloud.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
        package = sm.describe_model_package(ModelPackageName=run.model_package_arn)
        assert package["ModelApprovalStatus"] == "Approved"
        assert package["CustomerMetadataProperties"]
        streams = app.cloud.client("logs").describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")
        assert any(s["logStreamName"].startswith(best["TrainingJobName"]) for s in streams["logStreams"])


def test_roles_made_at_run_time_are_kept_with_their_policies_and_boundary(tmp_path: Path) -> None:
    """A project's job role (made by SyncSchedule on a config upload) outlives the command, as on AWS: with IAM
    enforced the project's next run needs it."""
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    with cloud_on(tmp_path) as cloud:
        cloud.deploy(MINI, "mini")
        iam = cloud.client("iam")
        boundary = iam.create_policy(PolicyName="cap", PolicyDocument=policy)["Policy"]["Arn"]
        iam.create_role(RoleName="trainops-p-jobs", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary)
        iam.put_role_policy(RoleName="trainops-p-jobs", PolicyName="project", PolicyDocument=policy)
    with cloud_on(tmp_path) as cloud:
        cloud.deploy(MINI, "mini")
        iam = cloud.client("iam")
        role = iam.get_role(RoleName="trainops-p-jobs")["Role"]
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert (
            json.loads(
                json.dumps(iam.get_role_policy(RoleName="trainops-p-jobs", PolicyName="project")["PolicyDocument"])
            )["Statement"][0]["Action"]
            == "s3:*"
        )
        # the template's own roles are the new deploy's, not doubled
        names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
        assert len(names) == len(set(names))
