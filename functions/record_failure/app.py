"""Failure path: record the error and its cause on the run record."""

from trainops.handler import make_handler
from trainops.steps.record_failure import record_failure

lambda_handler = make_handler(record_failure, "dynamodb")
