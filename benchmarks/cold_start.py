"""Cold start: each handler's import time in a fresh interpreter, as a ratio to a bare ``import boto3``
measured in the same run, and the unzipped size of the built layer.

    .venv/bin/python benchmarks/cold_start.py [--repeat 7] [--no-build] [--instructions]

A second figure per handler, ``+ models``: the import, then every pydantic model of the loaded trainops modules
built. The models are declared with ``defer_build=True`` (built when they first validate), so the import figure
leaves out building the models the first invocation validates; ``+ models`` is the most that can add (an
invocation builds only the models it uses), so a handler's first invocation lies between the two.

``--instructions`` counts the instructions each import executes under valgrind (callgrind) instead of timing
it: deterministic, so one run of each gives ratios free of this shared machine's noise (timed medians of the
same code move by 0.2 between runs here); the kernel's share (file reads, page faults) is not counted.

Nothing writes bytecode (``PYTHONDONTWRITEBYTECODE``), as in Lambda, where a layer lies read-only under /opt: the
layer ships the .pyc files of what the functions load (``layers/common/Makefile``, target ``bytecode``), and the
``no .pyc`` column is the same import from a copy of the layer without them, as the layer was shipped until
2026-12-03: every cold start then compiled pydantic, Powertools and trainops from source. ``(floor)`` is boto3 +
pydantic's ``BaseModel`` + Powertools' ``Logger`` with no trainops code: what any handler with typed models pays.

Targets: every ratio <= 2.5 (issue 2; a handler importing the SageMaker SDK measures about 12), <= 1.5 (issue 13,
not met: the floor alone counts 1.50), and the layer <= 15 MB. The layer is built the
way SAM builds it: ``sam build CommonLayer`` when the SAM CLI is in
.tools/, else the same ``layers/common/Makefile`` target that ``sam build`` runs.
"""

from __future__ import annotations

import argparse
import atexit
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


def _env(path: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # as in Lambda, where the layer lies read-only under /opt: nothing imported writes bytecode, so a module
    # whose .pyc the layer does not ship is compiled from source on every cold start
    env.update({"PYTHONPATH": os.pathsep.join(path), "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def _once(code: str, path: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-c", f"import site; {code}"], check=True, env=_env(path))
    return time.perf_counter() - start


# after the import: build every pydantic model the handler's trainops modules define (they are deferred,
# ``defer_build=True``: a model is built when it first validates), to show the most a first invocation can add
BUILD_ALL = (
    "import sys, pydantic; "
    "[m.model_rebuild() for mod in list(sys.modules.values()) if getattr(mod, '__name__', '').startswith('trainops') "
    "for m in list(vars(mod).values()) if isinstance(m, type) and issubclass(m, pydantic.BaseModel) "
    "and m.__module__.startswith('trainops') and not m.__pydantic_complete__]"
)


# what every handler imports before any trainops code: boto3, a pydantic model base and the Powertools Logger
FLOOR = "import boto3; from pydantic import BaseModel, Field; from aws_lambda_powertools import Logger"
FLOOR_LABEL = "boto3 + pydantic's BaseModel + Powertools' Logger, no trainops code"


def _without_bytecode(layer: Path) -> Path:
    """A copy of the built layer with every .pyc removed: what the layer shipped until 2026-12-03."""
    bare = Path(tempfile.mkdtemp(prefix="trainops-layer-source-")) / "layer"
    shutil.copytree(layer, bare, ignore=shutil.ignore_patterns("__pycache__"))
    atexit.register(shutil.rmtree, bare.parent, ignore_errors=True)
    return bare


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
            f"RUNTIME_PYTHON={sys.executable}",
        ],
        check=True,
    )
    return artifacts, "layers/common/Makefile (the target sam build runs)"


