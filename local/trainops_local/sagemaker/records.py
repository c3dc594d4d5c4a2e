"""The local SageMaker's job state: moto's training/processing job records, the requests they came from, and
the handle of each job running in the background."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from trainops_local.sagemaker.types import ProcessingOutcome, TrainingOutcome, utcnow

# CreateTrainingJob request member -> moto backend keyword.
TRAINING_KWARGS = {
    "training_job_name": "TrainingJobName",
    "hyper_parameters": "HyperParameters",
    "algorithm_specification": "AlgorithmSpecification",
    "role_arn": "RoleArn",
    "input_data_config": "InputDataConfig",
    "output_data_config": "OutputDataConfig",
    "resource_config": "ResourceConfig",
    "vpc_config": "VpcConfig",
    "stopping_condition": "StoppingCondition",
    "tags": "Tags",
    "enable_network_isolation": "EnableNetworkIsolation",
    "enable_inter_container_traffic_encryption": "EnableInterContainerTrafficEncryption",
    "enable_managed_spot_training": "EnableManagedSpotTraining",
    "checkpoint_config": "CheckpointConfig",
    "debug_hook_config": "DebugHookConfig",
    "debug_rule_configurations": "DebugRuleConfigurations",
    "tensor_board_output_config": "TensorBoardOutputConfig",
    "experiment_config": "ExperimentConfig",
}
PROCESSING_KWARGS = {
    "app_specification": "AppSpecification",
    "experiment_config": "ExperimentConfig",
    "network_config": "NetworkConfig",
    "processing_inputs": "ProcessingInputs",
    "processing_job_name": "ProcessingJobName",
    "processing_output_config": "ProcessingOutputConfig",
    "role_arn": "RoleArn",
    "tags": "Tags",
    "stopping_condition": "StoppingCondition",
}
BOOL_KWARGS = {
    "enable_network_isolation",
    "enable_inter_container_traffic_encryption",
    "enable_managed_spot_training",
}


def request_from_kwargs(mapping: dict[str, str], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The API request of moto's backend keywords ``kwargs`` (members left out when None)."""
    return {mapping[k]: v for k, v in kwargs.items() if k in mapping and v is not None}


def kwargs_from_request(mapping: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
    """moto's backend keywords of the API ``request`` (copies; the boolean flags as bools)."""
    out = {k: copy.deepcopy(request.get(member)) for k, member in mapping.items()}
    for k in BOOL_KWARGS & out.keys():
        out[k] = bool(out[k])
    return out


@dataclass
class JobHandle:
    """A local job running (or queued) in the background."""

    name: str
    arn: str
    kind: str  # training | processing
    record: Any  # moto's FakeTrainingJob / FakeProcessingJob
    stop_event: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    outcome: TrainingOutcome | ProcessingOutcome | None = None
    future: Future[None] | None = None

    @property
    def status(self) -> str:
        """The job's current TrainingJobStatus / ProcessingJobStatus."""
        attr = "training_job_status" if self.kind == "training" else "processing_job_status"
        return str(getattr(self.record, attr))

    def wait(self, timeout: float) -> TrainingOutcome | ProcessingOutcome:
        """Block until the job ends; raises TimeoutError after ``timeout`` seconds."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"{self.kind} job {self.name} still {self.status} after {timeout} s")
        assert self.outcome is not None
        return self.outcome

    def stop(self) -> None:
        """Ask the job to stop (as StopTrainingJob / StopProcessingJob do)."""
        self.stop_event.set()


def reset_training_record(record: Any, request: dict[str, Any], tuning_job_arn: str | None) -> None:
    """Undo moto's instant completion: InProgress, no fake metrics, MetricDefinitions as sent."""
    now = utcnow()
    record.algorithm_specification = copy.deepcopy(request.get("AlgorithmSpecification") or {})
    record.training_job_status = "InProgress"
    record.secondary_status = "Starting"
    record.secondary_status_transitions = [
        {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}
    ]
    record.final_metric_data_list = None
    record.model_artifacts = None
    record.training_start_time = None
    record.training_end_time = None
    record.failure_reason = None
    record.training_time_in_seconds = None
    record.billable_time_in_seconds = None
    record.environment = request.get("Environment")
    record.tuning_job_arn = tuning_job_arn
    record.creation_time = record.last_modified_time = now


def apply_training_outcome(record: Any, outcome: TrainingOutcome) -> None:
    record.training_job_status = outcome.status
    record.secondary_status = outcome.secondary_status
    if outcome.transitions:
        record.secondary_status_transitions = [t.to_api() for t in outcome.transitions]
    record.failure_reason = outcome.failure_reason
    record.final_metric_data_list = outcome.final_metric_data_list() or None
    record.model_artifacts = {"S3ModelArtifacts": outcome.model_artifact} if outcome.model_artifact else None
    record.training_start_time = record.training_start_time or outcome.start_time
    record.training_end_time = outcome.end_time
    record.training_time_in_seconds = outcome.training_time_seconds
    record.billable_time_in_seconds = (
        outcome.training_time_seconds if outcome.billable_time_seconds is None else outcome.billable_time_seconds
    )
    record.last_modified_time = outcome.end_time
