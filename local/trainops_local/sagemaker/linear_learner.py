"""SageMaker built-in Linear Learner, emulated locally with numpy (docs/algorithms.md says exactly how closely).

What is the container's: the hyperparameter names, their validation and defaults (unknown names fail), the
``train`` (required) / ``validation`` / ``test`` channels in ``text/csv`` (label first, no header; File or Pipe
mode), labels 0/1 (binary) or 0..num_classes-1 (multiclass), feature normalization from the first
``num_point_for_scaler`` rows, the loss functions of each ``predictor_type`` with L1 (``l1``) and L2 (``wd``)
regularization, minibatch SGD/Adam/RMSProp with the learning-rate scheduler, ``num_models`` trained side by side
and the best kept on the validation channel (``num_models`` is 1 in a tuning job), early stopping
(``early_stopping_patience``, ``early_stopping_tolerance``), the binary threshold calibrated for
``binary_classifier_model_selection_criteria``, and the ``#quality_metric`` log lines the container prints, which
become metrics through the built-in algorithm's own MetricDefinitions (``trainops.catalog.LINEAR_LEARNER_METRICS``).

What is the emulation's: the numerics (what ``auto`` resolves to, the variants ``num_models`` trains, the random
initialisation), the name of the objective inside its log line, and the model artifact, a JSON file
(``linear-learner-model.json``) instead of the container's MXNet ``model_algo-1``: only this emulation reads it.
``application/x-recordio-protobuf`` is the container's other input format; it is not read locally.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from trainops.catalog import LINEAR_LEARNER_METRICS

from trainops_local.sagemaker import xgboost_algo
from trainops_local.sagemaker.types import JobFailed, JobStopped

# The engine hands every built-in algorithm the same context (request, layout, channels, callbacks).
AlgorithmContext = xgboost_algo.XGBoostContext

MODEL_FILE = "linear-learner-model.json"
HOST = "algo-1"
CHANNELS = ("train", "validation", "test")
AUTO = "auto"
LOCAL_AUTO_NUM_MODELS = 8  # the container picks its own number of parallel models for ``auto``
SEED = 1234

PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
LOSSES = {
    "binary_classifier": ("logistic", "hinge_loss"),
    "multiclass_classifier": ("softmax_loss",),
    "regressor": (
        "squared_loss",
        "absolute_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
        "quantile_loss",
        "huber_loss",
    ),
}
# The objective's name in the per-epoch log line (the MetricDefinitions read any ``<name>_objective``).
OBJECTIVE_NAMES = {
    "logistic": "binary_classification_cross_entropy",
    "hinge_loss": "binary_classification_hinge_loss",
    "softmax_loss": "multiclass_cross_entropy",
    "squared_loss": "square_loss",
    "absolute_loss": "absolute_loss",
    "eps_insensitive_squared_loss": "eps_insensitive_squared_loss",
    "eps_insensitive_absolute_loss": "eps_insensitive_absolute_loss",
    "quantile_loss": "quantile_loss",
    "huber_loss": "huber_loss",
}
CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function")
OPTIMIZERS = ("auto", "sgd", "adam", "rmsprop")
# The emulation's values for ``auto`` (the container computes its own).
AUTO_LEARNING_RATE = {"sgd": 0.5, "adam": 0.1, "rmsprop": 0.1}
# num_models > 1: model i trains with the configured (or auto) learning rate times LR_SPREAD[i % len], and, when
# wd / l1 are auto, with WD_SPREAD[i % len] / no L1 ("close parameters", as the docs put it).
LR_SPREAD = (1.0, 0.1, 10.0, 0.3, 3.0, 0.03, 30.0, 0.5, 2.0, 0.05, 20.0)
WD_SPREAD = (0.0, 1e-4, 1e-3, 1e-2, 0.0, 1e-4, 1e-3, 1e-2)


@dataclass(frozen=True)
class _Spec:
    kind: str  # int | float | bool | choice
    default: Any
    auto: bool = False  # accepts "auto"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()


def _f(default: Any, *, auto: bool = False, low: float | None = None, high: float | None = None, **kw: Any) -> _Spec:
    return _Spec("float", default, auto, low, high, **kw)


def _i(default: Any, *, auto: bool = False, low: float | None = 1, high: float | None = None) -> _Spec:
    return _Spec("int", default, auto, low, high)


# The container's hyperparameters (docs "Linear learner hyperparameters"): type, default, valid values.
HYPERPARAMETERS: dict[str, _Spec] = {
    "predictor_type": _Spec("choice", None, choices=PREDICTOR_TYPES),
    "feature_dim": _i(AUTO, auto=True),
    "num_classes": _i(None, low=3, high=1_000_000),
    "accuracy_top_k": _i(3),
    "balance_multiclass_weights": _Spec("bool", False),
    "beta_1": _f(AUTO, auto=True, low=0.0, high=1.0),
    "beta_2": _f(AUTO, auto=True, low=0.0, high=1.0),
    "bias_lr_mult": _f(AUTO, auto=True, low=0.0, low_open=True),
    "bias_wd_mult": _f(AUTO, auto=True, low=0.0),
    "binary_classifier_model_selection_criteria": _Spec("choice", "accuracy", choices=CRITERIA),
    "early_stopping_patience": _i(3),
    "early_stopping_tolerance": _f(0.001, low=0.0, low_open=True),
    "epochs": _i(15),
    "f_beta": _f(1.0, low=0.0, low_open=True),
    "huber_delta": _f(1.0, low=0.0, low_open=True),
    "init_bias": _f(0.0),
    "init_method": _Spec("choice", "uniform", choices=("uniform", "normal")),
    "init_scale": _f(0.07, low=0.0, low_open=True),
    "init_sigma": _f(0.01, low=0.0, low_open=True),
    "l1": _f(AUTO, auto=True, low=0.0),
    "learning_rate": _f(AUTO, auto=True, low=0.0, low_open=True),
    "loss": _Spec("choice", AUTO, choices=(AUTO, *sorted({loss for v in LOSSES.values() for loss in v}))),
    "loss_insensitivity": _f(0.01, low=0.0, low_open=True),
    "lr_scheduler_factor": _f(AUTO, auto=True, low=0.0, high=1.0, low_open=True),
    "lr_scheduler_minimum_lr": _f(AUTO, auto=True, low=0.0, low_open=True),
    "lr_scheduler_step": _i(AUTO, auto=True),
    "margin": _f(1.0, low=0.0, low_open=True),
    "mini_batch_size": _i(1000),
    "momentum": _f(AUTO, auto=True, low=0.0, high=1.0),
    "normalize_data": _Spec("bool", True, auto=True),
    "normalize_label": _Spec("bool", AUTO, auto=True),
    "num_calibration_samples": _i(AUTO, auto=True),
    "num_models": _i(AUTO, auto=True),
    "num_point_for_scaler": _i(10_000),
    "optimizer": _Spec("choice", AUTO, choices=OPTIMIZERS),
    "positive_example_weight_mult": _f(1.0, auto=True, low=0.0, low_open=True),
    "quantile": _f(0.5, low=0.0, high=1.0, low_open=True),
    "target_precision": _f(0.8, low=0.0, high=1.0, low_open=True),
    "target_recall": _f(0.8, low=0.0, high=1.0, low_open=True),
    "unbias_data": _Spec("bool", AUTO, auto=True),
    "unbias_label": _Spec("bool", AUTO, auto=True),
    "use_bias": _Spec("bool", True),
    "use_lr_scheduler": _Spec("bool", True),
    "wd": _f(AUTO, auto=True, low=0.0),
}
IGNORED = ("_tuning_objective_metric", "_kvstore", "_num_gpus", "_num_kv_servers", "_log_level", "_enable_profiler")


def _invalid(name: str, value: str, why: str) -> JobFailed:
    return JobFailed(f"ClientError: Hyperparameter validation failed: {name}: {value!r} {why}")


def _parse_value(name: str, spec: _Spec, raw: str) -> Any:
    text = str(raw).strip()
    if spec.auto and text.lower() == AUTO:
        return AUTO
    if name == "positive_example_weight_mult" and text.lower() == "balanced":
        return "balanced"
    if spec.kind == "choice":
        if text not in spec.choices:
            raise _invalid(name, text, f"is not one of {', '.join(spec.choices)}")
        return text
    if spec.kind == "bool":
        if text.lower() not in ("true", "false"):
            raise _invalid(name, text, "is not true or false" + (" or auto" if spec.auto else ""))
        return text.lower() == "true"
    try:
        number: float = int(text) if spec.kind == "int" else float(text)
    except ValueError:
        kind = "an integer" if spec.kind == "int" else "a number"
        raise _invalid(name, text, f"is not {kind}" + (" or auto" if spec.auto else "")) from None
    if not math.isfinite(number):
        raise _invalid(name, text, "is not finite")
    low_bad = spec.low is not None and (number < spec.low or (spec.low_open and number == spec.low))
    if low_bad or (spec.high is not None and number > spec.high):
        low = "-inf" if spec.low is None else f"{spec.low:g}"
        high = "inf" if spec.high is None else f"{spec.high:g}"
        left = "(" if spec.low_open else "["
        raise _invalid(name, text, f"is outside {left}{low}, {high}]")
    return number


def parse_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """Validate and type the hyperparameters as the container does: unknown names and bad values fail the job."""
    unknown = sorted(n for n in raw if n not in HYPERPARAMETERS and n not in IGNORED and not n.startswith("sagemaker_"))
    if unknown:
        raise JobFailed(
            f"ClientError: Hyperparameter validation failed: Additional hyperparameters are not allowed "
            f"({', '.join(repr(n) for n in unknown)} unexpected)"
        )
    hps = {name: spec.default for name, spec in HYPERPARAMETERS.items()}
    for name, value in raw.items():
        if name in HYPERPARAMETERS:
            hps[name] = _parse_value(name, HYPERPARAMETERS[name], value)
    predictor = hps["predictor_type"]
    if predictor is None:
        raise JobFailed(
            "ClientError: Hyperparameter validation failed: Missing required hyperparameter: predictor_type"
        )
    if predictor == "multiclass_classifier" and hps["num_classes"] is None:
        raise JobFailed(
            "ClientError: Hyperparameter validation failed: num_classes is required when predictor_type is "
            "multiclass_classifier"
        )
    loss = hps["loss"]
    if loss != AUTO and loss not in LOSSES[predictor]:
        raise JobFailed(
            f"ClientError: Hyperparameter validation failed: loss {loss!r} is not available for {predictor} "
            f"(use auto or {', '.join(LOSSES[predictor])})"
        )
    hps["loss"] = LOSSES[predictor][0] if loss == AUTO else loss
    if hps["optimizer"] == AUTO:
        hps["optimizer"] = "adam"
    if raw.get("_tuning_objective_metric"):
        hps["num_models"] = 1  # a tuning job turns the algorithm's own parallel tuning off
    return hps


# --- data ----------------------------------------------------------------------------------------------------
@dataclass
class _Data:
    x: np.ndarray
    y: np.ndarray


def _load(ctx: AlgorithmContext, name: str) -> _Data:
    channel = ctx.channels[name]
    base = (channel.content_type or "text/csv").split(";")[0].strip().lower()
    if base == "application/x-recordio-protobuf":
        raise JobFailed(
            f"ClientError: channel '{name}': application/x-recordio-protobuf is not available locally: the local "
            f"Linear Learner reads text/csv (label first, no header); recordIO-protobuf runs on AWS"
        )
    if base not in ("text/csv", "csv"):
        raise JobFailed(
            f"ClientError: channel '{name}': Linear Learner reads text/csv or application/x-recordio-protobuf, "
            f"not {channel.content_type}"
        )
    features, labels, _ = xgboost_algo.load_channel(ctx, name, "csv")
    x = np.asarray(features, dtype=np.float64)
    missing = np.argwhere(np.isnan(x))
    if missing.size:
        row, col = (int(v) for v in missing[0])
        raise JobFailed(
            f"ClientError: channel '{name}': row {row + 1} column {col + 2} is empty: Linear Learner needs a value "
            f"in every cell (impute missing values, or use XGBoost)"
        )
    return _Data(x, np.asarray(labels, dtype=np.float64))


def _check_labels(data: _Data, name: str, predictor: str, num_classes: int | None) -> None:
    y = data.y
    if predictor == "binary_classifier" and not np.isin(y, (0.0, 1.0)).all():
        bad = y[~np.isin(y, (0.0, 1.0))][0]
        raise JobFailed(f"ClientError: channel '{name}': label {bad:g} found; binary_classifier labels are 0 or 1")
    if predictor == "multiclass_classifier":
        assert num_classes is not None
        ok = (y == np.round(y)) & (y >= 0) & (y < num_classes)
        if not ok.all():
            raise JobFailed(
                f"ClientError: channel '{name}': label {y[~ok][0]:g} found; multiclass_classifier labels are "
                f"0..{num_classes - 1} (num_classes {num_classes})"
            )


# --- losses --------------------------------------------------------------------------------------------------
def _sigmoid(s: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * s))


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def loss_and_grad(loss: str, s: np.ndarray, y: np.ndarray, hps: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:  # noqa: PLR0911  (one branch per Linear Learner hyperparameter or metric, as the container documents them)
    """Per-row loss and its gradient w.r.t. the scores ``s`` (models x rows x outputs); ``y`` in training units."""
    if loss == "softmax_loss":
        p = _softmax(s)
        onehot = np.zeros_like(p)
        onehot[..., np.arange(y.size), y.astype(int)] = 1.0
        picked = np.take_along_axis(p, y.astype(int)[None, :, None], axis=-1)[..., 0]
        return -np.log(np.clip(picked, 1e-15, None)), p - onehot
    z = s[..., 0]
    if loss == "logistic":
        p = _sigmoid(z)
        value = np.logaddexp(0.0, z) - y * z
        return value, (p - y)[..., None]
    if loss == "hinge_loss":
        sign = 2.0 * y - 1.0
        slack = hps["margin"] - sign * z
        return np.maximum(slack, 0.0), np.where(slack > 0, -sign, 0.0)[..., None]
    r = z - y
    if loss == "squared_loss":
        return r**2, (2.0 * r)[..., None]
    if loss == "absolute_loss":
        return np.abs(r), np.sign(r)[..., None]
    eps = hps["loss_insensitivity"]
    if loss == "eps_insensitive_squared_loss":
        over = np.maximum(np.abs(r) - eps, 0.0)
        return over**2, (2.0 * over * np.sign(r))[..., None]
    if loss == "eps_insensitive_absolute_loss":
        over = np.abs(r) - eps
        return np.maximum(over, 0.0), np.where(over > 0, np.sign(r), 0.0)[..., None]
    if loss == "quantile_loss":
        q = hps["quantile"]
        return np.where(r < 0, -q * r, (1 - q) * r), np.where(r < 0, -q, 1 - q)[..., None]
    assert loss == "huber_loss"
    delta = hps["huber_delta"]
    small = np.abs(r) <= delta
    value = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    return value, np.clip(r, -delta, delta)[..., None]


# --- training ------------------------------------------------------------------------------------------------
@dataclass
class _Scaler:
    mean: np.ndarray
    scale: np.ndarray
    label_mean: float = 0.0
    label_scale: float = 1.0

    def features(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale


def _scaler(train: _Data, hps: dict[str, Any]) -> _Scaler:
    sample = train.x[: hps["num_point_for_scaler"]]
    labels = train.y[: hps["num_point_for_scaler"]]
    normalize = hps["normalize_data"] is not False  # auto and true normalize
    unbias = normalize if hps["unbias_data"] == AUTO else bool(hps["unbias_data"])
    width = train.x.shape[1]
    mean = sample.mean(axis=0) if unbias else np.zeros(width)
    std = sample.std(axis=0) if normalize else np.ones(width)
    scaler = _Scaler(mean=mean, scale=np.where(std > 0, std, 1.0))
    if hps["predictor_type"] == "regressor":
        normalize_label = hps["normalize_label"] in (AUTO, True)
        unbias_label = normalize_label if hps["unbias_label"] == AUTO else bool(hps["unbias_label"])
        if unbias_label:
            scaler.label_mean = float(labels.mean())
        if normalize_label and labels.std() > 0:
            scaler.label_scale = float(labels.std())
    return scaler


@dataclass
class _Models:
    """``num_models`` linear models trained side by side: weights (M, d, k), biases (M, k)."""

    w: np.ndarray
    b: np.ndarray
    lr: np.ndarray
    wd: np.ndarray
    l1: np.ndarray
    pos_weight: np.ndarray
    state: dict[str, np.ndarray] = field(default_factory=dict)
    step: int = 0

    def scores(self, x: np.ndarray) -> np.ndarray:
        return np.einsum("nd,mdk->mnk", x, self.w) + self.b[:, None, :]


def _variants(hps: dict[str, Any], train: _Data) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    count = LOCAL_AUTO_NUM_MODELS if hps["num_models"] == AUTO else int(hps["num_models"])
    idx = np.arange(count)
    base_lr = AUTO_LEARNING_RATE[hps["optimizer"]] if hps["learning_rate"] == AUTO else hps["learning_rate"]
    lr = base_lr * np.asarray([LR_SPREAD[i % len(LR_SPREAD)] for i in idx])
    if count == 1:
        lr = np.asarray([base_lr])
    wd = (
        np.asarray([WD_SPREAD[i % len(WD_SPREAD)] for i in idx])
        if hps["wd"] == AUTO
        else np.full(count, float(hps["wd"]))
    )
    l1 = np.zeros(count) if hps["l1"] == AUTO else np.full(count, float(hps["l1"]))
    positives = float((train.y == 1).sum())
    balanced = (train.y.size - positives) / positives if positives else 1.0
    mult = hps["positive_example_weight_mult"]
    if mult == "balanced":
        pos = np.full(count, balanced)
    elif mult == AUTO:  # the emulation tries both: half the models weigh positives as balanced
        pos = np.where(idx % 2 == 0, 1.0, balanced)
    else:
        pos = np.full(count, float(mult))
    return count, lr, wd, l1, pos


def _init(hps: dict[str, Any], count: int, width: int, outputs: int, rng: np.random.Generator) -> tuple[Any, Any]:
    if hps["init_method"] == "normal":
        w = rng.normal(0.0, hps["init_sigma"], size=(count, width, outputs))
    else:
        w = rng.uniform(-hps["init_scale"], hps["init_scale"], size=(count, width, outputs))
    b = np.full((count, outputs), float(hps["init_bias"]) if hps["use_bias"] else 0.0)
    return w, b


def _row_weights(hps: dict[str, Any], y: np.ndarray, models: _Models, outputs: int) -> np.ndarray:
    """(M, n) weights of each row in each model's loss."""
    if hps["predictor_type"] == "binary_classifier":
        return np.where(y[None, :] == 1, models.pos_weight[:, None], 1.0)
    if hps["predictor_type"] == "multiclass_classifier" and hps["balance_multiclass_weights"]:
        counts = np.bincount(y.astype(int), minlength=outputs).astype(float)
        per_class = np.where(counts > 0, y.size / (outputs * np.maximum(counts, 1)), 0.0)
        return np.broadcast_to(per_class[y.astype(int)], (models.w.shape[0], y.size))
    return np.ones((models.w.shape[0], y.size))


