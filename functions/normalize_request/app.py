"""First state: turn an S3 upload, a schedule or a manual start into one typed RunRequest."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.normalize_request, "s3", "dynamodb")
