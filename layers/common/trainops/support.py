"""What the pipeline cannot run, decided once.

Each function returns a Refusal (never raises), so the same decision, message, field and fix reach the user from
``trainops config validate`` (the linter turns refusals into findings) and from the step that would otherwise fail
later (planning and training raise ``refusal.error()``, a defence behind the linter, which the pipeline runs first).
"""

from __future__ import annotations

import json

from trainops.catalog import spec_for
from trainops.config import AlgorithmName, ProjectConfig
from trainops.errors import AlgorithmNotSupported, ConfigInvalid, IncrementalTrainingNotSupported
from trainops.refusal import Refusal


def unsupported(config: ProjectConfig) -> list[Refusal]:
    """The algorithm and resource combinations ``plan_training`` refuses (it raises the first)."""
    algo = config.algorithm
    out: list[Refusal] = []
    from trainops.autopilot import refusals as autopilot_refusals  # on first use: it imports this module

    out.extend(autopilot_refusals(config))
    if algo.name == AlgorithmName.AUTOPILOT:
        return out  # spot and distribution: refused by autopilot_refusals, naming the field
    if algo.name == AlgorithmName.AUTO:
        out.extend(_auto_refusals(config))
    out.extend(spot_refusals(config))
    out.extend(resource_refusals(config))
    out.extend(distribution_refusals(config))
    return out


def spot_refusals(config: ProjectConfig) -> list[Refusal]:
    """Managed spot training needs an algorithm that resumes from /opt/ml/checkpoints after an interruption, and a
    MaxWaitTimeInSeconds of at least MaxRuntimeInSeconds (SageMaker's rule)."""
    resources = config.resources
    out: list[Refusal] = []
    if not resources.spot:
        if resources.max_wait_seconds is not None:
            out.append(
                Refusal(
                    ConfigInvalid,
                    "resources.max_wait_seconds is the wait for spot capacity: it applies only with resources.spot",
                    field="resources.max_wait_seconds",
                    fix="set resources.spot: true, or remove max_wait_seconds",
                )
            )
        return out
    name = config.algorithm.name
    if name not in (AlgorithmName.AUTO, AlgorithmName.AUTOPILOT) and not spec_for(name).resumes_from_checkpoints:
        out.append(
            Refusal(
                AlgorithmNotSupported,
                f"{name.value} cannot resume from checkpoints: a spot interruption would restart it from the "
                f"beginning, possibly until MaxWaitTimeInSeconds ends the job without a model",
                field="resources.spot",
                fix="set resources.spot: false, or use xgboost (it resumes from its checkpoints)",
            )
        )
    if resources.max_wait() < resources.max_runtime_seconds:
        out.append(
            Refusal(
                ConfigInvalid,
                f"resources.max_wait_seconds {resources.max_wait()} is below resources.max_runtime_seconds "
                f"{resources.max_runtime_seconds}: SageMaker requires MaxWaitTimeInSeconds >= MaxRuntimeInSeconds",
                field="resources.max_wait_seconds",
                fix=f"set max_wait_seconds to at least {resources.max_runtime_seconds} (it includes the wait for "
                "spot capacity), or lower max_runtime_seconds",
            )
        )
    return out


def _auto_refusals(config: ProjectConfig) -> list[Refusal]:
    """``algorithm.name: auto`` picks XGBoost or Linear Learner per run: settings that only make sense for one
    algorithm (its version, hyperparameters, metric names, tuning ranges, a model to continue) need a named one."""
    fix = "name the algorithm (xgboost or linear-learner), or remove the setting and let auto choose"
    out: list[Refusal] = []
    algo = config.algorithm
    named = [
        ("algorithm.version", algo.version is not None, "a version"),
        ("algorithm.hyperparameters", bool(algo.hyperparameters), "hyperparameters"),
        ("problem.objective_metric", config.problem.objective_metric is not None, "an objective metric"),
        ("tuning", config.tuning is not None, "tuning ranges"),
        ("incremental.enabled", config.incremental.enabled, "incremental training"),
    ]
    for field, present, what in named:
        if present:
            out.append(
                Refusal(
                    ConfigInvalid,
                    f"algorithm.name auto chooses XGBoost or Linear Learner from the data; {what} belong(s) to one "
                    f"algorithm",
                    field=field,
                    fix=fix,
                )
            )
    return out


