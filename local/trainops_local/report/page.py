"""The report's HTML: one self-contained page (inline CSS, images beside it by relative path, no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

from trainops_local.report.charts import Chart
from trainops_local.report.data import RunData

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
code { font-size: 0.85rem; word-break: break-all; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; max-width: 900px; }
.SUCCEEDED { color: #1a7f37; } .FAILED, .NO_MODEL { color: #cf222e; }
"""


def _row(key: str, value: Any, *, code: bool = False) -> str:
    if value is None or value == "":
        return ""
    text = escape(str(value))
    return f"<tr><th>{escape(key)}</th><td>{f'<code>{text}</code>' if code else text}</td></tr>"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def render_html(data: RunData, charts: list[Chart]) -> str:
    """The page: the run's facts, each chart with its caption, the jobs table."""
    r = data.record
    registration = r.get("registration") or {}
    summary = "".join(
        [
            _row("project", data.project),
            _row("status", data.status),
            _row("kind", {"tuning": "hyperparameter tuning", "training": "training", "none": "no job ran"}[data.kind]),
            _row("objective", f"{data.objective_metric} ({data.direction})" if data.objective_metric else None),
            _row("objective value", registration.get("objective_value") or r.get("objective_value")),
            _row("model package", r.get("model_package_arn"), code=True),
            _row("approval", r.get("approval_status")),
            _row("approval reason", r.get("approval_reason")),
            _row("tuning job", data.tuning_job, code=True),
            _row("best training job", data.best_job, code=True),
            _row("data", r.get("dataset_uri"), code=True),
            _row("started", r.get("started_at")),
            _row("error", r.get("error")),
            _row("cause", r.get("cause")),
        ]
    )
    figures = "\n".join(
        f'<figure><h2>{escape(c.title)}</h2><img src="{escape(c.file)}" alt="{escape(c.title)}">'
        f"<figcaption>{escape(c.caption)}</figcaption></figure>"
        for c in charts
    )
    if not charts:
        figures = "<p>No charts: the run reported no metrics and the project has no registered version.</p>"
    tuned = list(data.ranges) if data.kind == "tuning" else []
    head = "".join(
        f"<th>{escape(h)}</th>" for h in ["#", "training job", "status", data.objective_metric or "objective", *tuned]
    )
    rows = []
    for job in data.jobs:
        status = "Stopped (early)" if job.early_stopped else job.status
        if job.name == data.best_job:
            status += ", best"
        cells = [str(job.index), f"<code>{escape(job.name)}</code>", escape(status), _fmt(job.objective)]
        cells += [escape(job.hyperparameters.get(name, "")) for name in tuned]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    jobs = f"<h2>Training jobs</h2><table><tr>{head}</tr>{''.join(rows)}</table>" if rows else ""
    failures = "".join(
        f"<tr><td><code>{escape(j.name)}</code></td><td>{escape(j.failure_reason or '')}</td></tr>"
        for j in data.jobs
        if j.failure_reason
    )
    if failures:
        jobs += f"<h2>Failure reasons</h2><table><tr><th>job</th><th>reason</th></tr>{failures}</table>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>trainops report: {escape(data.project)} run {escape(data.run_id)}</title>
<style>{CSS}</style></head>
<body>
<h1>trainops: {escape(data.project)} run <code>{escape(data.run_id)}</code>
 <span class="{escape(data.status)}">{escape(data.status)}</span></h1>
<table>{summary}</table>
{figures}
{jobs}
</body></html>
"""
