"""The end-to-end suite runs with IAM enforced in the local cloud (``TRAINOPS_LOCAL_IAM=1``, inherited by the CLI
processes the tests start): a missing or excess permission in template.yaml fails here as it would on AWS
(docs/security.md, "IAM enforced in the local cloud"). ``TRAINOPS_LOCAL_IAM=0`` in the environment runs it without
(to measure what enforcement costs)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from trainops_local.cloud.local_cloud import IAM_ENV


@pytest.fixture(scope="package", autouse=True)
def iam_enforced() -> Iterator[None]:
    before = os.environ.get(IAM_ENV)
    os.environ.setdefault(IAM_ENV, "1")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(IAM_ENV, None)
