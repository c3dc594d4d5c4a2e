"""``make scan``: checkov and cfn-lint (with the serverless rules) on ``template.yaml``, offline; 0 findings.

- **cfn-lint** reads the SAM template itself (since 1.x it validates SAM resources against SAM's schemas, no
  transform), so a ``Metadata: cfn-lint: config: ignore_checks`` on a SAM resource suppresses its findings.
- **checkov** has no SAM support worth the name (it would not see the functions' policies), so it scans the
  template translated to CloudFormation by ``aws-sam-translator`` -- offline: code locations become placeholder S3
  URIs and no managed policy is looked up. The translator copies a function's ``Metadata`` to the generated
  ``AWS::Lambda::Function`` (and its ``EventInvokeConfig``), not to its role, rules or permissions, so a
  ``Metadata: checkov: skip`` on the SAM function suppresses findings on the function (tests/template pins it).
  checkov lives in its own tool environment (it pins an older boto3) and runs with ``--skip-download``.

Every suppression carries a one-line reason next to the resource (tests/template checks it); docs/security.md
lists them. Exit status 1 when either scanner reports an unsuppressed finding.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@dataclass(frozen=True)
class Finding:
    scanner: str
    check: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.scanner} {self.check} {self.resource}: {self.message}"


def translate(template_path: Path = TEMPLATE, region: str = "us-east-1") -> dict[str, Any]:
    """The SAM template as CloudFormation, as ``sam deploy`` would translate it, without network or AWS account."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    from trainops_local.cloud.deploy import load_template

    template = copy.deepcopy(load_template(template_path))
    for logical_id, resource in (template.get("Resources") or {}).items():
        props = resource.setdefault("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and "InlineCode" not in props:
            props["CodeUri"] = f"s3://trainops-scan/{logical_id}.zip"
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://trainops-scan/{logical_id}.zip"
        elif resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((template_path.parent / props.pop("DefinitionUri")).read_text())
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    # no passthrough_metadata: the generated resources carry exactly the Metadata that `sam deploy` gives them
    cfn: dict[str, Any] = translator.translate(template, {}, get_managed_policy_map=dict)
    return cfn


def checkov(template_path: Path = TEMPLATE) -> list[Finding]:
    """Failed checkov checks on the translated template (suppressed ones are not failures)."""
    if not CHECKOV.exists():
        raise SystemExit(f"checkov is missing ({CHECKOV}): run `make .tools/checkov/bin/checkov`")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.json"
        path.write_text(json.dumps(translate(template_path), indent=1))
        result = subprocess.run(
            [str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "--skip-download", "-o", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    failed = report.get("results", {}).get("failed_checks", [])
    return [Finding("checkov", f["check_id"], f["resource"], f["check_name"]) for f in failed]


def cfn_lint(template_path: Path = TEMPLATE) -> list[Finding]:
    """cfn-lint findings with the serverless rules (``cfn-lint-serverless``) added."""
    result = subprocess.run(
        [str(CFN_LINT), str(template_path), "-a", "cfn_lint_serverless.rules", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if not result.stdout.strip():
        if result.returncode:
            raise RuntimeError(f"cfn-lint failed ({result.returncode}): {result.stderr[-2000:]}")
        return []
    return [
        Finding("cfn-lint", m["Rule"]["Id"], "/".join(str(p) for p in m["Location"]["Path"][:2]), m["Message"])
        for m in json.loads(result.stdout)
    ]


def main() -> int:
    findings = cfn_lint() + checkov()
    for finding in findings:
        print(finding)
    print(f"scan: {len(findings)} unsuppressed finding(s) (cfn-lint with serverless rules, checkov)")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
