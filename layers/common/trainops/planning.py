"""Select the algorithm and everything that follows from it: image, input mode, objective, hyperparameters.

Whatever the config leaves out is inferred, and each inference is recorded with its reason.
"""

from __future__ import annotations

import json
from typing import Any

from trainops import image_uris
from trainops.catalog import (
    FRAMEWORK_IMAGE_KEY,
    FRAMEWORK_OF_KEY,
    AlgorithmSpec,
    default_input_mode,
    image_uri,
    image_version,
    spec_for,
)
from trainops.config import AlgorithmName, InputMode, ProblemType, ProjectConfig
from trainops.errors import AlgorithmNotSupported, ConfigInvalid, DatasetError, require
from trainops.inference import Sample, distinct_labels, infer_problem, read_sample, scope
from trainops.models import Inference, RunRequest, TrainingPlan
from trainops.objective import configured as configured_objective
from trainops.objective import direction_of
from trainops.objective import for_own_code as objective_for_own_code
from trainops.support import distribution_hyperparameters, unsupported

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


BUILTIN_CHANNELS = ("train", "validation")


def plan_training(request: RunRequest, config: ProjectConfig, *, region: str, s3: Any) -> TrainingPlan:
    algo = config.algorithm
    refused = unsupported(config)  # the linter reports the same (CONF-E009) before the run starts
    if refused:
        raise refused[0].error()
    if algo.brings_own_code:
        return _plan_own_code(request, config, region)
    if algo.name == AlgorithmName.AUTO:
        return _plan_auto(request, config, region, s3)
    if algo.name == AlgorithmName.AUTOPILOT:
        from trainops.autopilot import plan_autopilot

        return plan_autopilot(request, config, s3)
    return _plan_builtin(request, config, spec_for(algo.name), region, s3)


# --- algorithm: auto ------------------------------------------------------------------------------------------
# The rules (docs/algorithms.md, "algorithm: auto"), first match wins. Autopilot is not among the choices: it needs
# a header CSV with a named target where the built-ins read label-first headerless CSV, and runs for hours.
SPARSE_ZERO_FRACTION = 0.9
SPARSE_MIN_FEATURES = 100


def choose_algorithm(
    config: ProjectConfig, sample: Sample, content_type: str, problem: str
) -> tuple[AlgorithmName, str]:
    """(XGBoost or Linear Learner, why) for this data and problem; ``problem`` names the problem type."""
    if content_type == "text/libsvm":
        return AlgorithmName.XGBOOST, "the data is text/libsvm, which only built-in XGBoost reads"
    if config.resources.spot:
        return (
            AlgorithmName.XGBOOST,
            "resources.spot is on and Linear Learner cannot resume from checkpoints after an interruption",
        )
    if sample.missing_cells:
        return (
            AlgorithmName.XGBOOST,
            f"{sample.missing_cells} empty feature cell(s) in {scope(sample)}: XGBoost handles missing values, "
            f"Linear Learner needs every cell",
        )
    features = (sample.columns or 1) - 1
    rows = sample.estimated_rows or sample.rows
    rows_text = f"{rows} rows" if sample.whole else f"about {rows} rows"
    if features >= rows:
        return (
            AlgorithmName.LINEAR_LEARNER,
            f"{features} features for {rows_text} ({problem}): more features than rows suits a regularized linear "
            f"model; trees would overfit",
        )
    if sample.zero_fraction >= SPARSE_ZERO_FRACTION and features >= SPARSE_MIN_FEATURES:
        return (
            AlgorithmName.LINEAR_LEARNER,
            f"{features} features, {sample.zero_fraction:.0%} of the sampled cells 0 ({problem}): wide sparse data "
            f"suits a linear model",
        )
    return (
        AlgorithmName.XGBOOST,
        f"dense tabular {problem} data ({features} features, {rows_text}, {sample.zero_fraction:.0%} zeros, no "
        f"missing values): gradient-boosted trees capture non-linear effects and interactions",
    )


