"""Create the run's Autopilot job (CreateAutoMLJobV2) with a deterministic name."""

from trainops.handler import make_handler
from trainops.steps.start_automl import start_automl

lambda_handler = make_handler(start_automl, "dynamodb", "sagemaker")
