"""algorithm.name: auto: XGBoost or Linear Learner chosen from the data and the problem, with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from trainops.errors import ConfigInvalid
from trainops.lint import lint_config, raise_on_errors
from trainops.planning import plan_training

from tests.helpers import DATA_BUCKET, config, run_request


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATA_BUCKET)
        yield client


def plan_auto(s3: Any, body: bytes, key: str = "data/demo/train.csv", **overrides: Any) -> Any:
    s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
    cfg = config(algorithm={"name": "auto"}, **overrides)
    request = run_request()
    dataset = request.dataset.model_copy(update={"prefix": key, "uri": f"s3://{DATA_BUCKET}/{key}"})
    request = request.model_copy(
        update={
            "dataset": dataset,
            "config": cfg.model_dump(mode="json", exclude_none=True),
            "config_hash": cfg.config_hash(),
        }
    )
    return plan_training(request, cfg, region="us-east-1", s3=s3)


def rows(x: np.ndarray, y: np.ndarray, empty: bool = False) -> bytes:
    lines = []
    for i, (row, label) in enumerate(zip(x, y, strict=True)):
        cells = [f"{v:g}" for v in row]
        if empty and i % 7 == 0:
            cells[1] = ""
        lines.append(",".join([f"{label:g}", *cells]))
    return ("\n".join(lines) + "\n").encode()


def chosen(plan: Any) -> tuple[str, str]:
    first = plan.inferred[0]
    assert first.field == "algorithm.name"
    return first.value, first.reason


RNG = np.random.default_rng(7)
DENSE = rows(RNG.normal(size=(300, 8)), (RNG.random(300) > 0.5).astype(float))


def test_dense_tabular_data_gets_xgboost(s3: Any) -> None:
    plan = plan_auto(s3, DENSE)
    name, reason = chosen(plan)
    assert (name, plan.algorithm) == ("xgboost", "xgboost")
    assert "dense tabular binary data (8 features, 300 rows" in reason
    assert plan.hyperparameters["objective"] == "binary:logistic"  # planned as XGBoost from there on


def test_more_features_than_rows_gets_linear_learner(s3: Any) -> None:
    wide = rows(RNG.normal(size=(40, 120)), RNG.normal(size=40))
    plan = plan_auto(s3, wide)
    name, reason = chosen(plan)
    assert (name, plan.algorithm) == ("linear-learner", "linear-learner")
    assert "120 features for 40 rows (regression)" in reason
    assert plan.hyperparameters["predictor_type"] == "regressor"
    assert plan.objective_metric == "validation:objective_loss"


def test_wide_sparse_data_gets_linear_learner(s3: Any) -> None:
    x = (RNG.random(size=(400, 150)) > 0.95).astype(float)
    plan = plan_auto(s3, rows(x, (RNG.random(400) > 0.5).astype(float)))
    name, reason = chosen(plan)
    assert name == "linear-learner"
    assert "150 features, 95% of the sampled cells 0" in reason


def test_missing_values_get_xgboost_even_when_wide(s3: Any) -> None:
    wide = rows(RNG.normal(size=(40, 120)), RNG.normal(size=40), empty=True)
    name, reason = chosen(plan_auto(s3, wide))
    assert name == "xgboost"
    assert "empty feature cell(s)" in reason and "Linear Learner needs every cell" in reason


def test_libsvm_gets_xgboost(s3: Any) -> None:
    body = b"".join(f"{i % 2} 1:{i} 3:{i % 5}\n".encode() for i in range(60))
    name, reason = chosen(plan_auto(s3, body, data={"content_type": "text/libsvm"}))
    assert name == "xgboost" and "text/libsvm" in reason


def test_the_estimate_of_rows_counts_beyond_the_sample(s3: Any) -> None:
    # 100 features and 3,000 rows (about 1.8 MB): the 64 KiB sample holds ~100 rows, the object far more
    body = rows(RNG.normal(size=(3000, 100)), (RNG.random(3000) > 0.5).astype(float))
    name, reason = chosen(plan_auto(s3, body))
    assert name == "xgboost"
    estimated = int(reason.split("about ")[1].split(" rows")[0])
    assert 2700 <= estimated <= 3300  # within 10% of 3,000


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"algorithm": {"name": "auto", "version": "1.7-1"}}, "algorithm.version"),
        ({"algorithm": {"name": "auto", "hyperparameters": {"num_round": 10}}}, "algorithm.hyperparameters"),
        (
            {"algorithm": {"name": "auto"}, "problem": {"objective_metric": "validation:auc"}},
            "problem.objective_metric",
        ),
        ({"algorithm": {"name": "auto"}, "incremental": {"enabled": True}}, "incremental.enabled"),
        (
            {
                "algorithm": {"name": "auto"},
                "tuning": {"ranges": {"eta": {"type": "continuous", "min": 0.1, "max": 0.3}}},
            },
            "tuning",
        ),
    ],
)
def test_settings_of_one_algorithm_are_refused_with_auto(overrides: dict[str, Any], field: str) -> None:
    cfg = config(**overrides)
    findings = [f for f in lint_config(cfg) if f.severity == "error" and f.id == "CONF-E009"]
    assert [f.field for f in findings] == [field]
    assert "auto chooses XGBoost or Linear Learner" in findings[0].message
    with pytest.raises(ConfigInvalid) as caught:
        raise_on_errors(cfg)  # the pipeline's gate at NormalizeRequest
    assert caught.value.field == field


def test_auto_alone_lints_clean() -> None:
    assert [f for f in lint_config(config(algorithm={"name": "auto"})) if f.severity == "error"] == []
