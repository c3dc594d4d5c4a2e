"""Fault suite: every ``Retry`` and ``Catch`` of the training pipeline, each fault ending in a recorded terminal
state (the execution's status, and the run record RecordFailure writes), in well under a minute in all.

What runs, and why so:

* **The real state machine.** template.yaml is deployed into the local cloud as for every other suite; the
  definition executed is the deployed one, byte for byte -- no test copy of the ASL to keep in sync. The one
  exception is the task-timeout test, which derives a definition from the deployed one with a single
  ``TimeoutSeconds`` lowered to 1 s (``test_the_timeout_definition_differs_only_in_that_timeout`` checks it).
* **Retry waits are virtual, not scaled.** moto sleeps each Retry interval for real and refuses
  ``IntervalSeconds`` below 1 (pinned in tests/local/test_moto_pins.py), so a copy of the ASL with scaled
  intervals would still sleep 20+ s on RegistryBusy alone. ``sfn_mocks.virtual_retry_waits`` records the
  waits the interpreter computes (backoff, MaxDelaySeconds, jitter) instead of sleeping them; the tests assert
  that schedule.
* **Step Functions Local mock configs** (``arn#TestCase``, enabled by ``trainops_local.cloud.sfn_mocks``) for
  what only AWS can produce: Lambda service errors, and every retrier of every state run to recovery and to
  exhaustion. The mocked responses are the results of a real run in this module (never hand-written), and
  RecordFailure -- the state that records the failure -- always runs for real.
* **Real handlers with the fault injected at the AWS API** (a botocore ``before-call`` hook on the handlers'
  own clients, i.e. the answer botocore gives after its own retries) or in the local SageMaker, for the
  faults whose handling is the handlers' business: throttling, quota exceeded, registry busy, job failed, job
  stopped, max runtime, lost state-change event, callback crash, object deleted mid-run, KMS access denied,
  a task that times out.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from trainops_local.cloud import sfn_mocks

from tests.conftest import EXAMPLES

DATA = EXAMPLES / "data" / "breast_cancer.csv"
LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def waits(trainops_cloud: Any) -> Iterator[sfn_mocks.RetryWaits]:
    with sfn_mocks.virtual_retry_waits() as recorded:
        yield recorded


@pytest.fixture(autouse=True)
def _fresh(waits: sfn_mocks.RetryWaits) -> Iterator[None]:
    waits.clear()
    waits.on_wait = None
    yield
    waits.on_wait = None
    sfn_mocks.use_config(None)


@pytest.fixture(scope="module")
def definition(trainops_cloud: Any) -> dict[str, Any]:
    sfn = trainops_cloud.cloud.client("stepfunctions")
    return json.loads(sfn.describe_state_machine(stateMachineArn=trainops_cloud.state_machine_arn)["definition"])


@pytest.fixture(scope="module")
def real_run(trainops_cloud: Any, waits: sfn_mocks.RetryWaits) -> dict[str, Any]:
    """One real end-to-end run; its tasks' results are the mocked responses of the mocked cases."""
    summary = trainops_cloud.run("faults-real", DATA, None, timeout=300)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    results: dict[str, Any] = {}
    state = None
    for event in trainops_cloud.cloud.execution_history(summary.execution_arn):
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
        for key in ("lambdaFunctionSucceededEventDetails", "taskSucceededEventDetails"):
            if key in event:
                results[state] = json.loads(event[key]["output"])
    return {"summary": summary, "results": results}


# --------------------------------------------------------------------------------------------- helpers


def _record(app: Any, run_id: str) -> dict[str, Any] | None:
    from trainops.ledger import Ledger

    return Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb")).get_run(run_id)


def _states(app: Any, arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in app.cloud.execution_history(arn)
        if "stateEnteredEventDetails" in e
    ]


def _failed_attempts(app: Any, arn: str) -> list[str]:
    out = []
    for e in app.cloud.execution_history(arn):
        for key in ("lambdaFunctionFailedEventDetails", "taskFailedEventDetails", "taskTimedOutEventDetails"):
            if key in e:
                out.append(e[key].get("error", ""))
    return out


def _tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}


def _is_callback(state: dict[str, Any]) -> bool:
    return str(state["Resource"]).endswith(".waitForTaskToken")


