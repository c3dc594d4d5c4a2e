"""Reading a config's YAML: PyYAML's safe loader, refusing a key given twice. Imported by the functions that
read config text (NormalizeRequest, SyncSchedule) and by ``trainops.config.parse_yaml`` on first use, so the
functions that only validate a run's config dict never import PyYAML (about 0.07x a bare ``import boto3``)."""

from __future__ import annotations

from typing import Any

import yaml

from trainops.errors import ConfigInvalid


class DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping that names one key twice (YAML itself keeps the last silently)."""

    def __init__(self, key: object, path: str, line: int, first_line: int) -> None:
        super().__init__(None, None, f"duplicate key {key!r}")
        self.key, self.path, self.line, self.first_line = key, path, line, first_line


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that repeats a key at any depth (merge keys ``<<`` may still be
    overridden, as YAML intends). Keys are compared as constructed, so ``on:`` and ``yes:`` (both true) clash."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._root = node
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                raise DuplicateKey(key, _path_to(self._root, node, key), line, first)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _path_to(root: yaml.Node, target: yaml.MappingNode, key: object) -> str:
    """The dotted path of ``key`` in ``target``, found from the document's root (for the error's field)."""

    def walk(node: yaml.Node, path: list[str], seen: set[int]) -> list[str] | None:
        if node is target:
            return path
        if id(node) in seen:
            return None
        seen.add(id(node))
        children: list[tuple[str, yaml.Node]] = []
        if isinstance(node, yaml.MappingNode):
            children = [(str(k.value), v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
        elif isinstance(node, yaml.SequenceNode):
            children = [(str(i), v) for i, v in enumerate(node.value)]
        for name, child in children:
            found = walk(child, [*path, name], seen)
            if found is not None:
                return found
        return None

    return ".".join([*(walk(root, [], set()) or []), str(key)])


def read_yaml(decoded: str, *, source: str) -> Any:
    """The document of ``decoded`` (UTF-8 checked); ConfigInvalid naming a repeated key or the syntax error."""
    try:
        return yaml.load(decoded, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except DuplicateKey as exc:
        raise ConfigInvalid(
            f"{source} sets {exc.path} twice (lines {exc.first_line} and {exc.line}); YAML would keep only the "
            f"value on line {exc.line}",
            field=exc.path,
            fix=f"keep one {exc.key!s}: delete the line you do not mean",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigInvalid(f"{source} is not valid YAML: {exc}", field="(root)", fix="fix the YAML syntax") from exc
