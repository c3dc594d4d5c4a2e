"""Cold start: each handler's import time in a fresh interpreter, as a ratio to a bare ``import boto3``
measured in the same run, and the unzipped size of the built layer.

    .venv/bin/python benchmarks/cold_start.py [--repeat 7] [--no-build]

Targets (issue 2): every ratio <= 2.5 (a handler importing the SageMaker SDK measures about 12) and the
layer <= 15 MB. The layer is built the way SAM builds it: ``sam build CommonLayer`` when the SAM CLI is in
.tools/, else the same ``layers/common/Makefile`` target that ``sam build`` runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def _time_import(code: str, path: list[str], repeat: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(path),
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONDONTWRITEBYTECODE": "0",
        }
    )
    samples = []
    for _ in range(repeat + 1):  # the first run warms the OS page cache and writes .pyc files
        start = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", f"import site; {code}"], check=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[1:])


def _built_layer(no_build: bool) -> tuple[Path, str]:
    sam = ROOT / ".tools" / "sam" / "bin" / "sam"
    if sam.exists() and not no_build:
        py312 = shutil.which("python3.12")
        env = dict(os.environ)
        venv_bin = Path(sys.executable).parent
        env["PATH"] = f"{venv_bin}:{env['PATH']}" if (venv_bin / "python3.12").exists() else env["PATH"]
        build_dir = Path(tempfile.mkdtemp(prefix="trainops-sam-build-"))
        subprocess.run(
            [str(sam), "build", "--build-dir", str(build_dir), "CommonLayer"],
            cwd=ROOT,
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        del py312
        return build_dir / "CommonLayer", "sam build"
    # the same Makefile target `sam build` runs for the layer
    artifacts = Path(tempfile.mkdtemp(prefix="trainops-layer-"))
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT / "layers" / "common"),
            "build-CommonLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
    )
    return artifacts, "layers/common/Makefile (the target sam build runs)"


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-build", action="store_true", help="measure a pip --target layer instead of sam build")
    args = parser.parse_args()

    layer, how = _built_layer(args.no_build)
    layer_python = layer / "python" if (layer / "python").exists() else layer
    site_packages = [p for p in sys.path if p.endswith("site-packages")]
    # boto3 comes from the runtime (here: the venv's site-packages); everything else from the built layer
    base_path = [str(layer_python), *site_packages]
    baseline = _time_import("import boto3", site_packages, args.repeat)
    print(f"baseline: import boto3 = {baseline * 1000:.0f} ms (median of {args.repeat}, fresh interpreter)")
    sdk = None
    try:
        import importlib.util

        if importlib.util.find_spec("sagemaker"):
            sdk = _time_import("from sagemaker.core import image_uris", site_packages, 3)
    except Exception:
        sdk = None
    worst = 0.0
    print(f"{'handler':<20} {'import ms':>10} {'ratio':>7}")
    for name in FUNCTIONS:
        t = _time_import("import app", [str(ROOT / "functions" / name), *base_path], args.repeat)
        ratio = t / baseline
        worst = max(worst, ratio)
        print(f"{name:<20} {t * 1000:>10.0f} {ratio:>7.2f}")
    if sdk:
        print(f"{'(sagemaker SDK)':<20} {sdk * 1000:>10.0f} {sdk / baseline:>7.2f}")
    size = _size_mb(layer)
    print(f"worst ratio: {worst:.2f} (target <= 2.5)")
    print(f"layer unzipped: {size:.1f} MB via {how} (target <= 15 MB)")


if __name__ == "__main__":
    main()
