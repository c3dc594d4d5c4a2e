"""The template's security settings (docs/security.md) and the scanners' gate (``make scan``)."""

from __future__ import annotations

import collections
import json
import re
import textwrap
from pathlib import Path

import pytest
from cfnlint.decode import decode
from trainops_local import scan

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
IMAGE_TABLE = ROOT / "layers" / "common" / "trainops" / "image_uris.json"


def _template() -> dict:
    template, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return template


def _resources(rtype: str) -> dict:
    return {k: v for k, v in _template()["Resources"].items() if v["Type"] == rtype}


# ------------------------------------------------------------------------------------------------ logs


def test_every_log_group_expires_after_log_retention_days():
    groups = _resources("AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        # and under the stack's customer key when it has one
        assert group["Properties"]["KmsKeyId"] == {
            "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]
        }, name


def test_every_function_logs_to_a_log_group_of_its_own():
    functions = _resources("AWS::Serverless::Function")
    groups = _resources("AWS::Logs::LogGroup")
    used = []
    for name, function in functions.items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert ref in groups, name
        used.append(ref)
    assert len(set(used)) == len(functions)


def test_the_state_machine_logs_errors_without_execution_data_unless_raised():
    template = _template()
    params = template["Parameters"]
    assert params["StateMachineLogLevel"]["Default"] == "ERROR"
    assert params["StateMachineLogExecutionData"]["Default"] == "false"
    logging = template["Resources"]["TrainingPipeline"]["Properties"]["Logging"]
    assert logging["Level"] == {"Ref": "StateMachineLogLevel"}
    assert logging["IncludeExecutionData"] == {"Fn::If": ["LogExecutionData", True, False]}
    assert template["Conditions"]["LogExecutionData"] == {
        "Fn::Equals": [{"Ref": "StateMachineLogExecutionData"}, "true"]
    }


@pytest.mark.parametrize(("bucket", "prefix"), [("DataBucket", "data/"), ("ArtifactsBucket", "artifacts/")])
def test_bucket_access_is_logged_to_the_stacks_log_bucket(bucket, prefix):
    resources = _template()["Resources"]
    logging = resources[bucket]["Properties"]["LoggingConfiguration"]
    assert logging == {"DestinationBucketName": {"Ref": "AccessLogsBucket"}, "LogFilePrefix": prefix}
    statement = resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert {"Fn::GetAtt": [bucket, "Arn"]} in statement["Condition"]["ArnLike"]["aws:SourceArn"]
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    # server access logs cannot be delivered to a bucket whose default encryption is SSE-KMS
    log_bucket = resources["AccessLogsBucket"]["Properties"]
    assert log_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert log_bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {"Ref": "LogRetentionDays"}


# ------------------------------------------------------------------------------------------------ IAM


@pytest.mark.parametrize("role", ["SageMakerExecutionRole", "SchedulerRole"])
def test_service_roles_trust_only_this_accounts_service_calls(role):
    trust = _template()["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    condition = json.dumps(trust[0]["Condition"])
    assert '"aws:SourceAccount": {"Ref": "AWS::AccountId"}' in condition
    assert "aws:SourceArn" in condition


def _aws_registries_by_region() -> dict[str, list[str]]:
    import botocore.loaders

    partitions = [
        (re.compile(p["regionRegex"]), p["partition"])
        for p in botocore.loaders.Loader().load_data("endpoints")["partitions"]
    ]
    accounts: dict[str, set[str]] = collections.defaultdict(set)
    for registry in json.loads(IMAGE_TABLE.read_text())["registries"].values():
        for account, regions in registry.items():
            for region in regions:
                accounts[region].add(account)
    out = {}
    for region, ids in accounts.items():
        partition = next(p for rx, p in partitions if rx.match(region))
        out[region] = [f"arn:{partition}:ecr:{region}:{a}:repository/*" for a in sorted(ids)]
    return out


def test_image_pulls_are_limited_to_the_regions_aws_registries_and_the_trusted_repositories():
    template = _template()
    expected = _aws_registries_by_region()
    mapping = {region: v["Repositories"] for region, v in template["Mappings"]["AwsImageRegistries"].items()}
    if mapping != expected:  # the image table was regenerated: print the mapping to paste into template.yaml
        lines = [
            f"    {r}: {{ Repositories: [{', '.join(json.dumps(a) for a in arns)}] }}"
            for r, arns in sorted(expected.items())
        ]
        pytest.fail("AwsImageRegistries differs from image_uris.json; it should read:\n" + "\n".join(lines))
    policy = template["Resources"]["SageMakerExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    pull = next(s for s in policy["Statement"] if s.get("Sid") == "PullImages")
    text = json.dumps(pull["Resource"])
    assert "ecr:*" not in text and ":*:repository" not in text
    assert '"AwsImageRegistries", {"Ref": "AWS::Region"}' in text
    assert "${AWS::Region}:${AWS::AccountId}:repository/trainops*" in text
    assert '"Ref": "TrustedImageRepositories"' in text


# ------------------------------------------------------------------------------------------------ the scanners


def test_every_suppression_carries_a_reason():
    template = _template()
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
            assert len(skip.get("comment", "")) > 20, f"{name} skips {skip['id']} without a reason"
    lines = TEMPLATE.read_text().splitlines()
    ignores = [i for i, line in enumerate(lines) if "ignore_checks:" in line]
    assert ignores
    for i in ignores:
        assert "#" in lines[i] or lines[i - 1].strip().startswith("#"), f"line {i + 1}: ignore_checks without a reason"


def test_the_sam_translator_carries_a_functions_metadata_to_the_lambda_function():
    # checkov scans the translated template: a skip written on the SAM function must reach the function
    cfn = scan.translate()
    function = cfn["Resources"]["StartTrainingFunction"]
    assert function["Type"] == "AWS::Lambda::Function"
    assert function["Metadata"]["checkov"]["skip"]
    # ... but not its role: a finding on a generated role needs an explicit role to be suppressed
    assert "Metadata" not in cfn["Resources"]["StartTrainingFunctionRole"]


SMALL_SAM = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Unlogged:
    Type: AWS::S3::Bucket
  Suppressed:
    Type: AWS::Serverless::Function
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_117
            comment: a reason
      cfn-lint:
        config:
          ignore_checks: [WS1004]  # a reason
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
  NotSuppressed:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
"""


def test_the_scanners_report_a_new_finding_and_honour_suppressions_on_sam_resources(tmp_path):
    assert scan.CHECKOV.exists(), "the checkov tool environment is missing: run `make .tools/checkov/bin/checkov`"
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(SMALL_SAM))
    found = {(f.scanner, f.check, f.resource.split(".")[-1].split("/")[-1]) for f in scan.checkov(path)}
    assert ("checkov", "CKV_AWS_18", "Unlogged") in found
    assert ("checkov", "CKV_AWS_117", "NotSuppressed") in found
    assert ("checkov", "CKV_AWS_117", "Suppressed") not in found
    assert ("checkov", "CKV_AWS_115", "Suppressed") in found
    found = {(f.check, f.resource.split("/")[-1]) for f in scan.cfn_lint(path)}
    assert ("WS1004", "NotSuppressed") in found
    assert ("WS1004", "Suppressed") not in found
