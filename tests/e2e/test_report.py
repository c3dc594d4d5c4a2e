"""`trainops report` and `local run --report`: a tuned run and a plain training run as report.html with PNG
charts, checked by the data each chart plotted (not its pixels) against what SageMaker reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from trainops_local.report import write_report
from trainops_local.report.command import local_source
from trainops_local.report.data import RunNotFound, parse_curves

from tests.conftest import EXAMPLES
from tests.e2e.test_cli import name_only_config, trainops

DATA = EXAMPLES / "data" / "breast_cancer.csv"
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


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def _assert_offline_page(report):
    html = report.html.read_text()
    images = _images(html)
    assert images == [c.file for c in report.charts]
    for name in images:  # every image is beside the page, a real PNG
        assert (report.html.parent / name).read_bytes().startswith(b"\x89PNG")
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the page loads nothing from the network"
    return html


def test_a_tuned_run_reports_each_job_its_curves_and_the_hyperparameters(trainops_cloud, tmp_path):
    app = trainops_cloud
    config = tmp_path / "reported.yaml"
    config.write_text(TUNING.format(project="reported"))
    # Given a finished tuning run
    summary = app.run("reported", DATA, config, timeout=600)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    # When its report is written
    report = write_report(local_source(app), summary.run_id, tmp_path / "report")
    # Then the page shows its charts, all beside it
    html = _assert_offline_page(report)
    assert summary.run_id in html and summary.tuning_job in html
    charts = {c.file: c for c in report.charts}
    assert set(charts) == {
        "tuning_objective.png",
        "tuning_curves.png",
        "hyperparameters.png",
        "best_job_curves.png",
        "versions.png",
    }
    sm = app.cloud.client("sagemaker")
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=summary.tuning_job)[
        "TrainingJobSummaries"
    ]
    by_name = {j["TrainingJobName"]: j for j in jobs}
    best = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=summary.tuning_job)["BestTrainingJob"]
    # the objective of each job: one point per job with an objective, each where SageMaker reports it
    objective = charts["tuning_objective.png"].series
    plotted = objective["completed"] + objective["stopped_early"]
    assert len(plotted) + len(objective["failed"]) == len(jobs) == 4
    ordered = sorted(jobs, key=lambda j: j["CreationTime"])
    for index, value in plotted:
        assert value == ordered[index - 1]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    stopped = [j for j in ordered if j["TrainingJobStatus"] == "Stopped"]
    assert len(objective["stopped_early"]) == len(stopped)
    # the best-so-far line ends at the best job's objective
    assert objective["best_so_far"][-1][1] == pytest.approx(
        best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    # per-epoch curves: every job, 15 rounds unless stopped early, ending at its final objective (5 decimals in
    # the log)
    curves = charts["tuning_curves.png"].series
    assert set(curves) == set(by_name)
    for name, points in curves.items():
        job = by_name[name]
        assert [e for e, _ in points] == list(range(len(points)))
        assert len(points) == 15 if job["TrainingJobStatus"] == "Completed" else 1 <= len(points) <= 15
        assert points[-1][1] == pytest.approx(job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], abs=1e-5)
    # the objective against each tuned hyperparameter, over the jobs that reported one
    importance = charts["hyperparameters.png"].series
    # a hyperparameter whose rank correlation is 0 (the jobs' objectives tied, or its values did) is not drawn:
    # which one that is depends on the points the sampler drew, so the test asks for the tuned ones only
    assert importance and set(importance) <= {"eta", "max_depth"}
    assert all(len(points) == len(plotted) for points in importance.values())
    assert "Spearman" in charts["hyperparameters.png"].caption
    # the project's versions: this run's, the champion
    versions = charts["versions.png"].series
    assert versions["champion"] == versions["Approved"] and len(versions["champion"]) == 1
    assert report.data.versions[-1].this_run


def test_a_training_run_reports_its_learning_curves(trainops_cloud, tmp_path):
    app = trainops_cloud
    summary = app.run("reported-plain", DATA, Path(name_only_config(tmp_path, "reported-plain")), timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    report = write_report(local_source(app), summary.run_id, tmp_path / "plain")
    _assert_offline_page(report)
    charts = {c.file: c for c in report.charts}
    assert set(charts) == {"learning_curves.png", "versions.png"}
    job = app.cloud.client("sagemaker").describe_training_job(TrainingJobName=summary.training_jobs[0]["name"])
    rounds = int(job["HyperParameters"]["num_round"])
    curves = charts["learning_curves.png"].series
    assert set(curves) == {m["MetricName"] for m in job["FinalMetricDataList"]}
    for final in job["FinalMetricDataList"]:
        points = curves[final["MetricName"]]
        assert [e for e, _ in points] == list(range(rounds))
        assert points[-1][1] == pytest.approx(final["Value"], abs=1e-5)
    assert len(charts["versions.png"].series["champion"]) == 1


def test_an_unknown_run_is_refused(trainops_cloud, tmp_path):
    with pytest.raises(RunNotFound):
        write_report(local_source(trainops_cloud), "20990101T000000-deadbeef", tmp_path)


def test_metric_definitions_are_applied_as_sagemaker_does():
    lines = ["epoch 1 loss=0.9 acc=0.5", "noise", "epoch 2 loss=0.5 acc=0.7", "epoch 3 loss=nan acc=0.8"]
    definitions = [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}, {"Name": "acc", "Regex": r"acc=([0-9.]+)"}]
    # the n-th match of a metric is its epoch n; a non-numeric value is no match
    assert parse_curves(lines, definitions) == {
        "train:loss": [(0, 0.9), (1, 0.5)],
        "acc": [(0, 0.5), (1, 0.7), (2, 0.8)],
    }
    # built-in XGBoost (no definitions in the request): its round lines
    assert parse_curves(["[0]#011train-auc:0.9#011validation-auc:0.8", "[1]#011train-auc:0.95"], []) == {
        "train:auc": [(0, 0.9), (1, 0.95)],
        "validation:auc": [(0, 0.8)],
    }


def test_local_run_writes_the_report_and_report_says_what_it_needs(tmp_path):
    # Given a local run asked for its report
    result = trainops(
        "local", "run", "--project", "cli-report", "--data", str(DATA), "--json", "--workdir", str(tmp_path / "wd"),
        "--report", str(tmp_path / "out"), "--config", name_only_config(tmp_path, "cli-report"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = json.loads(result.stdout)
    # Then the page is where it said, with its charts
    assert run["report"] == str(tmp_path / "out" / "report.html")
    html = (tmp_path / "out" / "report.html").read_text()
    assert all((tmp_path / "out" / name).is_file() for name in _images(html))
    assert run["run_id"] in html
    # and `trainops report` on a folder with no local state refuses clearly, exit 2
    refused = trainops("report", run["run_id"], "--out", str(tmp_path / "again"), "--workdir", str(tmp_path / "none"))
    assert refused.returncode == 2
    assert "holds no local cloud state" in refused.stderr and "--report" in refused.stderr
