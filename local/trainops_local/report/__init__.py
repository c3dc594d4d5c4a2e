"""``trainops report``: one run as an HTML page with PNG charts beside it, readable offline.

    from trainops_local.report import write_report
    from trainops_local.report.source import Boto3Source
    report = write_report(Boto3Source(cloud.client, runs_table), run_id, Path("out"))   # out/report.html

The facts come from a ``ReportSource`` (``source.py``: the AWS APIs, through boto3 clients of a deployed
stack or of the local cloud), are gathered into plain ``RunData`` (``data.py``) and drawn with matplotlib
(``charts.py``) onto a page (``page.py``). matplotlib is a development dependency only: nothing here ships in
the Lambda layer. This module imports nothing heavy, so the CLI starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainops_local.report.charts import Chart
    from trainops_local.report.data import RunData
    from trainops_local.report.source import ReportSource

__all__ = ["Report", "write_report"]


@dataclass
class Report:
    """What ``write_report`` wrote: the page, the charts (with the data they plot) and the data."""

    html: Path
    charts: list[Chart]
    data: RunData

    def to_json(self) -> dict[str, object]:
        return {
            "report": str(self.html),
            "run_id": self.data.run_id,
            "project": self.data.project,
            "kind": self.data.kind,
            "charts": [str(self.html.parent / c.file) for c in self.charts],
        }


def write_report(source: ReportSource, run_id: str, out: Path) -> Report:
    """Write ``out/report.html`` and its PNGs for ``run_id`` (``data.RunNotFound`` when the runs table lacks it)."""
    from trainops_local.report.charts import draw
    from trainops_local.report.data import collect
    from trainops_local.report.page import render_html

    data = collect(source, run_id)
    out.mkdir(parents=True, exist_ok=True)
    charts = draw(data, out)
    html = out / "report.html"
    html.write_text(render_html(data, charts), encoding="utf-8")
    return Report(html=html, charts=charts, data=data)