def incremental_refusal(config: ProjectConfig, version: str | None) -> Refusal | None:
    """Why ``incremental.enabled`` cannot work for this algorithm and image ``version``, or None.

    Built-in XGBoost resumes from a seeded checkpoint only in the versions the catalog lists as verified;
    an algorithm with neither a model channel nor a checkpoint resume cannot continue at all.
    """
    if not config.incremental.enabled or config.algorithm.name == AlgorithmName.AUTO:
        return None  # auto: refused by unsupported(), with the reason
    spec = spec_for(config.algorithm.name)
    if spec.incremental == "model-channel":
        return None
    if spec.incremental == "checkpoint":
        if version in spec.checkpoint_resume_versions:
            return None
        return Refusal(
            IncrementalTrainingNotSupported,
            f"built-in XGBoost {version} does not resume from a seeded checkpoint "
            f"(verified for {', '.join(spec.checkpoint_resume_versions)})",
            field="algorithm.version",
            fix=f"use version {spec.checkpoint_resume_versions[-1]}, or turn incremental.enabled off",
        )
    return Refusal(
        IncrementalTrainingNotSupported,
        f"{config.algorithm.name.value} cannot continue from an earlier model",
        field="incremental.enabled",
        fix="use xgboost or script mode, or set incremental.enabled: false",
    )


# --- instances: GPU or CPU, one or several ------------------------------------------------------------------------
# Which image versions have a GPU build is the vendored image table's (the SDK's): built-in XGBoost from 1.2-1 on,
# Linear Learner always, scikit-learn never. Built-in XGBoost's GPU-only settings (XGBoost's own: gpu_hist/gpu_exact
# before 2.0, device cuda since 2.0; SageMaker's Dask GPU training) need a GPU, and fail on a CPU instance only after
# the instance has started.
_XGBOOST_GPU_ONLY: dict[str, tuple[str, ...]] = {
    "tree_method": ("gpu_hist", "gpu_exact"),
    "device": ("cuda", "gpu"),  # and cuda:<ordinal>
    "predictor": ("gpu_predictor",),
    "updater": ("grow_gpu_hist", "grow_gpu"),
    "use_dask_gpu_training": ("true",),
}


def is_gpu_instance(instance_type: str) -> bool:
    """``ml.g*`` and ``ml.p*`` instance families have NVIDIA GPUs (the SDK's rule for GPU images)."""
    from trainops.image_uris import family

    return family(instance_type)[:1] in ("g", "p")


def _gpu_only_value(name: str, value: object) -> bool:
    text = str(value).strip().lower()
    gpu_values = _XGBOOST_GPU_ONLY.get(name, ())
    if name == "device":
        return text.split(":")[0] in gpu_values
    if name == "updater":
        return any(part.strip() in gpu_values for part in text.split(","))
    return text in gpu_values


def resource_refusals(config: ProjectConfig) -> list[Refusal]:
    """What an instance type or count cannot run (CONF-E013): an image without a build for the instance family
    (scikit-learn has no GPU image, XGBoost none before 1.2-1; PyTorch 1.13+ and TensorFlow 2.12+ none for P2), a
    GPU-only XGBoost setting on a CPU instance, several instances for scikit-learn."""
    from trainops.catalog import FRAMEWORK_IMAGE_KEY, image_uri, image_version

    algo = config.algorithm
    resources = config.resources
    instance = resources.instance_type
    gpu = is_gpu_instance(instance)
    out: list[Refusal] = []

    def refuse(message: str, field: str, fix: str) -> None:
        out.append(Refusal(AlgorithmNotSupported, message, field=field, fix=fix, rule="CONF-E013"))

    key = None
    if algo.name == AlgorithmName.SCRIPT and algo.framework is not None:
        key = FRAMEWORK_IMAGE_KEY[algo.framework]
        version = algo.framework_version
    elif algo.name in (AlgorithmName.XGBOOST, AlgorithmName.LINEAR_LEARNER):
        key = spec_for(algo.name).image_key
        version = algo.version
    if key is not None:
        try:
            image_uri(key, "us-east-1", version, instance_type=instance)
        except AlgorithmNotSupported as exc:
            if exc.field == "resources.instance_type":  # a wrong version is CONF-E002's
                what = algo.framework if algo.name == AlgorithmName.SCRIPT else algo.name.value
                refuse(
                    f"{what} {image_version(key, version)} cannot train on {instance}: {exc.args[0]}",
                    "resources.instance_type",
                    "use a CPU instance type (ml.m5, ml.c5, ...)"
                    if gpu and algo.framework == "sklearn"
                    else f"choose an instance type the {what} image supports",
                )
    xgboost_builtin = algo.name == AlgorithmName.XGBOOST
    if xgboost_builtin and not gpu:
        tuned = config.tuning.ranges if config.tuning is not None else {}
        for name in _XGBOOST_GPU_ONLY:
            values: list[object] = []
            field = f"algorithm.hyperparameters.{name}"
            if name in algo.hyperparameters:
                values = [algo.hyperparameters[name]]
            elif name in tuned:
                values, field = list(getattr(tuned[name], "values", [])), f"tuning.ranges.{name}"
            gpu_values = [v for v in values if _gpu_only_value(name, v)]
            if gpu_values:
                refuse(
                    f"XGBoost {name}={gpu_values[0]} needs a GPU, but resources.instance_type {instance} has none: "
                    f"the job would fail on the instance",
                    field,
                    "use a GPU instance type (ml.g5, ml.g4dn, ml.p3, ...) in resources.instance_type, or the CPU "
                    "setting (tree_method: hist, device: cpu)",
                )
    if algo.name == AlgorithmName.SCRIPT and algo.framework == "sklearn" and resources.instance_count > 1:
        refuse(
            f"scikit-learn trains on one instance (the SageMaker scikit-learn container does not distribute "
            f"training); resources.instance_count is {resources.instance_count}",
            "resources.instance_count",
            "set instance_count: 1 (a larger instance type gives scikit-learn more cores), or use xgboost, "
            "linear-learner or pytorch/tensorflow for training on several instances",
        )
    return out


