"""The exact CreateHyperParameterTuningJob request, job naming, warm start and outcome reading."""

from __future__ import annotations

import copy
import re
from typing import Any

import botocore.session
import pytest
import regex  # Java-style \p{...} classes in the model's patterns
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator
from trainops.config import ProjectConfig, parse_config
from trainops.errors import AwsThrottled, ConfigInvalid, InvalidTrainingRequest, NoModelProduced, QuotaExceeded
from trainops.tuning import (
    ALGORITHM_SPEC_MEMBERS,
    DEFINITION_MEMBERS,
    WarmStartChoice,
    build_tuning_request,
    choose_warm_start,
    is_project_tuning_job,
    project_job_prefix,
    read_tuning_outcome,
    resolve_objective,
    start_tuning,
    tuning_job_name,
)
from trainops.tuning_config import WarmStartType

ROLE = "arn:aws:iam::123456789012:role/trainops-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
RUN = "20261126T125300-1a2b3c4d"


# --- builders ---------------------------------------------------------------------------------------
def plan_request(train: str = "s3://art/runs/churn/r1/train/", image: str = IMAGE) -> dict[str, Any]:
    """A CreateTrainingJob request as trainops.training.build_training_request makes it."""
    return {
        "TrainingJobName": "churn-20261126125300-1a2b3c4d-train",
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "Pipe",
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": train.replace("train", name),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
                "CompressionType": "None",
            }
            for name in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://art/runs/churn/r1/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "num_round": "100",
            "eta": "0.2",
            "max_depth": "6",
        },
        "Tags": [
            {"Key": "trainops:project", "Value": "churn"},
            {"Key": "trainops:run-id", "Value": RUN},
        ],
    }


def config(tuning: dict[str, Any], **extra: Any) -> ProjectConfig:
    return parse_config({"project": "churn", "tuning": tuning, **extra})


BAYES = {
    "ranges": {
        "eta": {"type": "continuous", "min": 0.01, "max": 0.5, "scaling": "Logarithmic"},
        "max_depth": {"type": "integer", "min": 2, "max": 10, "scaling": "Linear"},
        "booster": {"type": "categorical", "values": ["gbtree", "dart"]},
    },
    "max_jobs": 30,
    "max_parallel_jobs": 2,
}