def _ok(definition: dict[str, Any], state: str, result: Any) -> dict[str, Any]:
    """A mocked success: a legacy Lambda-ARN task gets the Invoke response, a callback task what the callback
    sends."""
    body = result if _is_callback(definition["States"][state]) else {"StatusCode": 200, "Payload": result}
    return {"Return": body}


def _throw(error: str) -> dict[str, Any]:
    return {"Throw": {"Error": error, "Cause": f"fault suite: {error}"}}


def _retargeted(value: Any, old: str, new: str) -> Any:
    return json.loads(json.dumps(value).replace(old, new))


# the describe loop's answers in a mocked Autopilot run: created, then Completed at the first describe
AUTOML_RESULTS = {
    "StartAutoML": {"job_name": "trainops-faults-0", "wait_seconds": 0, "waited": 0, "max_runtime": 60},
    "DescribeAutoML": {
        "job_name": "trainops-faults-0",
        "status": "Completed",
        "done": True,
        "wait_seconds": 0,
        "waited": 0,
        "max_runtime": 60,
    },
}


def run_mocked(
    app: Any,
    definition: dict[str, Any],
    real_run: dict[str, Any],
    mocked: dict[str, dict[str, Any]],
    *,
    tune: bool = False,
    autopilot: bool = False,
) -> tuple[dict[str, Any], str]:
    """Start the deployed state machine as test case ``arn#<case>``: every task but RecordFailure answers with
    the real run's result (states it did not reach, such as RecordFailure, run for real) unless ``mocked`` says otherwise (attempt range -> Return/Throw). Returns the
    terminal execution and the run id (fresh per case, so each case has its own run record)."""
    results = real_run["results"]
    old_run = real_run["summary"].run_id
    run_id = f"fault-{uuid.uuid4().hex[:10]}"
    case = run_id  # also the execution name: the run id RecordFailure uses when no request was made
    per_state: dict[str, dict[str, Any]] = {}
    for state in _tasks(definition):
        if state in mocked:
            per_state[state] = mocked[state]
        elif state in results or state in AUTOML_RESULTS or state == "StartTuning":  # the rest run for real
            result = results.get(state, results["StartTraining"])  # the real run trained, it did not tune
            if state in AUTOML_RESULTS:  # the real run was not an Autopilot run: its training result stands in
                result = {**AUTOML_RESULTS[state], "result": results["StartTraining"]}
            if state == "SelectAlgorithm":
                result = {**result, "tune": tune, **({"algorithm": "autopilot"} if autopilot else {})}
            per_state[state] = {"0": _ok(definition, state, result)}
    responses = {f"{case}-{state}": _retargeted(body, old_run, run_id) for state, body in per_state.items()}
    machine = app.state_machine_arn.rsplit(":", 1)[1]
    sfn_mocks.use_config(
        {
            "StateMachines": {machine: {"TestCases": {case: {s: f"{case}-{s}" for s in per_state}}}},
            "MockedResponses": responses,
        }
    )
    sfn = app.cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=f"{app.state_machine_arn}#{case}", name=case, input="{}")["executionArn"]
    return app.cloud.wait_execution(arn, timeout=30), run_id


