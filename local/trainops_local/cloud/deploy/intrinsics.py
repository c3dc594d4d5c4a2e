"""CloudFormation intrinsic functions: references for dependency order, and their resolution."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from .model import DeployError, PhysicalResource

_NO_VALUE = object()
_SUB_RE = re.compile(r"\$\{([^}]*)\}")


def _refs(node: Any, out: set[str]) -> None:
    """Collect the logical ids (and parameters) a node references."""
    if isinstance(node, dict):
        if len(node) == 1:
            (key, val), *_ = node.items()
            if key == "Ref" and isinstance(val, str):
                out.add(val)
            elif key == "Fn::GetAtt":
                target = val[0] if isinstance(val, list) else str(val).split(".", 1)[0]
                out.add(target)
            elif key == "Fn::Sub":
                text = val[0] if isinstance(val, list) else val
                local = set(val[1]) if isinstance(val, list) and len(val) > 1 else set()
                for m in _SUB_RE.finditer(text if isinstance(text, str) else ""):
                    name = m.group(1)
                    if not name.startswith("!") and name.split(".", 1)[0] not in local:
                        out.add(name.split(".", 1)[0])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


class _Resolver:
    def __init__(
        self,
        params: dict[str, Any],
        pseudo: dict[str, Any],
        mappings: dict[str, Any],
        conditions: dict[str, bool],
        resources: dict[str, PhysicalResource],
        region: str,
    ) -> None:
        self.params = params
        self.pseudo = pseudo
        self.mappings = mappings
        self.conditions = conditions
        self.resources = resources
        self.region = region

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return self.resources[name].physical_id
        raise DeployError(f"unresolved Ref {name!r}")

    def getatt(self, logical_id: str, attr: str) -> Any:
        res = self.resources.get(logical_id)
        if res is None:
            raise DeployError(f"Fn::GetAtt on unknown or not-yet-created resource {logical_id!r}")
        if attr not in res.attributes:
            raise DeployError(f"Fn::GetAtt {logical_id}.{attr}: attribute not available for {res.type} locally")
        return res.attributes[attr]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(v) for v in node]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, val), *_ = node.items()
            fn = _INTRINSICS.get(key)
            if fn is not None:
                return fn(self, val)
        out = {}
        for k, v in node.items():
            r = self.resolve(v)
            if r is not _NO_VALUE:
                out[k] = r
        return out

    def sub(self, val: Any) -> str:
        if isinstance(val, list):
            text, variables = val[0], {k: self.resolve(v) for k, v in (val[1] if len(val) > 1 else {}).items()}
        else:
            text, variables = val, {}

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                logical, attr = name.split(".", 1)
                return str(self.getatt(logical, attr))
            return str(self.ref(name))

        return _SUB_RE.sub(repl, text)

    def condition(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (key, val), *_ = node.items()
            if key == "Fn::Equals":
                a, b = (self.resolve(v) for v in val)
                return str(a) == str(b)
            if key == "Fn::And":
                return all(self.condition(v) for v in val)
            if key == "Fn::Or":
                return any(self.condition(v) for v in val)
            if key == "Fn::Not":
                return not self.condition(val[0])
            if key == "Condition":
                return self.conditions[val]
        if isinstance(node, bool):
            return node
        raise DeployError(f"unsupported condition expression {node!r}")


def _fn_getatt(r: _Resolver, val: Any) -> Any:
    if isinstance(val, str):
        val = val.split(".", 1)
    return r.getatt(val[0], r.resolve(val[1]))


def _fn_if(r: _Resolver, val: Any) -> Any:
    name, yes, no = val
    return r.resolve(yes if r.conditions[name] else no)


def _fn_select(r: _Resolver, val: Any) -> Any:
    index, items = r.resolve(val[0]), r.resolve(val[1])
    return items[int(index)]


def _fn_split(r: _Resolver, val: Any) -> Any:
    sep, text = val[0], r.resolve(val[1])
    return str(text).split(sep)


def _fn_join(r: _Resolver, val: Any) -> Any:
    sep, items = val[0], r.resolve(val[1])
    return sep.join(str(v) for v in items)


def _fn_find_in_map(r: _Resolver, val: Any) -> Any:
    m, k1, k2 = (r.resolve(v) for v in val[:3])
    return r.mappings[m][k1][k2]


def _fn_import(_r: _Resolver, val: Any) -> Any:
    raise DeployError(f"Fn::ImportValue ({val!r}) is not supported locally: deploy one self-contained stack")


def _fn_tojson(r: _Resolver, val: Any) -> Any:
    return json.dumps(r.resolve(val), separators=(",", ":"))


_INTRINSICS: dict[str, Callable[[_Resolver, Any], Any]] = {
    "Ref": lambda r, v: r.ref(v),
    "Fn::GetAtt": _fn_getatt,
    "Fn::Sub": lambda r, v: r.sub(v),
    "Fn::Join": _fn_join,
    "Fn::If": _fn_if,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Base64": lambda r, v: base64.b64encode(str(r.resolve(v)).encode()).decode(),
    "Fn::GetAZs": lambda r, _v: [f"{r.region}{s}" for s in "abc"],
    "Fn::ImportValue": _fn_import,
    "Fn::ToJsonString": _fn_tojson,
    "Condition": lambda r, v: r.conditions[v],
}