DEFINITION = {
    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "Pipe"},
    "StaticHyperParameters": {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "100"},
    "RoleArn": ROLE,
    "InputDataConfig": plan_request()["InputDataConfig"],
    "OutputDataConfig": {"S3OutputPath": "s3://art/runs/churn/r1/output/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


# --- a strict validator: botocore's own checks plus enums, patterns, maxima (botocore skips them) -------
def _violations(shape: Shape, value: Any, path: str) -> list[str]:
    out: list[str] = []
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            if name in value:
                out += _violations(member, value[name], f"{path}.{name}")
    elif isinstance(shape, ListShape):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: {len(value)} items > {meta['max']}")
        for i, item in enumerate(value):
            out += _violations(shape.member, item, f"{path}[{i}]")
    elif isinstance(shape, MapShape):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: {len(value)} entries > {meta['max']}")
        for key, item in value.items():
            out += _violations(shape.key, key, f"{path}.key")
            out += _violations(shape.value, item, f"{path}.{key}")
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            out.append(f"{path}: {value!r} not in enum")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: {len(value)} chars > {meta['max']}")
        if "pattern" in meta and not regex.fullmatch(meta["pattern"], value, flags=regex.DOTALL):
            out.append(f"{path}: {value!r} does not match {meta['pattern']}")
    elif shape.type_name in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            out.append(f"{path}: {value} < {meta['min']}")
        if "max" in meta and value > meta["max"]:
            out.append(f"{path}: {value} > {meta['max']}")
    return out


def assert_valid_request(request: dict[str, Any]) -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateHyperParameterTuningJob").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert _violations(shape, request, "request") == []


# --- the request per strategy -----------------------------------------------------------------------
def test_bayesian_request_is_exact_and_valid() -> None:
    # Given a Bayesian tuning of eta (log), max_depth (linear) and a categorical booster
    cfg = config(BAYES)
    # When the request is built
    request = build_tuning_request(
        plan_request(), cfg, tuning_job_name="churn-0123abcd", tags=[{"Key": "trainops:project", "Value": "churn"}]
    )
    # Then it is exactly the SageMaker request, objective inferred from eval_metric
    assert request == {
        "HyperParameterTuningJobName": "churn-0123abcd",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxParallelTrainingJobs": 2, "MaxNumberOfTrainingJobs": 30},
            "ParameterRanges": {
                "IntegerParameterRanges": [
                    {"Name": "max_depth", "MinValue": "2", "MaxValue": "10", "ScalingType": "Linear"}
                ],
                "ContinuousParameterRanges": [
                    {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
                ],
                "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
            },
            "TrainingJobEarlyStoppingType": "Auto",
        },
        "TrainingJobDefinition": DEFINITION,
        "Tags": [{"Key": "trainops:project", "Value": "churn"}],
    }
    assert_valid_request(request)


def test_random_request_with_reverse_log_completion_criteria_seed_and_runtime() -> None:
    cfg = config(
        {
            "strategy": "Random",
            "objective": {"metric": "validation:logloss", "direction": "Minimize"},
            "ranges": {"subsample": {"type": "continuous", "min": 0.5, "max": 0.99, "scaling": "ReverseLogarithmic"}},
            "max_jobs": 50,
            "max_parallel_jobs": 5,
            "max_runtime_seconds": 7200,
            "completion_criteria": {
                "target_objective_value": 0.1,
                "max_jobs_not_improving": 10,
                "convergence_detected": True,
            },
            "early_stopping": "Off",
            "random_seed": 7,
        }
    )
    request = build_tuning_request(plan_request(), cfg, tuning_job_name="churn-0123abcd")
    assert request["HyperParameterTuningJobConfig"] == {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:logloss"},
        "ResourceLimits": {"MaxParallelTrainingJobs": 5, "MaxNumberOfTrainingJobs": 50, "MaxRuntimeInSeconds": 7200},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "subsample", "MinValue": "0.5", "MaxValue": "0.99", "ScalingType": "ReverseLogarithmic"}
            ]
        },
        "TrainingJobEarlyStoppingType": "Off",
        "TuningJobCompletionCriteria": {
            "TargetObjectiveMetricValue": 0.1,
            "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 10},
            "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
        },
        "RandomSeed": 7,
    }
    # static hyperparameters are the plan's minus the tuned ones
    assert request["TrainingJobDefinition"]["StaticHyperParameters"]["eta"] == "0.2"
    assert "subsample" not in request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert_valid_request(request)


def test_hyperband_request_turns_early_stopping_off_and_sets_resources() -> None:
    cfg = config(
        {
            "strategy": "Hyperband",
            "ranges": {"eta": {"type": "continuous", "min": 0.05, "max": 0.5, "scaling": "Auto"}},
            "hyperband": {"min_resource": 5, "max_resource": 100},
        }
    )
    request = build_tuning_request(plan_request(), cfg, tuning_job_name="churn-0123abcd")
    job_config = request["HyperParameterTuningJobConfig"]
    assert job_config["TrainingJobEarlyStoppingType"] == "Off"
    assert job_config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 5, "MaxResource": 100}}
    assert job_config["ParameterRanges"]["ContinuousParameterRanges"][0]["ScalingType"] == "Auto"
    assert_valid_request(request)


