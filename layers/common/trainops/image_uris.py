"""Image URIs of SageMaker's framework containers and built-in algorithms, from the vendored table.

``image_uris.json`` is generated from the SageMaker Python SDK's ``image_uri_config`` files
(``python -m trainops_local.image_table``; the SDK is a development dependency only: importing it costs about
2 s and 400 MB). :func:`retrieve` gives the URI ``sagemaker.core.image_uris.retrieve`` gives, for every
framework, version, region, instance type and scope in the table (``tests/unit/test_image_uris.py`` compares
them). CPU or GPU image: decided by the instance family, as the SDK does (``ml.g*`` and ``ml.p*`` are GPU).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from trainops.errors import AlgorithmNotSupported, require

_FAMILY = re.compile(r"^ml[\._]([a-z\d\-]+)\.?\w*$")
# Graviton families use other images (the SDK's inference_graviton scope), which the table leaves out.
_GRAVITON = frozenset({"m6g", "m6gd", "c6g", "c6gd", "c6gn", "c7g", "r6g", "r6gd"})
# The SDK appends a CUDA suffix to a few old GPU images on p4d instances (image_uris._get_image_tag).
_P4D_SUFFIX = {
    "tensorflow-2.3-gpu-py37": "cu110-ubuntu18.04-v3",
    "tensorflow-2.3.1-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-2.3.2-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-1.15-gpu-py37": "cu110-ubuntu18.04-v8",
    "tensorflow-1.15.4-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-1.15.5-gpu-py37": "cu110-ubuntu18.04",
    "pytorch-1.6-gpu-py36": "cu110-ubuntu18.04-v3",
    "pytorch-1.6.0-gpu-py36": "cu110-ubuntu18.04",
    "pytorch-1.6-gpu-py3": "cu110-ubuntu18.04-v3",
    "pytorch-1.6.0-gpu-py3": "cu110-ubuntu18.04",
}


class ImageNotFound(ValueError):
    """No image for this request. ``about`` names what to change: ``framework``, ``version`` (``versions`` then
    lists those that exist), ``instance_type``, ``region`` or ``python``."""

    def __init__(self, message: str, *, about: str, versions: list[str] | None = None) -> None:
        super().__init__(message)
        self.about = about
        self.versions = versions or []


@cache
def table() -> dict[str, Any]:
    """The vendored table (read once per process)."""
    return dict(json.loads(resources.files("trainops").joinpath("image_uris.json").read_text()))


def _scope_config(framework: str, scope: str) -> dict[str, Any]:
    entry = table()["images"].get(framework)
    if entry is None:
        raise ImageNotFound(f"no images known for {framework!r}", about="framework")
    config = entry.get(scope)
    if config is None:
        raise ImageNotFound(f"{framework} has no {scope} images", about="framework")
    if isinstance(config, str):  # identical to another scope: stored once
        config = entry[config]
    return dict(config)


def versions(framework: str, scope: str = "training") -> list[str]:
    """The versions (and version aliases) of ``framework``'s images for ``scope``, as the SDK accepts them."""
    config = _scope_config(framework, scope)
    return [*config["versions"], *config.get("aliases", {})]


def family(instance_type: str | None) -> str:
    """``ml.p4d.24xlarge`` -> ``p4d``."""
    match = _FAMILY.match(instance_type) if isinstance(instance_type, str) else None
    return match[1] if match else ""


def processor(instance_type: str | None, available: list[str] | None) -> str | None:
    """``cpu`` or ``gpu`` (or an accelerator name) for the instance type, among the image's processors."""
    if not available:
        return None
    if len(available) == 1 and not instance_type:
        return available[0]
    if not instance_type:
        raise ImageNotFound(
            f"an instance type is needed to choose between {'/'.join(available)} images", about="instance_type"
        )
    fam = family(instance_type)
    if not fam:
        raise ImageNotFound(f"invalid instance type {instance_type!r}", about="instance_type")
    if fam in available:
        chosen = fam
    elif fam.startswith("inf"):
        chosen = "inf"
    elif fam.startswith("trn"):
        chosen = "trn"
    elif fam[0] in ("g", "p"):
        chosen = "gpu"
    else:
        chosen = "cpu"
    if chosen not in available:
        raise ImageNotFound(
            f"no {chosen} image for {instance_type} (the image comes as {', '.join(available)})", about="instance_type"
        )
    return chosen


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version))


