"""Config uploaded: create, update or delete the project's retraining schedule."""

from trainops.handler import make_handler
from trainops.steps.sync_schedule import sync_schedule

lambda_handler = make_handler(sync_schedule, "s3", "scheduler", "dynamodb", "iam")