def _step(models: _Models, hps: dict[str, Any], x: np.ndarray, y: np.ndarray, lr_scale: float) -> None:
    outputs = models.w.shape[2]
    _, grad = loss_and_grad(hps["loss"], models.scores(x), y, hps)
    weights = _row_weights(hps, y, models, outputs)
    grad = grad * weights[..., None]
    total = weights.sum(axis=1)[:, None, None]
    gw = np.einsum("nd,mnk->mdk", x, grad) / total + models.wd[:, None, None] * models.w
    bias_wd = 0.0 if hps["bias_wd_mult"] == AUTO else hps["bias_wd_mult"]
    gb = grad.sum(axis=1) / total[:, :, 0] + bias_wd * models.wd[:, None] * models.b
    lr = models.lr[:, None, None] * lr_scale
    bias_lr = 1.0 if hps["bias_lr_mult"] == AUTO else hps["bias_lr_mult"]
    models.step += 1
    dw, db = _direction(models, hps, gw, gb)
    models.w -= lr * dw
    if hps["use_bias"]:
        models.b -= lr[:, :, 0] * bias_lr * db
    if (models.l1 > 0).any():  # L1 as a proximal step (soft threshold)
        shrink = lr * models.l1[:, None, None]
        models.w = np.sign(models.w) * np.maximum(np.abs(models.w) - shrink, 0.0)


