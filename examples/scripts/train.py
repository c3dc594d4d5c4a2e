"""Script-mode training script for the SageMaker scikit-learn container (and trainops' local cloud).

Reads CSV channels (label first, no header) from ``SM_CHANNEL_TRAIN`` / ``SM_CHANNEL_VALIDATION`` in File
mode, or from the named pipes ``$SM_INPUT_DIR/data/<channel>_<epoch>`` in Pipe mode (one pass per epoch),
trains a logistic-regression ``SGDClassifier`` epoch by epoch and prints lines such as::

    epoch=3 train-logloss=0.1234 validation-auc=0.9876

Match them with MetricDefinitions, e.g. ``{"Name": "validation:auc", "Regex": "validation-auc=([0-9.]+)"}``.
With a ``model`` channel (the ``model.tar.gz`` of an earlier run) it continues from that model.
On bad input it writes the reason to ``/opt/ml/output/failure`` and exits 1.

Only the standard library, numpy and scikit-learn: it runs unchanged in the SageMaker container.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss, roc_auc_score

MODEL_FILE = "model.pkl"


class BadInput(Exception):
    """The data cannot be used; the message goes to the failure file."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=0.0001)
    parser.add_argument("--eta0", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    return parser.parse_args(argv)


def input_mode(channel: str) -> str:
    """The channel's input mode from SM_INPUT_DATA_CONFIG (File when unknown)."""
    config = json.loads(os.environ.get("SM_INPUT_DATA_CONFIG", "{}"))
    return str(config.get(channel, {}).get("TrainingInputMode", "File"))


def parse_csv(text: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """CSV with the label in the first column and no header."""
    rows = []
    width = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if width is None:
            width = len(cells)
        if len(cells) != width:
            raise BadInput(f"{where} line {lineno}: {len(cells)} columns, expected {width}")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise BadInput(f"{where} line {lineno}: non-numeric value (header row?)") from None
    if not rows or width is None or width < 2:
        raise BadInput(f"{where}: no data (expected label,feature,... rows)")
    data = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(data).all():
        raise BadInput(f"{where}: NaN or infinite values")
    return data[:, 1:], data[:, 0]


def read_dir(directory: str, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """File mode: every file of the channel directory."""
    files = sorted(p for p in Path(directory).rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise BadInput(f"channel {channel}: no files in {directory}")
    parts = [parse_csv(p.read_text(encoding="utf-8"), f"{channel}/{p.name}") for p in files]
    return np.vstack([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def read_pipe(channel: str, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Pipe mode: one pass over the channel is one FIFO, read to EOF."""
    path = Path(os.environ.get("SM_INPUT_DIR", "/opt/ml/input")) / "data" / f"{channel}_{epoch}"
    print(f"reading pipe {path.name}", flush=True)
    deadline = time.monotonic() + 300
    while not path.exists():  # the platform creates <channel>_<N+1> after <channel>_<N> reaches EOF
        if time.monotonic() > deadline:
            raise BadInput(f"channel {channel}: {path.name} did not appear")
        time.sleep(0.01)
    with path.open("rb") as fifo:
        text = fifo.read().decode("utf-8")
    return parse_csv(text, f"{channel} (pipe {path.name})")


def load_channel(channel: str, directory: str | None, epoch: int) -> tuple[np.ndarray, np.ndarray] | None:
    if input_mode(channel) == "Pipe":
        return read_pipe(channel, epoch)
    if directory is None or not Path(directory).is_dir():
        return None
    return read_dir(directory, channel)


def initial_model(args: argparse.Namespace) -> SGDClassifier:
    """A fresh model, or the one in the ``model`` channel (incremental training)."""
    model_channel = os.environ.get("SM_CHANNEL_MODEL")
    if model_channel and Path(model_channel).is_dir():
        for archive in Path(model_channel).glob("*.tar.gz"):
            with tempfile.TemporaryDirectory() as tmp:
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
                path = Path(tmp) / MODEL_FILE
                if path.is_file():
                    print(f"continuing from {archive.name}", flush=True)
                    with path.open("rb") as f:
                        return pickle.load(f)
    return SGDClassifier(
        loss="log_loss", alpha=args.alpha, eta0=args.eta0, learning_rate="constant", random_state=args.seed
    )


def train(args: argparse.Namespace) -> None:
    model = initial_model(args)
    classes = np.array([0.0, 1.0])
    validation = None
    pipe_train = input_mode("train") == "Pipe"
    train_data = None if pipe_train else load_channel("train", args.train, 0)
    if train_data is None and not pipe_train:
        raise BadInput("channel train is required")
    for epoch in range(args.epochs):
        x, y = read_pipe("train", epoch) if pipe_train else train_data
        if not set(np.unique(y)) <= {0.0, 1.0}:
            raise BadInput("labels must be 0 or 1")
        model.partial_fit(x, y, classes=classes)
        line = f"epoch={epoch} train-logloss={log_loss(y, model.predict_proba(x), labels=classes):.6f}"
        if validation is None:
            validation = load_channel("validation", args.validation, 0)
        if validation is not None:
            vx, vy = validation
            line += f" validation-auc={roc_auc_score(vy, model.predict_proba(vx)[:, 1]):.6f}"
        print(line, flush=True)
    Path(args.model_dir).mkdir(parents=True, exist_ok=True)
    with (Path(args.model_dir) / MODEL_FILE).open("wb") as f:
        pickle.dump(model, f)
    output_data = os.environ.get("SM_OUTPUT_DATA_DIR")
    if output_data:
        Path(output_data).mkdir(parents=True, exist_ok=True)
        (Path(output_data) / "summary.json").write_text(json.dumps({"epochs": args.epochs}))


def write_failure(message: str) -> None:
    """SageMaker reports the contents of /opt/ml/output/failure as the job's FailureReason."""
    failure = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")) / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(message)


def main() -> int:
    args = parse_args()
    try:
        train(args)
    except BadInput as exc:
        write_failure(f"Bad input: {exc}")
        print(f"Bad input: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
