"""What keeping the local cloud's state costs: start (moto + deploy + restore) and stop (stop + save) of a
``LocalTrainops``, on an empty workdir and on one holding 10 runs, each measured in a fresh process (as a
``trainops local run`` is), against the same without persistence.

    .venv/bin/python benchmarks/persistence.py [--runs 10] [--repeat 3]

The 10 runs: 8 single-job XGBoost runs and 2 tuning runs (6 jobs each) on the bundled dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(ROOT / "layers" / "common"))

DATA = ROOT / "examples" / "data" / "breast_cancer.csv"
TUNING = ROOT / "examples" / "configs" / "demo-tuning.yaml"
RUNS = 10


def _quiet() -> None:
    import logging

    logging.getLogger("moto").setLevel("CRITICAL")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def measure(workdir: Path, persist: bool) -> dict[str, float]:
    """One start and stop in this process, with the state's own phases timed: reading the snapshot (``open``),
    laying it over the deployed stack (``restore``) and capturing and writing it (``save``)."""
    _quiet()
    from trainops_local.cloud.persistence import LocalState
    from trainops_local.runner import LocalTrainops

    phases: dict[str, float] = {}

    def timed(name: str, method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                phases[f"{name}_s"] = phases.get(f"{name}_s", 0.0) + time.perf_counter() - begin

        return wrapper

    for name in ("open", "restore", "save"):
        setattr(LocalState, name, timed(name, getattr(LocalState, name)))
    app = LocalTrainops(workdir, persist=persist)
    start = time.perf_counter()
    app.__enter__()
    started = time.perf_counter()
    app.__exit__(None, None, None)
    stopped = time.perf_counter()
    size = (workdir / "cloud.pickle").stat().st_size if (workdir / "cloud.pickle").exists() else 0
    return {"start_s": started - start, "stop_s": stopped - started, "snapshot_bytes": size, **phases}


def fill(workdir: Path, runs: int) -> None:
    """``runs`` runs in one command (the last two tune)."""
    _quiet()
    from trainops_local.runner import LocalTrainops

    with LocalTrainops(workdir) as app:
        for i in range(runs):
            tuned = i >= runs - 2
            summary = app.run("demo-tuning" if tuned else "bench", DATA, TUNING if tuned else None)
            assert summary.status == "SUCCEEDED", summary


def _child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--runs", str(RUNS), "--child", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("WORKDIR", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    global RUNS  # noqa: PLW0603 - the children fill with the same count
    RUNS = args.runs
    if args.child:
        workdir, mode = Path(args.child[0]), args.child[1]
        if mode == "fill":
            fill(workdir, args.runs)
            print(json.dumps({}))
        else:
            print(json.dumps(measure(workdir, persist=mode == "persist")))
        return
    with tempfile.TemporaryDirectory() as tmp:
        empty, full = Path(tmp) / "empty", Path(tmp) / "full"
        rows = []
        for label, workdir, mode in (("empty, no persistence", empty, "off"), ("empty workdir", empty, "persist")):
            results = []
            for _ in range(args.repeat):
                if mode == "persist":
                    subprocess.run(
                        [sys.executable, "-m", "trainops_local.cli", "local", "reset", "--workdir", str(empty)],
                        check=True,
                        capture_output=True,
                        cwd=ROOT,
                    )
                results.append(_child(str(workdir), mode))
            rows.append((label, results))
        fill_start = time.perf_counter()
        _child(str(full), "fill")
        fill_s = time.perf_counter() - fill_start
        rows.append((f"{args.runs}-run workdir", [_child(str(full), "persist") for _ in range(args.repeat)]))
    print(f"{'workdir':<24} {'start':>7} {'read':>7} {'restore':>8} {'stop':>7} {'save':>7} {'snapshot':>9}")
    for label, results in rows:

        def median(key: str, results: list[dict[str, float]] = results) -> float:
            return statistics.median(r.get(key, 0.0) for r in results)

        size = max(r["snapshot_bytes"] for r in results)
        print(
            f"{label:<24} {median('start_s'):>6.2f}s {median('open_s'):>6.2f}s {median('restore_s'):>7.2f}s "
            f"{median('stop_s'):>6.2f}s {median('save_s'):>6.2f}s {size / 1e6:>7.2f}MB"
        )
    print(f"(filling the workdir with {args.runs} runs took {fill_s:.1f} s, one command; medians of {args.repeat})")


if __name__ == "__main__":
    main()
