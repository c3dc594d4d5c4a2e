"""SageMaker job state change (EventBridge) -> SendTaskSuccess/Failure to the waiting run."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.handle_job_event, "dynamodb", "sagemaker", "sfn")
