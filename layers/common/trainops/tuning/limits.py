"""AWS limits of a hyperparameter tuning job (the SageMaker API reference; botocore's service model wins where
they differ), and the constants the tuning modules share."""

from __future__ import annotations

from trainops.naming import RESOURCE_PREFIX

# --- AWS limits (the SageMaker API reference; botocore's service model wins where they differ) -------
MAX_TUNING_JOB_NAME = 32
# what is left of a tuning job name for the project: 32 - len("trainops-") - len("-<8 hex>")
MAX_TUNING_PROJECT_PART = MAX_TUNING_JOB_NAME - len(RESOURCE_PREFIX) - 9
MAX_RANGES = 30
MAX_CATEGORICAL_VALUES = 30
MAX_HYPERPARAMETERS = 100
MAX_METRIC_DEFINITIONS = 20
MAX_WARM_START_PARENTS = 5
MAX_TRAINING_JOBS = 750
MAX_TRAINING_JOBS_RANDOM = 10_000
MAX_PARALLEL_JOBS = 100
MAX_HYPERPARAMETER_VALUE = 2500
TERMINAL_TUNING_STATUSES = frozenset({"Completed", "Stopped", "Failed"})
TUNING_OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
# How many of the project's most recent terminal tuning jobs auto warm start looks at (one Describe each).
WARM_START_LOOKBACK = 20
