"""First state: turn an S3 upload, a schedule or a manual start into one typed RunRequest."""

from trainops.handler import make_handler
from trainops.steps.normalize_request import normalize_request

lambda_handler = make_handler(normalize_request, "s3", "dynamodb", "sfn")