# --- distributed training, as the SageMaker Python SDK configures it (sagemaker.fw_utils, PyTorch estimator) ------
# torch_distributed (torchrun): GPU instances (and Trainium, whose images trainops' table leaves out), these PyTorch
# versions (TORCH_DISTRIBUTED_GPU_SUPPORTED_FRAMEWORK_VERSIONS).
TORCH_DISTRIBUTED_VERSIONS = (
    "1.13.1", "2.0.0", "2.0.1", "2.1.0", "2.1.2", "2.2.0", "2.3.0", "2.3.1", "2.4.1", "2.5.1", "2.6.0", "2.7.1",
    "2.8.0",
)  # fmt: skip
# The SageMaker data parallelism library (SMDDP): in the framework containers of these versions
# (SM_DATAPARALLEL_SUPPORTED_FRAMEWORK_VERSIONS; TensorFlow support ended with 2.11) on these instance types.
SMDDP_VERSIONS = {
    "pytorch": ("1.10.2", "1.11.0", "1.12.0", "1.12.1", "1.13.1", "2.0.0", "2.0.1", "2.1.0", "2.1.2", "2.2.0"),
    "tensorflow": ("2.6.3", "2.7.1", "2.8.0", "2.9.1", "2.9.2", "2.10.1", "2.11.0"),
}
SMDDP_INSTANCES = ("ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.p5.48xlarge")
# SMP v2: PyTorch 2.0.1 and later with torchrun, on these instance types (8 GPUs each).
SMP_V2_INSTANCES = ("ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.p5.48xlarge")
SMP_V2_FROM = (2, 0, 1)
GPUS_PER_SMP_INSTANCE = 8


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".") if x.isdigit())


