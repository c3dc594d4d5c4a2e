"""The ``trainops`` command.

    trainops local demo                      the main job on the bundled data (what `make demo` runs)
    trainops local run --project NAME --data PATH [--config FILE] [--json] [--workdir DIR]
    trainops local reset [--workdir DIR]      forget the local cloud's state (runs, models, data)
    trainops report RUN --out DIR [--stack NAME | --workdir DIR] [--json]   report.html with PNG charts
    trainops runs list [--project P] | runs show RUN | runs logs RUN     (a deployed stack, or the local state)
    trainops start PROJECT [--data URI]
    trainops models list PROJECT | models approve|reject ARN --reason TEXT
    trainops config validate FILE [--strict] [--json]
    trainops config upload FILE [--stack NAME] [--region R] [--profile P] [--json]

Exit codes: 0 success; 1 the run failed (or findings under --strict); 2 bad input (nothing was started).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from trainops_local import ops_cli
from trainops_local.report import command as report_command

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DEFAULT_WORKDIR = Path(".trainops")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainops", description="trainops: SageMaker training controller")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="run trainops on the embedded local cloud (no AWS account needed)")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    run = local_sub.add_parser("run", help="train a project on your own data and config")
    run.add_argument("--project", required=True, help="project name (lower-case letters, digits, hyphens)")
    run.add_argument("--data", required=True, type=Path, help="a data file, or a directory of data files")
    run.add_argument("--config", type=Path, help="project config YAML (default: everything inferred)")
    run.add_argument("--runs", type=int, default=1, help="run the same upload N times (champion comparison)")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of progress")
    run.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="where the local cloud keeps its state between commands: data, runs, models, jobs "
        "(default: .trainops in the current folder)",
    )
    run.add_argument("--timeout", type=float, default=900.0, help="seconds before the run is stopped")
    run.add_argument("--report", type=Path, help="write the run's report.html and charts into this folder")
    demo = local_sub.add_parser("demo", help="the main job on the bundled dataset, then a small tuning run")
    demo.add_argument("--json", action="store_true")
    demo.add_argument("--no-tuning", action="store_true", help="skip the tuning part of the demo")
    demo.add_argument(
        "--workdir", type=Path, default=None, help="keep the demo's state there (default: a temporary folder)"
    )
    reset = local_sub.add_parser("reset", help="delete the local cloud's state kept in --workdir")
    reset.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="default: .trainops")
    reset.add_argument("--json", action="store_true")

    report_command.add_parser(sub)
    ops_cli.add_parsers(sub)
    config = sub.add_parser("config", help="project configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    validate = config_sub.add_parser("validate", help="validate a config and lint its tuning section")
    validate.add_argument("file")
    validate.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    validate.add_argument("--json", action="store_true")
    upload = config_sub.add_parser(
        "upload", help="pack a local source_dir and upload the config to a deployed stack's data bucket"
    )
    upload.add_argument("file", type=Path)
    upload.add_argument("--stack", help="the stack name (default: samconfig.toml's stack_name)")
    upload.add_argument("--region", help="default: your AWS profile's region")
    upload.add_argument("--profile", help="AWS named profile")
    upload.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0911  (one branch per command or exit status of the CLI)
    args = _parser().parse_args(argv)
    if args.command == "report":
        return report_command.run_command(args)
    if args.command in ("runs", "start", "models"):
        _quiet_local_logs()
        return ops_cli.run_command(args)
    if args.command == "config" and args.config_command == "upload":
        return _config_upload(args)
    if args.command == "config":
        from trainops_local.config_cli import validate_command

        return validate_command(args.file, strict=args.strict, as_json=args.json)
    _quiet_local_logs()
    if args.local_command == "reset":
        return _local_reset(args)
    from trainops_local.cloud.persistence import StateError

    try:
        if args.local_command == "run":
            return _local_run(args)
        return _demo(args)
    except StateError as exc:  # another format, or in use: nothing was started
        _error(str(exc), as_json=args.json)
        return 2


def _quiet_local_logs() -> None:
    logging.basicConfig(level=os.environ.get("TRAINOPS_LOG_LEVEL", "WARNING"))
    # moto's interpreter logs every failed state at ERROR; the run summary reports failures itself
    logging.getLogger("moto").setLevel(os.environ.get("TRAINOPS_MOTO_LOG_LEVEL", "CRITICAL"))
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the handlers' JSON logs stay quiet locally


def _local_reset(args: argparse.Namespace) -> int:
    from trainops_local.cloud.persistence import StateError, reset_workdir

    try:
        removed = reset_workdir(args.workdir)
    except StateError as exc:
        _error(str(exc), as_json=args.json)
        return 2
    workdir = args.workdir.absolute()
    if args.json:
        print(json.dumps({"workdir": str(workdir), "removed": removed}))
    elif removed:
        print(f"local cloud state in {workdir} deleted ({', '.join(removed)})")
    else:
        print(f"nothing to delete: {workdir} holds no local cloud state")
    return 0


def _workdir(given: Path | None) -> tuple[Path, bool]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        return given, False
    return Path(tempfile.mkdtemp(prefix="trainops-local-")), True


def _local_run(args: argparse.Namespace) -> int:
    from trainops_local.runner import LocalTrainops, UsageError, check_inputs

    try:
        check_inputs(args.project, args.data, args.config)
    except UsageError as exc:
        _error(str(exc), as_json=args.json)
        return 2
    workdir, temporary = _workdir(args.workdir)
    view = _View(quiet=args.json)
    summaries = []
    reports: dict[str, str] = {}
    try:
        with LocalTrainops(workdir) as app:
            view.note(f"local cloud up; {app.template.name} deployed as stack '{app.stack_name}'")
            view.note(_state_note(app))
            if args.config is None:
                view.note("no --config: problem type and objective will be inferred from the data")
            for i in range(max(1, args.runs)):
                if args.runs > 1:
                    view.note(f"run {i + 1} of {args.runs}")
                summary = app.run(args.project, args.data, args.config, progress=view.progress, timeout=args.timeout)
                view.summary(summary)
                summaries.append(summary)
            if args.report:  # in-process, while the local cloud holds the run
                reports = report_command.write_local_reports(app, summaries, args.report)
                view.note(f"report: {', '.join(reports.values()) or 'none (no run id)'}")
    except UsageError as exc:
        _error(str(exc), as_json=args.json)
        return 2
    except TimeoutError as exc:  # no execution started for the upload
        _error(str(exc), as_json=args.json, status="NOT_STARTED")
        return 1
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        payload: Any = summaries[0].to_json() if len(summaries) == 1 else [s.to_json() for s in summaries]
        report_command.add_report_paths(payload, reports)
        print(json.dumps(payload, indent=2, default=str))
    return 0 if all(s.status == "SUCCEEDED" for s in summaries) else 1


def _state_note(app: Any) -> str:
    kept = app.state.snapshot.counts() if app.state is not None and app.state.snapshot is not None else None
    if not kept:
        return f"state kept in {app.workdir} (new)"
    return (
        f"state kept in {app.workdir}: {kept['executions']} earlier executions, "
        f"{kept['model_packages']} model packages, {kept['objects']} objects"
    )


def _demo(args: argparse.Namespace) -> int:
    from trainops_local.runner import LocalTrainops

    workdir, temporary = _workdir(args.workdir)
    view = _View(quiet=args.json)
    results = []
    try:
        with LocalTrainops(workdir) as app:
            view.note("local cloud up: template.yaml deployed into the embedded AWS (moto)")
            view.note("1/2  upload examples/data/breast_cancer.csv -> EventBridge -> Step Functions -> training")
            demo = app.run(
                "demo",
                EXAMPLES / "data" / "breast_cancer.csv",
                EXAMPLES / "configs" / "demo.yaml",
                progress=view.progress,
            )
            view.summary(demo)
            results.append(demo)
            if not args.no_tuning and demo.status == "SUCCEEDED":
                view.note("2/2  a small tuning run (Bayesian, early stopping Auto) on the same data")
                tuned = app.run(
                    "demo-tuning",
                    EXAMPLES / "data" / "breast_cancer.csv",
                    EXAMPLES / "configs" / "demo-tuning.yaml",
                    progress=view.progress,
                )
                view.summary(tuned)
                results.append(tuned)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2, default=str))
    return 0 if all(r.status == "SUCCEEDED" for r in results) else 1


def _config_upload(args: argparse.Namespace) -> int:
    from trainops.errors import TrainopsError

    from trainops_local.upload import UploadError, upload_to_stack

    try:
        done = upload_to_stack(args.file, stack=args.stack, region=args.region, profile=args.profile)
    except (TrainopsError, UploadError) as exc:
        _error(str(exc), as_json=args.json)
        return 2
    if args.json:
        print(json.dumps(done.to_json()))
    else:
        if done.code_uri:
            print(f"code:   {done.code_uri}")
        print(f"config: {done.config_uri}")
    return 0


def _error(message: str, *, as_json: bool, status: str = "INVALID_INPUT") -> None:
    if as_json:
        print(json.dumps({"status": status, "error": message}))
    else:
        print(f"error: {message}", file=sys.stderr)


class _View:
    """Live progress and the final summary, with rich."""

    def __init__(self, *, quiet: bool) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=quiet, highlight=False)
        self.last: tuple[Any, ...] | None = None
        self.last_metric: Any = None
        self.last_print = 0.0

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[bold]trainops[/] {text}")

    def progress(self, p: Any) -> None:
        if self.quiet:
            return
        # a new line when the state, the job or its status changes, else at most every 2 s (metric updates)
        key = (p.state, p.job, p.job_status, p.jobs_done, p.note)
        if key == self.last and p.elapsed_s - self.last_print < 2.0:
            return
        if key == self.last and p.metric == self.last_metric:
            return
        self.last, self.last_metric, self.last_print = key, p.metric, p.elapsed_s
        parts = [f"[dim]{p.elapsed_s:6.1f}s[/]", f"state [cyan]{p.state or '-'}[/]"]
        if p.job:
            parts.append(f"job {p.job} [yellow]{p.job_status}[/]")
        if p.jobs_total > 1:
            parts.append(f"{p.jobs_done}/{p.jobs_total} jobs done")
        if p.metric:
            parts.append(f"{p.metric[0]}={p.metric[1]:.4f}")
        if p.note:
            parts.append(f"[magenta]{p.note}[/]")
        self.console.print("  " + "  ".join(parts))

    def summary(self, s: Any) -> None:  # noqa: PLR0912  (one branch per command or exit status of the CLI)
        if self.quiet:
            return
        ok = s.status == "SUCCEEDED"
        self.console.print(f"run of {s.project}: [{'green' if ok else 'red'}]{s.status}[/]")
        table = _Rows()
        if s.inferred:
            for item in s.inferred:
                table.add_row(f"inferred {item['field']}", f"{item['value']}  ({item['reason']})")
        if ok:
            table.add_row("model package", s.model_package_arn)
            table.add_row("approval", f"{s.approval_status}: {s.approval_reason}")
            if s.objective and s.objective.get("value") is not None:
                table.add_row("objective", f"{s.objective['name']} = {s.objective['value']:.6g}")
            else:
                table.add_row("objective", "none reported")
            if s.champion:
                table.add_row("compared with", f"{s.champion['arn']} ({s.champion['value']})")
            table.add_row("artifact", s.artifact)
        elif s.status == "SKIPPED":
            table.add_row("skipped", s.skip_reason or "")
        else:
            table.add_row("failed state", str(s.failed_state))
            table.add_row("error", str(s.error))
            table.add_row("cause", str(s.cause))
            if s.traceback:
                table.add_row("traceback (job log)", s.traceback)
        if s.split:
            table.add_row("validation split", json.dumps(s.split))
        if s.framework_environment:
            env = s.framework_environment
            built = f", built now in {env['build_seconds']:.0f} s" if env.get("built_now") else ""
            table.add_row(
                "local environment",
                f"{env['framework']} {env['version']}: Python {env['python']} ({env['toolkit']}{built})",
            )
            for difference in env.get("differences") or []:
                table.add_row("differs from image", difference)
        if s.training_jobs:
            counts: dict[str, int] = {}
            for job in s.training_jobs:
                counts[job["status"]] = counts.get(job["status"], 0) + 1
            table.add_row("training jobs", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
        if s.tuning_job:
            table.add_row("tuning job", s.tuning_job)
        table.add_row("execution", str(s.execution_arn))
        table.add_row(
            "elapsed", f"{s.elapsed_s:.1f}s ({s.job_seconds:.1f}s in jobs, {s.controller_overhead_s:.1f}s controller)"
        )
        table.print(self.console)


class _Rows:
    """The summary as "key  value" lines. An ARN or a path is never folded into pieces (rich's soft wrap: the
    terminal may wrap a long line, but copying it gives the whole value); plain text when not a terminal."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add_row(self, key: str, value: Any) -> None:
        self.rows.append((key, str(value)))

    def print(self, console: Any) -> None:
        from rich.markup import escape

        width = max((len(k) for k, _ in self.rows), default=0)
        for key, value in self.rows:
            console.print(f"[bold]{escape(key.ljust(width))}[/]  {escape(value)}", soft_wrap=True, highlight=False)


if __name__ == "__main__":
    sys.exit(main())
