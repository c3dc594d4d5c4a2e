"""Unit tests need no network: sockets are disabled (pytest-socket); moto runs in-process."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(autouse=True)
def _no_network():
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def runs_table() -> Iterator[Any]:
    """A moto DynamoDB client with the table ``runs`` exactly as template.yaml defines RunsTable (keys, indexes)."""
    import boto3
    from cfnlint.decode import decode
    from moto import mock_aws

    template, _ = decode(str(TEMPLATE))
    props = template["Resources"]["RunsTable"]["Properties"]
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="runs",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        )
        yield client
