"""The run's summary lines (printed by `sweep run`, shown at the top of report.html): pure
text from the trials table, the frontier and the stops."""

from __future__ import annotations

import pandas as pd

from ..metrics import Objective
from ..prune import compute_saved


def summary_lines(trials: pd.DataFrame, front: pd.DataFrame, stops: pd.DataFrame | None,
                  objective: Objective, manifest: dict) -> list[str]:
    """Counts, the frontier's size, the test scoring, the knee, and the stops (when any)."""
    metric, time_axis = objective.metric, objective.time_axis
    n_failed = int((trials["status"] != "ok").sum()) if not trials.empty else 0
    out = [f"{trials['config_id'].nunique()} configurations{_drawn(manifest)}, {len(trials)} (config_id, rung) "
           f"points, {n_failed} failed or timed out",
           _frontier_line(front, metric, time_axis, manifest),
           f"test split scored for {manifest.get('test_split_scored', 0)} frontier point(s), once each"]
    knee = front[front["is_knee"]] if "is_knee" in front else front.iloc[0:0]
    if len(knee):
        k = knee.iloc[0]
        out.append(f"knee: {k['architecture']} {k['config_id']} at n_train={int(k['n_train'])}: "
                   f"val_{metric} {k[f'val_{metric}']:.4f} in {k[time_axis]:.3f} s")
    if stops is not None and not stops.empty and manifest.get("rungs"):
        out += stops_lines(trials, stops, manifest["rungs"], time_axis)
    if manifest.get("skipped_budget"):
        out.append(f"{manifest['skipped_budget']} (config_id, rung) pair(s) not started within the time "
                   f"budget of {manifest.get('time_budget_s', 0):g} s (skipped.csv; `sweep resume` fits them)")
    return out


def _drawn(manifest: dict) -> str:
    """' (random search: n 8, seed 0, Sobol')' for a sampled space; '' for a grid."""
    search = manifest.get("search") or {}
    if search.get("method") != "random":
        return ""
    return (f" (random search: n {search.get('n')}, seed {search.get('seed')}"
            f"{', Sobol' + chr(39) if search.get('sobol') else ''})")


def _frontier_line(front: pd.DataFrame, metric: str, time_axis: str, manifest: dict) -> str:
    """The frontier's size, its ties, and how times were measured (the timing protocol)."""
    line = f"frontier: {len(front)} members of validation {metric} against {time_axis}"
    if "tied_with" in front:
        tied = int((front["tied_with"].fillna("") != "").sum())
        est = int(front["on_estimate_frontier"].sum()) if "on_estimate_frontier" in front else len(front)
        line += (f" ({est} on the point estimates' frontier; {tied} tied within noise with another member, "
                 "kept: this run cannot order them)")
    t = manifest.get("timing")
    if t:
        kept = "the fastest" if t.get("estimate") == "fastest" else "the median"
        line += (f"; a fit under {t['floor_s']:g} s was timed up to {t['max_timings']} times ({kept} kept); "
                 f"the trial processes' noise on a fixed small fit: {100 * (t.get('noise_cv') or 0):.0f}% (median)")
        if t.get("timing_noise"):
            line += (f"; a time's interval is at least ±{196 * t['timing_noise']:.0f}% over the square root of its "
                     "timings (one timing's between-run noise)")
    return line


def stops_lines(trials: pd.DataFrame, stops: pd.DataFrame, rungs: list[int], time_axis: str) -> list[str]:
    """'N configurations stopped early' and the compute saved against the exhaustive grid's estimate."""
    if stops.empty:
        return []
    saved = compute_saved(trials, stops, rungs, time_axis)
    return [f"{len(stops)} configuration(s) stopped early by the adaptive rule (stopped.csv); compute saved: "
            f"{saved['fits_saved']} of {saved['fits_exhaustive']} fits, about {saved['seconds_saved']:.1f} of "
            f"{saved['seconds_exhaustive']:.1f} {time_axis} (the unfitted pairs estimated from each "
            "architecture's cost slope)"]
