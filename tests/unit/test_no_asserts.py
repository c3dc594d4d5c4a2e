"""Shipped code has no ``assert``: an AssertionError would reach Step Functions with no field and no fix (and
``python -O`` drops asserts). Invariants use ``trainops.errors.require`` (InternalError, a bug to report)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from trainops.errors import InternalError, require

SHIPPED = [Path(__file__).resolve().parents[2] / d for d in ("layers/common/trainops", "functions")]


def test_no_assert_in_shipped_code():
    found = [
        f"{path.name}:{node.lineno}"
        for root in SHIPPED
        for path in root.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


def test_require_names_what_is_missing():
    assert require(0, "a count") == 0
    with pytest.raises(InternalError, match="the split report is missing"):
        require(None, "the split report")
