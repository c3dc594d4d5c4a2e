"""Job encryption, network controls and trusted images: what the stack sets, what a project may tighten, and
what every job request carries.

The deploy-time values (template parameters ``KmsKeyArn``, ``JobSubnetIds``, ``JobSecurityGroupIds``,
``RequireNetworkIsolation``, ``TrustedImageRepositories``) reach the functions as environment variables
(:class:`trainops.settings.Settings`). A project's ``security:`` section may tighten them, never loosen them.
One set of decisions serves the linter (``refusals`` become CONF-E010/E011 findings) and the request builders
(``job_security`` and the ``apply_*`` functions, which raise the first refusal as a defence behind the linter).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from trainops.config import AlgorithmName, ProjectConfig
from trainops.errors import ConfigInvalid
from trainops.refusal import Refusal

# Without a stack (``trainops config validate`` offline): repositories named trainops* in any account and region.
# The template narrows the default to the deploying account and region.
OFFLINE_TRUSTED_REPOSITORIES = ("arn:aws*:ecr:*:*:repository/trainops*",)

# Where a framework container reads its code when the job has no network: the SageMaker Python SDK's
# CONTAINER_CODE_CHANNEL_SOURCEDIR_PATH (the code arrives as an input channel named ``code``).
CODE_CHANNEL = "code"
CODE_CHANNEL_SOURCEDIR = "/opt/ml/input/data/code/sourcedir.tar.gz"

# ECR image URIs: <account>.dkr.ecr[-fips].<region>.<dns suffix>/<repository>[:tag | @sha256:digest]
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.(?P<suffix>[a-z0-9.-]+)"
    r"/(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})?$"
)

# Instance families with instance-store (NVMe) volumes: SageMaker refuses VolumeKmsKeyId for them ("Certain Nitro
# instances include local storage ... you can't specify a VolumeKmsKeyId"); their local storage is encrypted by
# the hardware instead. ``d`` families (m5d, c5d, r5d, g4dn, p3dn, p4d, p4de, ...) and these:
_INSTANCE_STORE_FAMILIES = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})
_FAMILY = re.compile(r"^ml\.([a-z0-9-]+)\.")


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class StackSecurity:
    """The deploy-time job security settings of the stack."""

    kms_key_arn: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    require_network_isolation: bool = False
    trusted_repositories: tuple[str, ...] = OFFLINE_TRUSTED_REPOSITORIES

    @property
    def has_vpc(self) -> bool:
        return bool(self.subnet_ids and self.security_group_ids)

    @classmethod
    def from_values(cls, values: Mapping[str, str | None]) -> StackSecurity:
        """From the environment variables the template sets (names as in ``trainops.settings.ENV``)."""
        subnets = _split(values.get("JOB_SUBNET_IDS"))
        groups = _split(values.get("JOB_SECURITY_GROUP_IDS"))
        if bool(subnets) != bool(groups):
            raise ConfigInvalid(
                "the stack gives job subnets without security groups, or security groups without subnets",
                field="JobSubnetIds",
                fix="deploy with both JobSubnetIds and JobSecurityGroupIds, or neither",
            )
        return cls(
            kms_key_arn=(values.get("KMS_KEY_ARN") or "").strip() or None,
            subnet_ids=subnets,
            security_group_ids=groups,
            require_network_isolation=_truthy(values.get("REQUIRE_NETWORK_ISOLATION")),
            trusted_repositories=_split(values.get("TRUSTED_IMAGE_REPOSITORIES")) or OFFLINE_TRUSTED_REPOSITORIES,
        )

    @classmethod
    def from_settings(cls, settings: Any) -> StackSecurity:
        """From a :class:`trainops.settings.Settings`."""
        return cls.from_values(
            {
                "KMS_KEY_ARN": settings.kms_key_arn,
                "JOB_SUBNET_IDS": settings.job_subnet_ids,
                "JOB_SECURITY_GROUP_IDS": settings.job_security_group_ids,
                "REQUIRE_NETWORK_ISOLATION": settings.require_network_isolation,
                "TRUSTED_IMAGE_REPOSITORIES": settings.trusted_image_repositories,
            }
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StackSecurity:
        """For the CLI: the same variables when set (a shell mirroring a stack), else the offline defaults."""
        return cls.from_values(os.environ if environ is None else environ)


@dataclass(frozen=True)
class JobSecurity:
    """What one job gets: the effective key, VPC, isolation and inter-container encryption."""

    kms_key: str | None
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    network_isolation: bool
    inter_container_encryption: bool

    def vpc_config(self) -> dict[str, list[str]] | None:
        if not self.subnet_ids:
            return None
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnet_ids)}


def isolation_by_default(config: ProjectConfig) -> bool:
    """Built-in algorithms need no network: SageMaker itself moves their data and model to and from S3. Script
    mode and containers run the user's code, which may install packages (the training toolkit installs
    ``requirements.txt``) or call out, so they are isolated only when the stack or the project says so."""
    return not config.algorithm.brings_own_code


def job_security(config: ProjectConfig, stack: StackSecurity) -> JobSecurity:
    """The effective settings of the config's jobs; raises the first refusal (a config that loosens)."""
    refused = security_refusals(config, stack)
    if refused:
        raise refused[0].error()
    own = config.security
    return JobSecurity(
        kms_key=stack.kms_key_arn or own.kms_key,
        subnet_ids=stack.subnet_ids,
        security_group_ids=stack.security_group_ids,
        network_isolation=bool(
            own.network_isolation or stack.require_network_isolation or isolation_by_default(config)
        ),
        inter_container_encryption=bool(own.encrypt_inter_container_traffic or config.resources.instance_count > 1),
    )