@contextmanager
def aws_answers(
    service: str, operation: str, answer: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> Iterator[None]:
    """The handlers' own ``service`` client gets ``answer(params)`` for ``operation`` (an error document such as
    ``{"Code": "ThrottlingException"}``, or None to let the call through), as botocore reports it after its own
    retries."""
    from trainops.aws import client

    def before_call(params: dict[str, Any], **_: Any) -> Any:
        error = answer(params)
        if error is None:
            return None
        status = int(error.pop("HTTPStatusCode", 400))
        return AWSResponse("https://local", status, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    events = client(service).meta.events
    event = f"before-call.{client(service).meta.service_model.endpoint_prefix}.{operation}"
    events.register_first(event, before_call)
    try:
        yield
    finally:
        events.unregister(event, before_call)


def _config(tmp_path: Any, project: str, text: str) -> Any:
    path = tmp_path / f"{project}.yaml"
    path.write_text(f"project: {project}\n{text}")
    return path


def _sleeper(tmp_path: Any, project: str, seconds: int, max_runtime: int = 3600) -> Any:
    """A container whose local stand-in sleeps: a training job that is still running when we need it to be."""
    return _config(
        tmp_path,
        project,
        f"""algorithm:
  name: container
  image_uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-sleeper:1
  local_command: [python3, -c, "import time; time.sleep({seconds})"]
  metric_definitions: [{{name: "validation:auc", regex: "validation:auc=([0-9.]+)"}}]
problem: {{type: binary, objective_metric: validation:auc, objective_direction: Maximize}}
resources: {{max_runtime_seconds: {max_runtime}}}
""",
    )


def _caught_at(app: Any, arn: str) -> str:
    """The state whose failure the Catch sent to RecordFailure."""
    states = _states(app, arn)
    return states[states.index("RecordFailure") - 1]


def _assert_recorded_failure(app: Any, summary: Any, error: str) -> dict[str, Any]:
    assert summary.status == "FAILED", (summary.status, summary.error, summary.cause, summary.skip_reason)
    assert error in _failed_attempts(app, summary.execution_arn), summary.cause
    assert {"RecordFailure", "RunFailed"} <= set(_states(app, summary.execution_arn))
    record = _record(app, summary.run_id or summary.execution_arn.rsplit(":", 1)[1])
    assert record is not None
    assert (record["status"], record["error"]) == ("FAILED", error)
    return record


def _reconcile_until_done(app: Any, arn: str, timeout: float = 60) -> None:
    stack = app.cloud.stacks[app.stack_name]
    rule = stack.physical_id("ReconcileJobsFunctionEvery15Minutes")
    sfn = app.cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        app.cloud.fire_schedule_rule(rule)
        app.cloud.wait_idle(30)
        time.sleep(0.2)


@contextmanager
def job_events_lost(app: Any) -> Iterator[None]:
    events = app.cloud.client("events")
    rule = app.cloud.stacks[app.stack_name].physical_id("HandleJobEventFunctionJobStateChange")
    events.disable_rule(Name=rule)
    try:
        yield
    finally:
        events.enable_rule(Name=rule)


# --------------------------------------------------------------------------------------------- every retrier

ASL = json.loads((Path(__file__).parents[2] / "statemachines" / "training_pipeline.asl.json").read_text())
RETRIERS = [(name, i) for name, s in _tasks(ASL).items() for i in range(len(s.get("Retry", [])))]


def _main_path(definition: dict[str, Any]) -> set[str]:
    """States reached without a Catch (Next, Choices, Default): the rest is the failure path."""
    seen: set[str] = set()
    todo = [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = definition["States"][name]
        todo += [n for n in [state.get("Next"), state.get("Default")] if n]
        todo += [c["Next"] for c in state.get("Choices", [])]
    return seen


def _max_wait(retrier: dict[str, Any], attempt: int) -> float:
    wait = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempt
    return min(wait, retrier.get("MaxDelaySeconds", wait))


def test_the_suite_covers_every_retrier_of_the_deployed_definition(definition: dict[str, Any]) -> None:
    assert {n: s.get("Retry") for n, s in _tasks(definition).items()} == {
        n: s.get("Retry") for n, s in _tasks(ASL).items()
    }
    assert all(s.get("Catch") for s in _tasks(definition).values()), "a Task without a Catch"


@pytest.mark.parametrize("outcome", ["recovers", "exhausts"])
@pytest.mark.parametrize(("state", "index"), RETRIERS, ids=[f"{n}-{i}" for n, i in RETRIERS])
def test_every_retrier_recovers_and_is_caught_when_exhausted(
    trainops_cloud: Any,
    definition: dict[str, Any],
    real_run: dict[str, Any],
    waits: sfn_mocks.RetryWaits,
    state: str,
    index: int,
    outcome: str,
) -> None:
    app = trainops_cloud
    retrier = definition["States"][state]["Retry"][index]
    names, attempts = retrier["ErrorEquals"], retrier.get("MaxAttempts", 3)
    # Given the state fails with the retrier's errors (each of its names in turn) on every allowed retry
    responses = {str(i): _throw(names[i % len(names)]) for i in range(attempts)}
    last = names[(attempts - 1) % len(names)]
    if outcome == "exhausts":  # ... and once more
        last = names[attempts % len(names)]
        responses[str(attempts)] = _throw(last)
    else:
        result = real_run["results"].get(state, real_run["results"]["StartTraining"])
        if state in AUTOML_RESULTS:
            result = {**AUTOML_RESULTS[state], "result": real_run["results"]["StartTraining"]}
        if state == "RecordFailure":
            result = {"run_id": "x", "status": "FAILED", "error": "DatasetError", "cause": "fault suite"}
        responses[str(attempts)] = _ok(definition, state, result)
    mocked = {state: responses}
    failure_path = state not in _main_path(definition)
    if failure_path:  # reached only after a failure: SelectAlgorithm fails first, with an error nobody retries
        mocked["SelectAlgorithm"] = {"0": _throw("DatasetError")}
    autopilot = state in AUTOML_RESULTS
    desc, run_id = run_mocked(app, definition, real_run, mocked, tune=state == "StartTuning", autopilot=autopilot)
    # Then the state was tried 1 + MaxAttempts times, after waits that follow the retrier's backoff
    failures = [e for e in _failed_attempts(app, desc["executionArn"]) if e != "DatasetError"]
    assert len(failures) == attempts + (outcome == "exhausts"), failures
    assert len(waits.waits) == attempts
    for i, wait in enumerate(waits.waits):
        if retrier.get("JitterStrategy") == "FULL":
            assert 0 <= wait <= _max_wait(retrier, i)
        else:
            assert wait == pytest.approx(_max_wait(retrier, i))
    states = _states(app, desc["executionArn"])
    assert desc["status"] in ("SUCCEEDED", "FAILED"), desc
    if outcome == "recovers":
        assert states[states.index(state) + 1] == definition["States"][state]["Next"]
        assert desc["status"] == ("FAILED" if failure_path else "SUCCEEDED"), desc
        return
    # When exhausted, the state's Catch takes over
    (catch,) = [c for c in definition["States"][state]["Catch"] if "States.ALL" in c["ErrorEquals"]]
    assert states[states.index(state) + 1] == catch["Next"]
    if catch["Next"] == "RecordFailure":  # ... and RecordFailure (real) records the last error
        run_failed = definition["States"]["RunFailed"]
        assert desc["status"] == "FAILED" and desc["error"] == run_failed.get("Error", last)
        record = _record(app, run_id)
        assert record is not None
        assert (record["status"], record["error"]) == ("FAILED", last)
        assert record["cause"] == f"fault suite: {last}"


def test_every_lambda_service_error_is_retried_on_every_task(
    trainops_cloud: Any, definition: dict[str, Any], real_run: dict[str, Any]
) -> None:
    # the Lambda retrier of each task lists the same five errors (the matrix above throws each in turn)
    for state in _tasks(definition).values():
        assert state["Retry"][0]["ErrorEquals"] == LAMBDA_ERRORS


def test_a_failed_tuning_job_ends_as_no_model(
    trainops_cloud: Any, definition: dict[str, Any], real_run: dict[str, Any]
) -> None:
    app = trainops_cloud
    desc, run_id = run_mocked(app, definition, real_run, {"StartTuning": {"0": _throw("TuningJobFailed")}}, tune=True)
    assert desc["status"] == "FAILED"
    assert desc["error"] == definition["States"]["NoModel"].get("Error", "TuningJobFailed")
    assert _states(app, desc["executionArn"])[-1] == "NoModel"
    assert _failed_attempts(app, desc["executionArn"]) == ["TuningJobFailed"]  # never retried
    record = _record(app, run_id)
    assert record is not None and (record["status"], record["error"]) == ("NO_MODEL", "TuningJobFailed")


# --------------------------------------------------------------------------------------------- real handlers


def test_throttled_create_training_job_is_retried_and_the_run_registers(trainops_cloud: Any, waits: Any) -> None:
    app = trainops_cloud
    calls: list[int] = []

    def throttle_twice(_: Any) -> dict[str, Any] | None:
        calls.append(1)
        return {"Code": "ThrottlingException", "Message": "Rate exceeded"} if len(calls) <= 2 else None

    with aws_answers("sagemaker", "CreateTrainingJob", throttle_twice):
        summary = app.run("fault-throttled", DATA, None, timeout=120)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert _failed_attempts(app, summary.execution_arn) == ["AwsThrottled", "AwsThrottled"]
    assert len(waits.waits) == 2 and all(0 <= w <= 10 for w in waits.waits)
    assert _record(app, summary.run_id)["status"] == "SUCCEEDED"


def test_quota_exceeded_is_retried_three_times_then_recorded(trainops_cloud: Any, waits: Any) -> None:
    app = trainops_cloud
    quota = {"Code": "ResourceLimitExceeded", "Message": "The account-level service limit 'ml.m5.large for training'"}
    with aws_answers("sagemaker", "CreateTrainingJob", lambda _: dict(quota)):
        summary = app.run("fault-quota", DATA, None, timeout=120)
    assert _caught_at(app, summary.execution_arn) == "StartTraining"
    record = _assert_recorded_failure(app, summary, "QuotaExceeded")
    assert "quota increase" in record["cause"] and "ml.m5.large" in record["cause"]
    assert _failed_attempts(app, summary.execution_arn) == ["QuotaExceeded"] * 4
    assert waits.waits == [300, 600, 1200]  # no jitter: 5, 10 and 20 minutes


def test_registry_busy_waits_for_the_other_run_and_then_registers(trainops_cloud: Any, waits: Any) -> None:
    from trainops.ledger import Ledger

    app = trainops_cloud
    ledger = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))
    assert ledger.acquire_lock("fault-busy", "another-run")

    def other_run_finishes(_: float) -> None:
        if len(waits.waits) == 3:
            ledger.release_lock("fault-busy", "another-run")

    waits.on_wait = other_run_finishes
    summary = app.run("fault-busy", DATA, None, timeout=120)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert _failed_attempts(app, summary.execution_arn) == ["RegistryBusy"] * 3
    assert all(0 <= w <= 30 for w in waits.waits)
    assert _record(app, summary.run_id)["status"] == "SUCCEEDED"


def test_a_failed_training_job_is_recorded_with_sagemakers_reason(trainops_cloud: Any, tmp_path: Any) -> None:
    app = trainops_cloud
    config = _config(
        tmp_path,
        "fault-job-failed",
        """algorithm:
  name: container
  image_uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/trainops-crasher:1
  local_command: [python3, -c, "import sys; sys.exit('fault suite: CUDA out of memory')"]
  metric_definitions: [{name: "validation:auc", regex: "validation:auc=([0-9.]+)"}]
problem: {type: binary, objective_metric: validation:auc, objective_direction: Maximize}
""",
    )
    summary = app.run("fault-job-failed", DATA, config, timeout=120)
    record = _assert_recorded_failure(app, summary, "TrainingJobFailed")
    assert "ended Failed" in record["cause"]
    assert _failed_attempts(app, summary.execution_arn) == ["TrainingJobFailed"]  # a job outcome: not retried


def test_the_reconciler_answers_lost_events_even_while_a_job_create_failed_recently(trainops_cloud: Any) -> None:
    """A token stored before a CreateTrainingJob that then failed (quota, throttling) has no job for an hour;
    the reconciler used to fail on it, so no other run's lost event was answered in that hour."""
    from trainops.ledger import Ledger

    app = trainops_cloud
    Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb")).store_token(
        "fault-never-created", "training", "token-of-a-failed-create", "fault-never-created-run"
    )
    with job_events_lost(app):
        known = app._executions()
        arn = app.find_execution(app.upload_data("fault-orphan", DATA), known)
        _reconcile_until_done(app, arn)
    summary = app.follow(arn, "fault-orphan", timeout=30)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)


