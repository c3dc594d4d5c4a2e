"""``trainops config validate FILE [--strict] [--json]``: lint a project config before it is uploaded.

Exit codes: 0 clean (or warnings only without ``--strict``), 1 warnings only under ``--strict``,
2 on any error (including a config that does not parse).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from trainops.errors import ConfigInvalid
from trainops.lint import Finding, lint_config
from trainops.security import StackSecurity

from trainops_local.configfile import read_config_file

EXIT_CLEAN = 0
EXIT_WARNINGS = 1
EXIT_ERRORS = 2


def _parse_finding(exc: ConfigInvalid) -> Finding:
    """A config that does not parse becomes one error finding (id CONF-E001 is outside the TUNE rules)."""
    return Finding(
        id="CONF-E001",
        severity="error",
        field=exc.field or "(root)",
        message=str(exc),
        fix=exc.fix or "fix the config",
    )


def collect_findings(path: str) -> list[Finding]:
    """Parse and lint the config at ``path`` as ``trainops local run`` reads it (a parse failure is a finding).

    A local ``algorithm.source_dir`` must be a folder holding the entry point, exactly as for ``local run``;
    a ``local_command`` that is not installed here is a warning (the config may be meant for AWS only). The
    stack's job security (trusted image repositories, KMS key, VPC, required isolation) is read from the variables
    the template gives the functions (TRUSTED_IMAGE_REPOSITORIES, ...) when they are set, else trainops' defaults.
    """
    try:
        found = read_config_file(Path(path))
    except ConfigInvalid as exc:
        return [_parse_finding(exc)]
    try:
        stack = StackSecurity.from_environment()  # a shell that mirrors a stack's variables; else the defaults
    except ConfigInvalid as exc:
        return [_parse_finding(exc)]
    findings = lint_config(found.config, stack=stack)
    if (missing := found.local_command_missing()) is not None:
        findings.append(
            Finding(
                id="CONF-W001",
                severity="warning",
                field="algorithm.local_command",
                message=f"{missing!r} is not installed on this machine: `trainops local run` cannot run the "
                f"image's local stand-in",
                fix="install it, or run this project on AWS only",
            )
        )
    return findings


def exit_code(findings: list[Finding], *, strict: bool) -> int:
    """2 on errors, 1 on warnings under strict, else 0."""
    if any(f.severity == "error" for f in findings):
        return EXIT_ERRORS
    if strict and findings:
        return EXIT_WARNINGS
    return EXIT_CLEAN


def _print_plain(path: str, findings: list[Finding], out: TextIO) -> None:
    if not findings:
        print(f"{path}: no findings", file=out)
        return
    for f in findings:
        print(f"{path}: {f.severity.upper()} {f.id} [{f.field}] {f.message}", file=out)
        print(f"    fix: {f.fix}", file=out)
    errors = sum(f.severity == "error" for f in findings)
    print(f"{errors} error(s), {len(findings) - errors} warning(s)", file=out)


def _print_rich(path: str, findings: list[Finding], out: TextIO) -> bool:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is a dev dependency; plain text is enough
        return False
    console = Console(file=out)
    if not findings:
        console.print(f"[green]{path}: no findings[/green]")
        return True
    table = Table(title=path, show_lines=True)
    for column in ("id", "severity", "field", "message", "fix"):
        table.add_column(column, overflow="fold")
    for f in findings:
        colour = "red" if f.severity == "error" else "yellow"
        table.add_row(f.id, f"[{colour}]{f.severity}[/{colour}]", f.field, f.message, f.fix)
    console.print(table)
    return True


def validate_command(path: str, *, strict: bool, as_json: bool, out: TextIO | None = None) -> int:
    """Print the findings for the config at ``path`` and return the exit code."""
    stream = out or sys.stdout
    findings = collect_findings(path)
    if as_json:
        print(json.dumps([f.model_dump(mode="json") for f in findings], indent=2), file=stream)
    elif not (stream.isatty() and _print_rich(path, findings, stream)):
        _print_plain(path, findings, stream)
    return exit_code(findings, strict=strict)
