"""Create the hyperparameter tuning job and park the task token (waitForTaskToken)."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.start_tuning, "s3", "dynamodb", "sagemaker", "sfn")