def test_a_stopped_training_job_is_recorded_as_stopped(trainops_cloud: Any, tmp_path: Any) -> None:
    app = trainops_cloud
    config = _sleeper(tmp_path, "fault-stopped", seconds=60)
    app.upload_config("fault-stopped", config)
    app.cloud.wait_idle(30)
    known = app._executions()
    arn = app.find_execution(app.upload_data("fault-stopped", DATA), known)
    sm = app.cloud.client("sagemaker")
    deadline = time.monotonic() + 30
    job = None
    while job is None and time.monotonic() < deadline:
        jobs = [j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]]
        job = next((j for j in jobs if "fault-stopped" in j), None)
        time.sleep(0.1)
    assert job, "no training job started"
    # When someone stops the job (console, CLI)
    sm.stop_training_job(TrainingJobName=job)
    summary = app.follow(arn, "fault-stopped", timeout=60)
    record = _assert_recorded_failure(app, summary, "TrainingJobFailed")
    assert "ended Stopped" in record["cause"]


def test_max_runtime_stops_the_job_and_the_run_says_so(trainops_cloud: Any, tmp_path: Any) -> None:
    app = trainops_cloud
    config = _sleeper(tmp_path, "fault-max-runtime", seconds=60, max_runtime=1)
    summary = app.run("fault-max-runtime", DATA, config, timeout=60)
    record = _assert_recorded_failure(app, summary, "TrainingJobFailed")
    assert "ended Stopped" in record["cause"] and "MaxRuntimeInSeconds" in record["cause"]


