"""Failure path: record the error and its cause on the run record."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.record_failure, "dynamodb")
