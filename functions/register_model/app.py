"""Register the model package, approved only when it beats the current Approved one."""

from trainops.handler import make_handler
from trainops.steps.register_model import register_model

lambda_handler = make_handler(register_model, "s3", "dynamodb", "sagemaker", "events")