def _plan_auto(request: RunRequest, config: ProjectConfig, region: str, s3: Any) -> TrainingPlan:
    content_type = config.data.content_type or "text/csv"
    if content_type not in spec_for(AlgorithmName.AUTO).content_types:
        raise AlgorithmNotSupported(
            f"no built-in algorithm reads {content_type}",
            field="data.content_type",
            fix=f"use one of {', '.join(spec_for(AlgorithmName.AUTO).content_types)}",
        )
    sample = read_sample(request.dataset, s3, content_type=content_type, compression=config.data.compression)
    guessed, _, _ = infer_problem(sample)
    problem = (config.problem.type or guessed).value
    chosen, why = choose_algorithm(config, sample, content_type, problem)
    resolved = config.model_copy(update={"algorithm": config.algorithm.model_copy(update={"name": chosen})})
    plan = _plan_builtin(request, resolved, spec_for(chosen), region, s3, sample=sample)
    plan.inferred.insert(0, Inference(field="algorithm.name", value=chosen.value, reason=why))
    return plan


def _plan_builtin(
    request: RunRequest,
    config: ProjectConfig,
    spec: AlgorithmSpec,
    region: str,
    s3: Any,
    *,
    sample: Sample | None = None,
) -> TrainingPlan:
    algo = config.algorithm
    content_type = config.data.content_type or "text/csv"
    if content_type not in spec.content_types:
        raise AlgorithmNotSupported(
            f"{algo.name} does not read {content_type}",
            field="data.content_type",
            fix=f"use one of {', '.join(spec.content_types)}",
        )
    if config.data.header:
        raise ConfigInvalid(
            f"built-in {algo.name.value} reads CSV without a header row",
            field="data.header",
            fix="remove the header row from the files and set data.header: false",
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
    needs_split = _needs_split(request, config, builtin=True)
    channels = _builtin_channels(request, config, needs_split, inferred)

    if sample is None:
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
        channels=channels,
        inference_image=image,
        hyperparameters=hyperparameters,
        metric_definitions=[m.model_dump() for m in algo.metric_definitions],
        inferred=inferred,
        needs_split=needs_split,
        tune=config.tuning is not None,
        sample={"uri": sample.uri, "rows": sample.rows, "columns": sample.columns, "truncated": sample.truncated},
    )


def _needs_split(request: RunRequest, config: ProjectConfig, *, builtin: bool) -> bool:
    """A validation split: always when asked; for built-in algorithms when the data has no validation part."""
    if config.data.split != "auto":
        return config.data.split == "always"
    return builtin and not request.dataset.has_validation


def dataset_channels(request: RunRequest) -> list[str]:
    """The dataset's channels as uploaded: its folders, or ``train`` for a single file or a folder of files."""
    return list(request.dataset.channels) or ["train"]


def _builtin_channels(
    request: RunRequest, config: ProjectConfig, needs_split: bool, inferred: list[Inference]
) -> list[str]:
    present = dataset_channels(request)
    channels = list(BUILTIN_CHANNELS) if needs_split else [c for c in BUILTIN_CHANNELS if c in present]
    if "train" not in channels:
        raise ConfigInvalid(
            f"the dataset {request.dataset.uri} has no train/ folder (its folders: {', '.join(present)})",
            field="dataset",
            fix="put the training data in a train/ folder (and validation data in validation/)",
        )
    ignored = [c for c in present if c not in BUILTIN_CHANNELS]
    if ignored:
        inferred.append(
            Inference(
                field="data.channels",
                value=", ".join(channels),
                reason=f"built-in {config.algorithm.name.value} reads train and validation; the folders "
                f"{', '.join(ignored)} are not passed to it",
            )
        )
    return channels


