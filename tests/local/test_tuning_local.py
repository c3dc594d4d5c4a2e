"""Local hyperparameter tuning end to end inside moto: real XGBoost child jobs, early stopping, warm start."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import optuna
import pytest
from sklearn.datasets import load_breast_cancer
from trainops.config import ProjectConfig, parse_config
from trainops.errors import NoModelProduced
from trainops.tuning import read_tuning_outcome, start_tuning
from trainops_local.sagemaker import tuning as local_tuning
from trainops_local.sagemaker.tuning import TUNING_DETAIL_TYPE, ChildJob, LocalTuner, LocalTuningJob
from trainops_local.sagemaker.tuning_space import median_rule_stops
from trainops_local.sagemaker.types import MetricPoint, utcnow

BUCKET = "local-test-bucket"
REGION = "us-east-1"
XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TIMEOUT = 60


@pytest.fixture
def data(s3: Any, make_csv: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    s3.put_object(Bucket=BUCKET, Key="runs/churn/r1/train/part-0.csv", Body=make_csv(x[:400], y[:400]))
    s3.put_object(Bucket=BUCKET, Key="runs/churn/r1/validation/v.csv", Body=make_csv(x[400:], y[400:]))


@pytest.fixture
def tuner(aws: None, tmp_path: Path) -> Iterator[LocalTuner]:
    with local_tuning.installed(tmp_path / "sagemaker", max_workers=2) as installed:
        yield installed


@pytest.fixture
def sm(tuner: LocalTuner) -> Any:
    return boto3.client("sagemaker", region_name=REGION)


@pytest.fixture
def events(aws: None) -> Any:
    """An SQS queue receiving the tuning job state-change events; call it to read them."""
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="tuning-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bridge = boto3.client("events", region_name=REGION)
    pattern = {"source": ["aws.sagemaker"], "detail-type": [TUNING_DETAIL_TYPE]}
    bridge.put_rule(Name="tuning", EventPattern=json.dumps(pattern))
    bridge.put_targets(Rule="tuning", Targets=[{"Id": "q", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        out = []
        while msgs := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            out += [json.loads(m["Body"]) for m in msgs]
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
            )
        return out

    return read


def plan_request(**hyperparameters: str) -> dict[str, Any]:
    """A CreateTrainingJob request as the planner makes it (breast_cancer, binary logistic)."""
    return {
        "TrainingJobName": "churn-r1-train",
        "AlgorithmSpecification": {"TrainingImage": XGB_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/runs/churn/r1/{channel}/"}
                },
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/runs/churn/r1/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        "HyperParameters": {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "num_round": "25",
            **hyperparameters,
        },
        "Tags": [{"Key": "trainops:project", "Value": "churn"}],
    }


def tuning_config(**tuning: Any) -> ProjectConfig:
    base = {
        "ranges": {
            "eta": {"type": "continuous", "min": 0.001, "max": 0.5, "scaling": "Logarithmic"},
            "max_depth": {"type": "integer", "min": 1, "max": 6, "scaling": "Linear"},
        },
        "objective": {"metric": "validation:logloss", "direction": "Minimize"},
        "max_jobs": 8,
        "max_parallel_jobs": 2,
        "random_seed": 3,
    }
    return parse_config({"project": "churn", "tuning": {**base, **tuning}})


def run_tuning(sm: Any, tuner: LocalTuner, config: ProjectConfig, run_id: str, **hps: str) -> dict[str, Any]:
    started = start_tuning(plan_request(**hps), config, run_id=run_id, project="churn", sagemaker_client=sm)
    tuner.wait(started["tuning_job_name"], TIMEOUT)
    return started


def children(sm: Any, name: str) -> list[dict[str, Any]]:
    out, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=3, **kw
        )
        out += page["TrainingJobSummaries"]
        if not (token := page.get("NextToken")):
            return out


# --- the median stopping rule -----------------------------------------------------------------------
def test_median_rule_compares_with_the_median_of_earlier_running_averages() -> None:
    earlier = [[0.6, 0.4, 0.2], [0.6, 0.5, 0.4], [0.7, 0.6, 0.5]]  # running averages at epoch 2: .4, .5, .6
    assert median_rule_stops(0.55, 2, earlier, maximize=False)  # logloss worse than the median 0.5
    assert not median_rule_stops(0.45, 2, earlier, maximize=False)
    assert median_rule_stops(0.45, 2, earlier, maximize=True)
    assert not median_rule_stops(0.9, 2, earlier[:2], maximize=False)  # too few earlier jobs
    assert not median_rule_stops(0.9, 3, earlier, maximize=False)  # nobody reached epoch 3


def test_median_rule_counts_only_jobs_that_have_ended() -> None:
    # Given three ended jobs at 1.0 after epoch 0 and four still-running jobs at 9.0
    study = optuna.create_study()
    job = object.__new__(LocalTuningJob)  # just the state the rule reads
    job.metric, job.maximize, job.early_stopping, job.strategy = "validation:rmse", False, True, "Bayesian"
    job.lock = threading.RLock()

    def child(index: int, status: str, history: list[float]) -> ChildJob:
        made = ChildJob(index=index, name=f"c{index}", tuned={}, trial=study.ask(), history=history)
        made.status = status
        return made

    ended = [child(1, "Completed", [1.0]), child(2, "Stopped", [1.0]), child(3, "Completed", [1.0])]
    running = [child(i, "InProgress", [9.0]) for i in range(4, 8)]
    new = child(8, "InProgress", [])
    job.children = [*ended, *running, new]
    # When the new job reports 2.0 after epoch 0
    job._on_metric(new, MetricPoint(name="validation:rmse", epoch=0, value=2.0, timestamp=utcnow()))
    # Then it is stopped: worse than the ended jobs' median 1.0 (the running jobs' 9.0 do not count)
    assert new.early_stopped


# --- end to end -------------------------------------------------------------------------------------
@pytest.mark.usefixtures("data")
def test_bayesian_tuning_with_early_stopping_finds_the_best_job(sm: Any, tuner: LocalTuner, events: Any) -> None:
    # Given a Bayesian tuning of eta (down to 0.001: hopeless jobs) and max_depth with early stopping Auto
    # When it runs locally
    started = run_tuning(sm, tuner, tuning_config(), "run-1")
    name = started["tuning_job_name"]
    # Then it completed every job with SageMaker's names, statuses and counters
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    counters = job["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["Stopped"] == 8
    assert counters["Stopped"] >= 1, "the median rule stopped no job"
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 8, "Pending": 0, "Failed": 0}
    summaries = children(sm, name)
    assert len(summaries) == 8
    for summary in summaries:
        assert re.fullmatch(rf"{name}-\d{{3}}-[0-9a-f]{{8}}", summary["TrainingJobName"])
        assert set(summary["TunedHyperParameters"]) == {"eta", "max_depth"}
    stopped = [s for s in summaries if s["TrainingJobStatus"] == "Stopped"]
    detail = sm.describe_training_job(TrainingJobName=stopped[0]["TrainingJobName"])
    assert detail["TuningJobArn"] == job["HyperParameterTuningJobArn"]
    # and a stopped job's final objective was used by the search, as ObjectiveStatus Succeeded says
    local_job = tuner.get(name)
    assert local_job is not None and local_job.study is not None
    told = {c.name: c.trial.number for c in local_job.children}
    for summary in stopped:
        trial = local_job.study.trials[told[summary["TrainingJobName"]]]
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.value == pytest.approx(summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert detail["HyperParameters"]["_tuning_objective_metric"] == "validation:logloss"
    # and the best job is the completed job with the lowest logloss, with a model to register
    completed = [s for s in summaries if s["TrainingJobStatus"] == "Completed"]
    lowest = min(completed, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert job["BestTrainingJob"]["TrainingJobName"] == lowest["TrainingJobName"]
    outcome = read_tuning_outcome(name, sm)
    assert outcome["best_training_job_name"] == lowest["TrainingJobName"]
    assert outcome["objective"]["value"] == pytest.approx(
        lowest["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    key = outcome["model_artifacts"].removeprefix(f"s3://{BUCKET}/")
    assert boto3.client("s3", region_name=REGION).head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0
    # and EventBridge got the state changes, without BestTrainingJob, times in epoch milliseconds
    received = events()
    statuses = [e["detail"]["HyperParameterTuningJobStatus"] for e in received]
    assert statuses == ["InProgress", "Completed"]
    final = received[-1]["detail"]
    assert "BestTrainingJob" not in final
    assert isinstance(final["CreationTime"], int)
    assert final["TrainingJobStatusCounters"] == counters
    assert received[-1]["source"] == "aws.sagemaker"


@pytest.mark.usefixtures("data")
def test_warm_started_run_finds_its_parent_and_seeds_the_study(sm: Any, tuner: LocalTuner) -> None:
    # Given an earlier tuning job of the project, same objective and hyperparameters
    parent = run_tuning(sm, tuner, tuning_config(max_jobs=5, strategy="Random"), "run-1")["tuning_job_name"]
    # When a later run tunes with warm start auto
    child = run_tuning(sm, tuner, tuning_config(max_jobs=4, max_parallel_jobs=1), "run-2")
    # Then the earlier job is its parent (same data and image) and its results seed the new study
    assert child["warm_start"]["parents"] == [parent]
    assert child["warm_start"]["type"] == "IdenticalDataAndAlgorithm"
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=child["tuning_job_name"])
    assert job["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [{"HyperParameterTuningJobName": parent}]
    local = tuner.get(child["tuning_job_name"])
    assert local is not None
    assert local.warm_started == 5
    assert job["HyperParameterTuningJobStatus"] == "Completed"


@pytest.mark.usefixtures("data")
def test_every_job_failing_means_no_model_with_the_reason(sm: Any, tuner: LocalTuner, events: Any) -> None:
    # Given static hyperparameters the algorithm rejects
    started = run_tuning(sm, tuner, tuning_config(max_jobs=6), "run-1", num_round="0")
    name = started["tuning_job_name"]
    # Then the tuning job gives up after its first jobs, Failed, and there is no model to register
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] >= 3
    assert job["TrainingJobStatusCounters"]["Completed"] == 0
    assert "BestTrainingJob" not in job
    assert "num_round" in job["FailureReason"]
    with pytest.raises(NoModelProduced, match=r"without a completed training job .*num_round"):
        read_tuning_outcome(name, sm)
    assert [e["detail"]["HyperParameterTuningJobStatus"] for e in events()] == ["InProgress", "Failed"]


@pytest.mark.usefixtures("data")
def test_grid_and_hyperband_strategies_run(sm: Any, tuner: LocalTuner) -> None:
    grid = tuning_config(
        strategy="Grid",
        ranges={
            "max_depth": {"type": "integer", "min": 2, "max": 3},
            "eta": {"type": "categorical", "values": [0.1, 0.3]},
        },
    )
    name = run_tuning(sm, tuner, grid, "run-grid")["tuning_job_name"]
    tried = [tuple(sorted(s["TunedHyperParameters"].items())) for s in children(sm, name)]
    assert sorted(tried) == sorted((("eta", e), ("max_depth", d)) for e in ("0.1", "0.3") for d in ("2", "3"))
    # the grid's size of jobs, every one completed, and the tuning job ends Completed with a best job
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Completed"] == 4
    assert job["BestTrainingJob"]["TrainingJobName"]
    hyperband = tuning_config(strategy="Hyperband", hyperband={"min_resource": 2, "max_resource": 25}, max_jobs=6)
    name = run_tuning(sm, tuner, hyperband, "run-hb")["tuning_job_name"]
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Off"
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"]["Completed"] >= 1


@pytest.mark.usefixtures("data")
def test_stop_tuning_job(sm: Any, tuner: LocalTuner) -> None:
    config = tuning_config(max_jobs=30, max_parallel_jobs=1)
    started = start_tuning(plan_request(num_round="400"), config, run_id="run-s", project="churn", sagemaker_client=sm)
    name = started["tuning_job_name"]
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    tuner.wait(name, TIMEOUT)
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    assert sum(job["TrainingJobStatusCounters"].values()) < 30


@pytest.mark.usefixtures("data")
def test_linear_learner_tunes_on_its_own_metrics(sm: Any, tuner: LocalTuner) -> None:
    # Given a Linear Learner plan (as the planner makes it) and a tuning of learning_rate and wd on
    # validation:objective_loss, which the algorithm reports every epoch
    request = plan_request()
    request["AlgorithmSpecification"]["TrainingImage"] = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
    request["HyperParameters"] = {"predictor_type": "binary_classifier", "epochs": "10", "mini_batch_size": "100"}
    config = parse_config(
        {
            "project": "churn",
            "algorithm": {"name": "linear-learner"},
            "tuning": {
                "ranges": {
                    "learning_rate": {"type": "continuous", "min": 1e-4, "max": 0.5, "scaling": "Logarithmic"},
                    "wd": {"type": "continuous", "min": 1e-7, "max": 0.1, "scaling": "Logarithmic"},
                },
                "objective": {"metric": "validation:objective_loss", "direction": "Minimize"},
                "max_jobs": 4,
                "max_parallel_jobs": 2,
                "random_seed": 5,
            },
        }
    )
    # When it runs locally
    started = start_tuning(request, config, run_id="ll-1", project="churn", sagemaker_client=sm)
    tuner.wait(started["tuning_job_name"], TIMEOUT)
    # Then every child trained one model (num_models 1 under tuning) and reported the objective
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=started["tuning_job_name"])
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ObjectiveStatusCounters"]["Succeeded"] == 4
    best = job["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:objective_loss"
    assert 0 < best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] < 0.7
    detail = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    metrics = {m["MetricName"] for m in detail["FinalMetricDataList"]}
    assert {"validation:binary_classification_accuracy", "validation:roc_auc_score"} <= metrics
