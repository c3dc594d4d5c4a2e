"""Isolation between projects (issue 10, item 2): one SageMaker execution role per project.

``trainops-<project>-jobs`` may read only ``data/<project>/`` in the data bucket and ``code/<project>/`` in the
artifacts bucket (plus trainops' own split script), and read and write only ``splits/<project>/`` and
``runs/<project>/``. SyncSchedule creates it on the project's first config upload and rewrites its policy on every
upload (``ensure_project_role``), always under the stack's permissions boundary (``JobsPermissionsBoundary``), so
even that function cannot make a role that exceeds what any trainops job may do. The steps that start jobs pass
the project's role (``project_role_arn``), and their ``iam:PassRole`` is limited to ``role/trainops-*-jobs``
passed to SageMaker. Why roles and not session tags or access points: docs/security.md.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.config import ProjectConfig
from trainops.errors import ConfigInvalid, TrainopsError
from trainops.naming import check_project_name
from trainops.refusal import Refusal
from trainops.settings import Settings

ROLE_PREFIX = "trainops-"
ROLE_SUFFIX = "-jobs"
POLICY_NAME = "trainops-project-isolation"
PROJECT_TAG = "trainops:project"
# trainops' own split script, content-addressed at code/<16 hex>/split.py (trainops.processing); every project's
# split job reads it. A project's code is at code/<project>/<hash>/sourcedir.tar.gz, never a split.py.
SPLIT_SCRIPT_KEYS = "code/*/split.py"
RULE = "CONF-E012"  # the linter's finding id for a config naming another project's resources


class ProjectRoleError(TrainopsError):
    """The project's execution role could not be created or updated (IAM refused, or the stack lacks its
    boundary)."""


def project_role_name(project: str) -> str:
    """``trainops-<project>-jobs``: at most 46 characters (a project name has 32 at most; IAM allows 64)."""
    return f"{ROLE_PREFIX}{check_project_name(project, field='project')}{ROLE_SUFFIX}"


def _arn_parts(arn: str) -> tuple[str, str]:
    """(partition, account) of an IAM ARN such as the stack's SAGEMAKER_ROLE_ARN."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ProjectRoleError(
            f"{arn!r} is not an IAM ARN", field="SAGEMAKER_ROLE_ARN", fix="deploy with template.yaml"
        )
    return parts[1], parts[4]


def project_role_arn(settings: Settings, project: str) -> str:
    """The role a project's jobs run with: in the account and partition of the stack's roles."""
    partition, account = _arn_parts(settings.sagemaker_role_arn)
    return f"arn:{partition}:iam::{account}:role/{project_role_name(project)}"


def trust_policy(partition: str, account: str, region: str) -> dict[str, Any]:
    """SageMaker only, acting for this account's jobs in this region (confused-deputy protection)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:sagemaker:{region}:{account}:*"},
                },
            }
        ],
    }


def project_policy(project: str, *, data_bucket: str, artifacts_bucket: str, partition: str = "aws") -> dict[str, Any]:
    """The project's S3 access; everything else a job needs (images, logs, metrics, the stack's key and VPC)
    comes from the stack's managed policies attached to the role."""
    check_project_name(project, field="project")
    data = f"arn:{partition}:s3:::{data_bucket}"
    artifacts = f"arn:{partition}:s3:::{artifacts_bucket}"
    outputs = [f"{artifacts}/splits/{project}/*", f"{artifacts}/runs/{project}/*"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadProjectData",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"{data}/data/{project}/*",
            },
            {
                "Sid": "ListProjectData",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": data,
                "Condition": {"StringLike": {"s3:prefix": [f"data/{project}/*", f"data/{project}"]}},
            },
            {
                "Sid": "ReadProjectCode",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{artifacts}/code/{project}/*", f"{artifacts}/{SPLIT_SCRIPT_KEYS}"],
            },
            {
                "Sid": "ReadWriteProjectOutputs",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": outputs,
            },
            {
                "Sid": "ListProjectArtifacts",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": artifacts,
                "Condition": {
                    "StringLike": {
                        "s3:prefix": [
                            f"code/{project}/*",
                            SPLIT_SCRIPT_KEYS,
                            f"splits/{project}/*",
                            f"runs/{project}/*",
                        ]
                    }
                },
            },
        ],
    }


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def ensure_project_role(project: str, *, settings: Settings, iam: Any) -> dict[str, Any]:
    """Create ``trainops-<project>-jobs`` under the stack's boundary, or bring an existing one up to date: its
    inline policy rewritten (PutRolePolicy replaces it) and the stack's job policies attached. Idempotent, so
    Lambda's retries of the same upload are harmless."""
    boundary = settings.jobs_permissions_boundary_arn
    if not boundary:
        raise ProjectRoleError(
            "the stack gives no permissions boundary for the projects' job roles",
            field="JOBS_PERMISSIONS_BOUNDARY_ARN",
            fix="deploy with template.yaml",
        )
    partition, account = _arn_parts(settings.sagemaker_role_arn)
    name = project_role_name(project)
    action = "updated"
    try:
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(partition, account, settings.region)),
            PermissionsBoundary=boundary,
            Description=f"trainops: the jobs of project {project}, its own data, code and outputs only",
            Tags=[{"Key": PROJECT_TAG, "Value": project}],
        )
        action = "created"
    except ClientError as exc:
        if error_code(exc) != "EntityAlreadyExists":
            raise translate(exc, f"CreateRole {name}") from exc
    policy = project_policy(
        project, data_bucket=settings.data_bucket, artifacts_bucket=settings.artifacts_bucket, partition=partition
    )
    try:
        iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
        for arn in _split(settings.jobs_policy_arns):
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    except ClientError as exc:
        raise translate(exc, f"PutRolePolicy {name}") from exc
    return {"role": name, "role_action": action}


def cross_project_refusals(config: ProjectConfig) -> list[Refusal]:
    """What in a project's config names another project's resources (``CONF-E012``): its code must be under
    ``code/<project>/``, its explicit warm-start parents must be its own tuning jobs. The project's role would deny
    the job anyway (AccessDenied mid-run); this refuses the config before anything starts, naming the field.
    Incremental training has no such field: it always starts from the project's own Approved model."""
    from trainops.tuning import project_job_prefix  # imported on first use, as the linter does

    project = config.project
    out: list[Refusal] = []
    source = config.algorithm.source_dir
    if isinstance(source, str) and source.startswith("s3://"):
        key = source[len("s3://") :].partition("/")[2]
        if not key.startswith(f"code/{project}/"):
            out.append(
                Refusal(
                    ConfigInvalid,
                    f"{source} is not under code/{project}/ of the artifacts bucket: a project's jobs read only "
                    "their own project's code",
                    "algorithm.source_dir",
                    f"upload the code with `trainops config upload` (it lands at s3://<artifacts>/code/{project}/...)",
                    RULE,
                )
            )
    if config.tuning is not None:
        own = f"{project_job_prefix(project)}-"
        for i, parent in enumerate(config.tuning.explicit_parents()):
            if not parent.startswith(own):
                out.append(
                    Refusal(
                        ConfigInvalid,
                        f"{parent!r} is not a tuning job of project {project} (they are named {own}...): a project "
                        "warm-starts only from its own tuning jobs",
                        f"tuning.warm_start.parents.{i}",
                        "name one of this project's tuning jobs, or use warm_start: auto",
                        RULE,
                    )
                )
    return out
