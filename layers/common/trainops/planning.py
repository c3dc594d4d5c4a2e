"""Select the algorithm and everything that follows from it: image, input mode, objective, hyperparameters.

Whatever the config leaves out is inferred, and each inference is recorded with its reason.
"""

from __future__ import annotations

import json
from typing import Any

from trainops.catalog import AlgorithmSpec, default_input_mode, image_uri, spec_for
from trainops.config import AlgorithmName, InputMode, ProblemType, ProjectConfig
from trainops.errors import AlgorithmNotSupported, ConfigInvalid
from trainops.inference import Sample, infer_problem, read_sample
from trainops.models import Inference, RunRequest, TrainingPlan

XGB_OBJECTIVES = {
    ProblemType.BINARY: "binary:logistic",
    ProblemType.MULTICLASS: "multi:softprob",
    ProblemType.REGRESSION: "reg:squarederror",
}
LL_PREDICTOR = {
    ProblemType.BINARY: "binary_classifier",
    ProblemType.MULTICLASS: "multiclass_classifier",
    ProblemType.REGRESSION: "regressor",
}
FRAMEWORK_IMAGE_KEY = {
    "sklearn": "sklearn",
    "pytorch": "pytorch",
    "tensorflow": "tensorflow",
    "xgboost": "xgboost-framework",
}


def plan_training(request: RunRequest, config: ProjectConfig, *, region: str, s3: Any) -> TrainingPlan:
    algo = config.algorithm
    spec = spec_for(algo.name)
    if algo.name == AlgorithmName.AUTOPILOT:
        raise AlgorithmNotSupported(
            "Autopilot runs are not part of the training pipeline yet",
            field="algorithm.name",
            fix="use xgboost, linear-learner, script or container",
        )
    if config.resources.distribution != "none" and algo.name != AlgorithmName.SCRIPT:
        raise AlgorithmNotSupported(
            f"resources.distribution {config.resources.distribution} needs script mode (the SageMaker distributed "
            f"libraries run inside the PyTorch/TensorFlow framework containers)",
            field="resources.distribution",
            fix="use algorithm.name: script with framework pytorch or tensorflow, or set distribution: none",
        )
    if config.resources.distribution != "none" and algo.framework not in ("pytorch", "tensorflow"):
        raise AlgorithmNotSupported(
            f"resources.distribution {config.resources.distribution} is not available for framework {algo.framework}",
            field="algorithm.framework",
            fix="use framework pytorch or tensorflow for data or model parallel training",
        )
    content_type = config.data.content_type
    if content_type not in spec.content_types:
        raise AlgorithmNotSupported(
            f"{algo.name} does not read {content_type}",
            field="data.content_type",
            fix=f"use one of {', '.join(spec.content_types)}",
        )
    input_mode = config.data.input_mode or default_input_mode(spec, content_type)
    if input_mode == InputMode.PIPE and content_type not in spec.pipe_content_types:
        raise AlgorithmNotSupported(
            f"{algo.name} cannot read {content_type} in Pipe mode",
            field="data.input_mode",
            fix="use File or FastFile (or leave input_mode out to get the best supported mode)",
        )
    inferred: list[Inference] = []
    if config.data.input_mode is None:
        why = "supported for this algorithm and content type" if input_mode == InputMode.PIPE else "Pipe unsupported"
        inferred.append(Inference(field="data.input_mode", value=input_mode.value, reason=why))

    sample = read_sample(request.dataset, s3, content_type=content_type, compression=config.data.compression)
    problem, num_classes = _problem(config, sample, inferred)
    objective, direction = _objective(config, spec, problem, inferred)
    image, version = _image(config, spec, region)
    hyperparameters = _hyperparameters(config, problem, num_classes, objective, sample)
    return TrainingPlan(
        algorithm=algo.name.value,
        image=image,
        version=version,
        problem_type=problem.value if problem else None,
        objective_metric=objective,
        objective_direction=direction,
        content_type=content_type,
        input_mode=input_mode.value,
        hyperparameters=hyperparameters,
        metric_definitions=[m.model_dump() for m in algo.metric_definitions],
        inferred=inferred,
        needs_split=not request.dataset.has_validation,
        tune=config.tuning is not None,
        sample={"uri": sample.uri, "rows": sample.rows, "columns": sample.columns, "truncated": sample.truncated},
    )


def _problem(config: ProjectConfig, sample: Sample, inferred: list[Inference]) -> tuple[ProblemType, int | None]:
    guessed, classes, why = infer_problem(sample)
    if config.problem.type is not None:
        problem = config.problem.type
        classes = config.problem.num_classes or (classes if problem == guessed else None)
        if problem == ProblemType.BINARY and guessed not in (ProblemType.BINARY,):
            raise ConfigInvalid(
                f"problem.type is binary but {why}",
                field="problem.type",
                fix="encode the label as 0/1, or set problem.type to multiclass or regression",
            )
        if problem == ProblemType.MULTICLASS and classes is None:
            raise ConfigInvalid(
                f"problem.type is multiclass but {why}",
                field="problem.num_classes",
                fix="labels must be 0..k-1; set problem.num_classes",
            )
        return problem, classes
    inferred.append(Inference(field="problem.type", value=guessed.value, reason=why))
    return guessed, classes