def test_a_lost_state_change_event_is_answered_by_the_reconciler(trainops_cloud: Any) -> None:
    app = trainops_cloud
    with job_events_lost(app):
        known = app._executions()
        arn = app.find_execution(app.upload_data("fault-lost-event", DATA), known)
        time.sleep(0.5)
        assert app.cloud.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
        _reconcile_until_done(app, arn)
    summary = app.follow(arn, "fault-lost-event", timeout=30)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert _record(app, summary.run_id)["status"] == "SUCCEEDED"


def test_a_crashing_callback_lands_in_the_failed_callbacks_queue_and_the_reconciler_answers(
    trainops_cloud: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainops import callbacks

    app = trainops_cloud

    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("fault suite: the callback crashed")

    monkeypatch.setattr(callbacks, "handle_job_event", crash)
    known = app._executions()
    arn = app.find_execution(app.upload_data("fault-callback-crash", DATA), known)
    sqs = app.cloud.client("sqs")
    queue = app.cloud.stacks[app.stack_name].physical_id("FailedCallbacksQueue")
    url = queue if queue.startswith("http") else sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    deadline = time.monotonic() + 180  # a deadline, not a timing: the split's event comes after the upload's run starts
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        app.cloud.wait_idle(30)
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert messages, "no failed callback reached the FailedCallbacksQueue"
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # the first try and its 2 retries
    assert "the callback crashed" in json.dumps(record["responsePayload"])
    _reconcile_until_done(app, arn)
    summary = app.follow(arn, "fault-callback-crash", timeout=120)
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)