_NEVER_LOOSEN = "a project config may tighten the stack's job security, never loosen it"


def security_refusals(config: ProjectConfig, stack: StackSecurity) -> list[Refusal]:
    """Every way the config's ``security:`` section would loosen what the stack or trainops' defaults set."""
    own = config.security
    out: list[Refusal] = []
    if own.network_isolation is False:
        if stack.require_network_isolation:
            why = "the stack requires network isolation for every job (RequireNetworkIsolation)"
        elif isolation_by_default(config):
            why = f"built-in {config.algorithm.name.value} jobs run with network isolation (they need no network)"
        else:
            why = ""
        if why:
            out.append(
                Refusal(
                    ConfigInvalid,
                    f"security.network_isolation: false would loosen job security: {why}; {_NEVER_LOOSEN}",
                    field="security.network_isolation",
                    fix="remove security.network_isolation (jobs keep network isolation)",
                )
            )
    if own.encrypt_inter_container_traffic is False and config.resources.instance_count > 1:
        out.append(
            Refusal(
                ConfigInvalid,
                f"security.encrypt_inter_container_traffic: false would loosen job security: jobs on "
                f"{config.resources.instance_count} instances encrypt the traffic between them; {_NEVER_LOOSEN}",
                field="security.encrypt_inter_container_traffic",
                fix="remove security.encrypt_inter_container_traffic",
            )
        )
    if own.kms_key is not None and stack.kms_key_arn is not None and own.kms_key != stack.kms_key_arn:
        out.append(
            Refusal(
                ConfigInvalid,
                f"security.kms_key would replace the stack's key {stack.kms_key_arn} for this project's job output "
                f"and volumes; {_NEVER_LOOSEN}",
                field="security.kms_key",
                fix="remove security.kms_key: every job already uses the stack's key (KmsKeyArn)",
            )
        )
    if own.vpc is False and stack.has_vpc:
        out.append(
            Refusal(
                ConfigInvalid,
                f"security.vpc: false would run this project's jobs outside the stack's VPC (subnets "
                f"{', '.join(stack.subnet_ids)}); {_NEVER_LOOSEN}",
                field="security.vpc",
                fix="remove security.vpc: every job runs in the stack's VPC",
            )
        )
    if own.vpc is True and not stack.has_vpc:
        out.append(
            Refusal(
                ConfigInvalid,
                "security.vpc: true, but the stack gives no VPC for jobs, so they would run without one",
                field="security.vpc",
                fix="deploy the stack with JobSubnetIds and JobSecurityGroupIds, or remove security.vpc",
            )
        )
    return out


# --- trusted images ---------------------------------------------------------------------------------------
# botocore's partitions (endpoints.json regionRegex), most specific prefix first
_PARTITIONS = (
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
    ("cn-", "aws-cn"),
)


def _partition(region: str) -> str:
    return next((partition for prefix, partition in _PARTITIONS if region.startswith(prefix)), "aws")


@cache
def _aws_registries() -> frozenset[tuple[str, str]]:
    """(account, region) of every AWS algorithm and framework registry in the vendored image table."""
    from trainops.image_uris import table

    return frozenset(
        (account, region)
        for accounts in table()["registries"].values()
        for account, regions in accounts.items()
        for region in regions
    )


def repository_arn(image: str) -> str | None:
    """The ECR repository ARN of an image URI, or None when the URI is not an ECR image."""
    match = _ECR_IMAGE.match(image)
    if match is None:
        return None
    region = match["region"]
    return f"arn:{_partition(region)}:ecr:{region}:{match['account']}:repository/{match['repository']}"


