"""Warm start benchmark: jobs a warm-started tuning needs to match its parent's best vs a cold start.

For each dataset and seed, a 30-job Bayesian parent tuning runs on the local cloud. Then, on the same
data and image, two 20-job Bayesian tunings run with another seed: one warm-started from the parent
(IdenticalDataAndAlgorithm: the parent's results seed the study as observations; nothing is re-run) and one
cold. For each, the number of
training jobs until its best objective comes within TOLERANCE of the parent's best is counted (a run
that never gets there counts its whole budget + 1). Reported: mean jobs warm / cold.

Target: warm start needs <= 40% of the cold start's jobs.

    .venv/bin/python benchmarks/warm_start.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from early_stopping import DATASETS, TuningResult, local_cloud, tune, upload

PARENT_JOBS = 30
CHILD_JOBS = 20
TOLERANCE = 0.005  # relative: within 0.5% of the parent's best (all objectives here are minimised)


def jobs_to_match(result: TuningResult, target: float) -> int:
    """1-based index of the first job whose objective is within TOLERANCE of ``target``; budget + 1 if none."""
    threshold = target * (1 + TOLERANCE) if target >= 0 else target * (1 - TOLERANCE)
    for index, value in enumerate(result.values, start=1):
        if value is not None and value <= threshold:
            return index
    return len(result.values) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    started = time.monotonic()
    warm_jobs: list[int] = []
    cold_jobs: list[int] = []
    print(
        f"{'dataset':<16}{'seed':>5}{'parent best':>13}{'warm jobs':>11}{'cold jobs':>11}"
        f"{'warm best':>12}{'cold best':>12}"
    )
    with local_cloud() as tuner:
        for d_index, dataset in enumerate(DATASETS):
            upload(dataset, dataset.name)
            for seed in range(args.seeds):
                common = {"jobs": PARENT_JOBS, "early_stopping": "Off"}
                parent = tune(tuner, dataset, dataset.name, name=f"ws-{d_index}-{seed}-p", seed=100 + seed, **common)
                child = {"jobs": CHILD_JOBS, "early_stopping": "Off", "seed": 200 + seed}
                warm_start = {
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent.name}],
                    "WarmStartType": "IdenticalDataAndAlgorithm",
                }
                warm = tune(tuner, dataset, dataset.name, name=f"ws-{d_index}-{seed}-w", warm_start=warm_start, **child)
                cold = tune(tuner, dataset, dataset.name, name=f"ws-{d_index}-{seed}-c", **child)
                warm_jobs.append(jobs_to_match(warm, parent.best))
                cold_jobs.append(jobs_to_match(cold, parent.best))
                print(
                    f"{dataset.name:<16}{seed:>5}{parent.best:>13.5f}{warm_jobs[-1]:>11}{cold_jobs[-1]:>11}"
                    f"{warm.best:>12.5f}{cold.best:>12.5f}"
                )
    warm_mean, cold_mean = statistics.fmean(warm_jobs), statistics.fmean(cold_jobs)
    print()
    print(
        f"jobs to match the parent's best (within {TOLERANCE:.1%}): warm {warm_mean:.1f}, cold {cold_mean:.1f}"
        f" (never matched counts {CHILD_JOBS + 1})"
    )
    print(f"warm/cold: {warm_mean / cold_mean:.2f} [target <= 0.40]")
    print(f"elapsed {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
