"""Start the validation-split processing job and park the task token (waitForTaskToken)."""

from trainops.handler import make_handler
from trainops.steps.split_dataset import split_dataset

lambda_handler = make_handler(split_dataset, "s3", "dynamodb", "sagemaker", "sfn")
