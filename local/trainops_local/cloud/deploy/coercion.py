"""botocore value coercion: CloudFormation's stringly-typed values to an operation's input shape; tag and key shapes."""

from __future__ import annotations

import re
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def _coerce(shape: Shape | None, value: Any) -> Any:  # noqa: PLR0911  (one branch per template construct (intrinsics, resource kinds), as the spec lists them)
    """Coerce CloudFormation's stringly-typed values (``"10"``, ``"true"``) to the API shape's types."""
    if shape is None or value is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {k: _coerce(shape.members.get(k), v) for k, v in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_coerce(shape.member, v) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _coerce(shape.value, v) for k, v in value.items()}
    t = shape.type_name
    if t in ("integer", "long") and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if t in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if t == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if t == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def call(client: Any, operation: str, **params: Any) -> Any:
    """Call ``client.<operation>`` with params coerced to the operation's input shape (None dropped)."""
    params = {k: v for k, v in params.items() if v is not None}
    op_name = client.meta.method_to_api_mapping[operation]
    shape = client.meta.service_model.operation_model(op_name).input_shape
    return getattr(client, operation)(**_coerce(shape, params))


def tags_list(tags: Any, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    if not tags:
        return []
    if isinstance(tags, dict):
        return [{key: k, value: str(v)} for k, v in tags.items()]
    return [{key: t["Key"], value: str(t["Value"])} for t in tags]


def tags_dict(tags: Any) -> dict[str, str]:
    if not tags:
        return {}
    if isinstance(tags, dict):
        return {k: str(v) for k, v in tags.items()}
    return {t["Key"]: str(t["Value"]) for t in tags}


def camel(node: Any) -> Any:
    """CloudFormation PascalCase keys -> Step Functions API camelCase keys."""
    if isinstance(node, dict):
        return {k[:1].lower() + k[1:]: camel(v) for k, v in node.items()}
    if isinstance(node, list):
        return [camel(v) for v in node]
    return node
