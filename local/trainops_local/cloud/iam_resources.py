"""Which IAM action and which resources a request is authorized against, per AWS's Service Authorization Reference.

moto 5.2.5 authorizes every request against ``"*"`` unless the service's response class defines
``_determine_resource`` (S3, SQS, IAM and STS only), and names the action after the API operation (``lambda:Invoke``
where IAM knows ``lambda:InvokeFunction``). :func:`authorization` gives, for the operations trainops and the local
cloud use, the IAM action, the resource ARNs (one check per ARN, all must be allowed) and the roles the request
passes (``iam:PassRole`` with ``iam:PassedToService``). An operation this table does not know is authorized against
``"*"``, as moto does; ``tests/local/test_iam_enforcement.py`` checks every entry against the reference
(``cfnlint/data/AdditionalSpecs/Policies.json``): an operation whose reference lists no resource type gets ``"*"``,
any other an ARN of one of its types.

Choices where the reference is silent (docs/security.md): ``CreateModelPackage`` is judged on
``model-package/<group>/*`` (the version does not exist yet) and ``ListModelPackages`` on ``model-package/*``.
SageMaker ARNs carry the resource name in lower case, as SageMaker writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Authorization", "authorization", "known_operations"]


@dataclass(frozen=True)
class Authorization:
    """What one request needs: ``action`` on every one of ``resources``; ``iam:PassRole`` on each passed role."""

    action: str
    resources: tuple[str, ...]
    passed_roles: tuple[tuple[str, str], ...] = field(default=())  # (role ARN, service principal it goes to)
    # condition keys the request supplies (moto evaluates StringEquals on them; other conditions are not evaluated)
    context: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True)
class _Ctx:
    partition: str
    region: str
    account: str
    params: Mapping[str, Any]

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:"
            f"{resource}"
        )

    def get(self, *path: str) -> Any:
        value: Any = self.params
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value


Resolver = Callable[[_Ctx], tuple[str, ...]]


# -- DynamoDB -----------------------------------------------------------------------------------------------------
def _table(ctx: _Ctx, name: str | None) -> str:
    name = str(name or "*")
    return name if name.startswith("arn:") else ctx.arn("dynamodb", f"table/{name}")


def _ddb_item(ctx: _Ctx) -> tuple[str, ...]:
    return (_table(ctx, ctx.get("TableName")),)


def _ddb_query(ctx: _Ctx) -> tuple[str, ...]:
    table = _table(ctx, ctx.get("TableName"))
    index = ctx.get("IndexName")
    return (f"{table}/index/{index}",) if index else (table,)


def _ddb_request_items(ctx: _Ctx) -> tuple[str, ...]:
    return tuple(_table(ctx, name) for name in (ctx.get("RequestItems") or {}))


def _ddb_transact(ctx: _Ctx) -> tuple[str, ...]:
    tables: list[str] = []
    for item in ctx.get("TransactItems") or []:
        for op in (item or {}).values():
            table = _table(ctx, (op or {}).get("TableName"))
            if table not in tables:
                tables.append(table)
    return tuple(tables)


# -- SageMaker ----------------------------------------------------------------------------------------------------
def _sm(kind: str, param: str) -> Resolver:
    def resolve(ctx: _Ctx) -> tuple[str, ...]:
        name = str(ctx.get(param) or "*")
        if name.startswith("arn:"):
            return (name,)
        return (ctx.arn("sagemaker", f"{kind}/{name.lower()}"),)

    return resolve


def _sm_model_package(ctx: _Ctx) -> tuple[str, ...]:
    name = str(ctx.get("ModelPackageName") or "*")
    return (name if name.startswith("arn:") else ctx.arn("sagemaker", f"model-package/{name.lower()}"),)


def _sm_create_model_package(ctx: _Ctx) -> tuple[str, ...]:
    group = ctx.get("ModelPackageGroupName")
    if group:
        group = str(group).rsplit("/", 1)[-1].lower()
        return (ctx.arn("sagemaker", f"model-package/{group}/*"),)
    return (ctx.arn("sagemaker", f"model-package/{str(ctx.get('ModelPackageName') or '*').lower()}"),)


def _sm_list_model_packages(ctx: _Ctx) -> tuple[str, ...]:
    return (ctx.arn("sagemaker", "model-package/*"),)


def _sm_tags(ctx: _Ctx) -> tuple[str, ...]:
    return (str(ctx.get("ResourceArn") or "*"),)


# -- Step Functions, Lambda, EventBridge, Scheduler, SNS ------------------------------------------------------------
def _param(name: str) -> Resolver:
    return lambda ctx: (str(ctx.get(name) or "*"),)


def _state_machine(ctx: _Ctx) -> tuple[str, ...]:
    return (ctx.arn("states", f"stateMachine:{ctx.get('name') or '*'}"),)


def _lambda_function(ctx: _Ctx) -> tuple[str, ...]:
    name = str(ctx.get("FunctionName") or "*")
    if name.startswith("arn:"):
        parts = name.split(":")
        name = ":".join(parts[6:])  # function name, with a qualifier if any
    qualifier = ctx.get("Qualifier")
    if qualifier and ":" not in name:
        name = f"{name}:{qualifier}"
    return (ctx.arn("lambda", f"function:{name}"),)


def _event_buses(ctx: _Ctx) -> tuple[str, ...]:
    buses: list[str] = []
    for entry in ctx.get("Entries") or [{}]:
        bus = str((entry or {}).get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else ctx.arn("events", f"event-bus/{bus}")
        if arn not in buses:
            buses.append(arn)
    return tuple(buses)


def _rule(ctx: _Ctx) -> tuple[str, ...]:
    bus = str(ctx.get("EventBusName") or "default")
    name = str(ctx.get("Rule") or ctx.get("Name") or "*")
    return (ctx.arn("events", f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"),)


def _schedule(ctx: _Ctx) -> tuple[str, ...]:
    # the group is in the body (Create, Update) or the query string as ``groupName`` (Delete, Get)
    group = str(ctx.get("GroupName") or ctx.get("groupName") or "default")
    return (ctx.arn("scheduler", f"schedule/{group}/{ctx.get('Name') or '*'}"),)


def _role(ctx: _Ctx) -> tuple[str, ...]:
    path = str(ctx.get("Path") or "/")
    return (ctx.arn("iam", f"role{path}{ctx.get('RoleName') or '*'}", region=False),)


def _star(_: _Ctx) -> tuple[str, ...]:
    return ("*",)


# (signing name, operation) -> (IAM action, resolver)
_TABLE: dict[tuple[str, str], tuple[str, Resolver]] = {
    **{
        ("dynamodb", op): (f"dynamodb:{op}", _ddb_item)
        for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "Scan")
    },
    ("dynamodb", "Query"): ("dynamodb:Query", _ddb_query),
    ("dynamodb", "BatchGetItem"): ("dynamodb:BatchGetItem", _ddb_request_items),
    ("dynamodb", "BatchWriteItem"): ("dynamodb:BatchWriteItem", _ddb_request_items),
    # no IAM action of their own: each part is judged as its action (PutItem, UpdateItem, ...), see _TRANSACT_PARTS
    ("dynamodb", "TransactWriteItems"): ("", _ddb_transact),
    ("dynamodb", "TransactGetItems"): ("", _ddb_transact),
    **{
        ("sagemaker", f"{verb}TrainingJob"): (f"sagemaker:{verb}TrainingJob", _sm("training-job", "TrainingJobName"))
        for verb in ("Create", "Describe", "Stop")
    },
    **{
        ("sagemaker", f"{verb}ProcessingJob"): (
            f"sagemaker:{verb}ProcessingJob",
            _sm("processing-job", "ProcessingJobName"),
        )
        for verb in ("Create", "Describe", "Stop")
    },
    **{
        ("sagemaker", f"{verb}HyperParameterTuningJob"): (
            f"sagemaker:{verb}HyperParameterTuningJob",
            _sm("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
        )
        for verb in ("Create", "Describe", "Stop")
    },
    ("sagemaker", "ListTrainingJobsForHyperParameterTuningJob"): (
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
        _sm("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
    ),
    **{
        ("sagemaker", op): (f"sagemaker:{op}", _sm("automl-job", "AutoMLJobName"))
        for op in ("CreateAutoMLJobV2", "DescribeAutoMLJobV2", "StopAutoMLJob")
    },
    **{
        ("sagemaker", f"{verb}ModelPackageGroup"): (
            f"sagemaker:{verb}ModelPackageGroup",
            _sm("model-package-group", "ModelPackageGroupName"),
        )
        for verb in ("Create", "Describe", "Delete")
    },
    ("sagemaker", "CreateModelPackage"): ("sagemaker:CreateModelPackage", _sm_create_model_package),
    ("sagemaker", "DescribeModelPackage"): ("sagemaker:DescribeModelPackage", _sm_model_package),
    ("sagemaker", "UpdateModelPackage"): ("sagemaker:UpdateModelPackage", _sm_model_package),
    ("sagemaker", "ListModelPackages"): ("sagemaker:ListModelPackages", _sm_list_model_packages),
    ("sagemaker", "AddTags"): ("sagemaker:AddTags", _sm_tags),
    ("sagemaker", "ListTags"): ("sagemaker:ListTags", _sm_tags),
    **{
        ("sagemaker", op): (f"sagemaker:{op}", _star)
        for op in (
            "ListHyperParameterTuningJobs",
            "ListTrainingJobs",
            "ListProcessingJobs",
            "ListModelPackageGroups",
            "ListAutoMLJobs",
            "ListCandidatesForAutoMLJob",
        )
    },
    ("states", "CreateStateMachine"): ("states:CreateStateMachine", _state_machine),
    ("states", "UpdateStateMachine"): ("states:UpdateStateMachine", _param("stateMachineArn")),
    ("states", "StartExecution"): ("states:StartExecution", _param("stateMachineArn")),
    ("states", "StartSyncExecution"): ("states:StartSyncExecution", _param("stateMachineArn")),
    ("states", "ListExecutions"): ("states:ListExecutions", _param("stateMachineArn")),
    ("states", "DescribeStateMachine"): ("states:DescribeStateMachine", _param("stateMachineArn")),
    ("states", "DescribeExecution"): ("states:DescribeExecution", _param("executionArn")),
    ("states", "StopExecution"): ("states:StopExecution", _param("executionArn")),
    ("states", "GetExecutionHistory"): ("states:GetExecutionHistory", _param("executionArn")),
    **{
        ("states", op): (f"states:{op}", _star)
        for op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines")
    },
    ("lambda", "CreateFunction"): ("lambda:CreateFunction", _lambda_function),
    ("lambda", "UpdateFunctionConfiguration"): ("lambda:UpdateFunctionConfiguration", _lambda_function),
    ("lambda", "Invoke"): ("lambda:InvokeFunction", _lambda_function),
    ("lambda", "InvokeAsync"): ("lambda:InvokeFunction", _lambda_function),
    ("lambda", "GetFunction"): ("lambda:GetFunction", _lambda_function),
    ("lambda", "GetFunctionEventInvokeConfig"): ("lambda:GetFunctionEventInvokeConfig", _lambda_function),
    ("events", "PutEvents"): ("events:PutEvents", _event_buses),
    ("events", "PutRule"): ("events:PutRule", _rule),
    ("events", "PutTargets"): ("events:PutTargets", _rule),
    **{
        ("scheduler", f"{verb}Schedule"): (f"scheduler:{verb}Schedule", _schedule)
        for verb in ("Create", "Update", "Delete", "Get")
    },
    ("sns", "Publish"): ("sns:Publish", _param("TopicArn")),
    # moto's IAM judges these on the role ARN too; listed for the iam:PermissionsBoundary a CreateRole supplies
    ("iam", "CreateRole"): ("iam:CreateRole", _role),
}

# (signing name, operation) -> where the request names roles it passes, and to which service
_PASSES: dict[tuple[str, str], tuple[str, Callable[[_Ctx], list[Any]]]] = {
    ("sagemaker", "CreateTrainingJob"): ("sagemaker.amazonaws.com", lambda c: [c.get("RoleArn")]),
    ("sagemaker", "CreateProcessingJob"): ("sagemaker.amazonaws.com", lambda c: [c.get("RoleArn")]),
    ("sagemaker", "CreateAutoMLJobV2"): ("sagemaker.amazonaws.com", lambda c: [c.get("RoleArn")]),
    ("sagemaker", "CreateHyperParameterTuningJob"): (
        "sagemaker.amazonaws.com",
        lambda c: (
            [c.get("TrainingJobDefinition", "RoleArn")]
            + [(d or {}).get("RoleArn") for d in c.get("TrainingJobDefinitions") or []]
        ),
    ),
    ("states", "CreateStateMachine"): ("states.amazonaws.com", lambda c: [c.get("roleArn")]),
    ("states", "UpdateStateMachine"): ("states.amazonaws.com", lambda c: [c.get("roleArn")]),
    ("lambda", "CreateFunction"): ("lambda.amazonaws.com", lambda c: [c.get("Role")]),
    ("lambda", "UpdateFunctionConfiguration"): ("lambda.amazonaws.com", lambda c: [c.get("Role")]),
    ("scheduler", "CreateSchedule"): ("scheduler.amazonaws.com", lambda c: [c.get("Target", "RoleArn")]),
    ("scheduler", "UpdateSchedule"): ("scheduler.amazonaws.com", lambda c: [c.get("Target", "RoleArn")]),
    ("events", "PutTargets"): (
        "events.amazonaws.com",
        lambda c: [(t or {}).get("RoleArn") for t in c.get("Targets") or []],
    ),
}

# DynamoDB judges each part of a transaction as its own action on its table (there is no dynamodb:TransactWriteItems)
_TRANSACT_PARTS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def authorization(
    signing_name: str, operation: str, params: Mapping[str, Any], *, partition: str, region: str, account: str
) -> list[Authorization]:
    """The checks one request needs (a transaction: one per part), ``[]`` when this table does not know it."""
    ctx = _Ctx(partition, region, account, params)
    key = (signing_name, operation)
    entry = _TABLE.get(key)
    if entry is None:
        return []
    action, resolve = entry
    passed: tuple[tuple[str, str], ...] = ()
    if key in _PASSES:
        service, roles = _PASSES[key]
        passed = tuple((str(role), service) for role in roles(ctx) if role)
    if key == ("events", "PutEvents"):  # events:source, per bus and source
        pairs = {
            (_event_buses(_Ctx(partition, region, account, {"Entries": [e]}))[0], str((e or {}).get("Source") or ""))
            for e in ctx.get("Entries") or [{}]
        }
        return [Authorization(action, (bus,), context=(("events:source", src),)) for bus, src in sorted(pairs)]
    if key == ("iam", "CreateRole") and ctx.get("PermissionsBoundary"):
        return [
            Authorization(
                action, resolve(ctx), context=(("iam:PermissionsBoundary", str(ctx.get("PermissionsBoundary"))),)
            )
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        checks: list[Authorization] = []
        for item in ctx.get("TransactItems") or []:
            for part, op in (item or {}).items():
                if part in _TRANSACT_PARTS:
                    checks.append(Authorization(_TRANSACT_PARTS[part], (_table(ctx, (op or {}).get("TableName")),)))
        return checks
    return [Authorization(action, resolve(ctx), passed)]


def known_operations() -> dict[tuple[str, str], str]:
    """(signing name, operation) -> IAM action, for the checks against AWS's reference."""
    return {key: action for key, (action, _) in _TABLE.items() if action}
