"""Select the algorithm, input mode, objective and hyperparameters; infer what the config leaves out."""

from trainops import steps
from trainops.handler import make_handler

lambda_handler = make_handler(steps.select_algorithm, "s3", "dynamodb")