def _objective(
    config: ProjectConfig, spec: AlgorithmSpec, problem: ProblemType, inferred: list[Inference]
) -> tuple[str, str]:
    metric = config.problem.objective_metric or (config.tuning.objective.metric if config.tuning else None)
    tuning_direction = config.tuning.objective.direction if config.tuning else None
    direction: str | None = config.problem.objective_direction or tuning_direction
    defined = {m.name for m in config.algorithm.metric_definitions}
    if metric is None:
        if spec.objectives:
            default = spec.objectives[problem]
            metric, direction = default.metric, direction or default.direction
            inferred.append(
                Inference(
                    field="problem.objective_metric",
                    value=f"{metric} ({direction})",
                    reason=f"the {spec.name.value} default for {problem.value} problems",
                )
            )
        elif config.algorithm.metric_definitions:
            chosen = next((m for m in config.algorithm.metric_definitions if "valid" in m.name), None)
            chosen = chosen or config.algorithm.metric_definitions[0]
            metric = chosen.name
            direction = direction or _guess_direction(metric)
            inferred.append(
                Inference(
                    field="problem.objective_metric",
                    value=f"{metric} ({direction})",
                    reason="the first validation metric among algorithm.metric_definitions",
                )
            )
        else:
            raise ConfigInvalid(
                f"{spec.name.value} reports no known metrics, so the objective cannot be inferred",
                field="algorithm.metric_definitions",
                fix="add metric_definitions (name + regex) and set problem.objective_metric",
            )
    elif spec.metrics and metric not in spec.metrics:
        raise ConfigInvalid(
            f"{spec.name.value} does not emit the metric {metric!r}",
            field="problem.objective_metric",
            fix=f"use one of {', '.join(sorted(m for m in spec.metrics if m.startswith('validation:')))}",
        )
    elif not spec.metrics and metric not in defined:
        raise ConfigInvalid(
            f"objective metric {metric!r} is not among algorithm.metric_definitions",
            field="problem.objective_metric",
            fix="add a metric definition with that name and a regex that captures its value",
        )
    if direction is None:
        direction = spec.metrics.get(metric) or _guess_direction(metric)
        inferred.append(
            Inference(field="problem.objective_direction", value=direction, reason=f"{metric} is a {direction} metric")
        )
    return metric, direction


def _guess_direction(metric: str) -> str:
    lowered = metric.lower()
    minimize = ("loss", "error", "rmse", "mse", "mae", "logloss")
    return "Minimize" if any(word in lowered for word in minimize) else "Maximize"


def _image(config: ProjectConfig, spec: AlgorithmSpec, region: str) -> tuple[str | None, str | None]:
    algo = config.algorithm
    if algo.name == AlgorithmName.CONTAINER:
        return algo.image_uri, None
    if algo.name == AlgorithmName.SCRIPT:
        assert algo.framework is not None
        key = FRAMEWORK_IMAGE_KEY[algo.framework]
        return image_uri(key, region, algo.framework_version), algo.framework_version
    assert spec.image_key is not None
    image = image_uri(spec.image_key, region, algo.version)
    return image, image.rsplit(":", 1)[1]


def _hyperparameters(
    config: ProjectConfig,
    problem: ProblemType,
    num_classes: int | None,
    objective: str,
    sample: Sample,
) -> dict[str, str]:
    algo = config.algorithm
    user = {k: _hp_str(v) for k, v in algo.hyperparameters.items()}
    if algo.name == AlgorithmName.XGBOOST:
        base = {"num_round": "100", "objective": XGB_OBJECTIVES[problem]}
        if objective.startswith(("validation:", "train:")):
            base["eval_metric"] = objective.split(":", 1)[1]
        if problem == ProblemType.MULTICLASS and num_classes:
            base["num_class"] = str(num_classes)
        return {**base, **user}
    if algo.name == AlgorithmName.LINEAR_LEARNER:
        base = {"predictor_type": LL_PREDICTOR[problem], "epochs": "15", "mini_batch_size": "100"}
        if sample.columns:
            base["feature_dim"] = str(sample.columns - 1)
        if problem == ProblemType.MULTICLASS and num_classes:
            base["num_classes"] = str(num_classes)
        return {**base, **user}
    if algo.name == AlgorithmName.SCRIPT:
        # Framework containers JSON-decode every hyperparameter (as the SageMaker Python SDK encodes them).
        encoded = {k: json.dumps(v) for k, v in algo.hyperparameters.items()}
        encoded.update(
            {
                "sagemaker_program": json.dumps(algo.entry_point),
                "sagemaker_submit_directory": json.dumps(algo.source_dir),
                "sagemaker_container_log_level": "20",
            }
        )
        if config.resources.distribution == "data_parallel":
            encoded["sagemaker_distributed_dataparallel_enabled"] = "true"
            encoded["sagemaker_instance_type"] = json.dumps(config.resources.instance_type)
        elif config.resources.distribution == "model_parallel":
            encoded["sagemaker_mpi_enabled"] = "true"
            encoded["mp_parameters"] = json.dumps({"partitions": 2})
        return encoded
    return user


def _hp_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