def _direction(models: _Models, hps: dict[str, Any], gw: np.ndarray, gb: np.ndarray) -> tuple[Any, Any]:
    st = models.state
    optimizer = hps["optimizer"]
    if optimizer == "sgd":
        momentum = 0.0 if hps["momentum"] == AUTO else hps["momentum"]
        st["vw"] = momentum * st.get("vw", 0.0) + gw
        st["vb"] = momentum * st.get("vb", 0.0) + gb
        return st["vw"], st["vb"]
    if optimizer == "rmsprop":
        rho = 0.9
        st["sw"] = rho * st.get("sw", 0.0) + (1 - rho) * gw**2
        st["sb"] = rho * st.get("sb", 0.0) + (1 - rho) * gb**2
        return gw / (np.sqrt(st["sw"]) + 1e-8), gb / (np.sqrt(st["sb"]) + 1e-8)
    beta1 = 0.9 if hps["beta_1"] == AUTO else hps["beta_1"]
    beta2 = 0.999 if hps["beta_2"] == AUTO else hps["beta_2"]
    t = models.step
    out = []
    for key, g in (("w", gw), ("b", gb)):
        st["m" + key] = beta1 * st.get("m" + key, 0.0) + (1 - beta1) * g
        st["v" + key] = beta2 * st.get("v" + key, 0.0) + (1 - beta2) * g**2
        m_hat = st["m" + key] / (1 - beta1**t)
        v_hat = st["v" + key] / (1 - beta2**t)
        out.append(m_hat / (np.sqrt(v_hat) + 1e-8))
    return out[0], out[1]


