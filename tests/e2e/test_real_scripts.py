"""Real SageMaker training scripts from AWS's public repositories, unchanged (``real_scripts/*/``: where each
comes from is at the top of its config), run through `trainops local run` with data in the layout each reads.

Each runs in the environment of its framework image (built once per image and requirements.txt, then reused),
through the training toolkit that image runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

from tests.e2e.test_cli import trainops

SCRIPTS = Path(__file__).resolve().parent / "real_scripts"
pytestmark = pytest.mark.e2e


def run(project: str, data: Path, config: Path, *extra: str) -> dict[str, Any]:
    result = trainops(
        "local", "run", "--project", project, "--data", str(data), "--config", str(config), "--json", *extra
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["status"] == "SUCCEEDED", json.dumps(summary, indent=2)[-4000:]
    return dict(summary)


def housing(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]
    frame = pd.DataFrame(rng.normal(size=(rows, len(columns))), columns=columns)
    frame["target"] = 2.0 + frame["MedInc"] * 0.8 - frame["HouseAge"] * 0.2 + rng.normal(scale=0.1, size=rows)
    return frame


def test_california_random_forest_reads_header_csvs_from_train_and_test_channels(tmp_path: Path) -> None:
    # Given the notebook's layout: header CSVs (with pandas' index column) in train/ and test/
    data = tmp_path / "housing"
    (data / "train").mkdir(parents=True)
    (data / "test").mkdir()
    housing(300, 1).to_csv(data / "train" / "california_housing_train.csv")
    housing(100, 2).to_csv(data / "test" / "california_housing_test.csv")
    # When the unchanged script runs in the scikit-learn 0.23-1 image's environment
    summary = run("california", data, SCRIPTS / "california" / "config.yaml")
    # Then its metric was scraped, the model registered, and the run says which environment it used
    assert summary["objective"]["name"] == "median-AE"
    assert 0 < summary["objective"]["value"] < 1
    assert summary["approval_status"] == "Approved"
    env = summary["framework_environment"]
    assert (env["framework"], env["version"], env["python"][:3]) == ("sklearn", "0.23-1", "3.7")
    inferred = {i["field"]: i["value"] for i in summary["inferred"]}
    assert inferred["data.input_mode"] == "File"
    assert summary["split"] is None  # scripts get their channels as uploaded


def test_mnist_svm_reads_npz_files_and_without_a_metric_waits_for_review(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "mnist"
    for channel, rows in (("train", 300), ("test", 100)):
        (data / channel).mkdir(parents=True)
        labels = rng.integers(0, 10, size=rows)
        images = (rng.random((rows, 784)) * 40 + labels[:, None] * 20).astype(np.uint8)
        np.savez(data / channel / f"{channel}.npz", x=images, y=labels)
    summary = run("mnist-npz", data, SCRIPTS / "mnist_npz" / "config.yaml")
    # The job reports no metric: the model is registered for a person to review, and the run succeeds
    assert summary["approval_status"] == "PendingManualApproval"
    assert summary["approval_reason"].startswith("no objective metric reported")
    assert summary["objective"] is None
    assert summary["model_package_arn"]


def iris_data(tmp_path: Path) -> Path:
    x, y = load_iris(return_X_y=True)
    order = np.random.default_rng(3).permutation(len(y))
    x, y = x[order], y[order]
    data = tmp_path / "iris"
    for channel, part in (("train", slice(0, 110)), ("test", slice(110, None))):
        (data / channel).mkdir(parents=True)
        np.savetxt(data / channel / f"{channel}_x.csv", x[part], delimiter=",")
        np.savetxt(data / channel / f"{channel}_y.csv", y[part], delimiter=",")
    return data


def test_iris_svm_logs_its_score_on_stderr_from_the_test_channel(tmp_path: Path) -> None:
    summary = run("iris-cv", iris_data(tmp_path), SCRIPTS / "iris_cv" / "config.yaml")
    assert summary["objective"]["name"] == "test:score"
    assert summary["objective"]["value"] > 0.8


def test_iris_svm_tuned_as_its_repository_tunes_it(tmp_path: Path) -> None:
    summary = run("iris-cv-tuning", iris_data(tmp_path), SCRIPTS / "iris_cv" / "tuning.yaml")
    assert summary["tuning_job"]
    assert len(summary["training_jobs"]) == 4
    assert all(job["status"] == "Completed" for job in summary["training_jobs"])
    assert summary["objective"]["value"] > 0.5


def test_a_code_bundle_with_a_local_module_and_requirements_txt(tmp_path: Path) -> None:
    data = tmp_path / "bundle" / "train"
    data.mkdir(parents=True)
    (data / "anything.csv").write_text("1,2\n")
    summary = run("code-bundle", data.parent, SCRIPTS / "code_bundle_with_reqs" / "config.yaml")
    # aws-xray-sdk is not in the scikit-learn image: its requirements.txt made an environment of its own
    assert summary["approval_status"] == "PendingManualApproval"
    env = summary["framework_environment"]
    assert env["version"] == "1.2-1"
    assert "-" in Path(env["path"]).name


def breast_cancer_features(tmp_path: Path) -> Path:
    x, y = load_breast_cancer(return_X_y=True)
    data = tmp_path / "cancer"
    (data / "train").mkdir(parents=True)
    (data / "validation").mkdir()
    np.savetxt(data / "train" / "train_features.csv", x[:450], delimiter=",")
    np.savetxt(data / "train" / "train_labels.csv", y[:450], delimiter=",", fmt="%d")
    np.savetxt(data / "validation" / "val_features.csv", x[450:], delimiter=",")
    np.savetxt(data / "validation" / "val_labels.csv", y[450:], delimiter=",", fmt="%d")
    return data


def test_xgboost_framework_script_reports_auc_every_round(tmp_path: Path) -> None:
    summary = run("xgb-btd", breast_cancer_features(tmp_path), SCRIPTS / "xgboost_build_train_deploy" / "config.yaml")
    assert summary["objective"]["name"] == "validation:auc"
    assert summary["objective"]["value"] > 0.9
    env = summary["framework_environment"]
    assert (env["framework"], env["version"], env["toolkit"]) == ("xgboost", "1.7-1", "sagemaker-containers")


def test_xgboost_script_with_a_helper_package_packed_as_a_dependency(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(400, 8))
    price = features @ rng.normal(size=8) + rng.normal(scale=0.1, size=400)
    data = tmp_path / "housing" / "train"
    data.mkdir(parents=True)
    np.savetxt(data / "train.csv", np.column_stack([price, features]), delimiter=",")
    summary = run("xgb-deps", data.parent, SCRIPTS / "xgboost_with_dependencies" / "config.yaml")
    assert summary["objective"]["name"] == "validation:rmse"
    assert summary["objective"]["value"] > 0


def test_the_real_scripts_are_kept_byte_for_byte_as_published():
    sources = json.loads((SCRIPTS / "SOURCES.json").read_text())
    assert len(sources) >= 6
    for name, source in sources.items():
        for relative, published in source["files"].items():
            digest = hashlib.sha256((SCRIPTS / name / relative).read_bytes()).hexdigest()
            assert digest == published["sha256"], f"{name}/{relative} differs from {source['repository']}"
