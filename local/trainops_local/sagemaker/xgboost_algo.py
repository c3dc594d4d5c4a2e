"""SageMaker built-in XGBoost, run locally with the open-source xgboost library.

Behaves like the sagemaker-xgboost 1.7-1 container: SageMaker's hyperparameter names and validation,
``train``/``validation`` channels in CSV (label first, no header) or libsvm, ``train:<m>``/``validation:<m>``
metrics every round, ``xgboost-checkpoint.<N>`` checkpoints with resume, ``model/xgboost-model``, and the
1.x library's ``base_score`` of 0.5. The library underneath is xgboost 3.x, so other defaults differ:
``tree_method`` is ``hist`` (1.x picked ``exact`` for data this size), and models are not bit-identical.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from scipy import sparse

from trainops_local.sagemaker import datafiles, s3io
from trainops_local.sagemaker.channels import Channel, fifo_path, read_fifo
from trainops_local.sagemaker.layout import TrainingLayout
from trainops_local.sagemaker.types import JobFailed, JobStopped

MODEL_FILE = "xgboost-model"
CHECKPOINT_RE = re.compile(r"^xgboost-checkpoint\.([0-9]+)$")
CHECKPOINTS_KEPT = 5

_INT = int
_FLOAT = float
_STR = str
# SageMaker XGBoost (1.7-1) hyperparameters -> type. Names not here fail validation like the container's.
HYPERPARAMETERS: dict[str, type] = {
    "num_round": _INT,
    "num_class": _INT,
    "early_stopping_rounds": _INT,
    "csv_weights": _INT,
    "max_depth": _INT,
    "max_leaves": _INT,
    "max_bin": _INT,
    "nthread": _INT,
    "seed": _INT,
    "verbosity": _INT,
    "one_drop": _INT,
    "eta": _FLOAT,
    "gamma": _FLOAT,
    "min_child_weight": _FLOAT,
    "max_delta_step": _FLOAT,
    "subsample": _FLOAT,
    "colsample_bytree": _FLOAT,
    "colsample_bylevel": _FLOAT,
    "colsample_bynode": _FLOAT,
    "lambda": _FLOAT,
    "alpha": _FLOAT,
    "scale_pos_weight": _FLOAT,
    "base_score": _FLOAT,
    "sketch_eps": _FLOAT,
    "tweedie_variance_power": _FLOAT,
    "rate_drop": _FLOAT,
    "skip_drop": _FLOAT,
    "huber_slope": _FLOAT,
    "aft_loss_distribution_scale": _FLOAT,
    "objective": _STR,
    "eval_metric": _STR,
    "booster": _STR,
    "tree_method": _STR,
    "grow_policy": _STR,
    "sample_type": _STR,
    "normalize_type": _STR,
    "process_type": _STR,
    "updater": _STR,
    "refresh_leaf": _INT,
    "interaction_constraints": _STR,
    "monotone_constraints": _STR,
    "aft_loss_distribution": _STR,
    "save_model_on_termination": _STR,
    "_tuning_objective_metric": _STR,
}
# Accepted by the container but not passed to the xgboost library.
_NOT_BOOSTER_PARAMS = {
    "num_round",
    "early_stopping_rounds",
    "csv_weights",
    "eval_metric",
    "save_model_on_termination",
    "_tuning_objective_metric",
}


@dataclass
class XGBoostContext:
    """What the engine hands to the algorithm."""

    request: dict[str, Any]
    layout: TrainingLayout
    channels: dict[str, Channel]
    s3: Any
    report_metric: Callable[[str, int, float], None]
    log: Callable[[str], None]
    stop_reason: Callable[[], JobStopped | None]
    checkpoint_uri: str | None


def parse_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """Validate and type the hyperparameters as the container does (unknown names fail)."""
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        kind = HYPERPARAMETERS.get(name)
        if kind is None:
            if name.startswith("sagemaker_"):
                continue
            raise JobFailed(f"ClientError: Hyperparameter validation failed: Extraneous hyperparameter found: {name}")
        try:
            parsed[name] = kind(str(value).strip())
        except ValueError:
            raise JobFailed(
                f"ClientError: Hyperparameter validation failed: {name}: value {value!r} is not a valid {kind.__name__}"
            ) from None
    if "num_round" not in parsed:
        raise JobFailed("ClientError: Hyperparameter validation failed: Missing required hyperparameter: num_round")
    if parsed["num_round"] < 1:
        raise JobFailed("ClientError: Hyperparameter validation failed: num_round: value must be >= 1")
    objective = parsed.setdefault("objective", "reg:squarederror")
    if objective.startswith("multi:") and "num_class" not in parsed:
        raise JobFailed(f"ClientError: Hyperparameter validation failed: num_class is required for {objective}")
    return parsed


def eval_metrics(hps: dict[str, Any]) -> list[str]:
    """``eval_metric`` as a list, with the tuning objective's metric added as the container does."""
    metrics = [m.strip() for m in str(hps.get("eval_metric", "")).split(",") if m.strip()]
    tuning = hps.get("_tuning_objective_metric")
    if tuning and ":" in tuning:
        metric = tuning.split(":", 1)[1]
        if metric not in metrics:
            metrics.append(metric)
    return metrics


