"""The registry of provisioners: one function per CloudFormation resource type, registered with ``@provisions``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.model import DeployError, PhysicalResource

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine

Provisioner = Callable[["Engine", str, dict[str, Any]], PhysicalResource]

PROVISIONERS: dict[str, Provisioner] = {}


def provisions(rtype: str) -> Callable[[Provisioner], Provisioner]:
    """Register the decorated function as the creator of ``rtype`` (``(engine, logical_id, props) -> resource``)."""

    def register(fn: Provisioner) -> Provisioner:
        if rtype in PROVISIONERS:
            raise DeployError(f"{rtype}: provisioned twice ({PROVISIONERS[rtype].__module__}, {fn.__module__})")
        PROVISIONERS[rtype] = fn
        return fn

    return register
