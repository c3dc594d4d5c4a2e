"""Start the validation-split processing job and park the task token (waitForTaskToken)."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.split_dataset, "s3", "dynamodb", "sagemaker", "sfn")
