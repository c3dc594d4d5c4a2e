"""Stopping the local cloud leaves nothing running, even with executions waiting for a task token.

Its own module: no other local cloud may be running while it counts threads.
"""

from __future__ import annotations

import time

from tests.conftest import EXAMPLES

DATA = EXAMPLES / "data" / "breast_cancer.csv"


def _states(app, arn):
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in app.cloud.execution_history(arn)
        if "stateEnteredEventDetails" in e
    ]


def test_stopping_the_local_cloud_leaves_nothing_running(tmp_path):
    import threading

    from trainops_local.runner import LocalTrainops

    before = {t.ident for t in threading.enumerate()}
    with LocalTrainops(tmp_path, iam=False) as app:  # as the other state-machine suites (tests/conftest.py)
        stack = app.cloud.stacks[app.stack_name]
        app.cloud.client("events").disable_rule(Name=stack.physical_id("HandleJobEventFunctionJobStateChange"))
        known = app._executions()
        arn = app.find_execution(app.upload_data("left-waiting", DATA), known)
        deadline = time.monotonic() + 60  # wait until the run waits for its split job's token
        while "SplitDataset" not in _states(app, arn) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert app.cloud.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert [t.name for t in threading.enumerate() if t.ident not in before] == []
