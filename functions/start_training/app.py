"""Create the training job with a deterministic name and park the task token (waitForTaskToken)."""

from trainops.handler import make_handler
from trainops.steps.start_training import start_training

lambda_handler = make_handler(start_training, "s3", "dynamodb", "sagemaker", "sfn")
