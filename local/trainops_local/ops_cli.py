"""``trainops runs|start|models``: one set of commands for a deployed stack and for the local cloud.

    trainops runs list [--project P]           newest first
    trainops runs show RUN                     states, inferred choices, jobs and metrics, approval, cause
    trainops runs logs RUN                     the jobs' logs (CloudWatch Logs)
    trainops start PROJECT [--data URI]        StartExecution with the documented manual input
    trainops models list PROJECT
    trainops models approve|reject ARN --reason TEXT [--project P]

Target: ``--stack NAME`` (and ``--region``/``--profile``) is a deployed stack; otherwise the local cloud's state
in ``--workdir`` (default ``.trainops``) when it holds one; otherwise the deployed stack named in
samconfig.toml. ``--json`` on every command. Tables are plain aligned text: an ARN or a path is never split
across lines (a terminal may wrap a long line; copying it gives the whole value).
Exit codes: 0 done; 1 a run started here failed; 2 bad input (unknown run, project or package; no stack, no
credentials, no local state).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainops_local.ops import OpsError, Stack

DEFAULT_WORKDIR = Path(".trainops")


def add_parsers(sub: Any) -> None:
    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stack", help="a deployed stack (default: samconfig.toml's, when no local state is here)")
        p.add_argument("--region", help="default: your AWS profile's region")
        p.add_argument("--profile", help="AWS named profile")
        p.add_argument("--workdir", type=Path, help="the local cloud's state (default: .trainops when it exists)")
        p.add_argument("--json", action="store_true", help="print JSON")

    runs = sub.add_parser("runs", help="list runs, show one, read its jobs' logs")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True)
    listing = runs_sub.add_parser("list", help="the newest runs first")
    listing.add_argument("--project")
    listing.add_argument("--limit", type=int, default=50)
    target(listing)
    show = runs_sub.add_parser("show", help="states passed, inferred choices, jobs and metrics, approval, cause")
    show.add_argument("run")
    target(show)
    logs = runs_sub.add_parser("logs", help="the run's jobs' logs")
    logs.add_argument("run")
    target(logs)

    start = sub.add_parser("start", help="start a run of a project (its newest data, or --data)")
    start.add_argument("project")
    start.add_argument("--data", help="s3://<data bucket>/data/<project>/... (default: the newest dataset)")
    start.add_argument("--timeout", type=float, default=900.0, help="local cloud: seconds to wait for the run")
    target(start)

    models = sub.add_parser("models", help="a project's registered models; approve or reject one")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    mlist = models_sub.add_parser("list", help="every version, newest first")
    mlist.add_argument("project")
    target(mlist)
    for action in ("approve", "reject"):
        p = models_sub.add_parser(action, help=f"{action} a model package; the reason is kept with it")
        p.add_argument("arn")
        p.add_argument("--reason", required=True)
        p.add_argument("--project", help="refuse unless the package is this project's")
        target(p)


def run_command(args: argparse.Namespace) -> int:
    try:
        with _stack(args) as (stack, app):
            return _dispatch(args, stack, app)
    except OpsError as exc:
        _error(str(exc), as_json=args.json)
        return 2


@contextlib.contextmanager
def _stack(args: argparse.Namespace) -> Iterator[tuple[Stack, Any]]:
    """(the stack, the running LocalTrainops or None)."""
    from trainops_local.ops import aws_stack

    local_state = _local_state(args.workdir)
    if args.stack or local_state is None:
        if args.workdir is not None and not args.stack:
            raise OpsError(f"{args.workdir.absolute()} holds no local cloud state: run `trainops local run` first")
        from trainops_local.upload import default_stack_name

        yield aws_stack(args.stack or default_stack_name(), region=args.region, profile=args.profile), None
        return
    from trainops_local.cloud.persistence import StateError
    from trainops_local.runner import LocalTrainops

    try:
        with LocalTrainops(local_state) as app:
            yield Stack(outputs=app.outputs, client=app.cloud.client, region=app.cloud.region), app
    except StateError as exc:
        raise OpsError(str(exc)) from exc


def _local_state(workdir: Path | None) -> Path | None:
    from trainops_local.cloud.persistence import StateError, read_stamp

    candidate = workdir if workdir is not None else DEFAULT_WORKDIR
    try:
        return candidate if read_stamp(candidate) is not None else None
    except StateError as exc:
        raise OpsError(str(exc)) from exc


def _dispatch(args: argparse.Namespace, stack: Stack, app: Any) -> int:  # noqa: PLR0911  (one return per exit status of the command)
    from trainops_local import ops

    if args.command == "runs" and args.runs_command == "list":
        rows = ops.list_runs(stack, args.project, limit=args.limit)
        columns = ["run_id", "project", "status", "trigger", "approval_status", "objective_value", "started_at"]
        return _print(args, rows, columns)
    if args.command == "runs" and args.runs_command == "show":
        return _print_one(args, ops.show_run(stack, args.run))
    if args.command == "runs":
        lines = ops.run_logs(stack, args.run)
        if args.json:
            print(json.dumps(lines))
        else:
            for line in lines:
                print(f"{line['stream']}  {line['message']}")
        return 0
    if args.command == "start":
        arn = ops.start(stack, args.project, args.data)
        if app is None:  # AWS: the execution runs there
            return _print_one(args, {"execution_arn": arn})
        summary = app.follow(arn, args.project, timeout=args.timeout)  # locally it runs in this process
        _print_one(args, summary.to_json())
        return 0 if summary.status == "SUCCEEDED" else 1
    if args.models_command == "list":
        rows = ops.list_models(stack, args.project)
        return _print(args, rows, ["version", "approval_status", "objective_metric", "objective_value", "arn"])
    result = ops.set_approval(stack, args.arn, args.models_command, args.reason, project=args.project)
    return _print_one(args, result)


def _print(args: argparse.Namespace, rows: list[dict[str, Any]], columns: list[str]) -> int:
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    print(table(rows, columns))
    return 0


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Plain aligned columns; no value is cut or folded (ARNs and paths stay whole on their line)."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) if rows else lines[0] + "\n(none)"


def _print_one(args: argparse.Namespace, item: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(item, default=str))
        return 0
    width = max((len(k) for k in item), default=0)
    for key, value in item.items():
        if value in (None, [], {}, ""):
            continue
        shown = json.dumps(value, default=str) if isinstance(value, list | dict) else value
        print(f"{key.ljust(width)}  {shown}")
    return 0


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _error(message: str, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"status": "INVALID_INPUT", "error": message}))
    else:
        print(f"error: {message}", file=sys.stderr)
