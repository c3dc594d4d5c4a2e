"""Early stopping benchmark: Bayesian tuning with early stopping Auto vs Off, on the local cloud.

For each dataset and seed, 30-job Bayesian tunings of built-in XGBoost run in-process (moto + the local
training backend + the local tuner), identical except for ``TrainingJobEarlyStoppingType``: Off and Auto
with the same seed, and Off again with another seed. Reported: total training epochs (boosting rounds)
consumed, as the ratio Auto/Off, and the best objective, as Auto's relative difference from Off.

Two 30-job searches that differ only in their seed already land apart (on the small sklearn sets by several
per cent), so one pair says little about early stopping. The third run measures that noise floor, and the
summary gives the mean difference over every dataset and seed with its 95 % confidence interval.

Also reported, not part of the target: what Auto finds when it may spend all of Off's epochs (the jobs it saves
become more jobs), the question a user weighing early stopping at a fixed compute budget asks.

The ranges are ones ``trainops config validate`` accepts without advice (eta from 0.01: TUNE-W002).

Target: >= 40% fewer epochs (mean ratio <= 0.60) with the best objective within 1% of Off (mean).

    .venv/bin/python benchmarks/early_stopping.py [--seeds 10] [--jobs 30] [--workers N]
    .venv/bin/python benchmarks/early_stopping.py --show diabetes:8     # every job of one pair
    .venv/bin/python benchmarks/early_stopping.py --xgboost-version 3.0-5   # the newest container
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
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
XGBOOST_VERSION = "1.7-1"  # trainops' default built-in XGBoost; --xgboost-version 3.0-5 for the newest


def image(version: str = XGBOOST_VERSION) -> str:
    return f"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:{version}"


ROUNDS = 50
TIMEOUT = 900.0
NOISE_SEED_OFFSET = 1000  # the second Off run of a pair uses seed + this
LONG_AUTO_FACTOR = 3  # Auto launches up to 3x the jobs, to find how many fit in Off's epochs


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
    "eta": {"type": "continuous", "min": 0.01, "max": 0.5, "scaling": "Logarithmic"},
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
    values: list[float | None]  # objective of each training job, in launch order (None: not Completed)
    stopped: int
    job_epochs: tuple[int, ...] = ()  # epochs of each training job, in launch order
    job_statuses: tuple[str, ...] = ()  # status of each training job, in launch order
    job_hyperparameters: tuple[dict[str, str], ...] = ()  # tuned values of each training job, in launch order

    def prefix(self, jobs: int) -> TuningResult:
        """What the first ``jobs`` jobs cost and found: jobs run one at a time, so a tuning job with a
        smaller MaxNumberOfTrainingJobs would have launched exactly these."""
        values = self.values[:jobs]
        finished = [v for v in values if v is not None]
        return TuningResult(
            name=f"{self.name}[:{jobs}]",
            epochs=sum(self.job_epochs[:jobs]),
            best=min(finished) if finished else float("nan"),
            values=values,
            stopped=self.job_statuses[:jobs].count("Stopped"),
            job_epochs=self.job_epochs[:jobs],
            job_statuses=self.job_statuses[:jobs],
            job_hyperparameters=self.job_hyperparameters[:jobs],
        )

    def within_epochs(self, budget: int) -> TuningResult:
        """The longest prefix whose epochs fit in ``budget``."""
        jobs, spent = 0, 0
        while jobs < len(self.job_epochs) and spent + self.job_epochs[jobs] <= budget:
            spent += self.job_epochs[jobs]
            jobs += 1
        return self.prefix(jobs)


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


def plan_request(dataset: Dataset, prefix: str, version: str = XGBOOST_VERSION) -> dict[str, Any]:
    """The CreateTrainingJob request the planner would make for ``dataset``."""
    return {
        "TrainingJobName": "bench-train",
        "AlgorithmSpecification": {"TrainingImage": image(version), "TrainingInputMode": "File"},
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
    version: str = XGBOOST_VERSION,
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
    request = build_tuning_request(plan_request(dataset, prefix, version), config, tuning_job_name=name)
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
        job_epochs=tuple(c.epochs for c in job.children),
        job_statuses=tuple(c.status for c in job.children),
        job_hyperparameters=tuple(dict(c.tuned) for c in job.children),
    )


@dataclass(frozen=True)
class Pair:
    """Off, Auto and a second Off (another seed) on one dataset with one seed; and Auto given Off's epochs."""

    dataset: str
    seed: int
    off: TuningResult
    auto: TuningResult
    noise: TuningResult
    same_epochs: TuningResult  # Auto, with as many jobs as fit in Off's epochs

    @property
    def ratio(self) -> float:
        return self.auto.epochs / self.off.epochs

    @property
    def diff(self) -> float:
        """Auto's best relative to Off's: > 0 means worse (every objective here is minimised)."""
        return (self.auto.best - self.off.best) / abs(self.off.best)

    @property
    def noise_diff(self) -> float:
        return (self.noise.best - self.off.best) / abs(self.off.best)

    @property
    def same_epochs_diff(self) -> float:
        return (self.same_epochs.best - self.off.best) / abs(self.off.best)


