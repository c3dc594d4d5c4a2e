"""SageMaker hyperparameter tuning: request builder, job naming, warm start and outcome reading.

Pure functions build the ``CreateHyperParameterTuningJob`` request from the training request the planner
built (``plan_training_request``, a full ``CreateTrainingJob`` request) and the ``tuning:`` section of the
project config. The two adapters the handlers call take an injected SageMaker client:

* :func:`start_tuning` names the job, picks warm-start parents and creates the job
  (a retried create with the same deterministic name adopts the running job);
* :func:`read_tuning_outcome` reads ``BestTrainingJob`` once the state-change event arrived, or raises
  :class:`~trainops.errors.NoModelProduced` with the reason when no training job completed.

The package's modules: ``limits`` (AWS's), ``names``, ``objective``, ``request`` (pure), ``warm_start`` (pure
decisions), ``aws`` (the Describe/List reads and their errors), ``jobs`` (the two adapters). ``from trainops.tuning
import X`` keeps working for every public name. Shipped in the Lambda layer: boto3, pydantic and the standard
library only.
"""

from trainops.tuning.jobs import failure_cause, read_tuning_outcome, start_tuning
from trainops.tuning.limits import (
    MAX_CATEGORICAL_VALUES,
    MAX_HYPERPARAMETER_VALUE,
    MAX_HYPERPARAMETERS,
    MAX_METRIC_DEFINITIONS,
    MAX_PARALLEL_JOBS,
    MAX_RANGES,
    MAX_TRAINING_JOBS,
    MAX_TRAINING_JOBS_RANDOM,
    MAX_TUNING_JOB_NAME,
    MAX_TUNING_PROJECT_PART,
    MAX_WARM_START_PARENTS,
    TERMINAL_TUNING_STATUSES,
    TUNING_OBJECTIVE_HYPERPARAMETER,
    WARM_START_LOOKBACK,
)
from trainops.tuning.names import is_project_tuning_job, project_job_prefix, tuning_job_name
from trainops.tuning.objective import ResolvedObjective, resolve_objective
from trainops.tuning.request import (
    ALGORITHM_SPEC_MEMBERS,
    DEFINITION_MEMBERS,
    build_tuning_request,
    grid_size,
    parameter_ranges,
    training_job_definition,
    tuning_job_config,
    tuning_tags,
)
from trainops.tuning.warm_start import (
    WarmStartChoice,
    choose_warm_start,
    job_hyperparameter_names,
    parent_ineligibility,
    select_parents,
    warm_start_type,
)

__all__ = [
    "ALGORITHM_SPEC_MEMBERS",
    "DEFINITION_MEMBERS",
    "MAX_CATEGORICAL_VALUES",
    "MAX_HYPERPARAMETERS",
    "MAX_HYPERPARAMETER_VALUE",
    "MAX_METRIC_DEFINITIONS",
    "MAX_PARALLEL_JOBS",
    "MAX_RANGES",
    "MAX_TRAINING_JOBS",
    "MAX_TRAINING_JOBS_RANDOM",
    "MAX_TUNING_JOB_NAME",
    "MAX_TUNING_PROJECT_PART",
    "MAX_WARM_START_PARENTS",
    "TERMINAL_TUNING_STATUSES",
    "TUNING_OBJECTIVE_HYPERPARAMETER",
    "WARM_START_LOOKBACK",
    "ResolvedObjective",
    "WarmStartChoice",
    "build_tuning_request",
    "choose_warm_start",
    "failure_cause",
    "grid_size",
    "is_project_tuning_job",
    "job_hyperparameter_names",
    "parameter_ranges",
    "parent_ineligibility",
    "project_job_prefix",
    "read_tuning_outcome",
    "resolve_objective",
    "select_parents",
    "start_tuning",
    "training_job_definition",
    "tuning_job_config",
    "tuning_job_name",
    "tuning_tags",
    "warm_start_type",
]