def _lr_scale(hps: dict[str, Any], step: int, per_epoch: int, base: float) -> float:
    if not hps["use_lr_scheduler"]:
        return 1.0
    every = per_epoch if hps["lr_scheduler_step"] == AUTO else int(hps["lr_scheduler_step"])
    factor = 0.99 if hps["lr_scheduler_factor"] == AUTO else hps["lr_scheduler_factor"]
    minimum = 1e-5 if hps["lr_scheduler_minimum_lr"] == AUTO else hps["lr_scheduler_minimum_lr"]
    scale = factor ** (step // max(1, every))
    return max(scale, minimum / base) if base > 0 else scale


@dataclass
class Prepared:
    """A channel in the units the models train in."""

    x: np.ndarray
    y: np.ndarray  # training units (normalized for regression)
    raw_y: np.ndarray


def _prepare(data: _Data, scaler: _Scaler) -> Prepared:
    return Prepared(x=scaler.features(data.x), y=(data.y - scaler.label_mean) / scaler.label_scale, raw_y=data.y)


def _objective(models: _Models, hps: dict[str, Any], data: Prepared, scaler: _Scaler) -> np.ndarray:
    """Mean objective loss of each model on ``data``, in the label's own units for regression."""
    scores = models.scores(data.x)
    if hps["predictor_type"] == "regressor":
        scores = scores * scaler.label_scale + scaler.label_mean
        values, _ = loss_and_grad(hps["loss"], scores, data.raw_y, hps)
    else:
        values, _ = loss_and_grad(hps["loss"], scores, data.y, hps)
    return np.asarray(values.mean(axis=1))


# --- metrics -------------------------------------------------------------------------------------------------
def _binary_counts(score: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float, float, float]:
    pred = score >= threshold
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    tn = float((~pred & (y == 0)).sum())
    return tp, fp, fn, tn


def _f_beta(precision: float, recall: float, beta: float) -> float:
    if precision + recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def _criterion_value(score: np.ndarray, y: np.ndarray, threshold: float, hps: dict[str, Any]) -> float:
    tp, fp, fn, tn = _binary_counts(score, y, threshold)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    criterion = hps["binary_classifier_model_selection_criteria"]
    if criterion == "f_beta":
        return _f_beta(precision, recall, hps["f_beta"])
    if criterion == "precision_at_target_recall":
        return precision if recall >= hps["target_recall"] else -1.0 + recall
    if criterion == "recall_at_target_precision":
        return recall if precision >= hps["target_precision"] else -1.0 + precision
    return (tp + tn) / max(1.0, tp + fp + fn + tn)


def calibrate(score: np.ndarray, y: np.ndarray, hps: dict[str, Any]) -> tuple[float, float]:
    """(threshold, criterion value): the threshold on the score that is best for the selection criterion."""
    default = 0.5 if hps["loss"] == "logistic" else 0.0
    if hps["binary_classifier_model_selection_criteria"] == "loss_function":
        return default, _criterion_value(score, y, default, {**hps, "binary_classifier_model_selection_criteria": ""})
    candidates = np.unique(score)
    if candidates.size > 512:
        candidates = np.quantile(score, np.linspace(0, 1, 513))
    best = (default, _criterion_value(score, y, default, hps))
    for threshold in candidates:
        value = _criterion_value(score, y, float(threshold), hps)
        if value > best[1]:
            best = (float(threshold), value)
    return best


def _roc_auc(score: np.ndarray, y: np.ndarray) -> float | None:
    positives = int((y == 1).sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(y.size)
    sorted_scores = score[order]
    ranks[order] = np.arange(1, y.size + 1)
    for value in np.unique(sorted_scores):  # average ranks of ties
        tied = score == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def final_metrics(model: dict[str, Any], data: _Data, hps: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(metric, kind, value) of the chosen model on one channel: the lines the container prints after training."""
    predictor = hps["predictor_type"]
    scores = predict_scores(model, data.x)
    objective = OBJECTIVE_NAMES[hps["loss"]] + "_objective"
    if predictor == "regressor":
        values, _ = loss_and_grad(hps["loss"], scores[None, :, None], data.y, hps)
        residual = scores - data.y
        return [
            (objective, "loss", float(values.mean())),
            ("mse", "loss", float((residual**2).mean())),
            ("absolute_loss", "loss", float(np.abs(residual).mean())),
        ]
    if predictor == "binary_classifier":
        raw = model["raw_scores"](data.x)  # rows x 1
        values, _ = loss_and_grad(hps["loss"], raw[None, :, :], data.y, hps)
        tp, fp, fn, tn = _binary_counts(scores, data.y, model["threshold"])
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        out = [
            (objective, "loss", float(values.mean())),
            ("binary_classification_accuracy", "score", (tp + tn) / data.y.size),
            (f"binary_f_{hps['f_beta']:.3f}", "score", _f_beta(precision, recall, hps["f_beta"])),
            ("precision", "score", precision),
            ("recall", "score", recall),
        ]
        auc = _roc_auc(scores, data.y)
        if auc is not None:
            out.append(("roc_auc_score", "score", auc))
        return out
    raw = model["raw_scores"](data.x)
    values, _ = loss_and_grad(hps["loss"], raw[None, :, :], data.y, hps)
    y = data.y.astype(int)
    predicted = raw.argmax(axis=1)
    k = min(int(hps["accuracy_top_k"]), raw.shape[1])
    rank = (raw > raw[np.arange(y.size), y][:, None]).sum(axis=1)  # 0 = the true class scores highest
    precisions, recalls = [], []
    for c in range(raw.shape[1]):
        tp = float(((predicted == c) & (y == c)).sum())
        precisions.append(tp / max(1.0, float((predicted == c).sum())))
        recalls.append(tp / max(1.0, float((y == c).sum())))
    macro_p, macro_r = float(np.mean(precisions)), float(np.mean(recalls))
    return [
        (objective, "loss", float(values.mean())),
        ("multiclass_accuracy", "score", float((predicted == y).mean())),
        (f"multiclass_top_k_accuracy_{k}", "score", float((rank < k).mean())),
        ("dcg", "score", float((1.0 / np.log2(rank + 2.0)).mean())),
        (f"macro_f_{hps['f_beta']:.3f}", "score", _f_beta(macro_p, macro_r, hps["f_beta"])),
        ("macro_precision", "score", macro_p),
        ("macro_recall", "score", macro_r),
    ]


def predict_scores(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Regression: the prediction; binary: the probability (logistic) or the raw score (hinge); multiclass:
    the raw scores (rows x classes)."""
    raw = model["raw_scores"](x)
    if model["predictor_type"] == "regressor":
        return np.asarray(raw[:, 0] * model["label_scale"] + model["label_mean"])
    if model["predictor_type"] == "binary_classifier":
        return np.asarray(_sigmoid(raw[:, 0]) if model["loss"] == "logistic" else raw[:, 0])
    return np.asarray(raw)


# --- the job -------------------------------------------------------------------------------------------------
class _Reporter:
    """Prints the container's log lines and turns them into metrics with the built-in MetricDefinitions."""

    PATTERNS = [(name, re.compile(regex)) for name, (regex, _) in LINEAR_LEARNER_METRICS.items()]

    def __init__(self, ctx: AlgorithmContext) -> None:
        self.ctx = ctx
        self.seen: dict[str, int] = {}

    def line(self, text: str) -> None:
        self.ctx.log(text)
        for name, pattern in self.PATTERNS:
            match = pattern.search(text)
            if match is None:
                continue
            try:
                value = float(match.group(1))
            except ValueError:
                continue
            if math.isfinite(value):
                epoch = self.seen.get(name, 0)
                self.seen[name] = epoch + 1
                self.ctx.report_metric(name, epoch, value)

    def quality(self, channel: str, metric: str, kind: str, value: float, epoch: int | None = None) -> None:
        where = f"host={HOST}, epoch={epoch}, " if epoch is not None else f"host={HOST}, "
        self.line(f"#quality_metric: {where}{channel} {metric} <{kind}>={value:.6g}")


def train(ctx: AlgorithmContext) -> None:  # noqa: PLR0912, PLR0915  (one branch per Linear Learner hyperparameter or metric, as the container documents them)
    """Train Linear Learner; raises JobFailed/JobStopped. Writes ``model/linear-learner-model.json``."""
    hps = parse_hyperparameters(ctx.request.get("HyperParameters") or {})
    if "train" not in ctx.channels:
        raise JobFailed("ClientError: Channel 'train' is required for Linear Learner")
    extra = sorted(set(ctx.channels) - set(CHANNELS))
    if extra:
        raise JobFailed(
            f"ClientError: Unsupported channel(s) {', '.join(extra)}: Linear Learner reads train, validation and test"
        )
    data = {name: _load(ctx, name) for name in CHANNELS if name in ctx.channels}
    predictor = hps["predictor_type"]
    width = data["train"].x.shape[1]
    for name, part in data.items():
        if part.x.shape[1] != width:
            raise JobFailed(f"ClientError: channel '{name}' has {part.x.shape[1]} features, train has {width}")
        _check_labels(part, name, predictor, hps["num_classes"])
    if hps["feature_dim"] not in (AUTO, width):
        raise JobFailed(
            f"ClientError: feature_dim is {hps['feature_dim']} but the data has {width} features (columns after "
            f"the label)"
        )
    if (stop := ctx.stop_reason()) is not None:
        raise stop
    reporter = _Reporter(ctx)
    outputs = int(hps["num_classes"]) if predictor == "multiclass_classifier" else 1
    scaler = _scaler(data["train"], hps)
    train_set = _prepare(data["train"], scaler)
    check = _prepare(data["validation"], scaler) if "validation" in data else train_set
    check_name = "validation" if "validation" in data else "train"
    rng = np.random.default_rng(SEED)
    count, lr, wd, l1, pos = _variants(hps, data["train"])
    w, b = _init(hps, count, width, outputs, rng)
    models = _Models(w=w, b=b, lr=lr, wd=wd, l1=l1, pos_weight=pos)
    ctx.log(
        f"Linear Learner (local emulation): predictor_type={predictor}, loss={hps['loss']}, "
        f"optimizer={hps['optimizer']}, num_models={count}, features={width}, rows={train_set.y.size}"
    )
    best_loss = _objective(models, hps, check, scaler)
    best_w, best_b = models.w.copy(), models.b.copy()
    waited = np.zeros(count, dtype=int)
    batch = int(hps["mini_batch_size"])
    per_epoch = max(1, math.ceil(train_set.y.size / batch))
    objective_name = OBJECTIVE_NAMES[hps["loss"]] + "_objective"
    tolerance = hps["early_stopping_tolerance"]
    for epoch in range(int(hps["epochs"])):
        order = rng.permutation(train_set.y.size)
        for start in range(0, order.size, batch):
            rows = order[start : start + batch]
            scale = _lr_scale(hps, models.step, per_epoch, float(models.lr.min()))
            _step(models, hps, train_set.x[rows], train_set.y[rows], scale)
        if (stop := ctx.stop_reason()) is not None:
            raise stop
        train_loss = _objective(models, hps, train_set, scaler)
        check_loss = train_loss if check is train_set else _objective(models, hps, check, scaler)
        leader = int(np.nanargmin(check_loss))
        reporter.quality("train", objective_name, "loss", float(train_loss[leader]), epoch)
        if check is not train_set:
            reporter.quality("validation", objective_name, "loss", float(check_loss[leader]), epoch)
        reporter.line(
            f"#early_stopping_criteria_metric: host={HOST}, epoch={epoch}, criteria={objective_name}, "
            f"value={float(check_loss[leader]):.6g}"
        )
        improved = (best_loss - check_loss) > tolerance * np.abs(best_loss)
        improved |= ~np.isfinite(best_loss) & np.isfinite(check_loss)
        best_loss = np.where(improved, check_loss, best_loss)
        best_w[improved] = models.w[improved]
        best_b[improved] = models.b[improved]
        waited = np.where(improved, 0, waited + 1)
        if improved.any():
            ctx.log(f"Epoch {epoch}: Loss improved. Updating best model")
        else:
            ctx.log(f"Epoch {epoch}: Loss has not improved for {int(waited.min())} epochs.")
        if (waited >= hps["early_stopping_patience"]).all():
            ctx.log(f"Early stopping: no model improved on the {check_name} data for {waited.min()} epochs")
            break
    models.w, models.b = best_w, best_b
    chosen = _choose(models, hps, check, scaler)
    reporter.line(f"#progress_metric: host={HOST}, completed 100 % of epochs")
    for name in CHANNELS:
        if name in data:
            for metric, kind, value in final_metrics(chosen, data[name], hps):
                reporter.quality(name, metric, kind, value)
    ctx.log(f"Selected model {chosen['index']} of {count} on the {check_name} data")
    _save(ctx, chosen, hps)


def _choose(models: _Models, hps: dict[str, Any], check: Prepared, scaler: _Scaler) -> dict[str, Any]:
    """The best model on the validation data (else train), with its calibrated threshold (binary)."""
    count = models.w.shape[0]
    losses = _objective(models, hps, check, scaler)
    candidates = []
    for i in range(count):
        model = _model_dict(models, i, hps, scaler)
        if hps["predictor_type"] == "binary_classifier":
            sample = check.x
            labels = check.raw_y
            limit = hps["num_calibration_samples"]
            if limit != AUTO:
                sample, labels = sample[: int(limit)], labels[: int(limit)]
            scores = predict_scores(model, sample * scaler.scale + scaler.mean)
            model["threshold"], value = calibrate(scores, labels, hps)
            key = -losses[i] if hps["binary_classifier_model_selection_criteria"] == "loss_function" else value
        else:
            key = -losses[i]
        candidates.append((key if np.isfinite(key) else -np.inf, -i, model))
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


def _model_dict(models: _Models, i: int, hps: dict[str, Any], scaler: _Scaler) -> dict[str, Any]:
    w, b = models.w[i].copy(), models.b[i].copy()
    mean, scale = scaler.mean.copy(), scaler.scale.copy()

    def raw_scores(x: np.ndarray) -> np.ndarray:
        return np.asarray(((x - mean) / scale) @ w + b)

    return {
        "index": i,
        "predictor_type": hps["predictor_type"],
        "loss": hps["loss"],
        "weights": w,
        "bias": b,
        "feature_mean": mean,
        "feature_scale": scale,
        "label_mean": scaler.label_mean,
        "label_scale": scaler.label_scale,
        "threshold": 0.5 if hps["loss"] == "logistic" else 0.0,
        "learning_rate": float(models.lr[i]),
        "wd": float(models.wd[i]),
        "l1": float(models.l1[i]),
        "raw_scores": raw_scores,
    }


def _save(ctx: AlgorithmContext, model: dict[str, Any], hps: dict[str, Any]) -> None:
    document = {
        "format": "trainops-local linear-learner 1 (the local emulation's own; not the container's MXNet model)",
        "predictor_type": model["predictor_type"],
        "loss": model["loss"],
        "weights": model["weights"].tolist(),
        "bias": model["bias"].tolist(),
        "feature_mean": model["feature_mean"].tolist(),
        "feature_scale": model["feature_scale"].tolist(),
        "label_mean": model["label_mean"],
        "label_scale": model["label_scale"],
        "threshold": model["threshold"],
        "chosen": {"learning_rate": model["learning_rate"], "wd": model["wd"], "l1": model["l1"]},
        "hyperparameters": {k: v for k, v in hps.items() if isinstance(v, str | int | float | bool)},
    }
    (ctx.layout.model_dir / MODEL_FILE).write_text(json.dumps(document))


def load_model(document: dict[str, Any]) -> dict[str, Any]:
    """A saved model, ready for ``predict_scores`` (tests and local checks)."""
    w, b = np.asarray(document["weights"]), np.asarray(document["bias"])
    mean, scale = np.asarray(document["feature_mean"]), np.asarray(document["feature_scale"])
    return {
        **document,
        "raw_scores": lambda x: ((np.asarray(x) - mean) / scale) @ w + b,
    }


__all__ = ["JobStopped", "load_model", "parse_hyperparameters", "predict_scores", "train"]
