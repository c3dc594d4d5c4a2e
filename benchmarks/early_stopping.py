"""Early stopping benchmark: Bayesian tuning with early stopping Auto vs Off, on the local cloud.

For each dataset and seed, two 30-job Bayesian tunings of built-in XGBoost run in-process (moto + the
local training backend + the local tuner), identical except for ``TrainingJobEarlyStoppingType``. Reported:
total training epochs (boosting rounds) consumed and the best objective, as ratios Auto/Off.

Target: >= 40% fewer epochs (ratio <= 0.60) with the best objective within 1% of Off.

    .venv/bin/python benchmarks/early_stopping.py [--seeds 3] [--jobs 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from moto import mock_aws
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine, make_classification
from sklearn.model_selection import train_test_split
from trainops.config import parse_config
from trainops.tuning import build_tuning_request
from trainops_local.sagemaker import tuning as local_tuning

REGION = "us-east-1"
BUCKET = "bench"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROUNDS = 50
TIMEOUT = 900.0


@dataclass(frozen=True)
class Dataset:
    """A bundled (or generated) dataset and how XGBoost is told to learn it."""

    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    hyperparameters: dict[str, str]
    metric: str  # objective metric, minimised


def _synthetic() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=3000, n_features=20, n_informative=10, flip_y=0.03, random_state=0)


DATASETS = (
    Dataset("breast_cancer", lambda: load_breast_cancer(return_X_y=True), {"objective": "binary:logistic"}, "logloss"),
    Dataset("wine", lambda: load_wine(return_X_y=True), {"objective": "multi:softprob", "num_class": "3"}, "mlogloss"),
    Dataset("diabetes", lambda: load_diabetes(return_X_y=True), {"objective": "reg:squarederror"}, "rmse"),
    Dataset("synthetic_3000", _synthetic, {"objective": "binary:logistic"}, "logloss"),
)

RANGES = {
    "eta": {"type": "continuous", "min": 0.005, "max": 0.5, "scaling": "Logarithmic"},
    "max_depth": {"type": "integer", "min": 1, "max": 8, "scaling": "Linear"},
    "min_child_weight": {"type": "continuous", "min": 0.5, "max": 20, "scaling": "Logarithmic"},
    "subsample": {"type": "continuous", "min": 0.5, "max": 1.0, "scaling": "Linear"},
}


@dataclass(frozen=True)
class TuningResult:
    """What one tuning job cost and found."""

    name: str
    epochs: int
    best: float
    values: list[float | None]  # objective of each training job, in launch order (None: failed)
    stopped: int


def _csv(x: np.ndarray, y: np.ndarray) -> bytes:
    rows = (",".join([f"{label:g}", *(f"{v:.6g}" for v in row)]) for row, label in zip(x, y, strict=True))
    return ("\n".join(rows) + "\n").encode()


@contextlib.contextmanager
def local_cloud() -> Iterator[local_tuning.LocalTuner]:
    """moto + the local training backend (one worker: jobs run one at a time) + the local tuner."""
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    with mock_aws(), tempfile.TemporaryDirectory() as tmp, local_tuning.installed(Path(tmp), max_workers=1) as tuner:
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield tuner


def upload(dataset: Dataset, prefix: str, *, split_seed: int = 0) -> None:
    """Train/validation CSVs of ``dataset`` under ``s3://bench/<prefix>/``."""
    x, y = dataset.load()
    stratify = y if dataset.hyperparameters["objective"] != "reg:squarederror" else None
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.3, random_state=split_seed, stratify=stratify)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/train/data.csv", Body=_csv(xt, yt))
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/validation/data.csv", Body=_csv(xv, yv))


def plan_request(dataset: Dataset, prefix: str) -> dict[str, Any]:
    """The CreateTrainingJob request the planner would make for ``dataset``."""
    return {
        "TrainingJobName": "bench-train",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}/{channel}/"}
                },
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{prefix}/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {**dataset.hyperparameters, "eval_metric": dataset.metric, "num_round": str(ROUNDS)},
    }


def tune(
    tuner: local_tuning.LocalTuner,
    dataset: Dataset,
    prefix: str,
    *,
    name: str,
    seed: int,
    jobs: int,
    early_stopping: str,
    warm_start: dict[str, Any] | None = None,
) -> TuningResult:
    """Run one Bayesian tuning job to its end and measure it."""
    config = parse_config(
        {
            "project": "bench",
            "tuning": {
                "ranges": RANGES,
                "objective": {"metric": f"validation:{dataset.metric}", "direction": "Minimize"},
                "max_jobs": jobs,
                "max_parallel_jobs": 1,
                "early_stopping": early_stopping,
                "random_seed": seed,
                "warm_start": "off",
            },
        }
    )
    request = build_tuning_request(plan_request(dataset, prefix), config, tuning_job_name=name)
    if warm_start:
        request["WarmStartConfig"] = warm_start
    boto3.client("sagemaker", region_name=REGION).create_hyper_parameter_tuning_job(**request)
    job = tuner.wait(name, TIMEOUT)
    values = [c.objective if c.status == "Completed" else None for c in job.children]
    finished = [v for v in values if v is not None]
    return TuningResult(
        name=name,
        epochs=sum(c.epochs for c in job.children),
        best=min(finished) if finished else float("nan"),
        values=values,
        stopped=sum(c.status == "Stopped" for c in job.children),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=30)
    args = parser.parse_args()
    started = time.monotonic()
    epoch_ratios: list[float] = []
    best_diffs: list[float] = []
    print(
        f"{'dataset':<16}{'seed':>5}{'epochs Off':>12}{'epochs Auto':>12}{'ratio':>8}{'stopped':>9}"
        f"{'best Off':>12}{'best Auto':>12}{'rel diff':>10}"
    )
    with local_cloud() as tuner:
        for d_index, dataset in enumerate(DATASETS):
            upload(dataset, dataset.name)
            for seed in range(args.seeds):
                runs = {
                    mode: tune(
                        tuner,
                        dataset,
                        dataset.name,
                        name=f"es-{d_index}-{seed}-{mode.lower()}",
                        seed=seed,
                        jobs=args.jobs,
                        early_stopping=mode,
                    )
                    for mode in ("Off", "Auto")
                }
                off, auto = runs["Off"], runs["Auto"]
                ratio = auto.epochs / off.epochs
                diff = (auto.best - off.best) / abs(off.best)  # > 0: Auto's best is worse (minimised metric)
                epoch_ratios.append(ratio)
                best_diffs.append(diff)
                print(
                    f"{dataset.name:<16}{seed:>5}{off.epochs:>12}{auto.epochs:>12}{ratio:>8.2f}{auto.stopped:>9}"
                    f"{off.best:>12.5f}{auto.best:>12.5f}{diff:>+10.2%}"
                )
    mean_ratio = statistics.fmean(epoch_ratios)
    mean_diff = statistics.fmean(best_diffs)
    print()
    print(
        f"epochs Auto/Off: mean {mean_ratio:.2f} (min {min(epoch_ratios):.2f}, max {max(epoch_ratios):.2f})"
        f" -> {1 - mean_ratio:.0%} fewer epochs [target >= 40%]"
    )
    print(f"best objective Auto vs Off: mean {mean_diff:+.2%}, worst {max(best_diffs):+.2%} [target within 1%]")
    print(f"elapsed {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