def test_grid_request_enumerates_integer_ranges_as_categorical_and_leaves_job_count_to_aws() -> None:
    cfg = config(
        {
            "strategy": "Grid",
            "ranges": {
                "max_depth": {"type": "integer", "min": 3, "max": 5},
                "booster": {"type": "categorical", "values": ["gbtree", "dart"]},
                "one_drop": {"type": "categorical", "values": [True, False]},
            },
            "max_parallel_jobs": 3,
        }
    )
    request = build_tuning_request(plan_request(), cfg, tuning_job_name="churn-0123abcd")
    job_config = request["HyperParameterTuningJobConfig"]
    assert job_config["ResourceLimits"] == {"MaxParallelTrainingJobs": 3}
    assert job_config["ParameterRanges"] == {
        "CategoricalParameterRanges": [
            {"Name": "max_depth", "Values": ["3", "4", "5"]},
            {"Name": "booster", "Values": ["gbtree", "dart"]},
            {"Name": "one_drop", "Values": ["true", "false"]},
        ]
    }
    assert_valid_request(request)


@pytest.mark.parametrize(
    ("scaling", "kind"),
    [("Auto", "integer"), ("Linear", "integer"), ("Logarithmic", "integer"), ("ReverseLogarithmic", "continuous")],
)
def test_every_scaling_type_reaches_the_request(scaling: str, kind: str) -> None:
    low, high = (0.1, 0.9) if scaling == "ReverseLogarithmic" else (1, 100)
    cfg = config({"ranges": {"x": {"type": kind, "min": low, "max": high, "scaling": scaling}}})
    request = build_tuning_request(plan_request(), cfg, tuning_job_name="churn-0123abcd")
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    key = "IntegerParameterRanges" if kind == "integer" else "ContinuousParameterRanges"
    assert ranges[key] == [{"Name": "x", "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}]
    assert_valid_request(request)


def test_definition_keeps_metric_definitions_and_checkpoints_but_not_training_job_fields() -> None:
    plan = plan_request()
    plan["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "validation:auc", "Regex": "auc=([0-9.]+)"}]
    plan["CheckpointConfig"] = {"S3Uri": "s3://art/runs/churn/r1/checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
    plan["HyperParameters"]["_tuning_objective_metric"] = "validation:auc"
    request = build_tuning_request(plan, config(BAYES), tuning_job_name="churn-0123abcd")
    definition = request["TrainingJobDefinition"]
    assert (
        definition["AlgorithmSpecification"]["MetricDefinitions"] == plan["AlgorithmSpecification"]["MetricDefinitions"]
    )
    assert definition["CheckpointConfig"] == plan["CheckpointConfig"]
    assert "_tuning_objective_metric" not in definition["StaticHyperParameters"]
    assert "EnableSageMakerMetricsTimeSeries" not in definition["AlgorithmSpecification"]
    assert "TrainingJobName" not in definition
    assert_valid_request(request)


def test_copied_members_are_exactly_those_both_shapes_share_in_botocore() -> None:
    """If SageMaker adds a member to both shapes, this fails until the builder (and the local tuner) copy it."""
    model = botocore.session.get_session().get_service_model("sagemaker")

    def members(shape: str) -> set[str]:
        return set(model.shape_for(shape).members)

    shared = members("CreateTrainingJobRequest") & members("HyperParameterTrainingJobDefinition")
    assert set(DEFINITION_MEMBERS) == shared - {"AlgorithmSpecification"}
    assert set(ALGORITHM_SPEC_MEMBERS) == members("AlgorithmSpecification") & members(
        "HyperParameterAlgorithmSpecification"
    )


def test_warm_start_member_for_each_type() -> None:
    for kind in WarmStartType:
        choice = WarmStartChoice(parents=["churn-aaaaaaaa", "churn-bbbbbbbb"], type=kind, reason="test")
        request = build_tuning_request(
            plan_request(), config(BAYES), tuning_job_name="churn-0123abcd", warm_start=choice
        )
        assert request["WarmStartConfig"] == {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": "churn-aaaaaaaa"},
                {"HyperParameterTuningJobName": "churn-bbbbbbbb"},
            ],
            "WarmStartType": kind.value,
        }
        assert_valid_request(request)


# --- objective --------------------------------------------------------------------------------------
def test_objective_resolution_order() -> None:
    explicit = config({**BAYES, "objective": {"metric": "validation:error", "direction": "Minimize"}})
    assert resolve_objective(explicit).metric == "validation:error"
    from_problem = config(BAYES, problem={"objective_metric": "validation:f1", "objective_direction": "Maximize"})
    assert resolve_objective(from_problem).model_dump() == {"metric": "validation:f1", "direction": "Maximize"}
    by_type = config(BAYES, problem={"type": "regression"})
    assert resolve_objective(by_type).model_dump() == {"metric": "validation:rmse", "direction": "Minimize"}
    with pytest.raises(ConfigInvalid):
        resolve_objective(config(BAYES))  # nothing to go on, and no plan
    with pytest.raises(ConfigInvalid):
        resolve_objective(config({**BAYES, "objective": {"metric": "validation:widgets"}}))


# --- names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "project", ["a", "churn", "x" * 14, "x" * 15, "x" * 23, "customer-lifetime-value-model-v2", "a" * 32]
)
def test_tuning_job_names_are_deterministic_short_and_valid(project: str) -> None:
    name = tuning_job_name(project, RUN)
    assert name == tuning_job_name(project, RUN)
    assert name != tuning_job_name(project, RUN + "x")
    assert len(name) <= 32
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", name)
    # the prefix the template's IAM statements match (hyper-parameter-tuning-job/trainops-*)
    assert name.startswith("trainops-")
    assert is_project_tuning_job(name, project)
    # child training job names <tuning>-<3 digits>-<8 hex> stay within 63
    assert len(f"{name}-001-0123abcd") <= 63


def test_project_prefix_separates_projects() -> None:
    assert not is_project_tuning_job(tuning_job_name("a-b", RUN), "a")
    long_a, long_b = "customer-lifetime-value-a", "customer-lifetime-value-b"
    assert project_job_prefix(long_a) != project_job_prefix(long_b)
    assert not is_project_tuning_job(tuning_job_name(long_a, RUN), long_b)
    # a project of up to 14 characters is named in full, a longer one by its start and a digest
    assert tuning_job_name("churn-model-v12", RUN).startswith("trainops-churn-m-")
    assert project_job_prefix("customer-churn") == "trainops-customer-churn"
    assert re.fullmatch(r"trainops-churn-[0-9a-f]{8}", tuning_job_name("churn", RUN))


# --- a fake SageMaker -------------------------------------------------------------------------------
def _client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} in {op}"}}, op)


class FakeSageMaker:
    """The few SageMaker calls tuning makes, answering from dicts."""

    def __init__(self) -> None:
        self.tuning: dict[str, dict[str, Any]] = {}
        self.training: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[dict[str, Any]]] = {}
        self.created: list[dict[str, Any]] = []

    def add_parent(self, name: str, *, status: str = "Completed", metric: str = "validation:auc", **kw: Any) -> None:
        definition = copy.deepcopy(kw.get("definition", DEFINITION))
        definition["HyperParameterRanges"] = kw.get(
            "ranges",
            {
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "8"}],
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5"}],
                "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
            },
        )
        self.tuning[name] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{name}",
            "HyperParameterTuningJobStatus": status,
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": metric},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 1},
            },
            "TrainingJobDefinition": definition,
            "TrainingJobStatusCounters": kw.get("counters", {"Completed": 8, "Stopped": 2}),
            "CreationTime": len(self.tuning),
        }

    def list_hyper_parameter_tuning_jobs(self, **kw: Any) -> dict[str, Any]:
        jobs = sorted(self.tuning.values(), key=lambda j: j["CreationTime"], reverse=True)
        return {
            "HyperParameterTuningJobSummaries": [
                {k: j[k] for k in ("HyperParameterTuningJobName", "HyperParameterTuningJobStatus")}
                for j in jobs
                if kw["NameContains"] in j["HyperParameterTuningJobName"]
            ]
        }

    def describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        if HyperParameterTuningJobName not in self.tuning:
            raise _client_error("ResourceNotFound", "DescribeHyperParameterTuningJob")
        return copy.deepcopy(self.tuning[HyperParameterTuningJobName])

    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        name = request["HyperParameterTuningJobName"]
        if name in self.tuning:
            raise _client_error("ResourceInUse", "CreateHyperParameterTuningJob")
        self.created.append(request)
        self.add_parent(name, status="InProgress", counters={})
        return {"HyperParameterTuningJobArn": self.tuning[name]["HyperParameterTuningJobArn"]}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return copy.deepcopy(self.training[TrainingJobName])

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **kw: Any) -> dict[str, Any]:
        """As AWS answers: filtered by status, sorted by SortBy/SortOrder, at most MaxResults."""
        jobs = [
            j
            for j in self.children.get(kw["HyperParameterTuningJobName"], [])
            if j["TrainingJobStatus"] == kw.get("StatusEquals", j["TrainingJobStatus"])
        ]
        if kw.get("SortBy") == "FinalObjectiveMetricValue":
            scored = [j for j in jobs if "FinalHyperParameterTuningJobObjectiveMetric" in j]
            scored.sort(
                key=lambda j: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                reverse=kw.get("SortOrder", "Descending") == "Descending",
            )
            jobs = scored + [j for j in jobs if j not in scored]
        return {"TrainingJobSummaries": jobs[: kw.get("MaxResults", 10)]}


