"""Deploy a SAM template into the embedded moto: package, transform offline, create every resource.

The same ``template.yaml`` that ``sam deploy`` ships is the only definition of every resource:

1. **Package** -- each local ``CodeUri``/``ContentUri`` directory is zipped into a moto bucket and the URI
   rewritten (the SAM translator needs S3 locations); the function's logical id -> local directory is kept
   for the in-process Lambda runner. A local ``DefinitionUri`` (ASL file) is read and inlined as
   ``Definition``.
2. **Transform** -- ``samtranslator.translator.transform.transform`` turns SAM into CloudFormation offline.
3. **Create** -- a small CloudFormation engine walks the resources in dependency order (``Ref``,
   ``Fn::GetAtt``, ``Fn::Sub`` references and ``DependsOn``), resolves the intrinsics (``Ref``,
   ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If``, ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``,
   ``Fn::Base64``, ``Fn::GetAZs``, ``Fn::Equals/And/Or/Not`` in ``Conditions``; ``Fn::ImportValue`` is not
   supported) and creates each resource through boto3 against moto -- so every call is strictly validated,
   and the state machine lands in moto's *executing* Step Functions backend with its
   ``DefinitionSubstitutions`` applied. This avoids moto ``create_stack``'s gaps (state machines in the
   non-executing backend without substitutions, bucket EventBridge setting ignored, Lambda ``Layers``
   dropped, ``AWS::SageMaker::ModelPackageGroup`` silently skipped).

Resource types without a provisioner fail loudly with the type name, except the ones listed in
:data:`NOOP_TYPES` (recorded, with the reason, in :attr:`StackOutputs.noops`). IAM is created but, as in
moto by default, not enforced.

The package, module by module: ``model`` (``DeployError``, ``PhysicalResource``, ``StackOutputs``,
``NOOP_TYPES``), ``packaging`` (step 1), ``template`` (loading, parameters, conditions, dependency order),
``intrinsics``, ``coercion`` (CloudFormation's string values to botocore's input shapes; tag shapes),
``engine`` (:func:`deploy` and the ``Engine`` that dispatches each resource) and ``provisioners/``, one module
per service, each creator registered by its CloudFormation type with ``@provisions("AWS::SQS::Queue")`` in
:data:`PROVISIONERS`.
"""

from __future__ import annotations

from .engine import deploy
from .model import NOOP_TYPES, DeployError, PhysicalResource, StackOutputs
from .packaging import ARTIFACT_BUCKET_PREFIX
from .provisioners import PROVISIONERS, provisions
from .template import _parameters, load_template

__all__ = [
    "ARTIFACT_BUCKET_PREFIX",
    "NOOP_TYPES",
    "PROVISIONERS",
    "DeployError",
    "PhysicalResource",
    "StackOutputs",
    "_parameters",
    "deploy",
    "load_template",
    "provisions",
]
