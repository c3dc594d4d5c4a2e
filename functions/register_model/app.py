"""Register the model package, approved only when it beats the current Approved one."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.register_model, "s3", "dynamodb", "sagemaker")