def test_an_object_deleted_mid_run_fails_with_a_dataset_error(trainops_cloud: Any) -> None:
    app = trainops_cloud
    s3 = app.cloud.client("s3")
    deleted: list[str] = []

    def delete_then_read(params: dict[str, Any]) -> None:
        # the object (every version) goes between NormalizeRequest and the first read of its bytes
        if not deleted and "/data/fault-deleted/" in str(params.get("url_path")):
            for v in s3.list_object_versions(Bucket=app.data_bucket, Prefix="data/fault-deleted/")["Versions"]:
                s3.delete_object(Bucket=app.data_bucket, Key=v["Key"], VersionId=v["VersionId"])
                deleted.append(v["Key"])
        return

    with aws_answers("s3", "GetObject", delete_then_read):
        summary = app.run("fault-deleted", DATA, None, timeout=60)
    assert deleted
    assert _caught_at(app, summary.execution_arn) == "SelectAlgorithm"
    record = _assert_recorded_failure(app, summary, "DatasetError")
    assert "breast_cancer.csv" in record["cause"] and "deleted" in record["cause"]


def test_access_denied_on_a_kms_encrypted_object_fails_with_access_denied(trainops_cloud: Any) -> None:
    app = trainops_cloud
    key_arn = app.cloud.client("kms").create_key(Description="a team's key the stack may not use")["KeyMetadata"]["Arn"]
    denied = {
        "Code": "AccessDenied",
        "Message": f"User: arn:aws:sts::123456789012:assumed-role/SelectAlgorithm is not authorized to perform: "
        f"kms:Decrypt on resource: {key_arn} because no identity-based policy allows the kms:Decrypt action",
        "HTTPStatusCode": 403,
    }
    key = "data/fault-kms/breast_cancer.csv"
    # moto does not enforce key policies: S3 answers as AWS does when the role may not use the object's key
    with aws_answers(
        "s3", "GetObject", lambda p: dict(denied) if "/data/fault-kms/" in str(p.get("url_path")) else None
    ):
        known = app._executions()
        app.cloud.client("s3").upload_file(
            str(DATA), app.data_bucket, key, ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}
        )
        summary = app.follow(app.find_execution(key, known), "fault-kms", timeout=60)
    assert _caught_at(app, summary.execution_arn) == "SelectAlgorithm"
    record = _assert_recorded_failure(app, summary, "AccessDenied")
    assert "kms:Decrypt" in record["cause"]


