"""Every 15 minutes: answer waiting runs whose SageMaker state-change event never arrived."""

from trainops.handler import make_handler
from trainops.steps.reconcile_jobs import reconcile_jobs

lambda_handler = make_handler(reconcile_jobs, "dynamodb", "sagemaker", "sfn")
