"""The CloudFormation engine: :func:`deploy` walks the resources in dependency order, each to its provisioner."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3

from .intrinsics import _Resolver
from .model import NOOP_TYPES, DeployError, PhysicalResource, StackOutputs
from .packaging import _Packager
from .provisioners import PROVISIONERS
from .template import _creation_order, _evaluate_conditions, _parameters, load_template


class Engine:
    """The stack being created: its clients, generated names and ARNs; dispatches each type to its provisioner."""

    def __init__(self, stack_name: str, region: str, account_id: str, code_dirs: dict[str, Path]) -> None:
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.code_dirs = code_dirs
        self.functions: dict[str, Path] = {}
        self.layers: dict[str, list[str]] = {}
        self.noops: dict[str, str] = {}
        self.managed_policies: dict[str, list[str]] = {}  # role name -> AWS managed policy ARNs (recorded)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def name(self, logical_id: str, max_len: int = 64, lower: bool = False) -> str:
        """CloudFormation-style generated name: ``<stack>-<logical>-<SUFFIX>``, deterministic locally."""
        suffix = hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
        head = f"{self.stack_name}-{logical_id}"
        head = head[: max_len - len(suffix) - 1]
        name = f"{head}-{suffix}"
        return name.lower() if lower else name

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account_id}:{resource}"

    # -- creators: (logical_id, props) -> PhysicalResource ------------------------------------------
    def create(self, logical_id: str, rtype: str, props: dict[str, Any]) -> PhysicalResource:
        if rtype in NOOP_TYPES:
            self.noops[logical_id] = f"{rtype}: {NOOP_TYPES[rtype]}"
            return PhysicalResource(logical_id, rtype, f"{self.stack_name}-{logical_id}", {})
        creator = PROVISIONERS.get(rtype)
        if creator is None:
            raise DeployError(f"{logical_id}: resource type {rtype} is not supported by the local cloud")
        try:
            return creator(self, logical_id, props)
        except DeployError:
            raise
        except Exception as exc:
            raise DeployError(f"{logical_id} ({rtype}): {type(exc).__name__}: {exc}") from exc


def deploy(
    template_path: Path,
    stack_name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    region: str = "us-east-1",
    on_function: Callable[[str, Path, list[str]], None] | None = None,
) -> StackOutputs:
    """Package, transform and create ``template_path`` as ``stack_name`` in the running moto.

    ``on_function(function_name, code_dir, layers)`` is called for every function with local code (the
    in-process Lambda runner registers it), before any other resource that could invoke it exists.
    Returns the resolved ``Outputs`` and the created resources. Requires an active ``mock_aws``.
    """
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    template_path = Path(template_path).resolve()
    account_id = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    raw = load_template(template_path)
    packager = _Packager(template_path.parent, stack_name, region, account_id)
    packaged = packager.package(raw)
    given = {k: str(v) if not isinstance(v, list) else v for k, v in (parameters or {}).items()}
    if "Transform" in packaged:
        sam_params = dict(given)
        sam_params.setdefault("AWS::Region", region)
        sam_params.setdefault("AWS::AccountId", account_id)
        sam_params.setdefault("AWS::StackName", stack_name)
        cfn = transform(packaged, sam_params, ManagedPolicyLoader(boto3.client("iam", region_name=region)))
    else:
        cfn = packaged
    params = _parameters(cfn, given)
    pseudo = {
        "AWS::AccountId": account_id,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/"
        + hashlib.sha256(stack_name.encode()).hexdigest()[:32],
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }
    resources: dict[str, PhysicalResource] = {}
    conditions: dict[str, bool] = {}
    resolver = _Resolver(params, pseudo, cfn.get("Mappings") or {}, conditions, resources, region)
    _evaluate_conditions(cfn, resolver, conditions)

    engine = Engine(stack_name, region, account_id, packager.code_dirs)
    declared = cfn.get("Resources") or {}
    active = {lid: res for lid, res in declared.items() if conditions.get(res.get("Condition", ""), True)}
    order = _creation_order(declared, active, params, pseudo)
    # Functions first among equals is not needed: dependency order guarantees a function exists (and is
    # registered with the runner) before any rule, permission or state machine that references it.
    for lid in order:
        res = active[lid]
        props = resolver.resolve(res.get("Properties") or {})
        resources[lid] = engine.create(lid, res["Type"], props)
        if res["Type"] == "AWS::Lambda::Function" and on_function is not None:
            name = resources[lid].physical_id
            if name in engine.functions:
                on_function(name, engine.functions[name], engine.layers.get(name, []))
    outputs = {}
    for key, out in (cfn.get("Outputs") or {}).items():
        if not conditions.get(out.get("Condition", ""), True):
            continue
        outputs[key] = resolver.resolve(out["Value"])
    return StackOutputs(
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        outputs=outputs,
        resources=resources,
        parameters=params,
        functions=engine.functions,
        layers=engine.layers,
        noops=engine.noops,
        cloudformation=cfn,
    )