def _with_timeout(definition: dict[str, Any], state: str, seconds: int) -> dict[str, Any]:
    derived = json.loads(json.dumps(definition))
    derived["States"][state]["TimeoutSeconds"] = seconds
    return derived


def test_the_timeout_definition_differs_only_in_that_timeout(definition: dict[str, Any]) -> None:
    derived = _with_timeout(definition, "SplitDataset", 1)
    assert derived["States"].pop("SplitDataset") == {**definition["States"]["SplitDataset"], "TimeoutSeconds": 1}
    assert {**derived, "States": {**derived["States"], "SplitDataset": definition["States"]["SplitDataset"]}} == (
        definition
    )


def test_a_task_that_times_out_is_caught_and_recorded(trainops_cloud: Any, definition: dict[str, Any]) -> None:
    app = trainops_cloud
    sfn = app.cloud.client("stepfunctions")
    # Given SplitDataset may wait 1 s (not 7500) and the job's events do not arrive
    sfn.update_state_machine(
        stateMachineArn=app.state_machine_arn, definition=json.dumps(_with_timeout(definition, "SplitDataset", 1))
    )
    try:
        with job_events_lost(app):
            known = app._executions()
            arn = app.find_execution(app.upload_data("fault-timeout", DATA), known)
            sfn.update_state_machine(stateMachineArn=app.state_machine_arn, definition=json.dumps(definition))
            summary = app.follow(arn, "fault-timeout", timeout=30)  # an execution keeps the definition it started with
    finally:
        sfn.update_state_machine(stateMachineArn=app.state_machine_arn, definition=json.dumps(definition))
    assert _caught_at(app, summary.execution_arn) == "SplitDataset"
    _assert_recorded_failure(app, summary, "States.Timeout")
    # and the reconciler, answering the closed task later, changes nothing
    _reconcile_until_done(app, arn, timeout=5)
    app.cloud.fire_schedule_rule(app.cloud.stacks[app.stack_name].physical_id("ReconcileJobsFunctionEvery15Minutes"))
    app.cloud.wait_idle(30)
    assert _record(app, summary.run_id)["error"] == "States.Timeout"
    tokens = app.cloud.client("dynamodb").scan(TableName=app.outputs["RunsTableName"])["Items"]
    waiting = [t for t in tokens if t["sk"]["S"] == "TOKEN" and "fault-timeout" in t["pk"]["S"]]
    assert waiting and all(t["status"]["S"] != "WAITING" for t in waiting)


def test_a_run_that_fails_at_the_first_state_after_taking_the_slot_frees_it(trainops_cloud: Any) -> None:
    from trainops.ledger import Ledger

    app = trainops_cloud

    def deny_the_run_record(params: dict[str, Any]) -> dict[str, Any] | None:
        # NormalizeRequest has taken the project's slot; writing the run record right after is denied
        item = json.loads(params.get("body") or b"{}").get("Item", {})
        if str(item.get("pk", {}).get("S", "")).startswith("RUN#"):
            return {"Code": "AccessDeniedException", "Message": "fault suite: denied"}
        return None

    with aws_answers("dynamodb", "PutItem", deny_the_run_record):
        summary = app.run("fault-first-state", DATA, None, timeout=60)
    assert summary.status == "FAILED", (summary.status, summary.error, summary.cause)
    assert _caught_at(app, summary.execution_arn) == "NormalizeRequest"
    # the slot it took is freed by its own end (FinishFailedRun), not 15 minutes later by the reconciler
    assert Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb")).get_slot("fault-first-state") is None
    name = summary.execution_arn.rsplit(":", 1)[1]
    record = _record(app, name)
    assert record is not None and record["status"] == "FAILED"
    # in the project's history (the by-project index `trainops` lists), under the execution's name
    ledger = Ledger(app.outputs["RunsTableName"], app.cloud.client("dynamodb"))
    assert name in [r["run_id"] for r in ledger.project_runs("fault-first-state")]