def distribution_refusals(config: ProjectConfig) -> list[Refusal]:  # noqa: PLR0912  (one branch per unsupported combination, each a refusal naming its field)
    """Where ``resources.distribution`` cannot run (CONF-E009): its framework, version and instance type."""
    from trainops.catalog import image_version

    algo = config.algorithm
    resources = config.resources
    distribution = resources.distribution
    out: list[Refusal] = []

    def refuse(message: str, field: str, fix: str) -> None:
        out.append(Refusal(AlgorithmNotSupported, message, field=field, fix=fix))

    if resources.model_parallel is not None and distribution != "model_parallel":
        refuse(
            "resources.model_parallel configures the SageMaker model parallelism library, which runs only with "
            "distribution: model_parallel",
            "resources.model_parallel",
            "set resources.distribution: model_parallel, or remove model_parallel",
        )
    if distribution == "none":
        return out
    if algo.name != AlgorithmName.SCRIPT:
        refuse(
            f"resources.distribution {distribution} needs script mode (the SageMaker distributed libraries run "
            f"inside the PyTorch/TensorFlow framework containers)",
            "resources.distribution",
            "use algorithm.name: script with framework pytorch, or set distribution: none",
        )
        return out
    frameworks = ("pytorch", "tensorflow") if distribution == "data_parallel" else ("pytorch",)
    if algo.framework not in frameworks:
        refuse(
            f"resources.distribution {distribution} is not available for framework {algo.framework}",
            "algorithm.framework",
            f"use framework {' or '.join(frameworks)} for distribution {distribution}",
        )
        return out
    framework = algo.framework or ""  # one of `frameworks` here
    version = image_version(framework, algo.framework_version)
    instance = resources.instance_type
    if distribution == "torch_distributed":
        if not is_gpu_instance(instance):
            refuse(
                f"torch_distributed (torchrun) runs on GPU instances; {instance} has no GPU",
                "resources.instance_type",
                "use a GPU instance type (ml.g5, ml.p4d, ...), or distribution: none (a script can still start "
                "torch.distributed itself on CPU instances)",
            )
        if version not in TORCH_DISTRIBUTED_VERSIONS:
            refuse(
                f"torch_distributed is not available for PyTorch {version}",
                "algorithm.framework_version",
                f"use one of {', '.join(TORCH_DISTRIBUTED_VERSIONS)}",
            )
    elif distribution == "data_parallel":
        if instance not in SMDDP_INSTANCES:
            refuse(
                f"the SageMaker data parallelism library runs on {', '.join(SMDDP_INSTANCES)}, not {instance}",
                "resources.instance_type",
                f"use one of {', '.join(SMDDP_INSTANCES)}, or distribution: torch_distributed",
            )
        supported = SMDDP_VERSIONS[framework]
        if version not in supported:
            refuse(
                f"the SageMaker data parallelism library is not in the {framework} {version} container",
                "algorithm.framework_version",
                f"use one of {', '.join(supported)}, or distribution: torch_distributed",
            )
    else:  # model_parallel: SMP v2
        if instance not in SMP_V2_INSTANCES:
            refuse(
                f"the SageMaker model parallelism library v2 runs on {', '.join(SMP_V2_INSTANCES)}, not {instance}",
                "resources.instance_type",
                f"use one of {', '.join(SMP_V2_INSTANCES)}",
            )
        if _numbers(version) < SMP_V2_FROM:
            refuse(
                f"the SageMaker model parallelism library v2 needs PyTorch 2.0.1 or later, not {version}",
                "algorithm.framework_version",
                "use PyTorch 2.0.1 or later",
            )
        params = resources.model_parallel
        world = resources.instance_count * GPUS_PER_SMP_INSTANCE
        if params is not None and (params.hybrid_shard_degree or 0) > world:
            refuse(
                f"hybrid_shard_degree {params.hybrid_shard_degree} is over the job's {world} GPUs "
                f"({resources.instance_count} x {GPUS_PER_SMP_INSTANCE})",
                "resources.model_parallel.hybrid_shard_degree",
                f"use 0..{world} (0: SMP chooses), or more instances",
            )
        if params is not None and params.tensor_parallel_degree and world % params.tensor_parallel_degree:
            refuse(
                f"tensor_parallel_degree {params.tensor_parallel_degree} does not divide the job's {world} GPUs",
                "resources.model_parallel.tensor_parallel_degree",
                f"use a divisor of {world}",
            )
    return out


def distribution_hyperparameters(config: ProjectConfig) -> dict[str, str]:
    """The hyperparameters the SageMaker Python SDK's PyTorch/TensorFlow estimator adds for ``distribution`` (JSON
    encoded, as ``_json_encode_hyperparameters`` does); the framework container's toolkit chooses its launcher from
    them (torchrun for ``sagemaker_torch_distributed_enabled``, smddprun/mpirun for SMDDP)."""
    resources = config.resources
    if config.algorithm.name != AlgorithmName.SCRIPT or resources.distribution == "none":
        return {}
    instance = json.dumps(resources.instance_type)
    if resources.distribution == "torch_distributed":
        # distribution={"torch_distributed": {"enabled": True}}
        return {"sagemaker_torch_distributed_enabled": "true", "sagemaker_instance_type": instance}
    if resources.distribution == "data_parallel":
        # distribution={"smdistributed": {"dataparallel": {"enabled": True}}}
        return {
            "sagemaker_distributed_dataparallel_enabled": "true",
            "sagemaker_instance_type": instance,
            "sagemaker_distributed_dataparallel_custom_mpi_options": json.dumps(""),
        }
    # SMP v2: distribution={"torch_distributed": {"enabled": True},
    #                       "smdistributed": {"modelparallel": {"enabled": True, "parameters": {...}}}}
    params = resources.model_parallel.model_dump(exclude_none=True) if resources.model_parallel else {}
    return {
        "mp_parameters": json.dumps(params),
        "sagemaker_distributed_dataparallel_enabled": "false",
        "sagemaker_instance_type": instance,
        "sagemaker_torch_distributed_enabled": "true",
    }
