"""End of a run: announce it (Run Succeeded/Run Failed), then free the project's run slot or start the one
follow-up run for data that arrived meanwhile."""

from trainops.handler import make_handler
from trainops.steps.finish_run import finish_run

lambda_handler = make_handler(finish_run, "dynamodb", "sfn", "events")
