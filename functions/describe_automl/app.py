"""Describe the run's Autopilot job: one turn of the state machine's bounded, backing-off wait."""

from trainops.handler import make_handler
from trainops.steps.describe_automl import describe_automl

lambda_handler = make_handler(describe_automl, "sagemaker")