def _plan_own_code(request: RunRequest, config: ProjectConfig, region: str) -> TrainingPlan:
    """Script mode and containers: the code reads the channels as uploaded; nothing is inferred from the data."""
    algo = config.algorithm
    inferred: list[Inference] = []
    input_mode = config.data.input_mode or InputMode.FILE
    if config.data.input_mode is None:
        inferred.append(
            Inference(
                field="data.input_mode",
                value=input_mode.value,
                reason="script mode and containers read their channel folders (the SageMaker SDK's default); "
                "Pipe and FastFile are opt-in",
            )
        )
    needs_split = _needs_split(request, config, builtin=False)
    present = dataset_channels(request)
    channels = present
    if needs_split:
        if "train" not in present:
            raise ConfigInvalid(
                f"data.split: always splits the train channel, and {request.dataset.uri} has none "
                f"(its channels: {', '.join(present)})",
                field="data.split",
                fix="put the data to split in a train/ folder, or set data.split: auto",
            )
        channels = ["train", "validation", *[c for c in present if c not in BUILTIN_CHANNELS]]
    unknown = sorted(set(config.data.channels) - set(channels))
    if unknown:
        raise ConfigInvalid(
            f"data.channels configures {', '.join(unknown)}, but the dataset's channels are {', '.join(channels)}",
            field=f"data.channels.{unknown[0]}",
            fix="name the dataset's folders (a single uploaded file is the train channel)",
        )
    problem = config.problem.type
    resolved = objective_for_own_code(config)
    inferred += [Inference(field=f, value=v, reason=r) for f, v, r in resolved.notes]
    objective, direction = resolved.metric, resolved.direction
    image, version, inference_image, environment = _own_code_images(config, region)
    return TrainingPlan(
        algorithm=algo.name.value,
        image=image,
        version=version,
        problem_type=problem.value if problem else None,
        objective_metric=objective,
        objective_direction=direction,
        content_type=config.data.content_type,
        input_mode=input_mode.value,
        channels=channels,
        inference_image=inference_image,
        inference_environment=environment,
        framework=algo.framework,
        hyperparameters=_hyperparameters(config, problem, config.problem.num_classes, objective, None),
        metric_definitions=[m.model_dump() for m in algo.metric_definitions],
        inferred=inferred,
        needs_split=needs_split,
        tune=config.tuning is not None,
    )


def _own_code_images(config: ProjectConfig, region: str) -> tuple[str | None, str | None, str | None, dict[str, str]]:
    """(training image, framework version, inference image, inference environment)."""
    algo = config.algorithm
    if algo.name == AlgorithmName.CONTAINER:
        return algo.image_uri, None, algo.inference_image_uri or algo.image_uri, {}
    if algo.source_dir is None or not algo.source_dir.startswith("s3://") or not algo.source_dir.endswith(".tar.gz"):
        raise ConfigInvalid(
            f"algorithm.source_dir {algo.source_dir!r} is not an s3://.../sourcedir.tar.gz: the pipeline reads the "
            f"code from S3",
            field="algorithm.source_dir",
            fix="upload the config with `trainops config upload` (it packs a local folder into the artifacts "
            "bucket), or give the S3 URI of a sourcedir.tar.gz",
        )
    key = FRAMEWORK_IMAGE_KEY[require(algo.framework, "algorithm.framework of a script")]  # the model requires it
    instance = config.resources.instance_type
    image = image_uri(key, region, algo.framework_version, instance_type=instance)
    version = image_version(key, algo.framework_version)
    inference = algo.inference_image_uri
    if inference is None:
        serving = image_uris.serving_version(FRAMEWORK_OF_KEY[key], version)
        if serving is None:
            raise ConfigInvalid(
                f"{algo.framework} {version} has no inference image to register the model with",
                field="algorithm.inference_image_uri",
                fix=f"set algorithm.inference_image_uri, or use a framework_version that has one "
                f"({', '.join(image_uris.versions(FRAMEWORK_OF_KEY[key], 'inference')[-5:])}, ...)",
            )
        inference = image_uri(key, region, serving, instance_type=instance, scope="inference")
    # what the SageMaker Python SDK's framework Model sets, so the package deploys as it does
    environment = {
        "SAGEMAKER_PROGRAM": str(algo.entry_point),
        "SAGEMAKER_SUBMIT_DIRECTORY": algo.source_dir,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": region,
    }
    return image, version, inference, environment