def _new_job(cfg: ProjectConfig, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    return build_tuning_request(plan or plan_request(), cfg, tuning_job_name=tuning_job_name("churn", RUN))


# --- warm start -------------------------------------------------------------------------------------
def test_auto_warm_start_takes_compatible_parents_identical_when_data_and_image_unchanged() -> None:
    # Given three earlier tuning jobs of the project: compatible, other objective, still running
    sm = FakeSageMaker()
    sm.add_parent("trainops-churn-00000001")
    sm.add_parent("trainops-churn-00000002", metric="validation:error")
    sm.add_parent("trainops-churn-00000003", status="InProgress")
    sm.add_parent("trainops-churnx-00000004")  # another project whose name contains ours
    # When warm start is chosen for a run on the same data and image
    choice = choose_warm_start(config(BAYES), _new_job(config(BAYES)), project="churn", sagemaker_client=sm)
    # Then only the compatible job is a parent, of type IdenticalDataAndAlgorithm, with reasons for the rest
    assert choice.parents == ["trainops-churn-00000001"]
    assert choice.type == WarmStartType.IDENTICAL_DATA_AND_ALGORITHM
    assert "same data and image" in choice.reason
    assert choice.considered == {"trainops-churn-00000002": "objective validation:error differs"}


def test_auto_warm_start_is_transfer_learning_when_data_changed_and_caps_at_five() -> None:
    sm = FakeSageMaker()
    for i in range(7):
        sm.add_parent(f"trainops-churn-0000000{i}")
    new = _new_job(config(BAYES), plan_request(train="s3://art/runs/churn/r2/train/"))
    choice = choose_warm_start(config(BAYES), new, project="churn", sagemaker_client=sm)
    assert choice.parents == [f"trainops-churn-0000000{i}" for i in (6, 5, 4, 3, 2)]  # newest first
    assert choice.type == WarmStartType.TRANSFER_LEARNING
    assert choice.considered["trainops-churn-00000001"] == "already 5 parents"


def test_auto_warm_start_skips_parents_with_other_hyperparameter_names_or_nothing_completed() -> None:
    sm = FakeSageMaker()
    other = copy.deepcopy(DEFINITION)
    other["StaticHyperParameters"]["gamma"] = "1"
    sm.add_parent("trainops-churn-00000001", definition=other)
    sm.add_parent("trainops-churn-00000002", counters={"Completed": 0, "NonRetryableError": 4})
    choice = choose_warm_start(config(BAYES), _new_job(config(BAYES)), project="churn", sagemaker_client=sm)
    assert choice.parents == []
    assert choice.request() is None
    assert choice.considered["trainops-churn-00000001"].startswith("hyperparameter names differ (gamma")
    assert choice.considered["trainops-churn-00000002"] == "no completed training job"


def test_warm_start_off_grid_and_explicit_parents() -> None:
    sm = FakeSageMaker()
    sm.add_parent("trainops-churn-00000001")
    off = config({**BAYES, "warm_start": "off"})
    assert choose_warm_start(off, _new_job(off), project="churn", sagemaker_client=sm).parents == []
    explicit = config({**BAYES, "warm_start": {"parents": ["trainops-churn-00000001"], "type": "TransferLearning"}})
    choice = choose_warm_start(explicit, _new_job(explicit), project="churn", sagemaker_client=sm)
    assert (choice.parents, choice.type) == (["trainops-churn-00000001"], WarmStartType.TRANSFER_LEARNING)
    missing = config({**BAYES, "warm_start": {"parents": ["trainops-nope"]}})
    with pytest.raises(InvalidTrainingRequest, match="does not exist"):
        choose_warm_start(missing, _new_job(missing), project="churn", sagemaker_client=sm)


def test_an_explicit_parent_outside_the_trainops_prefix_is_refused_before_any_call() -> None:
    # Given a config naming a tuning job trainops did not create (its functions may not read it)
    sm = FakeSageMaker()
    sm.add_parent("someone-elses-job")
    foreign = config({**BAYES, "warm_start": {"parents": ["someone-elses-job"]}})
    # Then the run is refused naming the field, instead of failing on AccessDenied
    with pytest.raises(InvalidTrainingRequest, match="trainops-") as info:
        choose_warm_start(foreign, _new_job(foreign), project="churn", sagemaker_client=sm)
    assert info.value.field == "tuning.warm_start.parents.0"


# --- start and outcome ------------------------------------------------------------------------------
def test_start_tuning_creates_the_job_and_adopts_it_on_retry() -> None:
    sm = FakeSageMaker()
    sm.add_parent("trainops-churn-00000001")
    cfg = config(BAYES)
    first = start_tuning(plan_request(), cfg, run_id=RUN, project="churn", sagemaker_client=sm)
    assert first["tuning_job_name"] == tuning_job_name("churn", RUN)
    assert first["adopted"] is False
    assert first["warm_start"]["parents"] == ["trainops-churn-00000001"]
    assert first["objective"] == {"metric": "validation:auc", "direction": "Maximize"}
    sent = sm.created[0]
    assert sent["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    assert {"Key": "trainops:run-id", "Value": RUN} in sent["Tags"]
    assert_valid_request(sent)
    again = start_tuning(plan_request(), cfg, run_id=RUN, project="churn", sagemaker_client=sm)
    assert again["adopted"] is True
    assert again["tuning_job_arn"] == first["tuning_job_arn"]


def test_a_config_with_lint_errors_is_refused_by_the_pipelines_one_gate() -> None:
    # linted once per run, at NormalizeRequest (steps.runs.lint_errors -> lint.raise_on_errors), not again here
    from trainops.lint import raise_on_errors

    bad = config({"ranges": {"eta": {"type": "continuous", "min": 0, "max": 1, "scaling": "Logarithmic"}}})
    with pytest.raises(ConfigInvalid, match="TUNE-E008"):
        raise_on_errors(bad)


def _finished(sm: FakeSageMaker, counters: dict[str, int], best: dict[str, Any] | None) -> str:
    name = tuning_job_name("churn", RUN)
    sm.add_parent(name, counters=counters)
    if best is not None:
        sm.tuning[name]["BestTrainingJob"] = best
    return name


def test_read_tuning_outcome_returns_the_best_completed_job() -> None:
    sm = FakeSageMaker()
    child = f"{tuning_job_name('churn', RUN)}-007-0a1b2c3d"
    name = _finished(
        sm,
        {"Completed": 5, "Stopped": 3},
        {
            "TrainingJobName": child,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{child}",
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"eta": "0.12", "max_depth": "5", "booster": "gbtree"},
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": 0.987},
        },
    )
    sm.tuning[name]["ObjectiveStatusCounters"] = {"Succeeded": 8, "Pending": 0, "Failed": 0}
    sm.training[child] = {
        "TrainingJobArn": "arn",
        "HyperParameters": {"eta": "0.12", "num_round": "100", "_tuning_objective_metric": "validation:auc"},
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://art/runs/churn/r1/output/{child}/output/model.tar.gz"},
    }
    outcome = read_tuning_outcome(name, sm)
    assert outcome["best_training_job_name"] == child
    assert outcome["objective"] == {"metric": "validation:auc", "type": "Maximize", "value": 0.987}
    assert outcome["hyperparameters"] == {"eta": "0.12", "num_round": "100"}
    assert outcome["tuned_hyperparameters"]["max_depth"] == "5"
    assert outcome["model_artifacts"].endswith(f"{child}/output/model.tar.gz")
    assert outcome["training_job_status_counters"] == {"Completed": 5, "Stopped": 3}


def test_read_tuning_outcome_without_a_completed_job_is_no_model_with_the_reasons() -> None:
    sm = FakeSageMaker()
    name = _finished(sm, {"Completed": 0, "NonRetryableError": 3, "Stopped": 1}, None)
    sm.tuning[name]["HyperParameterTuningJobStatus"] = "Failed"
    sm.children[name] = [
        {"TrainingJobName": "a", "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: bad label column"},
        {"TrainingJobName": "b", "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: bad label column"},
    ]
    with pytest.raises(NoModelProduced) as err:
        read_tuning_outcome(name, sm)
    message = str(err.value)
    assert "without a completed training job (3 failed, 1 stopped" in message
    assert "AlgorithmError: bad label column" in message
    assert message.count("bad label column") == 1


def _child(name: str, status: str, value: float | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": "0.1"},
    }
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "validation:auc", "Value": value}
    return summary


