"""Create the training job with a deterministic name and park the task token (waitForTaskToken)."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.start_training, "s3", "dynamodb", "sagemaker", "sfn")
