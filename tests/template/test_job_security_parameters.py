"""Job security parameters: a malformed KMS key ARN, subnet, security group or repository is refused at deploy by
the parameter's AllowedPattern, and the values reach every function's environment (trainops.settings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.decode import decode
from trainops.config import KMS_KEY_ARN_PATTERN
from trainops_local.cloud.deploy import DeployError, _parameters

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE, _ = decode(str(ROOT / "template.yaml"))
PARAMETERS = TEMPLATE["Parameters"]

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

ACCEPTED = {
    "KmsKeyArn": [
        "",
        KEY,
        "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ],
    "JobSubnetIds": ["", "subnet-0123abcd", "subnet-0123456789abcdef0", "subnet-0123abcd,subnet-0123456789abcdef0"],
    "JobSecurityGroupIds": ["", "sg-0123abcd", "sg-0123456789abcdef0,sg-89abcdef"],
    "TrustedImageRepositories": [
        "",
        "arn:aws:ecr:us-east-1:123456789012:repository/trainops*",
        "arn:aws:ecr:*:123456789012:repository/team-a/*,arn:aws-cn:ecr:cn-north-1:123456789012:repository/x",
    ],
}
REFUSED = {
    "KmsKeyArn": [
        "1234abcd-12ab-34cd-56ef-1234567890ab",  # a key id, not an ARN
        "alias/trainops",
        "arn:aws:kms:us-east-1:123456789012:alias/trainops",
        "arn:aws:kms:us-east-1:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab",  # 11-digit account
        "arn:aws:kms:us-east-1:123456789012:key/1234ABCD-12ab-34cd-56ef-1234567890ab",  # upper case
        f"{KEY} ",
        "arn:aws:s3:::bucket",
    ],
    "JobSubnetIds": [
        "subnet-123",
        "subnet-0123456789abcdef",  # 16 hex digits
        "subnet-0123abcd, subnet-89abcdef",  # a space
        "sg-0123abcd",
        "subnet-0123abcd,",
        "SUBNET-0123ABCD",
        ",".join(f"subnet-0123abc{i:x}" for i in range(17)),  # more than 16
    ],
    "JobSecurityGroupIds": [
        "sg-123",
        "subnet-0123abcd",
        "sg-0123abcg",
        ",".join(f"sg-0123abc{i}" for i in range(6)),  # more than 5
    ],
    "TrustedImageRepositories": [
        "trainops*",  # a name, not an ARN
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops",
        "arn:aws:ecr:us-east-1:123456789012:repository/",
        "arn:aws:s3:::bucket",
        "arn:aws:ecr:us-east-1:123456789012:repository/a, arn:aws:ecr:us-east-1:123456789012:repository/b",
    ],
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in ACCEPTED.items() for v in values])
def test_well_formed_values_deploy(name: str, value: str) -> None:
    # Given a well-formed value, When the template's parameters are resolved as the local cloud deploys them
    # (CloudFormation matches AllowedPattern against the whole value), Then it is accepted
    pattern = PARAMETERS[name]["AllowedPattern"]
    assert re.fullmatch(pattern, value), (name, value)
    assert _parameters(TEMPLATE, {name: value})[name] == value


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in REFUSED.items() for v in values])
def test_malformed_values_are_refused_at_deploy(name: str, value: str) -> None:
    # Given a malformed value, Then the parameter's pattern refuses it before anything is created
    assert not re.fullmatch(PARAMETERS[name]["AllowedPattern"], value), (name, value)
    with pytest.raises(DeployError, match=name):
        _parameters(TEMPLATE, {name: value})
    assert PARAMETERS[name]["ConstraintDescription"]  # what CloudFormation shows instead of the regex


def test_the_kms_pattern_is_the_config_models() -> None:
    # security.kms_key in a project config and the stack's KmsKeyArn accept the same keys
    assert PARAMETERS["KmsKeyArn"]["AllowedPattern"] == "^$|" + KMS_KEY_ARN_PATTERN


def test_every_function_gets_the_job_security_settings() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["KMS_KEY_ARN"] == {"Ref": "KmsKeyArn"}
    assert variables["JOB_SUBNET_IDS"] == {"Ref": "JobSubnetIds"}
    assert variables["JOB_SECURITY_GROUP_IDS"] == {"Ref": "JobSecurityGroupIds"}
    assert variables["REQUIRE_NETWORK_ISOLATION"] == {"Ref": "RequireNetworkIsolation"}
    trusted = variables["TRUSTED_IMAGE_REPOSITORIES"]["Fn::If"]
    assert trusted[0] == "HasTrustedImageRepositories"
    assert trusted[2] == {"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/trainops*"}


def test_subnets_and_security_groups_come_together() -> None:
    rule = TEMPLATE["Rules"]["JobVpcNeedsSubnetsAndSecurityGroups"]
    assert "JobSubnetIds" in str(rule) and "JobSecurityGroupIds" in str(rule)


def test_the_stack_key_encrypts_storage_queues_topic_and_the_state_machine_log() -> None:
    resources = TEMPLATE["Resources"]
    key = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    for bucket in ("DataBucket", "ArtifactsBucket"):
        rule = resources[bucket]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key, bucket
    assert resources["RunsTable"]["Properties"]["SSESpecification"]["KMSMasterKeyId"] == key
    assert resources["StateMachineLogGroup"]["Properties"]["KmsKeyId"] == key
    # the jobs' role may use the key (and create grants for volumes) and, with a VPC, network interfaces
    policy = resources["JobSecurityPolicy"]
    assert policy["Condition"] == "HasJobSecurityGrants"
    assert policy["Properties"]["Roles"] == [{"Ref": "SageMakerExecutionRole"}]
    # the functions use it only through the services that hold the encrypted data
    functions = [k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"]
    attached = resources["FunctionsKeyPolicy"]["Properties"]["Roles"]
    assert sorted(r["Ref"] for r in attached) == sorted(f"{f}Role" for f in functions)
