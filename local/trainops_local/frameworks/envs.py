"""Build (once) and reuse the virtual environment of a framework image, with uv (pip for a recipe whose packages
are this machine's wheels, see ``EnvSpec.installer``).

One environment per (framework, version, requirements.txt): the image's packages from ``containers.json`` at
their exact pins, then the job's ``requirements.txt``. Where an exact pin cannot be installed for the Python
found on this machine (no wheel), the nearest installable version is used and the environment says so: its
``notes`` go to the job's log and to the run output. A finished environment carries ``trainops-env.json``;
anything without it is half-built and is rebuilt. A file lock makes concurrent jobs build it once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from trainops_local.frameworks import pythons
from trainops_local.sagemaker.procrun import ProcessInterrupted, run_process

MANIFEST = "trainops-env.json"
# Bump when the way environments are built changes, so cached ones are rebuilt.
BUILD_FORMAT = 2
# Never compiled from source here: no wheel means "use the nearest version that has one".
BINARY_ONLY = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "xgboost",
    "xgboost-cpu",
    "pyarrow",
    "torch",
    "tensorflow-cpu",
)
# Installed besides the image's packages: the toolkit installs a packaged entry point (setup.py) with pip.
BUILD_TOOLS = ("pip>=21", "setuptools>=65,<81", "wheel>=0.38")  # <81: pkg_resources, which the toolkits import
# Inside the environment pip builds without isolation, so `pip install .` works offline, as in the image.
PIP_CONF = "[global]\ndisable-pip-version-check = true\nno-input = true\n\n[install]\nno-build-isolation = false\n"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)$")

Log = Callable[[str], None]
Interrupt = Callable[[], str | None]


class UnknownFramework(Exception):
    """No local environment is known for this framework or version."""

    def __init__(self, message: str, versions: list[str]) -> None:
        super().__init__(message)
        self.versions = versions


class EnvironmentBuildError(Exception):
    """The environment could not be built: ``kind`` is ``image`` (the image's packages) or ``requirements``."""

    def __init__(self, kind: str, message: str, output: str = "", command: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.output = output
        self.command = command


@dataclass(frozen=True)
class EnvSpec:
    """What one framework image ships, as a recipe for a virtual environment."""

    framework: str
    version: str
    python: str
    toolkit: str
    framework_module: str
    packages: tuple[str, ...]
    source: str
    note: str | None = None
    # "uv", or "pip" for packages that come from this machine's wheels (pip's find-links), which uv does not read
    installer: str = "uv"
    # the Python used here whatever the image's (the local wheel's Python), or None: the image's
    local_python: str | None = None
    # edits the image's Dockerfile makes to installed files: (file under site-packages, old, new)
    patches: tuple[tuple[str, str, str], ...] = ()

    def key(self, requirements: bytes | None) -> str:
        """The cache key: the recipe, the requirements and the build format."""
        identity = json.dumps(
            {
                "format": BUILD_FORMAT,
                "python": self.python,
                "local_python": self.local_python,
                "installer": self.installer,
                "packages": self.packages,
                "patches": self.patches,
                "requirements": hashlib.sha256(requirements).hexdigest() if requirements else None,
            },
            sort_keys=True,
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:12]


@dataclass
class FrameworkEnv:
    """A built environment."""

    path: Path
    spec: EnvSpec
    python_version: str
    packages: dict[str, str]
    substitutions: list[str] = field(default_factory=list)
    built_now: bool = False
    build_seconds: float = 0.0

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def notes(self) -> list[str]:
        """What differs from the image, in words (empty when nothing does)."""
        notes = []
        if ".".join(self.python_version.split(".")[:2]) != self.spec.python:
            why = (
                f"the local {self.spec.framework} build is for Python {self.spec.local_python}"
                if self.spec.local_python
                else f"no Python {self.spec.python} on this machine"
            )
            notes.append(f"Python {self.python_version} instead of the image's Python {self.spec.python} ({why})")
        if self.spec.note:
            notes.append(self.spec.note)
        return notes + list(self.substitutions)

    def describe(self) -> dict[str, Any]:
        """For the run output."""
        return {
            "framework": self.spec.framework,
            "version": self.spec.version,
            "python": self.python_version,
            "image_python": self.spec.python,
            "toolkit": self.spec.toolkit,
            "path": str(self.path),
            "built_now": self.built_now,
            "build_seconds": round(self.build_seconds, 1),
            "differences": self.notes(),
        }


@cache
def _table() -> dict[str, Any]:
    text = resources.files("trainops_local.frameworks").joinpath("containers.json").read_text()
    return dict(json.loads(text)["frameworks"])


def known_versions(framework: str) -> list[str]:
    """The versions with a fixed recipe (PyTorch and TensorFlow take any version of their table)."""
    entry = _table().get(framework) or {}
    return sorted(entry.get("versions", {}), key=_version_key)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def env_spec(framework: str, version: str, *, python: str | None = None) -> EnvSpec:
    """The recipe for (framework, version); ``python`` (e.g. ``3.11`` from an image tag) overrides the default."""
    entry = _table().get(framework)
    if entry is None:
        raise UnknownFramework(f"no local environment for framework {framework!r}", sorted(_table()))
    versions = entry.get("versions")
    if versions is None:  # one rule for every version (PyTorch, TensorFlow)
        recipe = {
            "python": entry["default_python"],
            "packages": [p.format(version=version) for p in entry["packages"]],
            "note": entry["note"].format(version=version) if entry.get("note") else None,
        }
        source = entry["repository"]
    elif version in versions:
        recipe = versions[version]
        source = f"{entry['repository']} {recipe['source']}"
    else:
        known = known_versions(framework)
        raise UnknownFramework(
            f"no local environment for {framework} {version}: the local cloud knows {', '.join(known)}", known
        )
    return EnvSpec(
        framework=framework,
        version=version,
        python=python or recipe["python"],
        toolkit=entry["toolkit"],
        framework_module=entry["framework_module"],
        packages=tuple(recipe["packages"]),
        source=source,
        note=recipe.get("note"),
        installer=entry.get("installer", "uv"),
        local_python=entry.get("local_python"),
        patches=_patches(entry),
    )


def _patches(entry: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    return tuple((p["file"], p["replace"][0], p["replace"][1]) for p in entry.get("patches", []))


_IMAGE_REPOSITORIES = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "pytorch-training": "pytorch",
    "tensorflow-training": "tensorflow",
}
_TAG_VERSION = re.compile(r"^(\d+\.\d+(?:\.\d+)?(?:-\d+)?)")
_TAG_PYTHON = re.compile(r"-py(\d)(\d+)\b")


def framework_of_image(image_uri: str) -> tuple[str, str, str | None] | None:
    """``(framework, version, python)`` of a SageMaker framework image URI, or None for any other image.

    ``…/sagemaker-scikit-learn:1.2-1-cpu-py3`` -> ``("sklearn", "1.2-1", None)``;
    ``…/pytorch-training:2.5.1-cpu-py311`` -> ``("pytorch", "2.5.1", "3.11")``.
    """
    path = image_uri.split("@", 1)[0]
    name = path.rsplit("/", 1)[-1]
    repository, _, tag = name.partition(":")
    framework = _IMAGE_REPOSITORIES.get(repository)
    match = _TAG_VERSION.match(tag)
    if framework is None or match is None:
        return None
    py = _TAG_PYTHON.search(tag)
    return framework, match.group(1), f"{py.group(1)}.{py.group(2)}" if py else None


def cache_dir() -> Path:
    """``$TRAINOPS_CACHE_DIR``, else ``$XDG_CACHE_HOME/trainops``, else ``~/.cache/trainops``."""
    if explicit := os.environ.get("TRAINOPS_CACHE_DIR"):
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trainops"


def env_path(spec: EnvSpec, requirements: bytes | None, root: Path | None = None) -> Path:
    """Where the environment of this recipe and requirements lives."""
    return (root or cache_dir()) / "framework-envs" / f"{spec.framework}-{spec.version}-{spec.key(requirements)}"


def ensure_environment(
    spec: EnvSpec,
    requirements: bytes | None = None,
    *,
    root: Path | None = None,
    log: Log = lambda _line: None,
    interrupt: Interrupt = lambda: None,
    requirements_dir: Path | None = None,
) -> FrameworkEnv:
    """The environment of ``spec`` (+ ``requirements``), built now if it does not exist yet.

    Raises :class:`EnvironmentBuildError` when it cannot be built, ``ProcessInterrupted`` when ``interrupt()``
    returns a reason while building or waiting for another job that builds it.
    """
    path = env_path(spec, requirements, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock"), log, interrupt):
        manifest = path / MANIFEST
        if manifest.is_file():
            return _load(path, spec)
        shutil.rmtree(path, ignore_errors=True)
        started = time.monotonic()
        what = f"the {spec.framework} {spec.version} image ({spec.source})"
        log(f"building the local environment of {what} with {spec.installer}")
        try:
            env = _build(path, spec, requirements, log, interrupt, requirements_dir)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        env.built_now = True
        env.build_seconds = time.monotonic() - started
        _write_manifest(env, requirements)
        log(f"environment ready in {env.build_seconds:.1f} s: {path}")
        return env


@contextlib.contextmanager
def _locked(lock_path: Path, log: Log, interrupt: Interrupt) -> Iterator[None]:
    with lock_path.open("a") as handle:
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if not waited:
                log("another job is building this environment: waiting for it")
                waited = True
            if (reason := interrupt()) is not None:
                raise ProcessInterrupted(reason)
            time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def _run(argv: list[str], *, cwd: Path, log: Log, interrupt: Interrupt, label: str = "uv") -> tuple[int, list[str]]:
    output: list[str] = []

    def on_line(_stream: str, line: str) -> None:
        output.append(line)
        log(f"[{label}] {line}")

    env = {**os.environ, "NO_COLOR": "1", "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    result = run_process(argv, cwd=cwd, env=env, on_line=on_line, interrupt=interrupt)
    return result.returncode, output


def _build(
    path: Path,
    spec: EnvSpec,
    requirements: bytes | None,
    log: Log,
    interrupt: Interrupt,
    requirements_dir: Path | None,
) -> FrameworkEnv:
    interpreter = pythons.nearest(spec.local_python or spec.python)
    if interpreter is None:
        raise EnvironmentBuildError("image", "no Python 3 interpreter found on this machine (pyenv, PATH or uv)")
    uv = _uv()
    code, output = _run(
        [uv, "venv", "--seed", "--python", interpreter.path, str(path)], cwd=path.parent, log=log, interrupt=interrupt
    )
    if code != 0:
        raise EnvironmentBuildError("image", f"uv venv failed for {interpreter.path}", "\n".join(output))
    python = str(path / "bin" / "python")
    pins = [*spec.packages, *BUILD_TOOLS]
    binary = [arg for name in BINARY_ONLY for arg in ("--only-binary", name)]
    # --compile-bytecode: pip compiles when an image is built, and the images run with PYTHONDONTWRITEBYTECODE=1
    install = [uv, "pip", "install", "--python", python, "--compile-bytecode"]
    if spec.installer == "pip":
        _pip_install(python, pins, path, spec, log, interrupt)
        code = 0
    else:
        code, output = _run([*install, *binary, *pins], cwd=path, log=log, interrupt=interrupt)
    if code != 0:
        log("the image's exact versions do not all install here: using the nearest installable versions")
        relaxed = [p.replace("==", ">=", 1) for p in pins]
        code, output = _run(
            [*install, "--resolution", "lowest-direct", *binary, *relaxed],
            cwd=path,
            log=log,
            interrupt=interrupt,
        )
        if code != 0:
            raise EnvironmentBuildError(
                "image", f"the packages of the {spec.framework} {spec.version} image do not install", "\n".join(output)
            )
    (path / "pip.conf").write_text(PIP_CONF)
    _apply_patches(path, spec, log)
    if requirements:
        req_file = path / "requirements.txt"
        req_file.write_bytes(requirements)
        command = f"uv pip install --python {python} -r requirements.txt"
        code, output = _run(
            [*install, "-r", str(req_file)],
            cwd=requirements_dir or path,
            log=log,
            interrupt=interrupt,
        )
        if code != 0:
            raise EnvironmentBuildError(
                "requirements", "requirements.txt could not be installed", "\n".join(output), command
            )
    installed = _installed(uv, python, path, log, interrupt)
    return FrameworkEnv(
        path=path,
        spec=spec,
        python_version=interpreter.version,
        packages=installed,
        substitutions=_substitutions(spec, installed, interpreter.version),
    )


def _pip_install(python: str, pins: list[str], path: Path, spec: EnvSpec, log: Log, interrupt: Interrupt) -> None:
    """The image's packages with the environment's own pip, which reads this machine's pip configuration
    (find-links: the local CPU build of PyTorch); binary wheels only for the compiled packages, no fallback: the
    recipe names what is on this machine."""
    binary = ",".join(BINARY_ONLY)
    code, output = _run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "--only-binary", binary, *pins],
        cwd=path,
        log=log,
        interrupt=interrupt,
        label="pip",
    )
    if code != 0:
        raise EnvironmentBuildError(
            "image",
            f"the packages of the {spec.framework} {spec.version} image do not install with pip "
            f"({', '.join(spec.packages)})",
            "\n".join(output),
        )


def _apply_patches(path: Path, spec: EnvSpec, log: Log) -> None:
    """The edits the image's Dockerfile makes to installed packages (a file that is absent is skipped)."""
    for relative, old, new in spec.patches:
        for target in path.glob(f"lib/python*/site-packages/{relative}"):
            text = target.read_text()
            if old in text and new not in text:
                target.write_text(text.replace(old, new))
                log(f"patched {relative} as the image's Dockerfile does: {old} -> {new}")


def _installed(uv: str, python: str, path: Path, log: Log, interrupt: Interrupt) -> dict[str, str]:
    lines: list[str] = []
    result = run_process(
        [uv, "pip", "list", "--python", python, "--format", "json"],
        cwd=path,
        env={**os.environ, "NO_COLOR": "1"},
        on_line=lambda stream, line: lines.append(line) if stream == "stdout" else log(f"[uv] {line}"),
        interrupt=interrupt,
    )
    if result.returncode != 0:
        raise EnvironmentBuildError("image", "uv pip list failed", "\n".join(result.stderr_tail))
    return {_normalize(item["name"]): str(item["version"]) for item in json.loads("".join(lines) or "[]")}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _substitutions(spec: EnvSpec, installed: dict[str, str], python_version: str) -> list[str]:
    out = []
    for pin in spec.packages:
        match = _PIN.match(pin)
        if match is None:
            continue
        name, wanted = _normalize(match.group(1)), match.group(2)
        got = installed.get(name)
        if got is not None and got.split("+")[0] != wanted:  # 2.13.0+cpu is the 2.13.0 release
            out.append(
                f"{name} {got} instead of the image's {wanted} (no installable {wanted} for Python {python_version})"
            )
    return out


def _write_manifest(env: FrameworkEnv, requirements: bytes | None) -> None:
    doc = {
        "framework": env.spec.framework,
        "version": env.spec.version,
        "image_python": env.spec.python,
        "python": env.python_version,
        "source": env.spec.source,
        "packages": env.packages,
        "substitutions": env.substitutions,
        "requirements_sha256": hashlib.sha256(requirements).hexdigest() if requirements else None,
        "build_seconds": round(env.build_seconds, 2),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = env.path / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(env.path / MANIFEST)


def _load(path: Path, spec: EnvSpec) -> FrameworkEnv:
    doc = json.loads((path / MANIFEST).read_text())
    return FrameworkEnv(
        path=path,
        spec=spec,
        python_version=str(doc["python"]),
        packages=dict(doc["packages"]),
        substitutions=list(doc.get("substitutions") or []),
        built_now=False,
        build_seconds=float(doc.get("build_seconds") or 0.0),
    )
