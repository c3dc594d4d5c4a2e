"""Create the hyperparameter tuning job and park the task token (waitForTaskToken)."""

from trainops.handler import make_handler
from trainops.steps.start_tuning import start_tuning

lambda_handler = make_handler(start_tuning, "s3", "dynamodb", "sagemaker", "sfn")
