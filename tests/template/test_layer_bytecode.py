"""The shared layer ships the bytecode its functions load (``layers/common/Makefile``, target ``bytecode``).

Lambda extracts a layer under /opt, read-only: Python cannot write ``__pycache__`` there, so a module shipped
without its .pyc is compiled from source on every cold start (benchmarks/cold_start.py, column ``no .pyc``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.util import MAGIC_NUMBER
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common"


def _layer_copy(tmp_path: Path) -> Path:
    """The layer's own package plus stand-ins for the third-party parts the Makefile treats apart."""
    python = tmp_path / "python"
    shutil.copytree(LAYER / "trainops", python / "trainops", ignore=shutil.ignore_patterns("__pycache__"))
    for rel in (
        "pydantic/__init__.py",
        "pydantic/v1/__init__.py",
        "aws_lambda_powertools/utilities/__init__.py",
        "aws_lambda_powertools/utilities/typing/__init__.py",
        "aws_lambda_powertools/utilities/parser/__init__.py",
    ):
        (python / rel).parent.mkdir(parents=True, exist_ok=True)
        (python / rel).write_text("X = 1\n")
    stale = python / "trainops" / "__pycache__" / "stale.cpython-311.pyc"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"not bytecode")
    return python


def _bytecode(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"


def test_the_layer_ships_unchecked_hash_bytecode_for_the_runtime_python(tmp_path: Path) -> None:
    assert sys.version_info[:2] == (3, 12), "the project venv is the Lambda runtime's Python"
    python = _layer_copy(tmp_path)
    subprocess.run(
        ["make", "-s", "-C", str(LAYER), "bytecode", f"ARTIFACTS_DIR={tmp_path}", f"RUNTIME_PYTHON={sys.executable}"],
        check=True,
    )
    sources = sorted((python / "trainops").rglob("*.py"))
    assert len(sources) > 50
    for source in sources:
        pyc = _bytecode(source).read_bytes()
        assert pyc[:4] == MAGIC_NUMBER, source
        # PEP 552 flags: 0b01 = hash-based, not checked against the source (zip times are 2 s coarse)
        assert int.from_bytes(pyc[4:8], "little") == 1, source
    assert not (python / "trainops" / "__pycache__" / "stale.cpython-311.pyc").exists()
    assert _bytecode(python / "pydantic" / "__init__.py").exists()
    assert _bytecode(python / "aws_lambda_powertools" / "utilities" / "typing" / "__init__.py").exists()
    # left as source: never imported by trainops, and the layer stays under 15 MB
    assert not _bytecode(python / "pydantic" / "v1" / "__init__.py").exists()
    assert not _bytecode(python / "aws_lambda_powertools" / "utilities" / "parser" / "__init__.py").exists()

    # as on Lambda: nothing may be written, and the shipped bytecode is what loads
    verbose = subprocess.run(
        [sys.executable, "-v", "-c", "import trainops.errors"],
        env={"PYTHONPATH": str(python), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    assert f"code object from '{_bytecode(python / 'trainops' / 'errors.py')}'" in verbose


def test_the_layer_build_compiles_its_bytecode_last(tmp_path: Path) -> None:
    """``sam build`` runs ``build-CommonLayer``: after everything is in place, the bytecode target runs."""
    plan = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(LAYER), "build-CommonLayer", f"ARTIFACTS_DIR={tmp_path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # make -n follows the recursive make into the bytecode target
    copy = next(i for i, line in enumerate(plan) if line.startswith("cp -r trainops"))
    compile_ = next(i for i, line in enumerate(plan) if "-m compileall" in line)
    assert copy < compile_ == len(plan) - 1
    assert "--invalidation-mode unchecked-hash" in plan[compile_]


def test_bytecode_from_another_python_is_refused_with_the_fix(tmp_path: Path) -> None:
    _layer_copy(tmp_path)
    done = subprocess.run(
        ["make", "-s", "-C", str(LAYER), "bytecode", f"ARTIFACTS_DIR={tmp_path}", "RUNTIME_PYTHON=python-not-there"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "must be compiled by Python 3.12" in done.stdout
    assert "RUNTIME_PYTHON=" in done.stdout
