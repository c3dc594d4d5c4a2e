"""The three SageMaker job kinds trainops waits for, in one table: the state-change event that announces each,
the Describe call and fields that read it, and the error its failure is reported as.

Used by the callback (event -> waiting task), the reconciler (waiting task -> Describe) and the steps that
adopt a job that already ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["training", "processing", "tuning"]
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


@dataclass(frozen=True)
class JobKind:
    kind: Kind
    detail_type: str  # EventBridge detail-type of its state-change event
    describe: str  # the boto3 SageMaker client method
    name_field: str
    status_field: str
    failure_error: str  # the trainops.errors class name SendTaskFailure reports (the state machine's contract)


JOB_KINDS: dict[str, JobKind] = {
    k.kind: k
    for k in (
        JobKind(
            "training",
            "SageMaker Training Job State Change",
            "describe_training_job",
            "TrainingJobName",
            "TrainingJobStatus",
            "TrainingJobFailed",
        ),
        JobKind(
            "processing",
            "SageMaker Processing Job State Change",
            "describe_processing_job",
            "ProcessingJobName",
            "ProcessingJobStatus",
            "ProcessingJobFailed",
        ),
        JobKind(
            "tuning",
            "SageMaker HyperParameter Tuning Job State Change",
            "describe_hyper_parameter_tuning_job",
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobStatus",
            "TuningJobFailed",
        ),
    )
}
BY_DETAIL_TYPE: dict[str, JobKind] = {k.detail_type: k for k in JOB_KINDS.values()}