def library_defaults(image: str) -> dict[str, Any]:
    """Defaults of the container's own xgboost library that the installed xgboost (3.x) no longer has.

    The 1.x containers (1.5-1, 1.7-1) ship xgboost 1.x, whose ``base_score`` was 0.5; xgboost 2.0 started
    estimating it from the labels, which changes every regression curve (diabetes starts near 150, not 0.5).
    """
    tag = image.rsplit(":", 1)[-1] if ":" in image else ""
    return {"base_score": 0.5} if tag.startswith("1.") else {}


def booster_params(hps: dict[str, Any], image: str = "") -> dict[str, Any]:
    """The xgboost library's params from SageMaker's hyperparameters, for the container ``image``."""
    params = {**library_defaults(image), **{k: v for k, v in hps.items() if k not in _NOT_BOOSTER_PARAMS}}
    metrics = eval_metrics(hps)
    if metrics:
        params["eval_metric"] = metrics
    params.setdefault("verbosity", 0)
    return params


def load_channel(ctx: XGBoostContext, name: str, kind: str) -> tuple[Any, np.ndarray, int]:
    """Read a channel (File: files; Pipe: the ``<channel>_0`` FIFO) -> (features, labels, n_features)."""
    channel = ctx.channels[name]
    if channel.mode == "Pipe":
        if kind == "libsvm":
            raise JobFailed("ClientError: Pipe mode not supported for LibSVM")
        path = fifo_path(ctx.layout, name, 0)
        try:
            raw = read_fifo(path, lambda: ctx.stop_reason() is not None)
        except InterruptedError:
            raise _stop_or(ctx) from None
        return _parse_blobs([(raw, f"channel '{name}' (Pipe {path.name})")], kind)
    files = datafiles.channel_files(ctx.layout.channel_dir(name))
    if not files:
        raise JobFailed(f"ClientError: channel '{name}': no data files under {channel.uri}")
    blobs = [(f.read_bytes(), f"channel '{name}' file {f.relative_to(ctx.layout.channel_dir(name))}") for f in files]
    return _parse_blobs(blobs, kind)


def _stop_or(ctx: XGBoostContext) -> JobStopped:
    return ctx.stop_reason() or JobStopped()


def _parse_blobs(blobs: list[tuple[bytes, str]], kind: str) -> tuple[Any, np.ndarray, int]:
    if kind == "csv":
        xs: list[Any] = []
        ys: list[Any] = []
        for raw, where in blobs:
            x, y = datafiles.parse_csv(raw, where)
            if xs and x.shape[1] != xs[0].shape[1]:
                raise JobFailed(
                    f"ClientError: {where}: {x.shape[1] + 1} columns, other files have {xs[0].shape[1] + 1}"
                )
            xs.append(x)
            ys.append(y)
        return np.vstack(xs), np.concatenate(ys), int(xs[0].shape[1])
    rows: list[dict[int, float]] = []
    labels: list[float] = []
    for raw, where in blobs:
        r, lab = datafiles.parse_libsvm(raw, where)
        rows.extend(r)
        labels.extend(lab)
    width = 1 + max((max(r) for r in rows if r), default=0)
    return rows, np.asarray(labels, dtype=np.float32), width


def _to_dmatrix(features: Any, labels: np.ndarray, width: int, *, weights: bool) -> xgb.DMatrix:
    if isinstance(features, list):
        data, indices, indptr = [], [], [0]
        for row in features:
            for idx in sorted(row):
                indices.append(idx)
                data.append(row[idx])
            indptr.append(len(indices))
        matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(features), width), dtype=np.float32)
        return xgb.DMatrix(matrix, label=labels)
    if weights:
        return xgb.DMatrix(features[:, 1:], label=labels, weight=features[:, 0], missing=np.nan)
    return xgb.DMatrix(features, label=labels, missing=np.nan)


def latest_checkpoint(directory: Path) -> tuple[Path, int] | None:
    """The ``xgboost-checkpoint.<N>`` file with the highest N, if any."""
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT_RE.match(p.name))]
    if not found:
        return None
    n, path = max(found)
    return path, n