def _problem(config: ProjectConfig, sample: Sample, inferred: list[Inference]) -> tuple[ProblemType, int | None]:
    guessed, classes, why = infer_problem(sample)
    _check_labels(config, sample)
    problem, classes = _problem_type(config, guessed, classes, why, inferred)
    distinct = distinct_labels(sample)
    if problem != ProblemType.REGRESSION and sample.whole and len(distinct) == 1:
        raise DatasetError(
            f"every row of {sample.uri} has the label {distinct[0]:g} ({scope(sample)}): a {problem.value} model "
            f"needs rows of at least two classes",
            field="dataset",
            fix="add rows of the other class(es); labels are 0/1 for binary problems, 0..k-1 for multiclass",
        )
    return problem, classes


def _check_labels(config: ProjectConfig, sample: Sample) -> None:
    """Labels -1/+1 look binary, but binary objectives read 0/1: said before any job, unless it is regression."""
    if distinct_labels(sample) != [-1.0, 1.0] or config.problem.type == ProblemType.REGRESSION:
        return
    needs = (
        f"XGBoost's {XGB_OBJECTIVES[ProblemType.BINARY]}"
        if config.algorithm.name == AlgorithmName.XGBOOST
        else f"{config.algorithm.name.value} {LL_PREDICTOR[ProblemType.BINARY]}"
    )
    raise DatasetError(
        f"labels are -1/+1 in {scope(sample)}; {needs} needs 0/1",
        field="dataset",
        fix="map -1 to 0 in the label column (or set problem.type: regression if the label is a number to predict)",
    )


def _problem_type(
    config: ProjectConfig, guessed: ProblemType, classes: int | None, why: str, inferred: list[Inference]
) -> tuple[ProblemType, int | None]:
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
    """A built-in algorithm's objective: the configured one if the algorithm emits it, else its default."""
    metric, direction = configured_objective(config)
    if metric is None:
        default = spec.objectives[problem]
        metric, direction = default.metric, direction or default.direction
        inferred.append(
            Inference(
                field="problem.objective_metric",
                value=f"{metric} ({direction})",
                reason=f"the {spec.name.value} default for {problem.value} problems",
            )
        )
    elif metric not in spec.metrics:
        raise ConfigInvalid(
            f"{spec.name.value} does not emit the metric {metric!r}",
            field="problem.objective_metric",
            fix=f"use one of {', '.join(sorted(m for m in spec.metrics if m.startswith('validation:')))}",
        )
    if direction is None:
        # every metric of a built-in algorithm's table has a direction
        found: str = require(direction_of(metric, spec.metrics), f"the direction of {metric}")
        inferred.append(
            Inference(field="problem.objective_direction", value=found, reason=f"{metric} is a {found} metric")
        )
        return metric, found
    return metric, direction


def _image(config: ProjectConfig, spec: AlgorithmSpec, region: str) -> tuple[str | None, str | None]:
    key = require(spec.image_key, f"the image of {spec.name.value}")  # built-in algorithms have one
    image = image_uri(key, region, config.algorithm.version, instance_type=config.resources.instance_type)
    return image, image_version(key, config.algorithm.version)


def _hyperparameters(
    config: ProjectConfig,
    problem: ProblemType | None,
    num_classes: int | None,
    objective: str | None,
    sample: Sample | None,
) -> dict[str, str]:
    algo = config.algorithm
    user = {k: _hp_str(v) for k, v in algo.hyperparameters.items()}
    if algo.name == AlgorithmName.XGBOOST:
        # built-in algorithms always have a problem type and an objective
        problem = require(problem, "the problem type")
        objective = require(objective, "the objective metric")
        base = {"num_round": "100", "objective": XGB_OBJECTIVES[problem]}
        if objective.startswith(("validation:", "train:")):
            base["eval_metric"] = objective.split(":", 1)[1]
        if problem == ProblemType.MULTICLASS and num_classes:
            base["num_class"] = str(num_classes)
        return {**base, **user}
    if algo.name == AlgorithmName.LINEAR_LEARNER:
        problem = require(problem, "the problem type")  # built-in algorithms always have one, and a sample
        sample = require(sample, "the data sample")
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
        encoded.update(distribution_hyperparameters(config))
        return encoded
    return user


def _hp_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