def run_pair(d_index: int, seed: int, jobs: int, version: str = XGBOOST_VERSION) -> Pair:
    """One dataset and seed, in a local cloud of its own (so pairs can run in parallel processes)."""
    dataset = DATASETS[d_index]
    with local_cloud() as tuner:
        upload(dataset, dataset.name)
        runs = {
            label: tune(
                tuner,
                dataset,
                dataset.name,
                name=f"es-{d_index}-{seed}-{label}",
                seed=seed + (NOISE_SEED_OFFSET if label == "noise" else 0),
                # Auto runs long enough to also spend all of Off's epochs; its first `jobs` jobs are the
                # 30-job Auto tuning (TPE's suggestions do not depend on the job limit)
                jobs=LONG_AUTO_FACTOR * jobs if label == "auto" else jobs,
                early_stopping="Auto" if label == "auto" else "Off",
                version=version,
            )
            for label in ("off", "auto", "noise")
        }
    long_auto = runs.pop("auto")
    return Pair(
        dataset.name,
        seed,
        auto=long_auto.prefix(jobs),
        same_epochs=long_auto.within_epochs(runs["off"].epochs),
        **runs,
    )


def show_pair(pair: Pair) -> None:
    """Every job of one pair, in launch order: what it tried, how it ended, its objective."""
    for label, result in (("Off", pair.off), ("Auto", pair.auto)):
        print(f"{pair.dataset} seed {pair.seed}, early stopping {label}: best {result.best:.5f}")
        for index, (hps, status, epochs, value) in enumerate(
            zip(result.job_hyperparameters, result.job_statuses, result.job_epochs, result.values, strict=True),
            start=1,
        ):
            tried = " ".join(f"{k}={float(v):.3g}" for k, v in sorted(hps.items()))
            shown = f"{value:.5f}" if value is not None else "-"
            print(f"  {index:>3} {tried:<70} {status:<10}{epochs:>4} epochs  {shown}")


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95% confidence interval (Student's t), treating the pairs as independent samples.

    They are not quite: each dataset has one fixed split, so the interval speaks for these four datasets only.
    """
    from scipy.stats import t

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = float(t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pairs run in parallel")
    parser.add_argument("--show", metavar="DATASET:SEED", help="print every job of one pair (Off and Auto) and stop")
    parser.add_argument("--xgboost-version", default=XGBOOST_VERSION, help="built-in XGBoost image tag")
    args = parser.parse_args()
    started = time.monotonic()
    if args.show:
        name, seed = args.show.split(":")
        show_pair(run_pair([d.name for d in DATASETS].index(name), int(seed), args.jobs, args.xgboost_version))
        return
    # One XGBoost thread per worker: the workers share the cores instead of oversubscribing them.
    os.environ["OMP_NUM_THREADS"] = "1"
    tasks = [(d, seed) for d in range(len(DATASETS)) for seed in range(args.seeds)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        futures = [pool.submit(run_pair, d, seed, args.jobs, args.xgboost_version) for d, seed in tasks]
        pairs = [f.result() for f in futures]
    print(
        f"{'dataset':<16}{'seed':>5}{'epochs Off':>12}{'epochs Auto':>12}{'ratio':>8}{'stopped':>9}"
        f"{'best Off':>12}{'best Auto':>12}{'Auto/Off':>10}{'Off2/Off':>10}{'same-epoch jobs':>17}{'vs Off':>9}"
    )
    for p in pairs:
        print(
            f"{p.dataset:<16}{p.seed:>5}{p.off.epochs:>12}{p.auto.epochs:>12}{p.ratio:>8.2f}{p.auto.stopped:>9}"
            f"{p.off.best:>12.5f}{p.auto.best:>12.5f}{p.diff:>+10.2%}{p.noise_diff:>+10.2%}"
            f"{len(p.same_epochs.values):>17}{p.same_epochs_diff:>+9.2%}"
        )
    print()
    print(f"{'dataset':<16}{'epochs Auto/Off':>16}{'best Auto vs Off':>18}{'Off2 vs Off':>13}{'same epochs':>13}")
    for name in dict.fromkeys(p.dataset for p in pairs):
        mine = [p for p in pairs if p.dataset == name]
        print(
            f"{name:<16}{statistics.fmean(p.ratio for p in mine):>16.2f}"
            f"{statistics.fmean(p.diff for p in mine):>+18.2%}{statistics.fmean(p.noise_diff for p in mine):>+13.2%}"
            f"{statistics.fmean(p.same_epochs_diff for p in mine):>+13.2%}"
        )
    ratio, ratio_low, ratio_high = interval([p.ratio for p in pairs])
    diff, diff_low, diff_high = interval([p.diff for p in pairs])
    noise, noise_low, noise_high = interval([p.noise_diff for p in pairs])
    print()
    print(
        f"epochs Auto/Off: mean {ratio:.3f} (95% CI {ratio_low:.3f} to {ratio_high:.3f}) -> {1 - ratio:.1%} fewer"
        f" [target >= 40%: {'met' if ratio <= 0.60 else 'NOT met'}]"
    )
    print(
        f"best objective Auto vs Off: mean {diff:+.2%} (95% CI {diff_low:+.2%} to {diff_high:+.2%}),"
        f" worst {max(p.diff for p in pairs):+.2%} [target within 1%: {'met' if diff <= 0.01 else 'NOT met'}]"
    )
    print(
        f"noise floor, Off with another seed vs Off: mean {noise:+.2%} (95% CI {noise_low:+.2%} to {noise_high:+.2%}),"
        f" mean |difference| {statistics.fmean(abs(p.noise_diff) for p in pairs):.2%}"
    )
    same, same_low, same_high = interval([p.same_epochs_diff for p in pairs])
    print(
        f"Auto given Off's epochs: {statistics.fmean(len(p.same_epochs.values) for p in pairs):.1f} jobs on average,"
        f" best objective vs Off: mean {same:+.2%} (95% CI {same_low:+.2%} to {same_high:+.2%})"
    )
    print(
        f"{len(pairs)} pairs, built-in XGBoost {args.xgboost_version}, {args.workers} workers,"
        f" elapsed {time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
