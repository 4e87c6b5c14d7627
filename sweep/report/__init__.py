"""Tables, plots, the HTML report and the locked test evaluation of frontier members."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import dominance, pareto
from ..metrics import Objective
from ..rundir import CURVES_PNG, FRONTIER, PARETO_PNG, REPORT, SKIPPED, STOPPED
from ..rundir import atomic_write as _atomic
from ..drift import DRIFT_FILE
from . import drift as drift_report
from . import html as html_report
from . import intervals
from .evaluate import attach_scores, score_frontier, slices_of, times_scored
from .interactive import curves_figures, embed, hypervolume_figure, pareto_figure, plotly_js
from .plots import learning_curves_png, pareto_png
from .summary import stops_lines, summary_lines
from .tables import frontier_rows, markdown_table, text_table


def frontier_of(trials: pd.DataFrame, objective: Objective, rows: dict | None = None,
                n_val: int | None = None) -> pd.DataFrame:
    """The frontier's members (sweep.dominance: dominance beyond noise, tie groups, the knee).

    One seed per configuration: over every successful (config_id, rung) point. Several
    seeds (repeats): over the means per (group_id, rung), each point carrying `n_seeds` and
    its seeds' ids in `config_id` (";"-joined). Every point carries its 95% half-widths
    `<axis>_ci` (sweep.report.intervals); `rows` ({(config_id, rung): validation rows},
    intervals.load_rows) make metric comparisons paired; `n_val` is the validation split's
    size (Wilson's interval for an accuracy recorded without one).
    """
    ok = trials[trials["status"] == "ok"] if not trials.empty else trials
    col, time_axis = objective.column, objective.time_axis
    points = grouped_points(ok, col, time_axis, n_val)
    paired = intervals.paired_test(points, objective.metric, rows or {})
    return dominance.robust_frontier(points, col, time_axis, objective.maximise, paired)


def grouped_points(ok: pd.DataFrame, col: str, time_axis: str, n_val: int | None = None) -> pd.DataFrame:
    """Raw points with one seed; with repeats, means per (group_id, rung); both with their
    95% half-widths on both axes."""
    ok = intervals.add_metric_ci(intervals.add_time_ci(ok, time_axis), col, n_val)
    if ok.empty or ok.groupby(["group_id", "rung"]).size().max() <= 1:
        return ok
    agg = intervals.group_cis(ok, pareto.aggregate(ok, col, time_axis), col, time_axis)
    info = ok.sort_values("seed").groupby(["group_id", "rung"], sort=True).agg(
        config_id=("config_id", lambda s: ";".join(s)), architecture=("architecture", "first"),
        estimator=("estimator", "first"), params_json=("params_json", "first"),
        n_train=("n_train", "first")).reset_index()
    return agg.merge(info, on=["group_id", "rung"])


def separability(trials: pd.DataFrame, front: pd.DataFrame, metric: str, time_axis: str,
                 maximise: bool) -> pd.DataFrame:
    """Every (group) point with `on_frontier` and `not_separable` (needs intervals)."""
    ok = trials[trials["status"] == "ok"] if not trials.empty else trials
    col = f"val_{metric}"
    points = grouped_points(ok, col, time_axis).copy()
    keys = set(zip(front["config_id"], front["rung"]))
    points["on_frontier"] = [(c, r) in keys for c, r in zip(points["config_id"], points["rung"])]
    if "n_seeds" in points and not front.empty:  # with repeats (one seed: sweep.dominance's ties say it)
        points["not_separable"] = pareto.not_separable(front, points, col, time_axis, maximise) & ~points["on_frontier"]
    else:
        points["not_separable"] = False
    return points


def write_report(run_dir: Path, trials: pd.DataFrame, front: pd.DataFrame, objective: Objective,
                 data_report: dict, manifest: dict, summary: list[str]) -> Path:
    """frontier.csv, pareto.png, learning_curves.png, report.html (each written atomically)."""
    metric, time_axis, maximise = objective.metric, objective.time_axis, objective.maximise
    _atomic(run_dir / FRONTIER, lambda p: front.to_csv(p, index=False))
    points = separability(trials, front, metric, time_axis, maximise)
    _atomic(run_dir / "points.csv", lambda p: points.to_csv(p, index=False))
    if points["not_separable"].any():
        summary = summary + [f"{int(points['not_separable'].sum())} point(s) off the frontier are not "
                             "separable from it (within the 95% intervals): see points.csv"]
    ok = trials[trials["status"] == "ok"] if not trials.empty else trials
    _atomic(run_dir / PARETO_PNG, lambda p: pareto_png(ok, front, metric, time_axis, maximise, p))
    col = f"val_{metric}"
    curves = pareto.learning_curves(ok, col, time_axis, maximise) if not ok.empty else None
    slopes = pareto.cost_slopes(ok, time_axis) if not ok.empty else None
    top = int(ok["n_train"].max()) if not ok.empty else None
    if curves is not None:
        _atomic(run_dir / CURVES_PNG,
                lambda p: learning_curves_png(curves, slopes, metric, time_axis, p, top))
    rows = frontier_rows(front, metric, time_axis)
    figures = [("pareto", pareto_figure(ok, front, metric, time_axis, maximise,
                                        _keys_of(points[points["not_separable"]])))]
    if not ok.empty:
        figures += zip(("learning", "cost"), curves_figures(curves, slopes, metric, time_axis, top))
        worst = ok[col].min() if maximise else ok[col].max()
        ref_t = float(ok[time_axis].max()) * 2
        curve = pareto.hypervolume_curve(ok, col, time_axis, float(worst), ref_t, maximise)
        figures.append(("hypervolume", hypervolume_figure(
            curve, f"({col} {worst:.4g}, {time_axis} {ref_t:.4g} s): the worst metric seen, twice the slowest fit")))
    drift_html, advice = _drift(run_dir, front, metric, maximise)
    if advice:
        summary = summary + [f"drift: {advice}"]
    stopped = pd.read_csv(run_dir / STOPPED, dtype={"config_id": str}) \
        if (run_dir / STOPPED).exists() else None
    stopped_rows = None if stopped is None else \
        stopped[["config_id", "architecture", "stopped_after", "reason"]].to_dict("records")
    skipped = pd.read_csv(run_dir / SKIPPED, dtype={"config_id": str}) \
        if (run_dir / SKIPPED).exists() else None
    skipped_rows = None if skipped is None else \
        skipped[["config_id", "architecture", "rung"]].to_dict("records")
    text = html_report.render(run_dir, f"sweep report — {manifest.get('run_name', run_dir.name)}",
                              rows, trials, data_report, manifest, summary, figures, plotly_js(), drift_html,
                              stopped_rows, skipped_rows)
    _atomic(run_dir / REPORT, lambda p: p.write_text(text, encoding="utf-8"))
    return run_dir / REPORT


def drift_advice(run_dir: Path, front: pd.DataFrame, objective: Objective) -> str | None:
    """The drift recommendation for a run (None without drift.json or without drift)."""
    return _drift(run_dir, front, objective.metric, objective.maximise)[1]


def _drift(run_dir: Path, front: pd.DataFrame, metric: str, maximise: bool) -> tuple[str, str | None]:
    """(the Drift section's HTML, the recommendation) from RUN/drift.json and the slice scores."""
    path = run_dir / DRIFT_FILE
    if not path.exists():
        return "", None
    result = json.loads(path.read_text())
    slices = slices_of(run_dir, front)
    advice = drift_report.advice(result, front, slices, metric, maximise)
    figs = [embed("drift_heatmap", drift_report.heatmap_figure(result))]
    if slices:
        figs.append(embed("drift_slices", drift_report.slices_figure(slices, front, metric)))
    return drift_report.section(result, advice, figs), advice


def _keys_of(points: pd.DataFrame) -> set:
    return {(cid, int(r)) for cs, r in zip(points["config_id"].astype(str), points["rung"]) for cid in cs.split(";")}


__all__ = ["summary_lines", "stops_lines", "drift_advice", "frontier_of", "grouped_points", "separability", "write_report", "score_frontier", "attach_scores", "times_scored", "frontier_rows",
           "text_table", "markdown_table"]