class _RoundCallback(xgb.callback.TrainingCallback):
    """Reports metrics and log lines, writes checkpoints and polls stop/deadline after every round."""

    def __init__(self, ctx: XGBoostContext, offset: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.offset = offset
        self.stopped: JobStopped | None = None
        self.last_round = offset - 1

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict[str, Any]) -> bool:
        rnd = self.offset + epoch
        self.last_round = rnd
        parts = [f"[{rnd}]"]
        for data_name, metrics in evals_log.items():
            for metric, values in metrics.items():
                value = float(values[-1])
                parts.append(f"{data_name}-{metric}:{value:.5f}")
                if math.isfinite(value):
                    # SageMaker reads metrics from the log with a numeric regex: "nan" (e.g. AUC of one class)
                    # is never a metric value there
                    self.ctx.report_metric(f"{data_name}:{metric}", rnd, value)
        self.ctx.log("#011".join(parts))
        if self.ctx.checkpoint_uri:
            self._checkpoint(model, rnd)
        self.stopped = self.ctx.stop_reason()
        return self.stopped is not None

    def _checkpoint(self, model: xgb.Booster, rnd: int) -> None:
        directory = self.ctx.layout.checkpoints_dir
        path = directory / f"xgboost-checkpoint.{rnd}"
        model.save_model(str(path))
        assert self.ctx.checkpoint_uri is not None
        s3io.upload_file(self.ctx.s3, path, s3io.join_uri(self.ctx.checkpoint_uri, path.name))
        olds = sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT_RE.match(p.name)))
        for _, old in olds[:-CHECKPOINTS_KEPT]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()


def train(ctx: XGBoostContext) -> None:
    """Train built-in XGBoost; raises JobFailed/JobStopped. Writes ``model/xgboost-model``."""
    hps = parse_hyperparameters(ctx.request.get("HyperParameters") or {})
    if "train" not in ctx.channels:
        raise JobFailed("ClientError: Channel 'train' is required for built-in XGBoost")
    extra = sorted(set(ctx.channels) - {"train", "validation"})
    if extra:
        raise JobFailed(
            f"ClientError: Unsupported channel(s) {', '.join(extra)}: built-in XGBoost reads train and validation"
        )
    if hps.get("early_stopping_rounds") and "validation" not in ctx.channels:
        raise JobFailed("ClientError: early_stopping_rounds needs a 'validation' channel")
    kinds = {name: datafiles.content_kind(ch.content_type, "text/libsvm") for name, ch in ctx.channels.items()}
    weights = bool(hps.get("csv_weights"))
    loaded = {name: load_channel(ctx, name, kinds[name]) for name in ("train", "validation") if name in ctx.channels}
    width = max(w for _, _, w in loaded.values())
    try:
        dtrain = _to_dmatrix(*loaded["train"][:2], width, weights=weights)
        evals = [(dtrain, "train")]
        if "validation" in loaded:
            evals.append((_to_dmatrix(*loaded["validation"][:2], width, weights=weights), "validation"))
    except xgb.core.XGBoostError as exc:
        raise JobFailed(f"AlgorithmError: {_first_line(str(exc))}") from exc
    if (stop := ctx.stop_reason()) is not None:
        raise stop

    start_model: xgb.Booster | None = None
    offset = 0
    checkpoint = latest_checkpoint(ctx.layout.checkpoints_dir) if ctx.checkpoint_uri else None
    if checkpoint is not None:
        path, n = checkpoint
        start_model = xgb.Booster(model_file=str(path))
        offset = n + 1
        ctx.log(f"Resuming from checkpoint {path.name}: {max(0, hps['num_round'] - offset)} more round(s)")
    rounds = max(0, hps["num_round"] - offset)
    callback = _RoundCallback(ctx, offset)
    try:
        booster = xgb.train(
            booster_params(hps, (ctx.request.get("AlgorithmSpecification") or {}).get("TrainingImage", "")),
            dtrain,
            num_boost_round=rounds,
            evals=evals,
            early_stopping_rounds=hps.get("early_stopping_rounds"),
            xgb_model=start_model,
            callbacks=[callback],
            verbose_eval=False,
        )
    except xgb.core.XGBoostError as exc:
        raise JobFailed(f"AlgorithmError: {_first_line(str(exc))}") from exc
    if callback.stopped is not None:
        if str(hps.get("save_model_on_termination", "false")).lower() == "true":
            booster.save_model(str(ctx.layout.model_dir / MODEL_FILE))
        raise callback.stopped
    booster.save_model(str(ctx.layout.model_dir / MODEL_FILE))


_LOG_PREFIX = re.compile(r"^\[\d{2}:\d{2}:\d{2}\] \S+:\d+: ")


def _first_line(text: str) -> str:
    """XGBoost's message without its C++ stack and its ``[hh:mm:ss] file.cc:123:`` prefix."""
    lines = [line for line in text.splitlines() if line.strip()]
    return _LOG_PREFIX.sub("", lines[0])[:500] if lines else text[:500]