def image_trusted(image: str, stack: StackSecurity) -> bool:
    """An ECR image in an AWS algorithm or framework registry of the image table, or in a repository that
    matches one of the stack's trusted repository ARN patterns (``*`` and ``?`` wildcards, as IAM reads them)."""
    match = _ECR_IMAGE.match(image)
    if match is None:
        return False
    if (match["account"], match["region"]) in _aws_registries():
        return True
    arn = repository_arn(image)
    return arn is not None and any(fnmatchcase(arn, pattern) for pattern in stack.trusted_repositories)


def image_refusals(config: ProjectConfig, stack: StackSecurity) -> list[Refusal]:
    """``algorithm.image_uri`` and ``algorithm.inference_image_uri`` outside the trusted registries."""
    algo = config.algorithm
    out: list[Refusal] = []
    for field, image in (
        ("algorithm.image_uri", algo.image_uri),
        ("algorithm.inference_image_uri", algo.inference_image_uri),
    ):
        if image is None or image_trusted(image, stack):
            continue
        trusted = ", ".join(stack.trusted_repositories)
        what = "is not an ECR image URI" if repository_arn(image) is None else "is not in a trusted registry"
        out.append(
            Refusal(
                ConfigInvalid,
                f"{field} {image} {what}: trainops runs images only from the ECR repositories {trusted} "
                f"(template parameter TrustedImageRepositories) and AWS's algorithm and framework registries",
                field=field,
                fix="push the image to an ECR repository named trainops-<name> in the stack's account and region "
                "(<account>.dkr.ecr.<region>.amazonaws.com/trainops-<name>:<tag>), or deploy the stack with "
                "TrustedImageRepositories naming its repository",
            )
        )
    return out


def refusals(config: ProjectConfig, stack: StackSecurity) -> list[Refusal]:
    """Everything the stack's security settings refuse in the config (the linter's CONF-E010 and CONF-E011)."""
    return [*security_refusals(config, stack), *image_refusals(config, stack)]


def check_images(config: ProjectConfig, stack: StackSecurity) -> None:
    """Raise the first image refusal (the request builders' defence behind the linter)."""
    refused = image_refusals(config, stack)
    if refused:
        raise refused[0].error()


# --- requests ------------------------------------------------------------------------------------------
def has_instance_store(instance_type: str) -> bool:
    """True for instance types whose volumes are instance-store NVMe, where SageMaker refuses VolumeKmsKeyId."""
    match = _FAMILY.match(instance_type)
    if match is None:
        return False
    family = match[1]
    return family in _INSTANCE_STORE_FAMILIES or bool(re.fullmatch(r"[a-z]+\d+[a-z]*d[a-z]*", family))


def apply_to_training(body: dict[str, Any], job: JobSecurity, config: ProjectConfig) -> None:
    """KMS key, VPC, network isolation and inter-container encryption on a CreateTrainingJob request (also the
    template of a tuning job's TrainingJobDefinition, which copies these members)."""
    if job.kms_key:
        body["OutputDataConfig"]["KmsKeyId"] = job.kms_key
        if not has_instance_store(body["ResourceConfig"]["InstanceType"]):
            body["ResourceConfig"]["VolumeKmsKeyId"] = job.kms_key
    vpc = job.vpc_config()
    if vpc is not None:
        body["VpcConfig"] = vpc
    body["EnableNetworkIsolation"] = job.network_isolation
    body["EnableInterContainerTrafficEncryption"] = job.inter_container_encryption
    if job.network_isolation and config.algorithm.name == AlgorithmName.SCRIPT:
        _code_channel(body, config)


def _code_channel(body: dict[str, Any], config: ProjectConfig) -> None:
    """A framework container without network cannot download its code from S3: as the SageMaker Python SDK does,
    the code archive arrives as the input channel ``code`` and ``sagemaker_submit_directory`` names its path."""
    source = config.algorithm.source_dir or ""
    body["InputDataConfig"].append(
        {
            "ChannelName": CODE_CHANNEL,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": source,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "InputMode": "File",
        }
    )
    body["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(CODE_CHANNEL_SOURCEDIR)


def apply_to_processing(body: dict[str, Any], job: JobSecurity) -> None:
    """KMS key, VPC and network isolation on a CreateProcessingJob request (trainops' split needs no network:
    its code and data arrive as processing inputs)."""
    if job.kms_key:
        body["ProcessingOutputConfig"]["KmsKeyId"] = job.kms_key
        cluster = body["ProcessingResources"]["ClusterConfig"]
        if not has_instance_store(cluster["InstanceType"]):
            cluster["VolumeKmsKeyId"] = job.kms_key
    network: dict[str, Any] = {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": False}
    vpc = job.vpc_config()
    if vpc is not None:
        network["VpcConfig"] = vpc
    body["NetworkConfig"] = network
