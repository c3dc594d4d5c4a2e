"""``trainops report RUN --out DIR [--stack S | --workdir W]`` and ``trainops local run ... --report DIR``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainops_local.report import Report, write_report

if TYPE_CHECKING:
    from trainops_local.report.source import Boto3Source

DEFAULT_WORKDIR = Path(".trainops")
STATE_STAMP = "state.json"  # what a workdir holding the local cloud's kept state has (cloud/persistence.py)


def add_parser(sub: Any) -> None:
    """The ``report`` subcommand."""
    report = sub.add_parser("report", help="a run as report.html with PNG charts (works offline)")
    report.add_argument("run", help="the run id (trainops local run --json prints it as run_id)")
    report.add_argument("--out", type=Path, required=True, help="folder for report.html and its PNGs")
    report.add_argument("--stack", help="a deployed stack (default: the local cloud kept in --workdir)")
    report.add_argument("--region", help="with --stack: default your AWS profile's region")
    report.add_argument("--profile", help="with --stack: AWS named profile")
    report.add_argument(
        "--workdir", type=Path, default=DEFAULT_WORKDIR, help="the local cloud's state (default .trainops)"
    )
    report.add_argument("--json", action="store_true")


def run_command(args: argparse.Namespace) -> int:
    """Exit 0 with the report written; 2 when the run, the stack or the local state is not there."""
    try:
        report = _from_stack(args) if args.stack else _from_workdir(args)
    except _Refused as exc:
        _error(str(exc), as_json=args.json)
        return 2
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(f"report: {report.html}  ({len(report.charts)} charts)")
    return 0


class _Refused(Exception):
    pass


def _from_stack(args: argparse.Namespace) -> Report:
    from trainops_local.ops import OpsError, aws_stack
    from trainops_local.report.data import RunNotFound
    from trainops_local.report.source import Boto3Source

    try:
        stack = aws_stack(args.stack, region=args.region, profile=args.profile)
    except OpsError as exc:
        raise _Refused(str(exc)) from exc
    try:
        return write_report(Boto3Source(stack.client, stack.outputs["RunsTableName"]), args.run, args.out)
    except RunNotFound as exc:
        raise _Refused(f"no run {args.run!r} in stack {args.stack!r}: `trainops runs list` shows the runs") from exc


def _from_workdir(args: argparse.Namespace) -> Report:
    workdir: Path = args.workdir
    if not (workdir / STATE_STAMP).is_file():
        raise _Refused(
            f"{workdir.absolute()} holds no local cloud state, so run {args.run!r} is not known there: a local run is "
            "reported by `trainops local run ... --report DIR` (the run's own command), or by this command with "
            "--workdir set to where the run kept its state; for a deployed stack pass --stack"
        )
    from trainops_local.report.data import RunNotFound
    from trainops_local.runner import LocalTrainops

    with LocalTrainops(workdir) as app:
        try:
            return write_report(local_source(app), args.run, args.out)
        except RunNotFound as exc:
            raise _Refused(f"no run {args.run!r} in the local state kept in {workdir.absolute()}") from exc


def local_source(app: Any) -> Boto3Source:
    """The report source of a running ``LocalTrainops``."""
    from trainops_local.report.source import Boto3Source

    return Boto3Source(app.cloud.client, app.outputs["RunsTableName"])


def write_local_reports(app: Any, summaries: list[Any], out: Path) -> dict[str, str]:
    """Reports of the runs a ``local run`` just made (in-process): ``out`` for one run, ``out/<run id>`` for
    several. Returns run id -> report.html; a run that never got a run id has no report."""
    written: dict[str, str] = {}
    runs = [s.run_id for s in summaries if s.run_id]
    for run_id in runs:
        target = out if len(summaries) == 1 else out / run_id
        written[run_id] = str(write_report(local_source(app), run_id, target).html)
    return written


def add_report_paths(payload: Any, reports: dict[str, str]) -> None:
    """Adds ``report`` (the page's path) to each run object of ``local run --json``'s output."""
    for item in payload if isinstance(payload, list) else [payload]:
        if isinstance(item, dict) and item.get("run_id") in reports:
            item["report"] = reports[item["run_id"]]


def _error(message: str, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"status": "INVALID_INPUT", "error": message}))
    else:
        print(f"error: {message}", file=sys.stderr)
