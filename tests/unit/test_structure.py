"""The packages' structure: no import cycles (deferred imports included: a cycle hidden by a function-level
import is still a cycle) in the shipped package nor in the local cloud, no dead modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "trainops"
LOCAL_PACKAGE = Path(__file__).resolve().parents[2] / "local" / "trainops_local"


def _module(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. ``from a.b import c`` depends on ``a.b.c`` when that is a
    module, else on ``a.b``; a module's own enclosing packages are already being imported, never a cycle."""
    modules = {_module(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        enclosing = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name and t not in enclosing}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_no_import_cycles_in_the_shipped_package():
    assert cycles(import_graph()) == []


def test_no_import_cycles_in_the_local_cloud():
    assert cycles(import_graph(LOCAL_PACKAGE)) == []


def test_the_graph_sees_function_level_imports():
    # trainops.callbacks imports trainops.tuning inside a function (only tuning events pay for it)
    assert "trainops.tuning" in import_graph()["trainops.callbacks"]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


# --- each handler imports only what its step uses (issue 13 item 3; speed is benchmarks/cold_start.py) ------------
ROOT = PACKAGE.parents[2]
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
# what a function may not load at import time, and the functions allowed to
NOT_FOR_EVERY_FUNCTION = {
    "trainops.config": {
        "describe_automl",  # trainops.autopilot reads the config's types
        "finish_run",
        "normalize_request",
        "register_model",
        "select_algorithm",
        "split_dataset",
        "start_automl",
        "start_training",
        "start_tuning",
        "sync_schedule",
    },
    # config TEXT is read only where a config object is read from S3; the others validate a run's config dict
    "trainops.config_yaml": {"normalize_request", "sync_schedule"},
    "yaml": {"normalize_request", "sync_schedule"},
    "trainops.lint": set(),  # loaded on first use only (steps.runs.lint_errors)
    "trainops.tuning": {"start_tuning"},
    "trainops.autopilot": {"describe_automl", "start_automl"},
    "trainops.registry": {"register_model"},
    "trainops.planning": {"select_algorithm"},
    "trainops.training": {"register_model", "split_dataset", "start_automl", "start_training", "start_tuning"},
    "aws_xray_sdk": set(),
    "aws_lambda_powertools.utilities.parser": set(),
    "sagemaker": set(),
    "pandas": set(),
}


def _imported_by(function: str) -> set[str]:
    import subprocess
    import sys

    code = "import sys, app; print('\\n'.join(sys.modules))"
    env = {"PYTHONPATH": f"{ROOT / 'functions' / function}:{PACKAGE.parent}", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_each_function_imports_only_what_its_step_uses():
    # Given each function's handler module, imported in a fresh interpreter as Lambda does
    loaded = {function: _imported_by(function) for function in FUNCTIONS}
    # Then a module heavier than the shared core is loaded only by the functions whose step uses it
    wrong = {
        module: sorted(f for f in FUNCTIONS if module in loaded[f] and f not in allowed)
        for module, allowed in NOT_FOR_EVERY_FUNCTION.items()
    }
    assert {module: fs for module, fs in wrong.items() if fs} == {}
    # and the functions that read no config load no YAML parser either
    assert {f for f in FUNCTIONS if "yaml" in loaded[f]} <= NOT_FOR_EVERY_FUNCTION["trainops.config"]
