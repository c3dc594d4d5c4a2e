"""Config uploaded: create, update or delete the project's retraining schedule."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.sync_schedule, "s3", "scheduler")
