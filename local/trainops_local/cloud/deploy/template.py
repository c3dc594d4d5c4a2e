"""Template handling: loading, parameters, conditions and the resources' dependency order."""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .intrinsics import _refs, _Resolver
from .model import DeployError


def load_template(path: Path) -> dict[str, Any]:
    """Read a (SAM) template in YAML or JSON, short-form tags (``!Ref``, ``!Sub`` ...) included."""
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches or template is None:
        raise DeployError(f"cannot parse {path}: {'; '.join(str(m) for m in matches or [])}")
    return json.loads(json.dumps(template, default=str))


def _parameters(template: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    declared = template.get("Parameters") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise DeployError(f"unknown parameters: {', '.join(sorted(unknown))}")
    for name, spec in declared.items():
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise DeployError(f"parameter {name} has no value and no Default")
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in [str(a) for a in allowed]:
            raise DeployError(f"parameter {name}={value!r} is not one of {allowed}")
        if spec.get("AllowedPattern") and not re.fullmatch(spec["AllowedPattern"], str(value)):
            raise DeployError(f"parameter {name}={value!r} does not match {spec['AllowedPattern']}")
        if str(spec.get("Type", "String")).startswith("CommaDelimitedList") or str(spec.get("Type")).startswith(
            "List<"
        ):
            value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        else:
            value = str(value)
        out[name] = value
    return out


def _evaluate_conditions(cfn: dict[str, Any], resolver: _Resolver, conditions: dict[str, bool]) -> None:
    """Evaluate the template's ``Conditions`` into ``conditions`` (the resolver's own dict), in reference order."""
    pending = dict((cfn.get("Conditions") or {}).items())
    while pending:  # conditions may reference each other
        progressed = False
        for name, expr in list(pending.items()):
            deps: set[str] = set()
            _collect_condition_refs(expr, deps)
            if deps <= set(conditions):
                conditions[name] = resolver.condition(expr)
                pending.pop(name)
                progressed = True
        if not progressed:
            raise DeployError(f"circular Conditions: {', '.join(pending)}")


def _creation_order(
    declared: dict[str, Any], active: dict[str, Any], params: dict[str, Any], pseudo: dict[str, Any]
) -> list[str]:
    """The active resources' logical ids in dependency order (``Ref``/``Fn::GetAtt``/``Fn::Sub`` and ``DependsOn``)."""
    graph: dict[str, set[str]] = {}
    for lid, res in active.items():
        deps: set[str] = set()
        _refs(res.get("Properties") or {}, deps)
        depends_on = res.get("DependsOn") or []
        deps |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        missing = {d for d in deps if d not in declared and d not in params and d not in pseudo and d != "AWS::NoValue"}
        if missing:
            raise DeployError(f"{lid} references unknown {', '.join(sorted(missing))}")
        graph[lid] = {d for d in deps if d in active}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise DeployError(f"circular dependency between resources: {exc.args[1]}") from exc
    return order


def _collect_condition_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Condition" and isinstance(v, str):
                out.add(v)
            else:
                _collect_condition_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _collect_condition_refs(v, out)
