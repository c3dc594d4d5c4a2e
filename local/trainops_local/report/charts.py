"""The report's charts: PNG files drawn with matplotlib from ``RunData``. Each ``Chart`` keeps the values it
plotted, so tests (and readers of the HTML's captions) check data, not pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainops_local.report.data import JobData, RunData

DPI = 100
BEST = "#1f77b4"
STOPPED = "#ff7f0e"
FAILED = "#d62728"
APPROVED = "#2ca02c"
PENDING = "#7f7f7f"
MAX_LEGEND = 12
RHO, ETA = "\N{GREEK SMALL LETTER RHO}", "\N{GREEK SMALL LETTER ETA}"  # Spearman's rho, the correlation ratio
TOP_HYPERPARAMETERS = 3
# legends sit right of the plot, never on a point
OUTSIDE: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 8, "borderaxespad": 0.0}


@dataclass
class Chart:
    """One PNG of the report: its file name, title, caption, and the data it plotted (series -> points)."""

    file: str
    title: str
    caption: str
    series: dict[str, list[Any]] = field(default_factory=dict)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path, name: str) -> None:
    fig.savefig(out / name, dpi=DPI, metadata={"Software": None})
    _plt().close(fig)


def _job_label(job: JobData) -> str:
    return f"#{job.index}"


def draw(data: RunData, out: Path) -> list[Chart]:
    """Every chart that applies to the run, written into ``out``."""
    charts: list[Chart] = []
    if data.kind == "tuning":
        charts += [c for c in (tuning_objective(data, out), tuning_curves(data, out), importance(data, out)) if c]
        best = next((j for j in data.jobs if j.name == data.best_job), None)
        if best is not None and (chart := learning_curves(best, out, "best_job_curves.png", "of the best job")):
            charts.append(chart)
    elif data.kind == "training" and (chart := learning_curves(data.jobs[0], out, "learning_curves.png", "")):
        charts.append(chart)
    if chart := versions(data, out):
        charts.append(chart)
    return charts


# -- tuning -------------------------------------------------------------------------------------------------
def tuning_objective(data: RunData, out: Path) -> Chart | None:
    """The objective of each job in creation order, the best so far, early-stopped and failed jobs marked."""
    from matplotlib.ticker import MaxNLocator

    if not data.jobs:
        return None
    plt = _plt()
    metric = data.objective_metric or "objective"
    done = [(j.index, j.objective) for j in data.jobs if j.objective is not None and not j.early_stopped]
    stopped = [(j.index, j.objective) for j in data.jobs if j.objective is not None and j.early_stopped]
    failed = [j.index for j in data.jobs if j.objective is None]
    # best so far among completed jobs: the candidates for the tuning job's BestTrainingJob
    best: list[tuple[int, float]] = []
    for job in data.jobs:
        if job.status == "Completed" and job.objective is not None:
            value = job.objective
            if best:
                previous = best[-1][1]
                value = max(previous, value) if data.maximize else min(previous, value)
            best.append((job.index, value))
        elif best:
            best.append((job.index, best[-1][1]))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if done:
        ax.scatter(*zip(*done, strict=True), color=BEST, s=36, zorder=3, label="completed")
    if stopped:
        ax.scatter(*zip(*stopped, strict=True), marker="v", color=STOPPED, s=52, zorder=3, label="stopped early")
    if best:
        ax.step(*zip(*best, strict=True), where="post", color="black", linewidth=1.2, label="best so far")
    values = [v for _, v in done + stopped]
    if failed:
        low = min(values) if values else 0.0
        span = (max(values) - min(values)) if len(values) > 1 else 1.0
        floor = low - 0.08 * (span or 1.0)
        ax.scatter(
            failed, [floor] * len(failed), marker="x", color=FAILED, s=40, zorder=3, label="failed (no objective)"
        )
    if data.best_job:
        best_job = next((j for j in data.jobs if j.name == data.best_job and j.objective is not None), None)
        if best_job is not None:
            ax.annotate(
                "best",
                (best_job.index, best_job.objective),
                xytext=(0, 10),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    ax.set_xlabel("training job (in the order the tuning job started them)")
    ax.set_ylabel(metric)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, len(data.jobs) + 0.5)
    ax.margins(y=0.12)
    ax.grid(alpha=0.3)
    ax.legend(**OUTSIDE)
    ax.set_title(f"{data.tuning_job}: {metric} ({data.direction or 'Maximize'}) of each job")
    fig.tight_layout()
    _save(fig, out, "tuning_objective.png")
    return Chart(
        "tuning_objective.png",
        "Objective of each training job",
        f"{len(data.jobs)} jobs in the order they started: {len(done)} completed, {len(stopped)} stopped early "
        f"(their last objective, which the search used), {len(failed)} without an objective. The line is the best "
        "objective so far among completed jobs.",
        {"completed": done, "stopped_early": stopped, "failed": failed, "best_so_far": best},
    )


def tuning_curves(data: RunData, out: Path) -> Chart | None:
    """The objective metric per epoch, one line per job; early-stopped jobs dashed, the best job bold."""
    metric = data.objective_metric
    jobs = [j for j in data.jobs if metric and j.curves.get(metric)]
    if not jobs or metric is None:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    series: dict[str, list[Any]] = {}
    cmap = plt.get_cmap("viridis")
    for n, job in enumerate(jobs):
        points = job.curves[metric]
        series[job.name] = points
        best = job.name == data.best_job
        epochs, values = zip(*points, strict=True)
        ax.plot(
            epochs,
            values,
            color="black" if best else cmap(n / max(1, len(jobs) - 1) * 0.85),
            linewidth=2.4 if best else 1.1,
            linestyle="--" if job.early_stopped else "-",
            alpha=1.0 if best else 0.8,
            label=f"{_job_label(job)}{' best' if best else ''}{' stopped early' if job.early_stopped else ''}",
            zorder=3 if best else 2,
        )
        if job.early_stopped:
            ax.plot(epochs[-1], values[-1], marker="v", color=STOPPED, markersize=7, zorder=4)
    ax.set_xlabel("epoch (boosting round)" if _is_xgboost(jobs[0]) else "epoch (n-th value in the log)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if len(jobs) <= MAX_LEGEND:
        ax.legend(**OUTSIDE)
    ax.set_title(f"{metric} per epoch of each job (dashed: stopped early)")
    fig.tight_layout()
    _save(fig, out, "tuning_curves.png")
    return Chart(
        "tuning_curves.png",
        "Per-epoch curves of the jobs",
        f"{metric} per epoch for {len(jobs)} jobs, read from their logs with the metric's regex; early-stopped jobs "
        "are dashed and end with a triangle, the best job is bold black.",
        series,
    )


def _is_xgboost(job: JobData) -> bool:
    return "num_round" in job.hyperparameters or any(":" in m for m in job.curves)


def importance(data: RunData, out: Path) -> Chart | None:
    """The objective against the most important tuned hyperparameters (|Spearman rho|, or eta if categorical)."""
    top = [i for i in data.importance if i.score > 0][:TOP_HYPERPARAMETERS] or data.importance[:TOP_HYPERPARAMETERS]
    if not top:
        return None
    plt = _plt()
    metric = data.objective_metric or "objective"
    fig, axes = plt.subplots(1, len(top), figsize=(4 * len(top) + 0.5, 4.2), squeeze=False, sharey=True)
    series: dict[str, list[Any]] = {}
    scored = [j for j in data.jobs if j.objective is not None]
    for ax, imp in zip(axes[0], top, strict=True):
        rows = [(j.hyperparameters[imp.name], float(j.objective), j) for j in scored if imp.name in j.hyperparameters]  # type: ignore[arg-type]
        if imp.kind == "categorical":
            cats = sorted({v for v, _, _ in rows})
            xs: list[Any] = [cats.index(v) for v, _, _ in rows]
            ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right")
            series[imp.name] = [(v, y) for v, y, _ in rows]
            score = f"{ETA} = {imp.score:.2f}"
        else:
            xs = [float(v) for v, _, _ in rows]
            series[imp.name] = [(x, y) for x, (_, y, _) in zip(xs, rows, strict=True)]
            score = f"{RHO} = {imp.signed:+.2f}" if imp.signed is not None else f"{RHO} undefined (constant)"
        colors = [STOPPED if j.early_stopped else BEST for _, _, j in rows]
        markers_best = [(x, y) for x, (_, y, j) in zip(xs, rows, strict=True) if j.name == data.best_job]
        ax.scatter(xs, [y for _, y, _ in rows], c=colors, s=36, zorder=3)
        if imp.kind == "categorical":
            ax.set_xlim(-0.5, len(cats) - 0.5)
        elif imp.scaling == "Logarithmic":
            _log_axis(ax)
        if markers_best:
            ax.scatter(*zip(*markers_best, strict=True), s=160, facecolors="none", edgecolors="black", zorder=4)
        ax.set_xlabel(f"{imp.name}" + (" (log scale)" if imp.scaling == "Logarithmic" else ""))
        ax.set_title(f"{imp.name}: {score}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric)
    fig.suptitle(
        f"{metric} against the most important hyperparameters (ringed: best job; orange: stopped early)", fontsize=10
    )
    fig.tight_layout()
    _save(fig, out, "hyperparameters.png")
    ranked = ", ".join(f"{i.name} {i.score:.2f}" for i in data.importance)
    if data.importance_from == "completed":
        over = f"the {data.importance_jobs} completed jobs"
        if any(j.early_stopped for j in data.jobs):
            over += " (early-stopped jobs, in orange, are left out: their objective is from their first epochs)"
    else:
        over = f"the {data.importance_jobs} jobs that reported an objective"
    return Chart(
        "hyperparameters.png",
        "Objective against the most important hyperparameters",
        f"Importance is the absolute Spearman rank correlation |{RHO}| between a numeric hyperparameter and {metric} "
        f"(the correlation ratio {ETA} for a categorical one), over {over}; with so few jobs it is a hint, not a "
        f"measurement. Ranked: {ranked}.",
        series,
    )


def _log_axis(ax: Any) -> None:
    """A log x axis labelled with plain numbers at 1, 2 and 5 of each decade (no 3x10^-1 crowding)."""
    import math

    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_xscale("log")
    low, high = (v for v in sorted(ax.dataLim.intervalx))
    if low > 0 and high > 0:
        ticks = [
            m * 10.0**k
            for k in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
            for m in (1, 2, 5)
            if low / 1.5 <= m * 10.0**k <= high * 1.5
        ]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


# -- training ----------------------------------------------------------------------------------------------
def learning_curves(job: JobData, out: Path, file: str, which: str) -> Chart | None:
    """Every metric of one job per epoch, one panel per measure (train and validation together)."""
    if not job.curves:
        return None
    plt = _plt()
    panels: dict[str, list[str]] = {}
    for name in sorted(job.curves):
        panels.setdefault(name.split(":", 1)[-1], []).append(name)
    fig, axes = plt.subplots(1, len(panels), figsize=(min(4.5 * len(panels) + 0.5, 14), 4.2), squeeze=False)
    for ax, (measure, names) in zip(axes[0], panels.items(), strict=True):
        for name in names:
            epochs, values = zip(*job.curves[name], strict=True)
            ax.plot(
                epochs,
                values,
                marker="." if len(epochs) <= 30 else None,
                label=name.split(":", 1)[0] if ":" in name else name,
            )
        ax.set_title(measure, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    stopped = " (stopped early)" if job.early_stopped else ""
    fig.suptitle(f"learning curves{' ' + which if which else ''}: {job.name}{stopped}", fontsize=10)
    fig.tight_layout()
    _save(fig, out, file)
    source = "its log, through the metric regexes" if job.curves_from == "log" else "CloudWatch (one-minute averages)"
    return Chart(
        file,
        f"Learning curves {which}".strip(),
        f"Each metric of {job.name} per epoch, from {source}: {', '.join(sorted(job.curves))}.",
        dict(job.curves),
    )


# -- project ---------------------------------------------------------------------------------------------
def versions(data: RunData, out: Path) -> Chart | None:
    """The objective of each registered version over time; the champion (newest Approved) marked."""
    metric = data.objective_metric or next((v.metric for v in reversed(data.versions) if v.metric), None)
    shown = [v for v in data.versions if v.objective is not None and v.created is not None and v.metric == metric]
    if not shown:
        return None
    import matplotlib.dates as mdates

    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    groups = {
        "Approved": ([v for v in shown if v.approval == "Approved"], APPROVED, "o"),
        "PendingManualApproval": ([v for v in shown if v.approval == "PendingManualApproval"], PENDING, "o"),
        "Rejected": ([v for v in shown if v.approval == "Rejected"], FAILED, "x"),
    }
    series: dict[str, list[Any]] = {}
    ax.plot([v.created for v in shown], [v.objective for v in shown], color="#bbbbbb", linewidth=1, zorder=1)
    for label, (group, color, marker) in groups.items():
        series[label] = [(v.version, v.created, v.objective) for v in group]
        if group:
            ax.scatter(
                [v.created for v in group],
                [v.objective for v in group],
                color=color,
                marker=marker,
                s=44,
                zorder=3,
                label=label,
                facecolors="none" if label == "PendingManualApproval" else None,
            )
    champion = [v for v in shown if v.champion]
    series["champion"] = [(v.version, v.created, v.objective) for v in champion]
    for v in champion:
        ax.scatter(
            [v.created], [v.objective], marker="*", s=320, color="gold", edgecolors="black", zorder=4, label="champion"
        )
    for v in shown:
        note = f"v{v.version}" + (" (this run)" if v.this_run else "")
        ax.annotate(
            note, (v.created, v.objective), xytext=(0, -16), textcoords="offset points", fontsize=8, ha="center"
        )
    ax.margins(x=0.12, y=0.2)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if len(shown) == 1:
        only = shown[0].created
        assert only is not None
        from datetime import timedelta

        ax.set_xlim(only - timedelta(minutes=5), only + timedelta(minutes=5))
    ax.set_xlabel("registered at (UTC)")
    ax.set_ylabel(metric or "objective")
    ax.grid(alpha=0.3)
    ax.legend(**OUTSIDE)
    ax.set_title(f"{data.project}: {metric} of each registered version")
    fig.tight_layout()
    _save(fig, out, "versions.png")
    left_out = len(data.versions) - len(shown)
    return Chart(
        "versions.png",
        "The project's registered versions",
        f"{len(shown)} versions of model package group trainops-{data.project} by registration time; the star is the "
        "champion (the newest Approved version, which new models are judged against)"
        + (f"; {left_out} versions without a {metric} value are not shown" if left_out else "")
        + ".",
        series,
    )
