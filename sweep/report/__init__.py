"""Tables, plots, the HTML report and the locked test evaluation of frontier members."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .. import pareto
from . import html as html_report
from .evaluate import score_frontier, times_scored
from .plots import learning_curves_png, pareto_png
from .tables import frontier_rows, markdown_table, text_table


def frontier_of(trials: pd.DataFrame, metric: str, time_axis: str, maximise: bool) -> pd.DataFrame:
    """The frontier over every successful (config_id, rung) point, with is_knee."""
    ok = trials[trials["status"] == "ok"] if not trials.empty else trials
    return pareto.frontier(ok, f"val_{metric}", time_axis, maximise)


def write_report(run_dir: Path, trials: pd.DataFrame, front: pd.DataFrame, metric: str,
                 time_axis: str, maximise: bool, data_report: dict, manifest: dict,
                 summary: list[str]) -> Path:
    """frontier.csv, pareto.png, learning_curves.png, report.html (each written atomically)."""
    _atomic(run_dir / "frontier.csv", lambda p: front.to_csv(p, index=False))
    ok = trials[trials["status"] == "ok"] if not trials.empty else trials
    _atomic(run_dir / "pareto.png", lambda p: pareto_png(ok, front, metric, time_axis, maximise, p))
    _atomic(run_dir / "learning_curves.png", lambda p: learning_curves_png(ok, metric, maximise, p))
    rows = frontier_rows(front, metric, time_axis)
    text = html_report.render(run_dir, f"sweep report — {manifest.get('run_name', run_dir.name)}",
                              rows, trials, data_report, manifest, summary)
    _atomic(run_dir / "report.html", lambda p: p.write_text(text, encoding="utf-8"))
    return run_dir / "report.html"


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


__all__ = ["frontier_of", "write_report", "score_frontier", "times_scored", "frontier_rows",
           "text_table", "markdown_table"]
