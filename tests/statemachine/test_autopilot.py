"""Autopilot in the pipeline, end to end on the local cloud: CreateAutoMLJobV2, the describe loop, the best
candidate registered with its inference containers; and a job that fails ends the run with its FailureReason."""

from __future__ import annotations

import time

import yaml

from tests.conftest import EXAMPLES

COLUMNS = 31  # breast_cancer.csv: the label, then 30 features


def _header_csv(tmp_path, name="cancer.csv"):
    rows = (EXAMPLES / "data" / "breast_cancer.csv").read_text().splitlines()
    header = ",".join(["diagnosis", *[f"f{i}" for i in range(1, COLUMNS)]])
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _config(tmp_path, project, **autopilot):
    config = tmp_path / f"{project}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "project": project,
                "algorithm": {"name": "autopilot"},
                "data": {"header": True},
                "autopilot": {"target": "diagnosis", "max_candidates": 4, **autopilot},
            }
        )
    )
    return config


def _states(app, arn):
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in app.cloud.execution_history(arn)
        if "stateEnteredEventDetails" in e
    ]


def test_autopilot_run_registers_the_best_candidate(trainops_cloud, tmp_path):
    app = trainops_cloud
    # Given a header CSV and an autopilot config naming its target
    data, config = _header_csv(tmp_path), _config(tmp_path, "pilot")
    # When the data lands
    started = time.monotonic()
    summary = app.run("pilot", data, config, timeout=300)
    took = time.monotonic() - started
    # Then the state machine created the AutoML job, polled it, and registered its best candidate
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    states = _states(app, summary.execution_arn)
    assert states[:6] == [
        "ReceiveInput",
        "NormalizeRequest",
        "RunOrSkip",
        "SelectAlgorithm",
        "NeedsSplit",
        "TuneOrTrain",
    ]
    assert states[6:8] == ["StartAutoML", "WaitForAutoML"]
    assert states[-4:] == ["BestCandidate", "RegisterModel", "FinishRun", "Registered"]
    sm = app.cloud.client("sagemaker")
    jobs = sm.list_auto_ml_jobs()["AutoMLJobSummaries"]
    job = next(j for j in jobs if j["AutoMLJobName"].startswith("trainops-pilot-"))
    desc = sm.describe_auto_ml_job_v2(AutoMLJobName=job["AutoMLJobName"])
    assert len(desc["AutoMLJobName"]) <= 32
    tabular = desc["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular["ProblemType"] == "BinaryClassification"
    assert tabular["TargetAttributeName"] == "diagnosis"
    assert tabular["CompletionCriteria"]["MaxCandidates"] == 4
    assert desc["AutoMLJobObjective"] == {"MetricName": "AUC"}
    assert desc["AutoMLJobStatus"] == "Completed"
    candidates = sm.list_candidates_for_auto_ml_job(AutoMLJobName=desc["AutoMLJobName"], MaxResults=100)["Candidates"]
    assert len(candidates) == 4
    assert {c["CandidateName"].rsplit("-", 2)[-2] for c in candidates} == {"xgb", "lin"}
    best = desc["BestCandidate"]
    package = sm.describe_model_package(ModelPackageName=summary.model_package_arn)
    assert (
        package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        == (best["InferenceContainers"][0]["ModelDataUrl"])
    )
    meta = package["CustomerMetadataProperties"]
    assert meta["trainops:objective-metric"] == "AUC"
    assert float(meta["trainops:objective-value"]) == best["FinalAutoMLJobObjectiveMetric"]["Value"] > 0.9
    assert meta["trainops:best-candidate"] == best["CandidateName"]
    assert meta["trainops:candidates"] == "4"
    assert package["ModelApprovalStatus"] == "Approved"
    print(
        f"autopilot local run: {len(candidates)} candidates, best {best['CandidateName']} AUC "
        f"{best['FinalAutoMLJobObjectiveMetric']['Value']:.4f}, {took:.1f} s"
    )


def test_a_failed_automl_job_ends_the_run_with_its_failure_reason(trainops_cloud, tmp_path, monkeypatch):
    app = trainops_cloud
    # Given an AutoML job that fails (the emulation reads numeric features only: a text column fails it)
    rows = _header_csv(tmp_path).read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([rows[0] + ",colour"] + [r + ",red" for r in rows[1:]]) + "\n")
    config = _config(tmp_path, "pilotfail")
    # When it runs
    summary = app.run("pilotfail", bad, config, timeout=300)
    # Then the describe loop ended on Failed and the run's failure carries the job's FailureReason
    assert summary.status == "FAILED"
    assert "DescribeAutoML" in _states(app, summary.execution_arn)
    assert summary.error == "AutoMLJobFailed", (summary.error, summary.cause)
    assert "numeric feature columns only" in (summary.cause or "")