def test_a_stopped_best_job_gives_way_to_the_best_completed_one() -> None:
    # Given a tuning job whose BestTrainingJob was early-stopped, and completed jobs listed in no order
    sm = FakeSageMaker()
    stopped = _child("churn-x-001", "Stopped", 0.99)
    name = _finished(sm, {"Completed": 3, "Stopped": 1}, stopped)
    sm.children[name] = [
        _child("churn-x-002", "Completed", 0.91),
        stopped,
        _child("churn-x-003", "Completed", 0.95),
        _child("churn-x-004", "Completed", 0.93),
    ]
    for child in sm.children[name]:
        sm.training[child["TrainingJobName"]] = {
            "TrainingJobArn": child["TrainingJobArn"],
            "HyperParameters": {"eta": "0.1"},
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://art/{child['TrainingJobName']}/model.tar.gz"},
        }
    # When its outcome is read
    outcome = read_tuning_outcome(name, sm)
    # Then the model registered is the best *completed* job's (SageMaker's sort, as asked for)
    assert outcome["best_training_job_name"] == "churn-x-003"
    assert outcome["objective"]["value"] == 0.95


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", AwsThrottled),
        ("ServiceUnavailable", AwsThrottled),
        ("ResourceLimitExceeded", QuotaExceeded),
    ],
)
def test_aws_refusals_become_the_errors_the_state_machine_retries_or_reports(code: str, error: type) -> None:
    class Refusing(FakeSageMaker):
        def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
            raise _client_error(code, "CreateHyperParameterTuningJob")

    with pytest.raises(error):
        start_tuning(plan_request(), config(BAYES), run_id=RUN, project="churn", sagemaker_client=Refusing())
