"""A project config file on this machine, as `trainops local run`, `config validate` and `config upload` read it.

A config file may name local things the pipeline cannot read: a script-mode ``algorithm.source_dir`` folder
(relative to the config file) and a container's ``algorithm.local_command``. All three commands treat them
the same way: the folder must exist and hold the entry point; it is packed into ``sourcedir.tar.gz`` (as the
SageMaker Python SDK packs it: files at the archive root) and uploaded to
``s3://<artifacts bucket>/code/<project>/<sha256 of the archive>/sourcedir.tar.gz``, and the uploaded config
names that URI. The archive is built deterministically, so the same code always lands at the same key.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from trainops.config import ProjectConfig, parse_config, parse_yaml
from trainops.errors import ConfigInvalid

# what a local source_dir stands for until it is packed: the place `trainops config upload` puts it (code/<project>/)
PLACEHOLDER_SOURCE = "s3://local-placeholder/code/{project}/local/sourcedir.tar.gz"
SKIPPED = ("__pycache__", ".git", ".ipynb_checkpoints", ".DS_Store")


@dataclass(frozen=True)
class ConfigFile:
    """A parsed config file and the local things it names."""

    path: Path
    data: dict[str, Any]
    config: ProjectConfig  # validated, a local source_dir replaced by a placeholder URI
    source_dir: Path | None  # a local code folder to pack
    dependencies: tuple[Path, ...]  # more local folders or files packed beside it
    local_command: tuple[str, ...] | None

    @property
    def folder(self) -> Path:
        return self.path.resolve().parent

    def text_with_source(self, uri: str | None) -> bytes:
        """The config to upload: a local source_dir replaced by ``uri`` (the text as written otherwise)."""
        if self.source_dir is None or uri is None:
            return self.path.read_bytes()
        data = dict(self.data)
        data["algorithm"] = {**data["algorithm"], "source_dir": uri}
        return yaml.safe_dump(data, sort_keys=False).encode()

    def local_command_missing(self) -> str | None:
        """The program of ``algorithm.local_command`` when it is not installed on this machine, else None."""
        if not self.local_command:
            return None
        program = self.local_command[0]
        installed = (self.folder / program).exists() if "/" in program else shutil.which(program) is not None
        return None if installed else program


def read_config_file(path: Path, *, expected_project: str | None = None) -> ConfigFile:
    """Parse and validate ``path``; raises ConfigInvalid naming the field (and what to do) on any problem."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigInvalid(
            f"{source}: {exc.strerror or exc}", field="(file)", fix="pass a readable YAML file"
        ) from exc
    data = parse_yaml(raw, source=source)  # the pipeline's reader: size, UTF-8, YAML, every key once
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{source} must be a YAML mapping", field="(root)", fix="start from examples/configs/")
    algorithm: dict[str, Any] = data["algorithm"] if isinstance(data.get("algorithm"), dict) else {}
    local_dir = _local_source_dir(path, algorithm)
    checked = data
    if local_dir is not None:
        placeholder = PLACEHOLDER_SOURCE.format(project=data.get("project") or "unknown")
        checked = {**data, "algorithm": {**algorithm, "source_dir": placeholder}}
    config = parse_config(checked, expected_project=expected_project, source=source)
    if local_dir is not None and config.algorithm.entry_point is not None:
        entry = local_dir / config.algorithm.entry_point
        if not entry.exists():
            raise ConfigInvalid(
                f"{source}: algorithm.entry_point {config.algorithm.entry_point} is not in {local_dir}",
                field="algorithm.entry_point",
                fix="name a file (or package folder) inside algorithm.source_dir",
            )
    command = tuple(config.algorithm.local_command) if config.algorithm.local_command else None
    dependencies = _dependencies(path, config, local_dir)
    return ConfigFile(
        path=path, data=data, config=config, source_dir=local_dir, dependencies=dependencies, local_command=command
    )


def _dependencies(path: Path, config: ProjectConfig, local_dir: Path | None) -> tuple[Path, ...]:
    names = config.algorithm.dependencies
    if names and local_dir is None:
        raise ConfigInvalid(
            f"{path}: algorithm.dependencies are packed with a local source_dir, and source_dir is an S3 URI",
            field="algorithm.dependencies",
            fix="put the dependencies into the sourcedir.tar.gz, or make source_dir a local folder",
        )
    found = []
    for name in names:
        dependency = (path.resolve().parent / name).resolve()
        if not dependency.exists():
            raise ConfigInvalid(
                f"{path}: algorithm.dependencies entry {name} does not exist (looked for {dependency})",
                field="algorithm.dependencies",
                fix="give folders or files relative to the config file",
            )
        found.append(dependency)
    return tuple(found)


def _local_source_dir(path: Path, algorithm: dict[str, Any]) -> Path | None:
    source = algorithm.get("source_dir")
    if not isinstance(source, str) or source.startswith("s3://"):
        return None
    folder = (path.resolve().parent / source).resolve()
    if not folder.is_dir():
        raise ConfigInvalid(
            f"{path}: algorithm.source_dir {source} is not a folder (looked for {folder})",
            field="algorithm.source_dir",
            fix="give the code folder relative to the config file, or the s3:// URI of a sourcedir.tar.gz",
        )
    return folder


def pack_source_dir(folder: Path, dependencies: tuple[Path, ...] = ()) -> bytes:
    """``sourcedir.tar.gz``: the folder's files at the archive root, each dependency beside them under its own
    name (as the SageMaker Python SDK packs ``source_dir`` and ``dependencies``); byte-identical for identical
    files."""
    entries = _files(folder, "")
    for dependency in dependencies:
        entries += _files(dependency, dependency.name) if dependency.is_dir() else [(dependency, dependency.name)]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for file, name in sorted(entries, key=lambda e: e[1]):
            info = tar.gettarinfo(str(file), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if info.mode & 0o111 else 0o644
            with file.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def _files(folder: Path, prefix: str) -> list[tuple[Path, str]]:
    out = []
    for file in folder.rglob("*"):
        relative = file.relative_to(folder)
        if file.is_file() and not set(relative.parts) & set(SKIPPED) and file.suffix != ".pyc":
            out.append((file, f"{prefix}/{relative.as_posix()}" if prefix else relative.as_posix()))
    return out


def code_key(project: str, archive: bytes) -> str:
    """Where a packed source_dir goes in the artifacts bucket: content-addressed, per project."""
    return f"code/{project}/{hashlib.sha256(archive).hexdigest()[:16]}/sourcedir.tar.gz"
