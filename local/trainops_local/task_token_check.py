"""After a deploy: may the stack's functions answer Step Functions task tokens? (docs/security.md, "Answering tasks")

    .venv/bin/python -m trainops_local.task_token_check --stack trainops [--region R] [--profile P]
                                                         [--role-arn ARN] [--json]

``states:SendTaskSuccess`` and ``states:SendTaskFailure`` have no resource type in AWS's Service Authorization
Reference, so the template grants them on ``"*"``. Two checks show that this is what the deployed stack does:

1. **The functions' roles.** For each function that answers tasks, IAM's policy simulator
   (``iam:SimulatePrincipalPolicy``) evaluates both actions against the role's attached and inline policies:
   each must be ``allowed``. A role scoped to the state machine ARN is ``implicitDeny`` here.
2. **A live call.** ``SendTaskFailure`` with a token that cannot exist: Step Functions must answer
   ``InvalidToken`` or ``TaskDoesNotExist`` (the caller was authorized, the token was judged), never
   ``AccessDenied``. It runs with your credentials, or those of ``--role-arn`` (a role you may assume, e.g. one
   holding the same statement): the functions' own roles trust only Lambda, so nobody can call as them.

Exit status 0 when every check passes, 1 when one fails, 2 on bad input (no stack, no credentials).
Needs ``cloudformation:DescribeStackResource``, ``iam:GetRole`` and ``iam:SimulatePrincipalPolicy`` for the
first check, and ``states:SendTaskFailure`` (on ``*``) for the second.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# the functions whose code calls SendTaskSuccess/SendTaskFailure (trainops.callbacks.answer)
ANSWERING_FUNCTIONS = (
    "SplitDatasetFunction",
    "StartTrainingFunction",
    "StartTuningFunction",
    "HandleJobEventFunction",
    "ReconcileJobsFunction",
)
ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure")
# a token Step Functions cannot have issued: well-formed enough to be judged, never a real task
BOGUS_TOKEN = "trainops-task-token-check-" + "0" * 64
# the answers that mean "authorized; there is no such task"
JUDGED_TOKEN_CODES = frozenset({"InvalidToken", "TaskDoesNotExist", "TaskTimedOut"})
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def probe_send_task(sfn: Any) -> Check:
    """SendTaskFailure with a bogus token: authorized callers get InvalidToken/TaskDoesNotExist."""
    name = "SendTaskFailure with a bogus token"
    try:
        sfn.send_task_failure(taskToken=BOGUS_TOKEN, error="trainops.TaskTokenCheck", cause="deploy check")
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in JUDGED_TOKEN_CODES:
            return Check(name, True, f"{code}: the caller may answer tasks; the token decides which")
        if code in DENIED_CODES:
            return Check(name, False, f"{code}: {exc.response.get('Error', {}).get('Message', '')}")
        return Check(name, False, f"unexpected {code or 'error'}: {exc}")
    return Check(name, False, "the bogus token was accepted: Step Functions did not judge the token")


def simulate_roles(cloudformation: Any, iam: Any, stack: str) -> list[Check]:
    """IAM's policy simulator on each answering function's role: both actions must be allowed."""
    checks = []
    for function in ANSWERING_FUNCTIONS:
        name = f"{function} role may {' and '.join(ACTIONS)}"
        try:
            role_name = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=f"{function}Role")[
                "StackResourceDetail"
            ]["PhysicalResourceId"]
            role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
            results = iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=list(ACTIONS))[
                "EvaluationResults"
            ]
        except ClientError as exc:
            checks.append(Check(name, False, f"could not simulate: {exc}"))
            continue
        decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
        denied = {a: d for a, d in decisions.items() if d != "allowed"}
        missing = [a for a in ACTIONS if a not in decisions]
        if denied or missing:
            shown = ", ".join([f"{a}: {d}" for a, d in denied.items()] + [f"{a}: not evaluated" for a in missing])
            checks.append(Check(name, False, f"{role_arn}: {shown}"))
        else:
            checks.append(Check(name, True, f"{role_arn}: allowed"))
    return checks


def run_checks(session: Any, stack: str, role_arn: str | None = None) -> list[Check]:
    checks = simulate_roles(session.client("cloudformation"), session.client("iam"), stack)
    sfn = session.client("stepfunctions")
    if role_arn:
        creds = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="trainops-task-token-check")[
            "Credentials"
        ]
        sfn = session.client(
            "stepfunctions",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
    checks.append(probe_send_task(sfn))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainops_local.task_token_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--role-arn", help="assume this role for the live SendTaskFailure call")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import boto3

    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        checks = run_checks(session, args.stack, args.role_arn)
    except (BotoCoreError, ClientError) as exc:
        print(f"task token check: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for c in checks:
            print(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