def retrieve(
    framework: str,
    region: str,
    version: str,
    *,
    instance_type: str | None = None,
    scope: str = "training",
    py_version: str | None = None,
) -> str:
    """The image URI, as ``sagemaker.core.image_uris.retrieve(framework, region, version, py_version,
    instance_type, image_scope=scope)`` gives it. Raises :class:`ImageNotFound` where the SDK raises."""
    fam = family(instance_type)
    if fam in _GRAVITON or fam.startswith("trn") or (framework == "pytorch" and fam.startswith("inf")):
        raise ImageNotFound(
            f"{instance_type}: Graviton and Neuron images are not in trainops' image table", about="instance_type"
        )
    config = _scope_config(framework, scope)
    known, aliases = config["versions"], config.get("aliases", {})
    if len(known) == 1 and version not in aliases:
        version = next(iter(known))  # the SDK uses a lone version whatever was asked
    if version not in known and version not in aliases:
        raise ImageNotFound(
            f"{framework} has no {scope} image {version!r}", about="version", versions=versions(framework, scope)
        )
    entry = known[aliases.get(version, version)]
    available = list(entry["by_py"]) if "by_py" in entry else list(entry.get("py") or [])
    if not available:
        py_version = None
    elif py_version is None:
        if len(available) > 1:
            raise ImageNotFound(
                f"{framework} {version}: choose a Python version ({', '.join(available)})", about="python"
            )
        py_version = available[0]
    elif py_version not in available:
        raise ImageNotFound(
            f"{framework} {version}: the Python version must be one of {', '.join(available)}", about="python"
        )
    if "by_py" in entry:
        entry = entry["by_py"][require(py_version, "the Python version of a by-Python image entry")]
    account = next((a for a, regions in table()["registries"][entry["reg"]].items() if region in regions), None)
    if account is None:
        raise ImageNotFound(f"{framework} {version} images are not published in {region}", about="region")
    suffix = table()["dns_suffix"].get(region, table()["dns_suffix"]["*"])
    repository = entry.get("repo") or config["repo"]
    chosen = processor(instance_type, config.get("processors") or entry.get("processors"))
    container_version = entry["container_version"][chosen] if entry.get("container_version") else None
    tag_prefix = entry.get("tag_prefix", version)
    if entry.get("processor_in_tag") is False:
        chosen = None
    if fam == "p2" and (
        (framework == "pytorch" and _version_tuple(version) >= (1, 13))
        or (framework == "tensorflow" and _version_tuple(version) >= (2, 12))
    ):
        raise ImageNotFound(
            "p2 instances are not supported from PyTorch 1.13 and TensorFlow 2.12 on", about="instance_type"
        )
    tag = "-".join(x for x in (tag_prefix, chosen, py_version, container_version) if x)
    if fam == "p4d" and framework not in ("xgboost", "sklearn") and (extra := _P4D_SUFFIX.get(f"{framework}-{tag}")):
        tag = f"{tag}-{extra}"
    return f"{account}.dkr.ecr.{region}.{suffix}/{repository}" + (f":{tag}" if tag else "")


def newest_python(framework: str, version: str, scope: str = "training") -> str | None:
    """The newest Python version an image version comes with (``py311``), or None when it names none."""
    config = _scope_config(framework, scope)
    aliases = config.get("aliases", {})
    entry = config["versions"].get(aliases.get(version, version)) or {}
    available = list(entry["by_py"]) if "by_py" in entry else list(entry.get("py") or [])
    return max(available, key=_version_tuple) if available else None


def serving_version(framework: str, version: str) -> str | None:
    """The inference image version that serves a model trained with ``version``: the same version, else its
    ``major.minor`` alias (TensorFlow 2.16.2 is served by 2.16 -> 2.16.1), else None."""
    available = versions(framework, "inference")
    if version in available:
        return version
    short = ".".join(version.split(".")[:2])
    return short if short in available else None


def check_version(framework: str, version: str, *, field: str, scope: str = "training") -> None:
    """Raise AlgorithmNotSupported naming ``field`` and listing the versions when ``version`` does not exist."""
    if version not in versions(framework, scope):
        raise AlgorithmNotSupported(
            f"{framework} has no {scope} image {version!r}",
            field=field,
            fix=f"use one of {', '.join(sorted(versions(framework, scope), key=_version_tuple))}",
        )
