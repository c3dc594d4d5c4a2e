"""s3: the CloudFormation resource types this service provisions locally."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trainops_local.cloud.deploy.coercion import call, tags_list
from trainops_local.cloud.deploy.model import PhysicalResource

from ._registry import provisions

if TYPE_CHECKING:
    from trainops_local.cloud.deploy.engine import Engine


@provisions("AWS::S3::Bucket")
def bucket(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    s3 = engine.client("s3")
    name = p.get("BucketName") or engine.name(lid, 63, lower=True)
    kwargs: dict[str, Any] = {"Bucket": name}
    if engine.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": engine.region}
    s3.create_bucket(**kwargs)
    if p.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=p["VersioningConfiguration"])
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags_list(p["Tags"])})
    if p.get("BucketEncryption"):
        rules = [
            {
                ("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                for k, v in r.items()
            }
            for r in p["BucketEncryption"].get("ServerSideEncryptionConfiguration", [])
        ]
        call(s3, "put_bucket_encryption", Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if p.get("PublicAccessBlockConfiguration"):
        call(
            s3,
            "put_public_access_block",
            Bucket=name,
            PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"],
        )
    if p.get("LifecycleConfiguration"):
        _bucket_lifecycle(engine, name, p["LifecycleConfiguration"])
    notif = p.get("NotificationConfiguration") or {}
    if notif:
        conf: dict[str, Any] = {}
        if (notif.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled") in (True, "true", "True"):
            conf["EventBridgeConfiguration"] = {}
        for cfn_key, api_key, arn_cfn, arn_api in (
            ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
            ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
            ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ):
            items = []
            for item in notif.get(cfn_key) or []:
                entry: dict[str, Any] = {arn_api: item[arn_cfn], "Events": [item["Event"]]}
                if item.get("Filter"):
                    rules = item["Filter"].get("S3Key", {}).get("Rules", [])
                    entry["Filter"] = {"Key": {"FilterRules": rules}}
                items.append(entry)
            if items:
                conf[api_key] = items
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=conf)
    attrs = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{engine.region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{engine.region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{engine.region}.amazonaws.com",
    }
    return PhysicalResource(lid, "AWS::S3::Bucket", name, attrs)


def _bucket_lifecycle(engine: Engine, bucket: str, conf: dict[str, Any]) -> None:
    rules = []
    for rule in conf.get("Rules", []):
        api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
        api["Filter"] = {"Prefix": rule.get("Prefix", "")}
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": rule["ExpirationInDays"]}
        if "NoncurrentVersionExpirationInDays" in rule:
            api["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
        if "NoncurrentVersionExpiration" in rule:
            api["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        rules.append(api)
    call(
        engine.client("s3"),
        "put_bucket_lifecycle_configuration",
        Bucket=bucket,
        LifecycleConfiguration={"Rules": rules},
    )


@provisions("AWS::S3::BucketPolicy")
def bucket_policy(engine: Engine, lid: str, p: dict[str, Any]) -> PhysicalResource:
    policy = p["PolicyDocument"]
    engine.client("s3").put_bucket_policy(
        Bucket=p["Bucket"], Policy=policy if isinstance(policy, str) else json.dumps(policy)
    )
    return PhysicalResource(lid, "AWS::S3::BucketPolicy", p["Bucket"], {})
