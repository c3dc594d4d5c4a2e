"""Local end to end: upload-to-registered wall time of the single-job demo, split into time inside the jobs
(the validation split and the training job) and controller overhead (everything else: EventBridge, Step
Functions, the handlers, the callback, the registry), over several runs in one local cloud.

    .venv/bin/python benchmarks/local_e2e.py [--runs 5]

Targets (issue 3, 2-core machine, warm venv): demo <= 15 s, controller overhead <= 3 s. The baseline measured
in the same run is the bare training work: the same XGBoost fit on the same split, in-process, without the
controller (the figure a SageMaker-local-mode run cannot beat, since it adds Docker on top).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))

DATA = ROOT / "examples" / "data" / "breast_cancer.csv"
CONFIG = ROOT / "examples" / "configs" / "demo.yaml"


def bare_training_seconds() -> float:
    """The same model trained directly: read CSV, split, 60 rounds of XGBoost."""
    import numpy as np
    import xgboost as xgb
    import yaml

    start = time.perf_counter()
    data = np.loadtxt(DATA, delimiter=",")
    rng = np.random.default_rng(42)
    rng.shuffle(data)
    cut = int(len(data) * 0.8)
    hp = yaml.safe_load(CONFIG.read_text())["algorithm"]["hyperparameters"]
    dtrain = xgb.DMatrix(data[:cut, 1:], label=data[:cut, 0])
    dval = xgb.DMatrix(data[cut:, 1:], label=data[cut:, 0])
    params = {"objective": "binary:logistic", "eval_metric": "auc", "max_depth": hp["max_depth"], "eta": hp["eta"]}
    xgb.train(params, dtrain, num_boost_round=hp["num_round"], evals=[(dval, "validation")], verbose_eval=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from trainops_local.runner import LocalTrainops

    baseline = statistics.median(bare_training_seconds() for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with LocalTrainops(Path(tmp)) as app:
            startup = time.perf_counter() - t0
            rows = []
            for i in range(args.runs):
                s = app.run(f"bench-{i}", DATA, None)
                if s.status != "SUCCEEDED":
                    raise SystemExit(f"run {i} ended {s.status}: {s.error} {s.cause}")
                rows.append((s.elapsed_s, s.job_seconds, s.controller_overhead_s))
    total = statistics.median(r[0] for r in rows)
    jobs = statistics.median(r[1] for r in rows)
    overhead = statistics.median(r[2] for r in rows)
    print(f"local cloud start + deploy: {startup:.2f} s (once per session)")
    print(f"baseline (bare in-process training of the same model): {baseline:.3f} s")
    print(f"{'run':>4} {'upload->registered s':>22} {'in jobs s':>10} {'controller s':>13}")
    for i, (a, b, c) in enumerate(rows):
        print(f"{i:>4} {a:>22.2f} {b:>10.2f} {c:>13.2f}")
    print(f"median upload->registered: {total:.2f} s (target <= 15 s); {total / baseline:.1f}x the bare training")
    print(f"median inside jobs: {jobs:.2f} s; median controller overhead: {overhead:.2f} s (target <= 3 s)")
    print(f"controller overhead / total: {overhead / total:.2f}")


if __name__ == "__main__":
    main()
