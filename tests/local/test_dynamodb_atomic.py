"""moto's DynamoDB conditional writes made atomic (trainops_local.cloud.dynamodb): of many concurrent
``PutItem``s with ``attribute_not_exists``, exactly one succeeds, as on DynamoDB."""

from __future__ import annotations

import sys
import threading

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from trainops_local.cloud import dynamodb


def _put(ddb, key: str, me: int, barrier: threading.Barrier, won: list[int], refused: list[str]) -> None:
    barrier.wait()
    try:
        ddb.put_item(
            TableName="t",
            Item={"pk": {"S": key}, "holder": {"S": str(me)}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        won.append(me)
    except ClientError as exc:
        refused.append(exc.response["Error"]["Code"])


def _race(threads: int = 16, rounds: int = 40) -> list[int]:
    """For each round, how many of ``threads`` concurrent conditional puts of one new item succeeded."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    winners: list[int] = []
    for n in range(rounds):
        won: list[int] = []
        refused: list[str] = []
        barrier = threading.Barrier(threads)
        workers = [
            threading.Thread(target=_put, args=(ddb, f"slot-{n}", i, barrier, won, refused)) for i in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert set(refused) <= {"ConditionalCheckFailedException"}
        winners.append(len(won))
    return winners


@pytest.fixture
def fast_switching():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a race shows
    yield
    sys.setswitchinterval(interval)


def test_concurrent_conditional_puts_have_exactly_one_winner(fast_switching):
    with moto.mock_aws():
        dynamodb.install()
        try:
            assert _race() == [1] * 40
        finally:
            dynamodb.uninstall()
