"""Script mode, locally: a scikit-learn script from upload to a registered model, against the same script run
bare with ``python`` on the same data, in the same run.

    .venv/bin/python benchmarks/script_mode.py [--runs 3]

The script is the real California-housing random forest of AWS's examples (tests/e2e/real_scripts/california,
unchanged), with its header CSVs in train/ and test/. Three figures:

- bare: the script run directly by the framework environment's Python, with the SM_* variables it reads set
  by hand (what a data scientist runs on a laptop); the baseline.
- first run: upload -> registered with nothing cached, neither trainops' framework environments nor uv's
  package cache (a temporary UV_CACHE_DIR), so the scikit-learn image's environment is downloaded and built.
- warm run: upload -> registered once the environment exists (median of --runs).

Targets (issue 5, 2-core machine): warm overhead over bare <= 3 s; first-time environment build <= 90 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(ROOT))
from tests.e2e.test_real_scripts import housing  # noqa: E402 - the same synthetic data as the test

SCRIPT = ROOT / "tests" / "e2e" / "real_scripts" / "california"
VERSION = "1.2-1"


def prepare(tmp: Path) -> tuple[Path, Path]:
    """The dataset (train/ and test/ folders) and a config for the scikit-learn image VERSION."""
    data = tmp / "housing"
    (data / "train").mkdir(parents=True)
    (data / "test").mkdir()
    housing(2000, 1).to_csv(data / "train" / "california_housing_train.csv")
    housing(500, 2).to_csv(data / "test" / "california_housing_test.csv")
    config = yaml.safe_load((SCRIPT / "config.yaml").read_text())
    config["algorithm"]["framework_version"] = VERSION
    config["algorithm"]["source_dir"] = str(SCRIPT / "code")
    config["project"] = "bench-script"
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return data, path


def bare_seconds(python: Path, data: Path, config: Path, workdir: Path) -> float:
    """The script run directly: python script.py --hyperparameters, SM_* variables set by hand."""
    hps = yaml.safe_load(config.read_text())["algorithm"]["hyperparameters"]
    args = [f"--{k}={v}" for k, v in hps.items()]
    model = workdir / "bare-model"
    model.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "SM_MODEL_DIR": str(model),
        "SM_CHANNEL_TRAIN": str(data / "train"),
        "SM_CHANNEL_TEST": str(data / "test"),
    }
    start = time.perf_counter()
    subprocess.run([str(python), str(SCRIPT / "code" / "script.py"), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from trainops_local.runner import LocalTrainops

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data, config = prepare(tmp)
        # nothing cached: trainops' environments and uv's download cache both start empty
        os.environ["TRAINOPS_CACHE_DIR"] = str(tmp / "trainops-cache")
        os.environ["UV_CACHE_DIR"] = str(tmp / "uv-cache")
        with LocalTrainops(tmp / "cloud") as app:
            first = app.run("bench-script", data, config)
            if first.status != "SUCCEEDED" or first.framework_environment is None:
                raise SystemExit(f"first run ended {first.status}: {first.error} {first.cause}")
            build = float(first.framework_environment["build_seconds"])
            python = Path(first.framework_environment["path"]) / "bin" / "python"
            warm = []
            for _ in range(args.runs):
                summary = app.run("bench-script", data, config)
                if summary.status != "SUCCEEDED":
                    raise SystemExit(f"warm run ended {summary.status}: {summary.error} {summary.cause}")
                warm.append(summary.elapsed_s)
        bare = statistics.median(bare_seconds(python, data, config, tmp) for _ in range(args.runs))
    warm_median = statistics.median(warm)
    print(f"scikit-learn {VERSION} image environment, script tests/e2e/real_scripts/california (2000 rows)")
    print(f"bare `python script.py` (baseline):        {bare:6.2f} s")
    print(f"warm run, upload -> registered (median):   {warm_median:6.2f} s   = {warm_median / bare:.1f}x bare")
    print(f"warm overhead over bare:                   {warm_median - bare:6.2f} s   (target <= 3 s)")
    print(f"first run, upload -> registered:           {first.elapsed_s:6.2f} s   = {first.elapsed_s / bare:.1f}x bare")
    print(f"  of which the environment build (uv):     {build:6.2f} s   (target <= 90 s)")
    print(f"warm runs: {', '.join(f'{w:.2f}' for w in warm)} s")


if __name__ == "__main__":
    main()