def _instructions(code: str, path: list[str]) -> int:
    """Instructions executed by a fresh interpreter running ``code`` (valgrind's callgrind, ``Collected``): the
    same on every run (hash seed fixed), so the ratios need no repetition; file reads and page faults (kernel
    time) are not in it."""
    env = {**_env(path), "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-S",
            "-c",
            f"import site; {code}",
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stderr
    return int(next(line for line in out.splitlines() if "Collected :" in line).rsplit(":", 1)[1])


def _count_instructions(
    handlers: dict[str, list[str]], bare: dict[str, list[str]], site_packages: list[str], base_path: list[str]
) -> None:
    if not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    base = _instructions("import boto3", site_packages)
    print(f"baseline: import boto3 = {base / 1e6:.0f} M instructions (callgrind, fresh interpreter)")
    floor = _instructions(FLOOR, base_path)
    print(f"{'handler':<20} {'import Minstr':>13} {'ratio':>7} {'+ models':>9} {'no .pyc':>8}")
    print(f"{'(floor)':<20} {floor / 1e6:>13.0f} {floor / base:>7.2f}   {FLOOR_LABEL}")
    worst = worst_built = 0.0
    for name, path in handlers.items():
        count = _instructions("import app", path)
        built = _instructions(f"import app; {BUILD_ALL}", path)
        source = _instructions("import app", bare[name])
        worst, worst_built = max(worst, count / base), max(worst_built, built / base)
        print(f"{name:<20} {count / 1e6:>13.0f} {count / base:>7.2f} {built / base:>9.2f} {source / base:>8.2f}")
    print(f"worst ratio: {worst:.2f}; worst '+ models': {worst_built:.2f} (instructions; target <= 1.5, issue 13)")


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _time_imports(
    handlers: dict[str, list[str]],
    bare: dict[str, list[str]],
    site_packages: list[str],
    base_path: list[str],
    repeat: int,
) -> float:
    """Print each handler's timed ratios; return the baseline's median (seconds)."""
    # Round-robin: each round times the baseline and every handler back to back, so machine noise hits both
    # sides of a ratio alike; the figure is the median of the per-round ratios.
    ratios: dict[str, list[float]] = {name: [] for name in handlers}
    built: dict[str, list[float]] = {name: [] for name in handlers}
    source: dict[str, list[float]] = {name: [] for name in handlers}
    times: dict[str, list[float]] = {name: [] for name in handlers}
    baselines: list[float] = []
    floors: list[float] = []
    for _ in range(repeat):
        for name, path in handlers.items():
            base = _once("import boto3", site_packages)
            t = _once("import app", path)
            baselines.append(base)
            times[name].append(t)
            ratios[name].append(t / base)
            built[name].append(_once(f"import app; {BUILD_ALL}", path) / base)
            source[name].append(_once("import app", bare[name]) / base)
        floors.append(_once(FLOOR, base_path) / base)
    print(f"baseline: import boto3 = {statistics.median(baselines) * 1000:.0f} ms (median, fresh interpreter)")
    print(
        f"{'handler':<20} {'import ms':>10} {'ratio':>7} {'+ models':>9} {'no .pyc':>8}   (median of {repeat} rounds)"
    )
    print(f"{'(floor)':<20} {'':>10} {statistics.median(floors):>7.2f}   {FLOOR_LABEL}")
    worst = worst_built = 0.0
    for name in handlers:
        ratio = statistics.median(ratios[name])
        worst = max(worst, ratio)
        with_models = statistics.median(built[name])
        worst_built = max(worst_built, with_models)
        print(
            f"{name:<20} {statistics.median(times[name]) * 1000:>10.0f} {ratio:>7.2f} {with_models:>9.2f} "
            f"{statistics.median(source[name]):>8.2f}"
        )
    print(f"worst ratio: {worst:.2f} (targets: <= 2.5, issue 2; <= 1.5, issue 13)")
    print(
        f"worst '+ models': {worst_built:.2f} (import, then every pydantic model of the loaded trainops modules built: "
        "the most a first invocation adds for validation; each invocation builds only the models it validates)"
    )
    return statistics.median(baselines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-build", action="store_true", help="measure a pip --target layer instead of sam build")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind (callgrind) instead of timing: one run each, no machine noise",
    )
    args = parser.parse_args()

    layer, how = _built_layer(args.no_build)
    layer_python = layer / "python" if (layer / "python").exists() else layer
    site_packages = [p for p in sys.path if p.endswith("site-packages")]
    # boto3 comes from the runtime (here: the venv's site-packages); everything else from the built layer
    base_path = [str(layer_python), *site_packages]
    handlers = {name: [str(ROOT / "functions" / name), *base_path] for name in FUNCTIONS}
    bare_python = _without_bytecode(layer_python)
    bare = {name: [str(ROOT / "functions" / name), str(bare_python), *site_packages] for name in FUNCTIONS}
    for name, path in handlers.items():  # warm the page cache (nothing writes bytecode: see _env)
        _once("import app", path)
        _once("import app", bare[name])
    _once("import boto3", site_packages)
    if args.instructions:
        _count_instructions(handlers, bare, site_packages, base_path)
        print(f"layer unzipped: {_size_mb(layer):.1f} MB via {how} (target <= 15 MB)")
        return
    baseline = _time_imports(handlers, bare, site_packages, base_path, args.repeat)
    try:
        import importlib.util

        if importlib.util.find_spec("sagemaker"):
            sdk = _once("from sagemaker.core import image_uris", site_packages)
            print(f"{'(sagemaker SDK)':<20} {sdk * 1000:>10.0f} {sdk / baseline:>7.2f}")
    except Exception:  # noqa: BLE001  (the optional SDK line: any failure of the dev-only SDK just omits it)
        pass
    size = _size_mb(layer)
    print(f"layer unzipped: {size:.1f} MB via {how} (target <= 15 MB)")


if __name__ == "__main__":
    main()
