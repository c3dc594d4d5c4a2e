"""What a finished job hands to the next state."""

from __future__ import annotations

from trainops.callbacks import describe_job


class _SageMaker:
    def __init__(self, **fields):
        self.fields = fields

    def describe_processing_job(self, ProcessingJobName):
        return {"ProcessingJobArn": f"arn:aws:sagemaker:::processing-job/{ProcessingJobName}", **self.fields}


def test_a_failed_splits_diagnosis_comes_from_its_exit_message():
    # SageMaker's FailureReason for a failing container says only where to look; the split's own diagnosis
    # (file, line, what is wrong) is what it wrote to /opt/ml/output/message: the job's ExitMessage
    sm = _SageMaker(
        ProcessingJobStatus="Failed",
        FailureReason="AlgorithmError: See job logs for more information",
        ExitMessage="data/p/a.csv line 7 has 3 columns, line 1 has 4\n",
    )
    result = describe_job("processing", "p-split", sm)
    assert result.failure_reason == "data/p/a.csv line 7 has 3 columns, line 1 has 4"


def test_without_an_exit_message_the_failure_reason_is_kept():
    sm = _SageMaker(ProcessingJobStatus="Failed", FailureReason="InternalServerError: capacity")
    assert describe_job("processing", "p-split", sm).failure_reason == "InternalServerError: capacity"
    done = _SageMaker(ProcessingJobStatus="Completed", ExitMessage="split 569 rows")
    assert describe_job("processing", "p-split", done).failure_reason is None


def test_an_ignored_event_is_logged_with_the_reason(caplog):
    from trainops.callbacks import handle_job_event

    foreign = {"source": "aws.sagemaker", "detail-type": "SageMaker Endpoint State Change", "detail": {}}
    with caplog.at_level("INFO", logger="trainops.callbacks"):
        outcome = handle_job_event(foreign, ledger=None, sfn=None, sagemaker=None)
    assert outcome["action"] == "ignored"
    (record,) = [r for r in caplog.records if r.name == "trainops.callbacks"]
    assert "SageMaker Endpoint State Change" in record.getMessage()
    assert record.detail_type == "SageMaker Endpoint State Change"
