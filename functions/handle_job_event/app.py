"""SageMaker job state change (EventBridge) -> SendTaskSuccess/Failure to the waiting run."""

from trainops.handler import make_handler
from trainops.steps.handle_job_event import handle_job_event

lambda_handler = make_handler(handle_job_event, "dynamodb", "sagemaker", "sfn")
