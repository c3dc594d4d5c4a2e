"""Select the algorithm, input mode, objective and hyperparameters; infer what the config leaves out."""

from trainops.handler import make_handler
from trainops.steps.select_algorithm import select_algorithm

lambda_handler = make_handler(select_algorithm, "s3", "dynamodb", "iam")
